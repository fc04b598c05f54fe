"""The backpropagation view and pinned loss curves (issue 10), in a real Chromium: hovering a
weight or a neuron shows its gradient of the last mini-batch (the engine's, as the API's frame
has it), each layer's gradient size is a bar that follows training, and a run's loss curves
pinned before a reset stay on the chart under the next run's, across swaps and a reload."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from .test_accessibility import axe_violations
from .test_layout import POINT_ON_EDGE
from .test_playground import open_ready, paused_epoch, sid, swap, wait_epoch
from .test_live import play_until

pytestmark = pytest.mark.e2e

# How many pixels of the loss chart, in a band of its width (shares from..to), have a colour
# (not white, grey or black): the test curves, orange, full or faded.
COLOURED = """([from, to]) => {
  const canvas = document.getElementById('loss-chart');
  const { width, height } = canvas;
  const top = Math.round(height * 0.2); // below the legend
  const x0 = Math.round(width * from);
  const data = canvas.getContext('2d').getImageData(x0, top, Math.round(width * to) - x0, height - top).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    const rgb = [data[i], data[i + 1], data[i + 2]];
    if (data[i + 3] > 0 && Math.max(...rgb) - Math.min(...rgb) > 40) count += 1;
  }
  return count;
}"""


def gradients(api, session: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The session's weight and bias gradients, as the API's frame sends them (float32)."""
    frame = api.get(f"/api/sessions/{session}/frame").json()

    def read(typed: dict) -> np.ndarray:
        assert typed["dtype"] == "f4"
        shape = tuple(int(n) for n in typed["shape"].split(","))
        return np.frombuffer(base64.b64decode(typed["bdata"]), dtype=np.float32).reshape(shape)

    return [read(g) for g in frame["weight_gradients"]], [read(g) for g in frame["bias_gradients"]]


def shown_gradient(tooltip: str, label: str) -> float:
    """The number after `label` in a tooltip of the English page (4.21E-3, -0.0421)."""
    match = re.search(re.escape(label) + r": (\S+)", tooltip)
    assert match, tooltip
    return float(match.group(1).replace("−", "-"))


def hover(page: Page, element_id: str) -> None:
    point = page.evaluate(POINT_ON_EDGE, element_id)
    assert point is not None, f"no point of {element_id} is under the mouse"
    page.mouse.move(point["x"], point["y"])


def test_hovering_a_weight_or_a_neuron_shows_its_gradient(page: Page, api) -> None:
    open_ready(page, "/?lang=en")
    for expected in (1, 2, 3):
        page.click("#step")
        expect(page.locator("#epoch")).to_have_text(str(expected))
    weight_gradients, bias_gradients = gradients(api, sid(page))
    tooltip = page.locator("#tooltip")
    hover(page, "edge-1-0-1")  # from neuron 1.1 to neuron 2.2
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("Weight from neuron 1.1 to neuron 2.2")
    shown = shown_gradient(tooltip.text_content(), "∂J/∂w of the last mini-batch")
    assert shown != 0
    assert shown == pytest.approx(float(weight_gradients[1][0, 1]), rel=5e-3)
    page.mouse.move(5, 5)
    expect(tooltip).to_be_hidden()
    page.locator("#node-2-1").focus()  # the keyboard reads a bias and its gradient too
    expect(tooltip).to_contain_text("Bias of this neuron")
    shown = shown_gradient(tooltip.text_content(), "∂J/∂b of the last mini-batch")
    assert shown == pytest.approx(float(bias_gradients[1][1]), rel=5e-3)


def test_the_spanish_tooltip_names_the_gradient_in_spanish(page: Page) -> None:
    open_ready(page, "/?lang=es")
    page.click("#step")
    expect(page.locator("#epoch")).to_have_text("1")
    page.locator("#edge-0-0-0").focus()
    expect(page.locator("#tooltip")).to_contain_text(re.compile(r"∂J/∂w del último minilote: [−-]?\d"))


def test_a_hovered_weights_gradient_follows_training(page: Page) -> None:
    open_ready(page, "/?lang=en")
    hover(page, "edge-2-0-0")
    tooltip = page.locator("#tooltip")
    expect(tooltip).to_contain_text("∂J/∂w of the last mini-batch: 0")  # nothing trained yet
    play = page.locator("#play")
    play.dispatch_event("click")  # not with the mouse, which stays on the weight
    seen = set()
    for _ in range(20):
        seen.add(shown_gradient(tooltip.text_content(), "∂J/∂w of the last mini-batch"))
        page.wait_for_timeout(100)
    play.dispatch_event("click")
    expect(tooltip).to_be_visible()
    assert len(seen) > 3, seen  # the mouse stayed still; the number moved with the frames


