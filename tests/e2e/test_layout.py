"""The page's layout in a real Chromium: the network diagram scales to its column, so at any
network size and window width it never runs into the Output column, the page never scrolls
sideways, and the nodes and edges stay visible and clickable. Full-page screenshots of every case
land in test-artifacts/ (see conftest.py) for a person to look at."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

CONFIGS = {
    "three-layers": "/?layers=4,4,2&lang=en",
    "deepest-widest": "/?layers=8,8,8,8,8,8&features=x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2,cosx1,cosx2&lang=en",
    "five-classes": "/?dataset=blobs&classes=5&layers=8,8&lang=en",
}
WIDTHS = (1400, 1100, 800)
MIN_NODE_PX = 18  # a node's heatmap must stay big enough to see and to click

BOXES = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height}; };
  const network = document.querySelector('.column.network');
  // everything drawn in the network column, except what hangs out to the left (input labels)
  const parts = [...network.querySelectorAll('*')].filter((e) => e.getClientRects().length).map(box);
  return {
    network: box(network),
    diagram: box(document.querySelector('.diagram')),
    output: box(document.querySelector('.column.output')),
    metrics: [...document.querySelectorAll('.column.output dd')].map(box),
    partsRight: Math.max(...parts.map((b) => b.right)),
    nodes: [...document.querySelectorAll('.diagram .node')].map(box),
    controls: [...document.querySelectorAll('.layer-controls button')].map(box),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}"""

# A point on the edge's curve where the edge itself is what the mouse would hit.
POINT_ON_EDGE = """(id) => {
  const path = document.getElementById(id);
  const matrix = path.getScreenCTM();
  const length = path.getTotalLength();
  for (const t of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
    const p = path.getPointAtLength(length * t);
    const x = matrix.a * p.x + matrix.c * p.y + matrix.e;
    const y = matrix.b * p.x + matrix.d * p.y + matrix.f;
    if (document.elementFromPoint(x, y) === path) return {x, y};
  }
  return null;
}"""


def intersects(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def open_at(page: Page, path: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(path)
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()
    page.wait_for_function("() => document.querySelector('#node-0-0 canvas').width > 0")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CONFIGS)
def test_the_diagram_fits_its_column_and_stays_clickable(page: Page, name: str, width: int) -> None:
    open_at(page, CONFIGS[name], width)
    boxes = page.evaluate(BOXES)
    assert boxes["scrollWidth"] <= boxes["innerWidth"], "the page scrolls sideways"
    assert not intersects(boxes["diagram"], boxes["output"]), boxes
    assert not intersects(boxes["network"], boxes["output"]), boxes
    assert boxes["diagram"]["right"] <= boxes["network"]["right"] + 0.5
    assert boxes["partsRight"] <= boxes["network"]["right"] + 0.5, "something sticks out of the network column"
    # nothing of the network covers the loss numbers
    for dd in boxes["metrics"]:
        assert not any(intersects(dd, n) for n in (*boxes["nodes"], *boxes["controls"], boxes["diagram"]))
    for id_ in ("test-loss", "train-loss", "metric"):
        assert page.evaluate(f"""() => {{ const e = document.getElementById('{id_}'); const r = e.getBoundingClientRect();
            return e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }}""")
    # the nodes are squares big enough to see, side by side without overlapping
    nodes = boxes["nodes"]
    assert nodes
    for node in nodes:
        assert node["width"] >= MIN_NODE_PX and abs(node["width"] - node["height"]) < 1, node
        assert boxes["diagram"]["left"] - 0.5 <= node["left"] and node["right"] <= boxes["diagram"]["right"] + 0.5
    for i, a in enumerate(nodes):
        assert not any(intersects(a, b) for b in nodes[i + 1:]), "two nodes overlap"
    # the layers' + and − buttons neither overlap each other nor the nodes
    controls = boxes["controls"]
    for i, a in enumerate(controls):
        assert not any(intersects(a, b) for b in controls[i + 1:]), "two layer buttons overlap"
        assert not any(intersects(a, n) for n in nodes), "a layer button covers a node"

    # a real mouse click on an edge opens the weight editor ...
    point = page.evaluate(POINT_ON_EDGE, "edge-0-0-0")
    assert point, "no point of #edge-0-0-0 can be clicked"
    page.mouse.click(point["x"], point["y"])
    dialog = page.locator("dialog#edit-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#edit-label")).to_contain_text("x₁")
    page.click("#edit-cancel")
    expect(dialog).to_be_hidden()
    # ... and one on a neuron the bias editor (Playwright checks nothing covers it)
    page.locator("#node-1-0").click()
    expect(dialog).to_be_visible()
    page.click("#edit-cancel")


@pytest.mark.parametrize("width", (1400, 800))
def test_layer_buttons_still_work_in_a_scaled_diagram(page: Page, width: int) -> None:
    open_at(page, "/?layers=8,8,8,8,8,3&lang=en", width)
    with page.expect_response(lambda r: "/config" in r.url and r.request.method == "POST"):
        page.locator(".layer-controls").last.locator("button").first.click()
    expect(page).to_have_url(re.compile(r"[?&]layers=8,8,8,8,8,4(&|$)"))
    expect(page.locator(".node.hidden")).to_have_count(44)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_a_hidden_feature_stays_on_while_the_student_changes_the_others(page: Page) -> None:
    open_at(page, "/?features=x1,x2,x1sq&hide=feature_x1sq,feature_x2sq&lang=en", 1400)
    expect(page.locator("input[type=checkbox][name=features][value=x1sq]")).to_have_count(0)
    expect(page.locator("input[type=checkbox][name=features][value=x2sq]")).to_have_count(0)
    expect(page.locator(".node.input")).to_have_count(3)
    with page.expect_response(lambda r: "/config" in r.url and r.request.method == "POST"):
        page.locator("input[type=checkbox][name=features][value=x2]").uncheck()
    expect(page).to_have_url(re.compile(r"[?&]features=x1,x1sq(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]hide=feature_x1sq,feature_x2sq(&|$)"))
    expect(page.locator(".node.input")).to_have_count(2)
