"""The live view of training (issue 7): what a student sees while the network learns, in a real
Chromium. Divergence and a thrashing loss are said plainly and keep the page readable, trained
points stay visible on the output map, hovering a neuron shows its map large, the loss chart
starts at epoch 0, the top bar stays one row, a phone or a tablet shows play and the output
together, and the loop uses a frame stream when the page has one (falling back to the JSON
step)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .test_playground import epoch, open_ready, paused_epoch, swap, wait_epoch

pytestmark = pytest.mark.e2e

ORANGE, BLUE = (0xE6, 0x9F, 0x00), (0x00, 0x72, 0xB2)  # app/page_model.py NEGATIVE, POSITIVE
SPIRAL_FEATURES = "x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2"

# The RGB pixels of a canvas, as a flat list, or null when there is no such canvas.
PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!(canvas instanceof HTMLCanvasElement)) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = [];
  for (let i = 0; i < data.length; i += 4) rgb.push(data[i], data[i + 1], data[i + 2], data[i + 3]);
  return {width: canvas.width, height: canvas.height, rgba: rgb};
}"""


def pixels(page: Page, selector: str) -> dict | None:
    return page.evaluate(PIXELS, selector)


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def readout(page: Page, id_: str) -> float:
    """A loss readout as a number (English page: 1,234.5 or 1.23E5)."""
    return float((page.locator(f"#{id_}").text_content() or "").replace(",", ""))


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the page scrolls sideways"


def play_until(page: Page, predicate: str) -> int:
    page.click("#play")
    wait_epoch(page, predicate, timeout=20_000)
    page.click("#play")
    return paused_epoch(page)


def test_divergence_keeps_the_page_readable_and_a_smaller_rate_learns_on(page: Page):
    open_ready(page, "/?dataset=plane&lr=3&lang=en")  # the gallery's "learning rate too high"
    start = readout(page, "train-loss")
    page.click("#play")
    expect(page.locator("#flags")).to_contain_text("diverged")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    no_sideways_scroll(page)
    for id_ in ("train-loss", "test-loss"):
        assert len(page.locator(f"#{id_}").text_content()) <= 9
        assert readout(page, id_) < 100 * max(1, start)
    swap(page, lambda: page.select_option("select[name=lr]", "0.01"))
    play_until(page, "e >= 20")
    assert readout(page, "train-loss") < start


def test_a_huge_loss_reads_in_scientific_notation_within_its_box(page: Page):
    open_ready(page, "/?dataset=plane&lr=0.01&lang=en")
    page.locator("#edge-2-0-0").dispatch_event("click")  # into the output: a huge squared error
    page.locator("#edit-value").fill("1000000")
    with page.expect_response(lambda r: r.url.endswith("/weight")):
        page.click("#edit-save")
    expect(page.locator("#train-loss")).to_have_text(re.compile(r"^\d(\.\d+)?E\d+$"))
    assert readout(page, "train-loss") > 1e9
    no_sideways_scroll(page)
    assert page.evaluate("[...document.querySelectorAll('.metrics dd')].every((d) => d.scrollWidth <= d.clientWidth)")
    for canvas in ("#output-map", "#node-1-0 canvas", "#node-3-0 canvas"):  # redrawn from the edit's frame
        assert set(pixels(page, canvas)["rgba"][3::4]) == {255}, canvas


def test_a_loss_that_thrashes_is_explained(page: Page):
    open_ready(page, f"/?dataset=spiral&features={SPIRAL_FEATURES}&lr=10&lang=en")
    page.click("#play")
    expect(page.locator("#flags")).to_contain_text("jumps up and down", timeout=20_000)
    page.click("#play")


def test_the_loss_chart_shows_the_initial_loss(page: Page):
    open_ready(page, "/?lang=en")
    expect(page.locator("#epoch")).to_have_text("0")
    chart = pixels(page, "#loss-chart")
    assert chart is not None, "the loss chart is not a canvas"
    legend_rows = 22 * chart["height"] // page.evaluate("document.getElementById('loss-chart').clientHeight")
    rgba = chart["rgba"][legend_rows * chart["width"] * 4:]  # below the legend's swatches
    test_coloured = sum(1 for i in range(0, len(rgba), 4)
                        if rgba[i + 3] > 200 and distance(tuple(rgba[i:i + 3]), ORANGE) < 40)
    assert test_coloured > 5, "no test-loss point at epoch 0"


def test_trained_points_stay_visible_on_the_output_map(page: Page):
    open_ready(page, "/?lang=en")
    play_until(page, "e >= 150")
    assert readout(page, "train-loss") < 0.1  # the map is as sure as it gets
    image = pixels(page, "#output-map")
    assert image is not None, "no output map canvas"
    rgba = image["rgba"]
    colours = [tuple(rgba[i:i + 3]) for i in range(0, len(rgba), 4)]
    for point_colour in (ORANGE, BLUE):  # the points' colours (with a white rim)
        assert min(distance(c, point_colour) for c in colours) > 60, point_colour


