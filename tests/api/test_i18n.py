"""The Spanish and English catalogues stay in step: the same keys, no empty text, the same
{placeholders}, and every literal key a template asks for exists in both. Numbers are written as
the page's language writes them; messages name what the student gave, once and briefly; an
unknown address is a page in the student's language."""

from __future__ import annotations

import re
from html import unescape
from string import Formatter

import pytest
from fastapi.testclient import TestClient

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.i18n import MAX_ECHOED, format_number, read_number
from app.page_model import OPTIONS
from app.paths import TEMPLATES_DIR
from app.routes.pages import JS_MESSAGES
from engine.activations import ACTIVATIONS
from engine.datasets import DATASETS
from tests.api import test_classroom as helpers

CATALOGUES = {"en": EN, "es": ES}
# t("key") or t('key', ...) with a literal key (keys built with ~ are checked by their own tests)
TEMPLATE_KEY = re.compile(r"""\bt\(\s*(["'])([^"'~]+?)\1\s*[,)]""")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_both_languages_have_the_same_keys() -> None:
    assert sorted(set(EN) - set(ES)) == [] and sorted(set(ES) - set(EN)) == []


@pytest.mark.parametrize("lang", CATALOGUES)
def test_no_empty_text(lang: str) -> None:
    assert [key for key, text in CATALOGUES[lang].items() if not text.strip()] == []


def test_placeholders_match_between_languages() -> None:
    mismatched = {key: (_placeholders(EN[key]), _placeholders(ES[key]))
                  for key in EN.keys() & ES.keys() if _placeholders(EN[key]) != _placeholders(ES[key])}
    assert mismatched == {}


def test_every_key_used_in_the_templates_exists_in_both_languages() -> None:
    used = {match.group(2) for path in TEMPLATES_DIR.rglob("*.html") for match in TEMPLATE_KEY.finditer(path.read_text())}
    assert len(used) > 20  # the regex finds them
    missing = {lang: sorted(key for key in used if key not in catalogue) for lang, catalogue in CATALOGUES.items()}
    assert missing == {"en": [], "es": []}


def test_every_choice_the_page_offers_has_a_label_and_every_activation_a_formula() -> None:
    keys = [f"{kind}.{choice}" for kind, choices in OPTIONS.choices.items() for choice in choices]
    keys += [f"dataset.{name}" for name in DATASETS] + [f"formula.{name}" for name in ACTIVATIONS]
    keys += [f"js.{key}" for key in JS_MESSAGES]
    for catalogue in CATALOGUES.values():
        assert [k for k in keys if k not in catalogue] == []


# -- numbers as the student's language writes them --------------------------------------------------


@pytest.mark.parametrize(("value", "lang", "text"), [
    (0.03, "es", "0,03"), (0.03, "en", "0.03"),
    (1e-05, "es", "0,00001"), (1e-05, "en", "0.00001"), (1e-08, "en", "0.00000001"),
    (10.0, "es", "10"), (10.0, "en", "10"), (0.0, "es", "0"), (-0.5, "es", "-0,5"),
    (1000, "en", "1,000"), (1000, "es", "1000"), (100000, "es", "100.000"), (1e6, "es", "1.000.000"),
    ("0.999", "es", "0,999"), (2.5e20, "en", "250,000,000,000,000,000,000"),
])
def test_format_number(value: float, lang: str, text: str) -> None:
    assert format_number(value, lang) == text


def test_a_box_shows_numbers_without_thousands_separators_so_they_post_back_the_same() -> None:
    assert format_number(100000, "es", grouped=False) == "100000"
    assert read_number(format_number(0.125, "es", grouped=False), "es") == "0.125"
    assert read_number("0.5", "es") == "0.5" and read_number("0,5", "en") == "0,5"


def _visible_text(html: str) -> str:
    """What a reader sees: the text between tags and the labels of options, not scripts or URLs."""
    html = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("query", ["", "optimizer=adam&schedule=step&reg=l2&reg_rate=0.003&lr=0.00001",
                                   "dataset=blobs&optimizer=rmsprop&schedule=inverse_time&lr=10"])
def test_a_spanish_page_writes_every_number_with_the_decimal_comma(client: TestClient, query: str) -> None:
    html = client.get(f"/?{query}&lang=es").text
    text = _visible_text(html)
    assert re.findall(r"\d\.\d", text) == []
    assert re.findall(r"\de-\d|\d\.0\b", text) == []
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', html))
    assert options["0.03"] == "0,03" and options["1e-05"] == "0,00001" and options["10.0"] == "10"
    numbers = [p for p in re.findall(r'placeholder="([^"]*)"', html) if re.fullmatch(r"[-+\d.,e]+", p)]
    assert all("." not in p and "e-" not in p for p in numbers), numbers  # (not an address's dots)


def test_an_english_page_writes_no_exponents_or_trailing_zeros(client: TestClient) -> None:
    html = client.get("/?optimizer=adam&lr=0.00001&lang=en").text
    text = _visible_text(html)
    assert re.findall(r"\de-\d|\d\.0\b", text) == []
    assert "0.00001" in text and "0.00000001" in html  # Adam's ε, a placeholder


