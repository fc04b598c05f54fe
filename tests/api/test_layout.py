"""The network diagram's geometry (it scales to its column: everything inside one viewBox, placed
in percentages), lesson links that hide single input features, and facts written once: the
engine's constants and the page's address flow to every place that shows them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.config import HIDEABLE, MAX_HIDDEN_LAYERS, MAX_NEURONS, PlaygroundConfig, page_url
from app.page_model import (
    DIAGRAM_WIDTH,
    FEATURE_HIDE,
    MIN_COLUMN_WIDTH,
    NODE_SIZE,
    column_width,
    network_layout,
)
from engine.datasets import FEATURE_LABELS, FEATURES
from tests.api import test_classroom as helpers

# -- the diagram ----------------------------------------------------------------------------------

SHAPES = [
    PlaygroundConfig(),
    PlaygroundConfig(layers=()),
    PlaygroundConfig(layers=(4, 4, 2)),
    PlaygroundConfig(layers=(MAX_NEURONS,) * MAX_HIDDEN_LAYERS, features=tuple(FEATURES)),
    PlaygroundConfig(dataset="blobs", classes=5, layers=(8, 8)),
]


def _percent(text: str) -> float:
    assert text.endswith("%"), text
    return float(text[:-1])


@pytest.mark.parametrize("config", SHAPES, ids=lambda c: ",".join(map(str, c.layers)) or "none")
def test_every_node_and_edge_lies_inside_the_view_box(config: PlaygroundConfig) -> None:
    n_outputs = config.classes if config.dataset == "blobs" else 1
    layout = network_layout(config, n_outputs)
    assert len(layout.nodes) == len(config.features) + sum(config.layers) + n_outputs
    for node in layout.nodes:
        assert 0 < node.x and node.x + NODE_SIZE <= layout.width, node
        assert 0 <= node.y and node.y + NODE_SIZE <= layout.height, node
        # the percentages the page places the node with are the same position
        assert _percent(node.left) == pytest.approx(100 * node.x / layout.width, abs=1e-3)
        assert _percent(node.top) == pytest.approx(100 * node.y / layout.height, abs=1e-3)
    for edge in layout.edges:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", edge.path)]
        assert all(0 <= x <= layout.width for x in numbers[0::2]), edge
        assert all(0 <= y <= layout.height for y in numbers[1::2]), edge
    assert _percent(layout.node_width) * layout.width / 100 == pytest.approx(NODE_SIZE, abs=0.01)
    assert _percent(layout.node_height) * layout.height / 100 == pytest.approx(NODE_SIZE, abs=0.01)
    # each layer's controls are one column wide and centred over its nodes
    if layout.layer_controls:
        first = layout.layer_controls[0]
        left = _percent(first.offset) * layout.width / 100
        assert left + _percent(first.width) * layout.width / 200 == pytest.approx(first.x, abs=0.1)
        assert sum(_percent(c.width) for c in layout.layer_controls) + _percent(first.offset) <= 100


def test_deep_networks_squeeze_their_columns_not_the_page() -> None:
    assert column_width(3) > column_width(8) >= MIN_COLUMN_WIDTH
    deep = network_layout(SHAPES[3], 1)
    assert deep.width <= DIAGRAM_WIDTH + 2 * MIN_COLUMN_WIDTH
    assert column_width(1) > 0


@pytest.mark.parametrize("query", ["layers=4,4,2", "layers=8,8,8,8,8,8&features=" + ",".join(FEATURES)])
def test_the_diagram_has_no_fixed_pixel_width(client: TestClient, query: str) -> None:
    html = client.get(f"/?{query}&lang=en").text
    diagram = re.search(r'<div class="diagram" style="([^"]*)"', html).group(1)
    assert re.search(r"(^|;)\s*width:", diagram) is None and "max-width:" in diagram
    svg = re.search(r'<svg class="edges"[^>]*>', html).group(0)
    assert 'viewBox="0 0 ' in svg and " width=" not in svg
    for style in re.findall(r'<div class="node [^"]*" id="node-\d+-\d+"\s+style="([^"]*)"', html):
        assert "px" not in style, style


# -- hiding single features -----------------------------------------------------------------------


def test_each_feature_has_a_hideable_name() -> None:
    assert set(FEATURE_HIDE) == set(FEATURES)
    for name in FEATURES:
        assert f"feature_{name}" in HIDEABLE
    # grouped right after the switch for all of them, in the features' order
    at = HIDEABLE.index("features")
    assert HIDEABLE[at + 1:at + 1 + len(FEATURES)] == tuple(f"feature_{n}" for n in FEATURES)


def test_hiding_features_removes_their_toggles_and_keeps_their_values(client: TestClient) -> None:
    base = "dataset=circle&features=x1,x2,x1sq&layers=3"
    page = client.get(f"/?{base}&hide=feature_x1sq,feature_x2sq&lang=en")
    html = page.text
    for name in ("x1sq", "x2sq"):
        assert f'type="checkbox" name="features" value="{name}"' not in html
        assert f'<span class="feature-label">{FEATURE_LABELS[name]}</span>' not in html
    for name in ("x1", "x2", "x1x2", "sinx1"):
        assert f'type="checkbox" name="features" value="{name}"' in html
    # the active hidden feature travels in a hidden input, the inactive one not at all
    assert '<input type="hidden" name="features" value="x1sq">' in html
    assert 'name="features" value="x2sq"' not in html
    values = helpers.form_values(html)
    assert sorted(values["features"]) == sorted(["", "x1", "x2", "x1sq"])
    state = helpers.page_state(html)
    expected = helpers.config_of(state["query"])
    assert expected.hide == ("feature_x1sq", "feature_x2sq")
    assert expected.features == ("x1", "x2", "x1sq")
    answer = client.post(f"/s/{state['sid']}/config", data=values)
    assert answer.status_code == 200
    assert '<section class="notes"' not in answer.text
    assert answer.headers["HX-Replace-Url"] == f"/?{expected.to_query()}&lang=en"
    # a student unticking a visible feature still keeps the hidden one
    values["features"] = [v for v in values["features"] if v != "x1"]  # the hidden input stays
    answer = client.post(f"/s/{state['sid']}/config", data=values)
    assert helpers.config_of(urlsplit(answer.headers["HX-Replace-Url"]).query).features == ("x2", "x1sq")


def test_hiding_all_features_and_one_posts_each_feature_once(client: TestClient) -> None:
    html = client.get("/?features=x1,x1sq&hide=features,feature_x1sq&lang=en").text
    assert 'type="checkbox" name="features"' not in html
    assert helpers.form_values(html)["features"] == ["", "x1", "x1sq"]
    assert f'<span class="feature-label">{FEATURE_LABELS["x1sq"]}</span>' not in html
    assert f'<span class="feature-label">{FEATURE_LABELS["x2"]}</span>' in html
    state = helpers.page_state(html)
    answer = client.post(f"/s/{state['sid']}/config", data=helpers.form_values(html))
    assert '<section class="notes"' not in answer.text


def test_the_lesson_panel_offers_one_box_per_feature(client: TestClient) -> None:
    html = client.get("/?features=x1,x2&hide=feature_cosx1&lang=es").text
    panel = html[html.index('<details class="lesson-links"'):html.index("</details>")]
    group = panel[panel.index('<div class="lesson-group"'):]
    group = group[:group.index("</div>")]
    assert 'value="features"' in group  # under the switch for all the features
    for name in FEATURES:
        box = re.search(rf'<label><input type="checkbox" name="lesson_hide" value="feature_{name}" '
                        rf'form="lesson-form"( checked)?>\s*([^<]*)</label>', group)
        assert box, name
        assert box.group(2).strip() == FEATURE_LABELS[name]
        assert bool(box.group(1)) == (name == "cosx1")  # what is hidden now starts ticked
    query = unescape(re.search(r'name="query" value="([^"]*)"', panel).group(1))
    answer = client.get("/lesson", params=[("query", query), ("lang", "es"), ("lesson_hide", "feature_x2sq"),
                                           ("lesson_hide", "feature_x1sq"), ("lesson_hide", "noise")],
                        follow_redirects=False)
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert "hide=noise,feature_x1sq,feature_x2sq" in target.query
    config = helpers.config_of(target.query)
    assert config.hide == ("noise", "feature_x1sq", "feature_x2sq")
    lesson = client.get(answer.headers["location"]).text
    assert 'type="checkbox" name="features" value="x1sq"' not in lesson
    assert 'type="checkbox" name="features" value="x1"' in lesson


# -- one source for each fact ---------------------------------------------------------------------

FOLLOW_THE_ENGINE = r"""
import json, re, sys
import engine.datasets as datasets
datasets.HALF_SIDE, datasets.MAX_NOISE, datasets.MAX_CLASSES = 5.0, 0.4, 4
from fastapi.testclient import TestClient
import app.config as config
import engine.trainer as trainer
from app.main import create_app
from app.settings import Settings
from tests.api.test_classroom import page_state
try:
    trainer.Setup(noise=0.45)
    noise = "accepted"
