"""The playground as a student uses it, in a real Chromium against the real server.

Every test runs in a fresh browser context; the `open_page` fixture fails a test whose page logged
a console error, threw, or requested anything from outside the server.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DEFAULT_NODES = 2 + 4 + 2 + 1  # features x1, x2; hidden layers 4, 2; one output


def epoch(page: Page) -> int:
    """The epoch counter as a number (it is written with the language's thousands separators)."""
    return int(re.sub(r"\D", "", page.locator("#epoch").text_content() or "") or "-1")


def wait_epoch(page: Page, predicate: str, timeout: float = 10_000) -> None:
    """Wait until `predicate` (JS, of `e`, the epoch as a number) holds."""
    page.wait_for_function(
        f"() => {{ const e = Number(document.getElementById('epoch').textContent.replace(/\\D/g, '')); return {predicate}; }}",
        timeout=timeout)


def paused_epoch(page: Page) -> int:
    """After pausing: wait until a frame still in flight has landed (the counter holds for 400 ms),
    and return the epoch it shows."""
    page.wait_for_function("""() => new Promise((done) => {
        const read = () => document.getElementById('epoch').textContent;
        const first = read();
        setTimeout(() => done(read() === first), 400);
    })""", timeout=5000)
    return epoch(page)


def query(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def state(page: Page) -> dict:
    return json.loads(page.locator("#playground-state").text_content())


def sid(page: Page) -> str:
    return page.locator("#playground").get_attribute("data-sid")


def open_ready(page: Page, path: str = "/") -> None:
    """Open a page and wait until the script has drawn the first frame."""
    page.goto(path)
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()


def swap(page: Page, action) -> None:
    """Do something that posts the form, and wait until the new playground has been drawn."""
    page.evaluate("document.getElementById('playground').setAttribute('data-e2e-old', '')")
    with page.expect_response(lambda r: "/config" in r.url and r.request.method == "POST") as answer:
        action()
    assert answer.value.ok, answer.value.status
    expect(page.locator("#playground")).not_to_have_attribute("data-e2e-old", "")
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()


def test_page_opens_with_diagram_and_chart(page: Page):
    open_ready(page)
    expect(page).to_have_title("Neural network playground")
    expect(page.locator("h1")).to_have_text("Neural network playground")
    expect(page.locator("#epoch")).to_have_text("0")
    expect(page.locator(".node")).to_have_count(DEFAULT_NODES)
    expect(page.locator("#output-chart .main-svg").first).to_be_visible()
    expect(page.locator("canvas#loss-chart")).to_be_visible()
    expect(page.locator("canvas#output-map")).to_be_visible()
    expect(page.locator("#train-loss")).to_have_text(re.compile(r"^\d+\.\d{3}$"))


def test_dropdowns_change_url_and_show_hyper_parameters(page: Page):
    open_ready(page)
    expect(page.locator("input[name=beta1]")).to_have_count(0)
    swap(page, lambda: page.select_option("select[name=activation]", "relu"))
    expect(page).to_have_url(re.compile(r"[?&]activation=relu(&|$)"))
    swap(page, lambda: page.select_option("select[name=optimizer]", "adam"))
    expect(page).to_have_url(re.compile(r"[?&]optimizer=adam(&|$)"))
    assert query(page)["activation"] == "relu"
    expect(page.locator("input[name=beta1]")).to_be_visible()
    expect(page.locator("select[name=activation]")).to_have_value("relu")
    expect(page.locator("select[name=optimizer]")).to_have_value("adam")


def test_play_trains_and_pause_stops(page: Page):
    open_ready(page)
    loss0 = float(page.locator("#train-loss").text_content())
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    wait_epoch(page, "e > 20")
    assert float(page.locator("#train-loss").text_content()) < loss0
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    paused = paused_epoch(page)  # one frame may still be in flight
    page.wait_for_timeout(1000)
    assert epoch(page) == paused
    assert paused > 20


def test_step_adds_exactly_one_epoch(page: Page, api):
    open_ready(page)
    for expected in (1, 2):
        page.click("#step")
        expect(page.locator("#epoch")).to_have_text(str(expected))
    assert api.get(f"/api/sessions/{sid(page)}").json()["epoch"] == 2


def test_add_layer_and_neuron(page: Page):
    open_ready(page)
    swap(page, lambda: page.locator(".network-head button").first.click())
    expect(page).to_have_url(re.compile(r"[?&]layers=4,2,2(&|$)"))
    expect(page.locator(".node")).to_have_count(DEFAULT_NODES + 2)
    expect(page.locator("#network-title")).to_contain_text("3")
    swap(page, lambda: page.locator(".layer-controls button").first.click())
    expect(page).to_have_url(re.compile(r"[?&]layers=5,2,2(&|$)"))
    expect(page.locator(".node")).to_have_count(DEFAULT_NODES + 3)
    expect(page.locator("input[name=layers]")).to_have_value("5,2,2")


def open_edge_dialog(page: Page, edge: str = "#edge-0-0-0") -> None:
    page.locator(edge).dispatch_event("click")  # a thin SVG path: dispatch rather than aim
    expect(page.locator("dialog#edit-dialog")).to_be_visible()
    expect(page.locator("#edit-value")).to_be_focused()


def type_into_dialog(page: Page, text: str) -> None:
    """Replace the dialog's number as a student does: select it all and type."""
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_edit_weight_by_clicking_an_edge(page: Page, api):
    open_ready(page)
    session = sid(page)
    first = api.get(f"/api/sessions/{session}/frame").json()["weights"][0][0][0]
    open_edge_dialog(page)
    assert float(page.locator("#edit-value").input_value()) == pytest.approx(first)
    expect(page.locator("#edit-label")).to_contain_text("x₁")
    type_into_dialog(page, "2.5")
    with page.expect_request(lambda r: r.url.endswith("/weight") and r.method == "PUT") as sent:
        page.click("#edit-save")
    assert sent.value.post_data_json == {"layer": 0, "source": 0, "target": 0, "value": 2.5}
    assert sent.value.response().ok
    frame = api.get(f"/api/sessions/{session}/frame").json()
    assert frame["weights"][0][0][0] == 2.5
    assert frame["epoch"] == 0


def test_editing_a_weight_does_not_post_the_form(page: Page, api, watched):
    open_ready(page)
    open_edge_dialog(page)
    type_into_dialog(page, "2.5")
    with page.expect_response(lambda r: r.url.endswith("/weight")):
        page.click("#edit-save")
    page.wait_for_timeout(500)  # let any swap settle
    assert [u for u in watched.requests if "/config" in u] == []
    open_edge_dialog(page)  # the page's own copy of the weights has the new value
    expect(page.locator("#edit-value")).to_have_value("2.5")


def test_invalid_weight_shows_error_and_sends_nothing(page: Page, api, watched):
    open_ready(page)
    session = sid(page)
    before = api.get(f"/api/sessions/{session}/frame").json()["weights"]
    open_edge_dialog(page)
    sent = len(watched.requests)
    type_into_dialog(page, "abc")  # a number input keeps none of it: its value is ""
    # Save without moving the focus: a real click also blurs the input, whose change event posts
    # the whole form (test_editing_a_weight_does_not_post_the_form).
    page.locator("#edit-save").dispatch_event("click")
    expect(page.locator("#edit-error")).to_have_text(re.compile(r"number", re.I))
    expect(page.locator("dialog#edit-dialog")).to_be_visible()
    page.wait_for_timeout(300)
    assert [u for u in watched.requests[sent:] if "/api/" in u or "/s/" in u] == []
    expect(page.locator("#edit-error")).to_have_text(re.compile(r"number", re.I))
    assert api.get(f"/api/sessions/{session}/frame").json()["weights"] == before
    # Correcting the number clears the way: the dialog closes and the weight is sent.
    type_into_dialog(page, "-1.25")
    with page.expect_response(lambda r: r.url.endswith("/weight")) as answer:
        page.locator("#edit-save").dispatch_event("click")
    assert answer.value.ok
    expect(page.locator("dialog#edit-dialog")).to_be_hidden()
    assert api.get(f"/api/sessions/{session}/frame").json()["weights"][0][0][0] == -1.25


def _configuration(page: Page) -> dict:
    return {
        "selects": page.eval_on_selector_all("select", "els => els.map(e => [e.name, e.value])"),
        "dataset": page.locator("input[name=dataset]:checked").get_attribute("value"),
        "features": page.eval_on_selector_all("input[name=features]:checked", "els => els.map(e => e.value)"),
        "layers": page.locator("input[name=layers]").input_value(),
        "seed": page.locator("input[name=seed]").input_value(),
    }


def test_shared_link_opens_the_same_playground(open_page):
    first = open_page().page
    open_ready(first, "/?seed=7&activation=sigmoid")
    swap(first, lambda: first.locator("label.dataset:has(input[value=xor])").click())
    expect(first).to_have_url(re.compile(r"[?&]dataset=xor(&|$)"))
    expect(first.locator("input[name=dataset]:checked")).to_have_value("xor")
    assert query(first)["seed"] == "7"
    assert query(first)["activation"] == "sigmoid"
    one = state(first)

    second = open_page().page  # another student's browser
    open_ready(second, first.url)
    assert sid(second) != sid(first)
    assert _configuration(second) == _configuration(first)
    assert _configuration(second)["dataset"] == "xor"
    two = state(second)
    assert two["query"] == one["query"]
    assert two["frame"]["weights"] == one["frame"]["weights"]
    assert two["frame"]["biases"] == one["frame"]["biases"]
    assert two["data"] == one["data"]


def test_language_switch_keeps_training(page: Page):
    open_ready(page)
    page.click("#play")
    wait_epoch(page, "e >= 10")
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    before = paused_epoch(page)
    swap(page, lambda: page.get_by_role("button", name="Español").click())
    expect(page.locator("h1")).to_have_text("Laboratorio de redes neuronales")
    expect(page).to_have_url(re.compile(r"[?&]lang=es(&|$)"))
    assert epoch(page) >= before > 0
    page.click("#step")
    expect(page.locator("#epoch")).to_have_text(f"{before + 1:,}".replace(",", "."))


def test_language_switch_updates_document_title_and_lang(page: Page):
    open_ready(page)
    swap(page, lambda: page.get_by_role("button", name="Español").click())
    expect(page.locator("h1")).to_have_text("Laboratorio de redes neuronales")
    assert page.title() == "Laboratorio de redes neuronales"
    assert page.locator("html").get_attribute("lang") == "es"


def test_broken_link_opens_with_defaults_and_notes(page: Page):
    open_ready(page, "/?dataset=moon&lr=abc&layers=9")
    notes = page.locator(".notes")
    expect(notes).to_be_visible()
    text = notes.inner_text().lower()
    for word in ("dataset", "learning rate", "layers"):
        assert word in text, (word, text)
    expect(page.locator("input[name=dataset]:checked")).to_have_value("circle")
    expect(page.locator("select[name=lr]")).to_have_value("0.03")
    expect(page.locator("input[name=layers]")).to_have_value("4,2")
    expect(page.locator(".node")).to_have_count(DEFAULT_NODES)


def test_divergence_is_flagged_and_stops_playing(page: Page):
    open_ready(page, "/?dataset=plane&lr=10")
    page.click("#play")
    flags = page.locator("#flags")
    expect(flags).to_be_visible(timeout=10_000)
    expect(flags).to_contain_text(re.compile(r"epoch \d+", re.I))
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    stopped = epoch(page)
    page.wait_for_timeout(500)
    assert epoch(page) == stopped


def expire_and_step(page: Page, api, watched) -> str:
    """Delete the page's session behind its back, press step, wait for the page to recover."""
    # The step that finds the session gone answers 404, which Chromium logs as a console error.
    watched.allowed_console.append(re.compile(r"Failed to load resource: .*status of 404"))
    open_ready(page, "/?dataset=xor&seed=3")
    old = sid(page)
    assert api.delete(f"/api/sessions/{old}").status_code == 204
    page.click("#step")
    expect(page.locator("#playground")).not_to_have_attribute("data-sid", old)
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()
    return old


def test_expired_session_recovers(page: Page, api, watched):
    expire_and_step(page, api, watched)
    new = sid(page)
    assert api.get(f"/api/sessions/{new}").json()["config"]["dataset"] == "xor"
    assert api.get(f"/api/sessions/{new}").json()["config"]["seed"] == 3
    expect(page.locator("input[name=dataset]:checked")).to_have_value("xor")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    page.click("#step")  # the new session works
    expect(page.locator("#epoch")).to_have_text("1")
    assert api.get(f"/api/sessions/{new}").json()["epoch"] == 1
    assert len([m for m in watched.console_errors if "404" in m]) == 1


def test_expired_session_message_stays_visible(page: Page, api, watched):
    expire_and_step(page, api, watched)
    page.wait_for_timeout(600)  # after the swap has settled and the frame has been drawn
    expect(page.locator("#flags")).to_be_visible(timeout=1000)
    expect(page.locator("#flags")).to_contain_text("forgotten")


def test_two_tabs_train_independently(open_page):
    one = open_page()
    two = open_page(context=one.page.context)
    open_ready(one.page)
    open_ready(two.page)
    assert sid(one.page) != sid(two.page)
    one.page.bring_to_front()  # the loop runs on requestAnimationFrame, which a hidden tab pauses
    one.page.click("#play")
    wait_epoch(one.page, "e > 10")
    one.page.click("#play")
    expect(one.page.locator("#play")).to_have_attribute("aria-pressed", "false")
    expect(two.page.locator("#epoch")).to_have_text("0")
    two.page.bring_to_front()
    two.page.click("#step")
    expect(two.page.locator("#epoch")).to_have_text("1")
    assert epoch(one.page) > 10
