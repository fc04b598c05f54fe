"""Accessibility in a real Chromium: axe-core (the standard rules engine, pinned in
package-lock.json and injected into the page as a test asset, never served by the app) finds no
serious or critical violation on the playground, the join page and every gallery entry, in both
languages; and the keyboard reaches and edits everything the mouse does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.config import page_url
from app.gallery import GALLERY
from app.i18n import CATALOGUES
from tests.e2e.test_playground import open_ready, swap

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
LANGS = ("en", "es")
SERIOUS = ("serious", "critical")


def axe_violations(page: Page) -> list[str]:
    """Serious and critical violations axe-core finds on the page as it is now, one line each."""
    assert AXE.exists(), f"{AXE} is missing: run `make assets` (npm ci installs axe-core)"
    # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') rightly refuses
    # an inline <script>, and the app never serves axe-core.
    page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_no_serious_axe_violations_on_the_playground_join_and_not_found_pages(watched, lang: str):
    page = watched.page
    open_ready(page, f"/?lang={lang}")
    assert axe_violations(page) == []
    page.goto(f"/join?lang={lang}")
    assert axe_violations(page) == []
    watched.allowed_console.append(re.compile(r"Failed to load resource: .*status of 404"))
    assert page.goto(f"/nope?lang={lang}").status == 404
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", LANGS)
def test_no_serious_axe_violations_in_the_gallery(page: Page, lang: str):
    found = {}
    for entry in GALLERY:
        open_ready(page, page_url(entry.config(), lang))
        found[entry.key] = axe_violations(page)
    assert {key: v for key, v in found.items() if v} == {}


@pytest.mark.parametrize("lang", LANGS)
def test_sliders_are_named_by_their_label(page: Page, lang: str):
    """The name is the label's text alone (not the <output> beside it, nor its changing value)."""
    open_ready(page, f"/?lang={lang}")
    for name in ("train", "noise"):
        label = CATALOGUES[lang][f"field.{name}"]
        expect(page.get_by_role("slider", name=label, exact=True)).to_have_attribute("name", name)


@pytest.mark.parametrize("control", ["select[name=activation]", "select[name=lr]", "select[name=optimizer]"])
def test_focus_stays_on_the_dropdown_after_the_form_is_swapped(page: Page, control: str):
    open_ready(page)
    select = page.locator(control)
    select.focus()
    options = select.locator("option")
    current = select.input_value()
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    choice = next(v for v in values if v != current)
    swap(page, lambda: select.select_option(choice))
    expect(page.locator(control)).to_be_focused()
    expect(page.locator(control)).to_have_value(choice)


def test_every_weight_is_reachable_and_editable_from_the_keyboard(page: Page, api):
    open_ready(page, "/?layers=2&lang=en")
    edges = page.locator("svg.edges path")
    count = edges.count()
    assert count == 2 * 2 + 2 * 1
    focused: list[str] = []
    page.locator("select[name=init]").focus()  # just before the diagram in the tab order
    for _ in range(count + 10):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
    reached = [f for f in focused if f.startswith("edge-")]
    assert sorted(set(reached)) == sorted(edges.evaluate_all("(els) => els.map((e) => e.id)"))
    for path in edges.element_handles():
        assert path.get_attribute("aria-label"), path.get_attribute("id")
    # A focused weight shows its value, as hovering does; Enter opens the editor, Enter saves.
    page.locator("#edge-0-0-1").focus()
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip")).to_contain_text(re.compile(r"x₁.*: -?\d"))
    page.locator("#edge-1-1-0").focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog#edit-dialog")).to_be_visible()
    expect(page.locator("#edit-value")).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("0.75")
    with page.expect_response(lambda r: r.url.endswith("/weight")):
        page.keyboard.press("Enter")
    sid = page.locator("#playground").get_attribute("data-sid")
    assert api.get(f"/api/sessions/{sid}/frame").json()["weights"][1][1][0] == 0.75


def test_language_buttons_say_which_is_selected(page: Page):
    open_ready(page, "/?lang=es")
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "false")
    swap(page, lambda: page.get_by_role("button", name="English").click())
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-pressed", "false")


def test_play_has_a_clear_focus_ring(page: Page):
    open_ready(page)
    page.locator("#step").focus()
    page.keyboard.press("Shift+Tab")  # keyboard focus, so :focus-visible applies
    expect(page.locator("#play")).to_be_focused()
    ring = page.locator("#play").evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth), parseFloat(s.outlineOffset)]; }")
    assert ring[0] not in ("none", "") and ring[1] >= 3 and ring[2] >= 2, ring