def bars(page: Page) -> list[tuple[str, float]]:
    """Each layer's gradient bar: its number and its height as a share of the bar."""
    return [tuple(bar) for bar in page.evaluate("""() => {
        const values = document.querySelectorAll('.gradient-value');
        return [...document.querySelectorAll('.gradient-bar')].map((bar, l) => [values[l].textContent,
          bar.querySelector('.gradient-fill').getBoundingClientRect().height / bar.clientHeight]);
    }""")]


def test_gradient_bars_follow_training_on_a_log_scale(page: Page, api) -> None:
    open_ready(page, "/?lang=en&layers=4,4,4,4&activation=sigmoid")
    expect(page.locator(".gradient-bar")).to_have_count(5)  # one per layer of weights
    assert bars(page) == [("0", 0.0)] * 5  # before the first step there is no gradient
    page.click("#play")
    wait_epoch(page, "e >= 2")
    seen = []
    for _ in range(15):
        seen.append(bars(page))
        page.wait_for_timeout(100)
    page.click("#play")
    paused_epoch(page)
    assert len({tuple(value for value, _ in frame) for frame in seen}) > 3  # the numbers move
    norms = api.get(f"/api/sessions/{sid(page)}/frame").json()["gradient_norms"]
    shown = bars(page)
    for norm, (value, height) in zip(norms, shown):
        assert float(value) == pytest.approx(norm, rel=0.05)
        # 10⁻⁶ is an empty bar, 10² a full one: each power of ten an eighth of it
        assert height == pytest.approx((np.log10(norm) + 6) / 8, abs=0.03)
    # sigmoids shrink the gradient at every layer back from the output: the bars show it
    assert shown[0][1] < shown[-1][1]
    expect(page.locator("#gradient-legend")).to_contain_text("last mini-batch")


def test_a_method_without_gradient_says_so_instead_of_bars(page: Page) -> None:
    open_ready(page, "/?lang=en&optimizer=random_search")
    page.click("#step")
    expect(page.locator("#epoch")).to_have_text("1")
    expect(page.locator("#gradient-none")).to_be_visible()
    expect(page.locator("#gradient-legend")).to_be_hidden()
    expect(page.locator("#gradient-row")).to_be_hidden()
    page.locator("#edge-0-0-0").focus()
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip")).not_to_contain_text("∂J/∂w")


def test_a_pinned_curve_stays_under_the_next_run(page: Page) -> None:
    open_ready(page, "/?lang=en")
    unpin = page.locator("#unpin-curve")
    expect(unpin).to_be_disabled()
    pinned_at = play_until(page, "e >= 60")
    page.locator("#pin-curve").focus()
    page.keyboard.press("Enter")  # the buttons work from the keyboard
    caption = page.locator("#pinned-caption")
    expect(caption).to_be_visible()
    expect(caption).to_contain_text(f"the pinned curve (the same settings). At epoch {pinned_at} its loss was")
    expect(unpin).to_be_enabled()
    page.click("#reset")
    expect(page.locator("#epoch")).to_have_text("0")
    for expected in (1, 2):
        page.click("#step")
        expect(page.locator("#epoch")).to_have_text(str(expected))
    # The axis runs to the pinned run's last epoch: past the new run's two epochs, on the
    # right of the chart, only the pinned (faded, dashed) test curve is drawn.
    assert page.evaluate(COLOURED, [0.5, 0.95]) > 20
    assert axe_violations(page) == []

    # A change of settings swaps the playground: the pin stays, and says what differed.
    swap(page, lambda: page.select_option("select[name=activation]", "relu"))
    expect(caption).to_contain_text("(Activation: Tanh)")
    assert page.evaluate(COLOURED, [0.5, 0.95]) > 20
    page.reload()
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()
    expect(caption).to_contain_text("(Activation: Tanh)")  # the tab kept it

    page.click("#unpin-curve")
    expect(caption).to_be_hidden()
    expect(unpin).to_be_disabled()
    expect(page.locator("#pin-curve")).to_be_focused()
    assert page.evaluate(COLOURED, [0.5, 0.95]) == 0
    page.reload()
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()
    expect(caption).to_be_hidden()


def test_the_spanish_page_pins_in_spanish(page: Page) -> None:
    open_ready(page, "/?lang=es")
    page.click("#step")
    expect(page.locator("#epoch")).to_have_text("1")
    page.click("#pin-curve")
    swap(page, lambda: page.select_option("select[name=lr]", "0.3"))
    expect(page.locator("#pinned-caption")).to_contain_text("la curva fijada (Tasa de aprendizaje: 0,03). En la época 1")
    expect(page.locator("#unpin-curve")).to_have_text("Quitar la curva fijada")