except ValueError:
    noise = "refused"
with TestClient(create_app(Settings())) as client:
    html = client.get("/?dataset=blobs&lang=en").text
classes = re.search(r'<select [^>]*name="classes".*?</select>', html, re.S).group(0)
print(json.dumps({
    "app_max_noise": config.MAX_NOISE,
    "slider_max": re.search(r'name="noise"[^>]*max="(\d+)"', html).group(1),
    "trainer_noise": noise,
    "trainer_half_side": trainer.HALF_SIDE,
    "state_half_side": page_state(html)["halfSide"],
    "classes": re.findall(r'<option value="(\d+)"', classes),
}))
"""


def test_engine_constants_flow_to_the_app_and_the_page() -> None:
    """Change the engine's input square, noise bound and class count (in a fresh interpreter,
    before anything reads them): the trainer, the validator, the form and the page state follow."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", FOLLOW_THE_ENGINE], cwd=root, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {
        "app_max_noise": 40, "slider_max": "40", "trainer_noise": "refused",
        "trainer_half_side": 5.0, "state_half_side": 5.0, "classes": ["3", "4"],
    }


def test_every_link_to_this_playground_is_the_canonical_one(client: TestClient) -> None:
    html = client.get("/?dataset=xor&layers=3&lr=0.1&lang=es").text
    state = helpers.page_state(html)
    config = helpers.config_of(state["query"])
    assert state["url"] == page_url(config, "es")
    assert unescape(re.search(r'id="share-url"[^>]*value="([^"]*)"', html).group(1)) == state["url"]
    assert unescape(re.search(r'class="join-link" href="([^"]*)"', html).group(1)) == page_url(config, "es", "/join")
    answer = client.post(f"/s/{state['sid']}/config", data={**helpers.form_values(html), "lr": ["0.3"]})
    after = helpers.page_state(answer.text)
    assert answer.headers["HX-Replace-Url"] == after["url"] == page_url(config.with_changes(lr=0.3), "es")


def test_the_join_page_links_come_from_the_same_builder(client: TestClient) -> None:
    html = unescape(client.get("/join?dataset=xor&layers=3&host=10.0.0.5:8080&lang=es").text)
    config = PlaygroundConfig(dataset="xor", layers=(3,))
    assert f'href="{page_url(config, "en", "/join", short=True, extra=(("host", "10.0.0.5:8080"),))}"' in html
    assert f'http://10.0.0.5:8080{page_url(config, "es", short=True)}' in html
    assert f'href="{page_url(config, "es")}"' in html  # back to the playground
