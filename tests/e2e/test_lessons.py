"""The lessons in a real Chromium: every lesson opens in both languages with its playground drawn
and no console error (the `open_page` fixture fails a test on any), and a lesson page stays a
lesson page while the student changes its playground."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.lessons import LESSONS

pytestmark = pytest.mark.e2e
CATALOGUES = {"en": EN, "es": ES}


def open_lesson(page: Page, number: int, lang: str) -> None:
    page.goto(f"/lessons/{number}?lang={lang}")
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_lesson_opens_with_its_playground(page: Page, lang: str) -> None:
    page.goto(f"/lessons?lang={lang}")
    expect(page.locator(".lesson-list a")).to_have_count(len(LESSONS))
    for number, lesson in enumerate(LESSONS, start=1):
        open_lesson(page, number, lang)
        title = CATALOGUES[lang][f"lessons.{lesson.key}.title"]
        expect(page.locator("#lesson-title")).to_have_text(f"{number}. {title}")
        expect(page).to_have_title(re.compile(re.escape(title)))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        # the address stays on the lesson (playground.js would point it at the playground's page)
        assert re.search(rf"/lessons/{number}\?.*lang={lang}", page.url), page.url
        if lesson.view:  # its own view is drawn, with no error
            expect(page.locator("#lesson-view .view-body > *").first).to_be_visible()
            expect(page.locator("#lesson-view .view-error")).to_be_hidden()
        observe = page.locator(".lesson-observe")
        expect(observe.locator("p")).to_be_hidden()
        observe.locator("summary").click()
        expect(observe.locator("p")).to_be_visible()


def test_a_change_keeps_the_lesson_and_survives_a_reload(page: Page) -> None:
    open_lesson(page, 6, "en")  # gradient descent: the learning rate is the visible control
    page.evaluate("document.getElementById('playground').setAttribute('data-e2e-old', '')")
    with page.expect_response(lambda r: "/config" in r.url and r.request.method == "POST"):
        page.select_option("select[name=lr]", "3.0")
    expect(page.locator("#playground")).not_to_have_attribute("data-e2e-old", "")
    expect(page).to_have_url(re.compile(r"/lessons/6\?.*lr=3\.0.*lang=en"))
    expect(page.locator("#lesson-title")).to_have_text(re.compile(EN["lessons.gradient.title"]))
    page.reload()
    expect(page.locator("select[name=lr]")).to_have_value("3.0")
    expect(page.locator("#lesson-title")).to_have_text(re.compile(EN["lessons.gradient.title"]))
    # the language switch keeps the lesson and the change
    page.locator(".lesson-languages a[data-lang=es]").click()
    expect(page.locator("#lesson-title")).to_have_text(re.compile(ES["lessons.gradient.title"]))
    expect(page.locator("select[name=lr]")).to_have_value("3.0")


def test_next_and_previous(page: Page) -> None:
    open_lesson(page, 1, "es")
    page.locator("a[rel=next]").click()
    expect(page.locator("#lesson-title")).to_have_text(f"2. {ES['lessons.activation.title']}")
    page.locator("a[rel=prev]").click()
    expect(page.locator("#lesson-title")).to_have_text(f"1. {ES['lessons.neuron.title']}")


def test_backpropagation_step_through(page: Page) -> None:
    number = [lesson.key for lesson in LESSONS].index("backprop") + 1
    open_lesson(page, number, "es")
    view = page.locator("#lesson-view")
    expect(view.locator(".view-position")).to_have_text("1 de 5")
    expect(view.locator("[data-move=back]")).to_be_disabled()
    for _ in range(4):
        view.locator("[data-move=forward]").click()
    expect(view.locator(".view-position")).to_have_text("5 de 5")
    expect(view.locator("tbody tr")).to_have_count(9)  # 6 weights and 3 biases, each with its update
    expect(view.locator(".view-result")).to_contain_text("Coste de este lote")


def test_perceptron_point_by_point_follows_the_dataset(page: Page) -> None:
    number = [lesson.key for lesson in LESSONS].index("perceptron") + 1
    open_lesson(page, number, "en")
    view = page.locator("#lesson-view")
    expect(view.locator(".view-position")).to_have_text(re.compile(r"^1 of \d+$"))
    view.locator("[data-move=mistake]").click()
    expect(view.locator(".view-result.wrong")).to_contain_text("Mistake")
    expect(view.locator(".js-plotly-plot")).to_have_count(2)
    page.evaluate("document.getElementById('playground').setAttribute('data-e2e-old', '')")
    page.locator("input[name=dataset][value=xor]").check()
    expect(page.locator("#playground")).not_to_have_attribute("data-e2e-old", "")
    expect(view.locator(".view-position")).to_have_text(re.compile(r"^1 of \d+$"))  # drawn again for XOR