def test_hovering_a_neuron_shows_its_map_in_the_output_panel(page: Page):
    open_ready(page, "/?lang=en")
    output = pixels(page, "#output-map")
    page.hover("#node-1-0")
    expect(page.locator("#output-caption")).to_be_visible()
    expect(page.locator("#output-caption")).to_contain_text("neuron 1.1")
    shown, node = pixels(page, "#output-map"), pixels(page, "#node-1-0 canvas")
    assert (shown["width"], shown["rgba"]) == (node["width"], node["rgba"])
    page.mouse.move(5, 5)
    expect(page.locator("#output-caption")).to_be_hidden()
    assert pixels(page, "#output-map") == output


def test_the_top_bar_is_one_row_at_1440_px(page: Page):
    page.set_viewport_size({"width": 1440, "height": 900})
    open_ready(page, "/?lang=en")
    boxes = page.eval_on_selector_all(".topbar > *", "els => els.map((e) => e.getBoundingClientRect().toJSON())")
    assert max(b["top"] for b in boxes) < min(b["bottom"] for b in boxes), "the top bar wraps"


@pytest.mark.parametrize("width,height", [(390, 844), (800, 1000)])
def test_play_and_the_output_are_in_view_together(page: Page, width: int, height: int):
    page.set_viewport_size({"width": width, "height": height})
    open_ready(page, "/?lang=en")
    no_sideways_scroll(page)

    def on_screen(selector: str) -> bool:
        return page.evaluate("""(s) => { const r = document.querySelector(s).getBoundingClientRect();
            return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; }""", selector)

    assert on_screen("#play") and on_screen("#epoch")
    assert on_screen("#output-map")
    if width < 640:  # a phone: the run buttons stay at the bottom of the screen, over nothing drawn
        assert page.evaluate("""() => { const p = document.getElementById('play').getBoundingClientRect();
            const o = document.getElementById('output-map').getBoundingClientRect(); return p.top >= o.bottom; }""")
        page.click("#play")
        wait_epoch(page, "e >= 10")
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(200)
        assert on_screen("#play"), "the play button scrolled away"
        page.click("#play")


# A stand-in for static/js/stream.js: the frames come through the JSON step, their heatmaps
# turned into bytes as the stream delivers them.
FAKE_STREAM = """
window.__streamed = 0;
const FakeStream = class {
  constructor(sid) { this.sid = sid; }
  async step(request) {
    window.__streamed += 1;
    if (window.__streamFails) throw new Error('the socket closed');
    const answer = await fetch(`/api/sessions/${this.sid}/step`, {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(request)});
    const frame = await answer.json();
    const bytes = (typed) => Uint8Array.from(atob(typed.bdata), (c) => c.charCodeAt(0));
    frame.output.z = bytes(frame.output.z);
    if (frame.output.confidence) frame.output.confidence = bytes(frame.output.confidence);
    frame.nodes.layers = frame.nodes.layers.map((layer) => layer.map(bytes));
    return frame;
  }
  close() {}
};
FakeStream.Expired = class extends Error {};
// static/js/stream.js, loaded after this, assigns its own: keep the stand-in.
Object.defineProperty(window, 'FrameStream', {get: () => FakeStream, set: () => {}});
"""


@pytest.mark.parametrize("fails", [False, True])
def test_the_loop_uses_a_frame_stream_and_falls_back_to_json(page: Page, fails: bool):
    # The stand-in, not the tree's own stream.js (if any), is the page's FrameStream here.
    page.route("**/static/js/stream.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page.add_init_script(FAKE_STREAM + ("window.__streamFails = true;" if fails else ""))
    open_ready(page, "/?dataset=blobs&classes=3&lang=en")  # several classes: two maps per frame
    play_until(page, "e >= 30")
    streamed = page.evaluate("window.__streamed")
    assert streamed == 1 if fails else streamed >= 10
    expect(page.locator("#flags")).to_be_hidden()
    assert epoch(page) >= 30
    image = pixels(page, "#output-map")
    assert len({tuple(image["rgba"][i:i + 3]) for i in range(0, len(image["rgba"]), 4)}) > 3


def test_the_page_plays_over_the_servers_stream_when_there_is_one(page: Page, api, watched):
    if api.get("/static/js/stream.js").status_code != 200:
        pytest.skip("this tree has no static/js/stream.js (the frame stream)")
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    open_ready(page, "/?lang=en")
    steps_before = len([u for u in watched.requests if u.endswith("/step")])
    play_until(page, "e >= 30")
    assert any(url.endswith(f"/api/sessions/{page.locator('#playground').get_attribute('data-sid')}/stream")
               for url in sockets), sockets
    assert len([u for u in watched.requests if u.endswith("/step")]) == steps_before
    image = pixels(page, "#output-map")
    assert len({tuple(image["rgba"][i:i + 3]) for i in range(0, len(image["rgba"]), 4)}) > 3