def test_the_page_state_carries_the_separators_for_the_charts(client: TestClient) -> None:
    assert helpers.page_state(client.get("/?lang=es").text)["separators"] == ",."
    assert helpers.page_state(client.get("/?lang=en").text)["separators"] == ".,"


def test_error_messages_write_limits_in_the_students_notation(client: TestClient) -> None:
    html = unescape(client.get("/?reg_rate=-1&optimizer=adam&beta1=2&lang=es").text)
    assert re.search(r"«-1»: debe ser al menos 0<", html)
    assert "«2»: debe ser como mucho 0,999<" in html
    assert "0.0" not in _visible_text(html)


def test_the_playground_initialisation_is_named_in_each_language() -> None:
    assert ES["init.playground"].startswith(ES["init.uniform"].split()[0]) and "±0,5" in ES["init.playground"]
    assert EN["init.playground"].startswith(EN["init.uniform"].split()[0]) and "±0.5" in EN["init.playground"]


# -- notes about a hand-edited link ----------------------------------------------------------------


def _notes(html: str) -> list[str]:
    section = re.search(r'<section class="notes".*?</section>', html, re.S)
    return [unescape(m) for m in re.findall(r"<li>(.*?)</li>", section.group(0), re.S)] if section else []


def test_each_rejected_value_is_named_once(client: TestClient) -> None:
    notes = _notes(client.get("/?lr=banana&layers=99,99&dataset=nope&lang=en").text)
    assert len(notes) == 3, notes
    assert sorted(notes) == sorted([
        "Dataset «nope»: must be one of " + ", ".join(f"'{n}'" for n in DATASETS),
        "Hidden layers «99,99»: must be at most 8",
        "Learning rate «banana»: must be a number",
    ])
    assert _notes(client.get("/?layers=99,99&lang=en").text) == ["Hidden layers «99,99»: must be at most 8"]


def test_long_rejected_values_are_shortened(client: TestClient) -> None:
    html = client.get("/", params={"dataset": "d" * 5000, "layers": ",".join(["9"] * 2000), "lang": "en"}).text
    notes = _notes(html)
    assert len(notes) == 2, notes
    assert "d" * (MAX_ECHOED + 1) not in html and f"«{'d' * MAX_ECHOED}…»" in notes[0]
    assert all(len(note) < 300 for note in notes), notes


# -- typed numbers: the message speaks of what is in the box ------------------------------------------


def _post(client: TestClient, query: str, **changes: str) -> str:
    html = client.get(f"/?{query}").text
    values = helpers.form_values(html)
    values.update({k: [v] for k, v in changes.items()})
    return client.post(f"/s/{helpers.page_state(html)['sid']}/config", data=values).text


def test_a_refused_number_stays_in_its_box_and_the_message_names_it(client: TestClient) -> None:
    html = _post(client, "optimizer=adam&lang=en", beta1="1e309")
    box = re.search(r'<input [^>]*name="beta1"[^>]*>', html).group(0)
    assert 'value="1e309"' in box and "invalid" in box
    assert "β₁ «1e309»: must be a finite number" in unescape(html)
    html = _post(client, "optimizer=adam&lang=en", beta1="2")
    assert "β₁ «2»: must be at most 0.999" in unescape(html)
    assert 'value="2"' in re.search(r'<input [^>]*name="beta1"[^>]*>', html).group(0)


def test_spanish_boxes_take_the_decimal_comma(client: TestClient) -> None:
    page = client.get("/?optimizer=adam&beta1=0.8&lang=es").text
    assert 'value="0,8"' in re.search(r'<input [^>]*name="beta1"[^>]*>', page).group(0)
    answer = client.post(f"/s/{helpers.page_state(page)['sid']}/config",
                         data={**helpers.form_values(page), "beta1": ["0,85"]})
    assert answer.status_code == 200 and '<section class="notes"' not in answer.text
    assert "beta1=0.85" in answer.headers["HX-Replace-Url"]
    refused = _post(client, "optimizer=adam&lang=es", beta1="1,5")  # named and kept as written
    assert "β₁ «1,5»: debe ser como mucho 0,999" in unescape(refused)
    assert 'value="1,5"' in re.search(r'<input [^>]*name="beta1"[^>]*>', refused).group(0)
    # in English a comma is not a decimal mark: refused, and named
    assert "β₁ «0,85»: must be a number" in unescape(_post(client, "optimizer=adam&lang=en", beta1="0,85"))


# -- unknown addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", CATALOGUES)
def test_an_unknown_page_is_a_page_in_the_students_language(client: TestClient, lang: str) -> None:
    answer = client.get(f"/nope?lang={lang}", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in answer.text
    assert CATALOGUES[lang]["notfound.title"] in answer.text
    assert f'href="/?lang={lang}"' in answer.text
    spanish_browser = client.get("/nope", headers={"accept": "text/html", "accept-language": "es-ES,es;q=0.9"})
    assert ES["notfound.title"] in spanish_browser.text


def test_api_clients_keep_json_for_unknown_addresses(client: TestClient) -> None:
    assert client.get("/nope").json() == {"detail": "Not Found"}
    answer = client.get("/nope", headers={"accept": "application/json"})
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}
    api = client.get("/api/sessions/unknown", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
