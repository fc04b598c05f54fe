"""What the page says, in a real Chromium: messages filled in and matching what is in the box,
long rejected values that never widen the page, and numbers (readouts, chart ticks, the weight
editor) in the student's language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.i18n import CATALOGUES
from tests.e2e.test_playground import open_edge_dialog, open_ready, sid, swap, type_into_dialog

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("lang", "limit"), [("en", "1,000,000"), ("es", "1.000.000")])
def test_the_weight_editor_names_both_limits(page: Page, lang: str, limit: str):
    open_ready(page, f"/?lang={lang}")
    open_edge_dialog(page)
    error = page.locator("#edit-error")
    for typed in ("abc", "", "2000000", "1e309"):
        type_into_dialog(page, typed)
        page.locator("#edit-save").dispatch_event("click")
        expect(error).to_have_text(re.compile(re.escape(limit)))
        assert "{" not in error.text_content() and error.text_content().count(limit) == 2, typed


def test_the_weight_editor_speaks_spanish_numbers(page: Page, api):
    open_ready(page, "/?lang=es")
    open_edge_dialog(page)
    first = api.get(f"/api/sessions/{sid(page)}/frame").json()["weights"][0][0][0]
    shown = page.locator("#edit-value").input_value()
    assert "." not in shown and float(shown.replace(",", ".")) == pytest.approx(first)
    type_into_dialog(page, "-0,75")
    with page.expect_response(lambda r: r.url.endswith("/weight")):
        page.locator("#edit-save").dispatch_event("click")
    assert api.get(f"/api/sessions/{sid(page)}/frame").json()["weights"][0][0][0] == -0.75


def _type_in_box(page: Page, name: str, text: str) -> None:
    box = page.locator(f"input[name={name}]")
    box.fill(text)
    swap(page, lambda: box.press("Tab"))


def test_the_message_matches_what_is_in_the_box(page: Page):
    open_ready(page, "/?optimizer=adam&lang=en")
    _type_in_box(page, "beta1", "2")
    errors = page.locator(".notes .error")
    expect(errors).to_have_text(["β₁ «2»: must be at most 0.999"])
    _type_in_box(page, "beta1", "1e309")
    expect(page.locator("input[name=beta1]")).to_have_value("1e309")
    expect(errors).to_have_text([re.compile(r"^β₁ «1e309»: must be a finite number")])
    _type_in_box(page, "beta1", "0.8")
    expect(page.locator(".notes")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"[?&]beta1=0.8(&|$)"))


def test_long_rejected_values_neither_widen_the_page_nor_run_off_it(page: Page):
    width = page.viewport_size["width"]
    open_ready(page, "/?lang=en&dataset=" + "d" * 5000)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    open_ready(page, "/?lang=en&layers=" + ",".join(["9"] * 2000))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    right = page.locator(".notes li").first.evaluate("(li) => li.getBoundingClientRect().right")
    assert right <= width


def _tick_labels(page: Page, chart: str) -> list[str]:
    return page.locator(f"#{chart} .xtick text, #{chart} .ytick text").all_text_contents()


@pytest.mark.parametrize(("lang", "mark", "other"), [("es", ",", "."), ("en", ".", ",")])
def test_chart_ticks_use_the_languages_decimal_mark(page: Page, lang: str, mark: str, other: str):
    open_ready(page, f"/?lang={lang}")
    expect(page.locator("#activation-chart .ytick text").first).to_be_attached()
    ticks = _tick_labels(page, "activation-chart") + _tick_labels(page, "loss-chart")
    decimals = [t for t in ticks if re.search(r"\d[.,]\d", t)]
    assert decimals, ticks
    assert all(mark in t and other not in t for t in decimals), ticks


def test_the_spanish_page_shows_its_choices_in_spanish_notation(page: Page):
    open_ready(page, "/?lang=es&optimizer=adam")
    labels = page.locator("select[name=lr] option").all_text_contents()
    assert "0,03" in labels and "0,00001" in labels and "10" in labels
    assert page.locator("input[name=eps]").get_attribute("placeholder") == "0,00000001"
    assert page.locator("select[name=init] option[value=playground]").text_content() == CATALOGUES["es"]["init.playground"]
