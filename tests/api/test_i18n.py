"""The Spanish and English catalogues stay in step: the same keys, no empty text, the same
{placeholders}, and every literal key a template asks for exists in both."""

from __future__ import annotations

import re
from string import Formatter

import pytest

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.page_model import OPTIONS
from app.paths import TEMPLATES_DIR
from app.routes.pages import JS_MESSAGES
from engine.activations import ACTIVATIONS
from engine.datasets import DATASETS

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
