"""Every page works under the Content-Security-Policy (app/security.py): a real Chromium opens
each one, uses the controls that once had inline handlers, and fails on any violation, whether
the browser reports it in the console or as a ``securitypolicyviolation`` event."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.gallery import GALLERY

from .conftest import Watched

pytestmark = pytest.mark.e2e

# Chromium fires this event for each violation; the page's own scripts cannot hide it from here.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline code"} (${e.sourceFile}:${e.lineNumber})`);
}, true);
"""


def _open(watched: Watched, path: str) -> Page:
    page = watched.page
    page.add_init_script(RECORD_VIOLATIONS)
    answer = page.goto(path)
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    return page


def _violations(watched: Watched) -> list[str]:
    page_reports = watched.page.evaluate("window.__violations")
    console = [m for m in watched.console_errors if "Content Security Policy" in m]
    return [*page_reports, *console]


def _use_the_controls(page: Page) -> None:
    """What once ran inline: a slider's label follows it; ticking a lesson-link box does not post
    the playground form."""
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()  # Plotly drew
    page.locator("input[type=range][name=train]").evaluate(
        "(slider) => { slider.value = '70'; slider.dispatchEvent(new Event('input', {bubbles: true})); }")
    expect(page.locator("[data-control=train] output")).to_have_text("70%")
    page.locator("details.lesson-links summary").click()
    sid = page.locator("#playground").get_attribute("data-sid")
    page.locator("details.lesson-links input[type=checkbox]").first.click()
    page.wait_for_timeout(300)
    assert page.locator("#playground").get_attribute("data-sid") == sid


@pytest.mark.parametrize("path", ["/?lang=en", "/?lang=es&dataset=plane&layers=8,8"])
def test_the_playground_runs_under_the_policy(open_page, path: str) -> None:
    watched = open_page()
    _use_the_controls(_open(watched, path))
    assert _violations(watched) == []


def test_every_gallery_entry_runs_under_the_policy(open_page) -> None:
    for entry in GALLERY:
        watched = open_page()
        page = _open(watched, f"/?{entry.config().to_query()}&lang=en")
        expect(page.locator("#output-chart .main-svg").first).to_be_attached()
        assert _violations(watched) == [], entry.key


def test_join_docs_and_a_lesson_link_run_under_the_policy(open_page) -> None:
    for path in ("/join?dataset=xor&lang=en", "/docs",
                 "/lesson?query=dataset%3Dxor&lesson_hide=lr&lesson_hide=noise&lang=en"):
        watched = open_page()
        page = _open(watched, path)
        page.wait_for_load_state("load")
        if path.startswith("/lesson"):
            expect(page.locator("#output-chart .main-svg").first).to_be_attached()
        assert _violations(watched) == [], path


def test_an_inline_handler_would_be_caught(open_page) -> None:
    """The check itself works: an inline handler slipped into the page is reported."""
    watched = open_page()
    watched.allowed_console.append(re.compile("Content Security Policy"))
    page = _open(watched, "/?lang=en")
    page.evaluate("""() => {
      const button = document.createElement("button");
      button.id = "inline-probe";
      button.setAttribute("onclick", "document.title = 'ran'");
      document.body.append(button);
    }""")
    page.click("#inline-probe")
    page.wait_for_function("window.__violations.length > 0")
    assert page.title() != "ran"
    assert any("script-src" in v for v in _violations(watched))


def test_a_websocket_to_this_server_is_allowed_and_to_another_refused(open_page) -> None:
    """``connect-src 'self'`` covers ws:// on the same host and port (a stream the page may use)."""
    watched = open_page()
    watched.allowed_console.append(re.compile("WebSocket|Content Security Policy"))
    page = _open(watched, "/docs")
    connect = """(url) => new Promise((done) => {
      try { const ws = new WebSocket(url); ws.onerror = ws.onclose = () => done("tried"); }
      catch (error) { done(error.name); }
    })"""
    page.evaluate(connect, page.url.replace("http://", "ws://").replace("/docs", "/no-such-stream"))
    assert _violations(watched) == []
    page.evaluate(connect, "ws://127.0.0.2:9/")
    page.wait_for_function("window.__violations.length > 0")
    assert any("connect-src" in v for v in _violations(watched))
