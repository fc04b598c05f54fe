"""Your own data in, your model out, as a student does it in Chromium: points drawn on the output
chart and shared by link, a CSV file uploaded, a saved model loaded back."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_playground import open_ready, paused_epoch, sid, state, wait_epoch

pytestmark = pytest.mark.e2e


def drawn(page: Page) -> list[tuple[float, float, float]]:
    """Every point the playground trains and tests on, in a fixed order."""
    data = state(page)["data"]
    return sorted((x1, x2, y) for part in ("train", "test")
                  for x1, x2, y in zip(data[part]["x1"], data[part]["x2"], data[part]["y"]))


def click_chart(page: Page, fx: float, fy: float) -> None:
    """Click the output chart at a fraction of its plotting area (0, 0 is the top left)."""
    area = page.locator("#output-chart .nsewdrag")
    box = area.bounding_box()
    area.click(position={"x": fx * box["width"], "y": fy * box["height"]})


def wait_points(page: Page, count: int) -> None:
    """Wait until the playground trains on ``count`` points."""
    page.wait_for_function("""(count) => {
        const data = JSON.parse(document.getElementById('playground-state').textContent).data;
        return data.train.x1.length + data.test.x1.length === count;
    }""", arg=count)


def rgb(hex_colour: str) -> str:
    """#rrggbb as the browser writes a style's colour back."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def points_in_url(page: Page) -> str:
    return parse_qs(urlparse(page.url).query).get("points", [""])[0]


def test_drawn_points_train_and_travel_in_the_link(open_page) -> None:
    first = open_page().page
    open_ready(first, "/?dataset=xor&show_test=1")
    first.click("#draw-toggle")
    expect(first.locator("#draw-toggle")).to_have_attribute("aria-pressed", "true")
    corners = [(0.15, 0.15, 1), (0.85, 0.85, 1), (0.15, 0.85, 0), (0.85, 0.15, 0), (0.3, 0.3, 1), (0.7, 0.3, 0)]
    for i, (fx, fy, label) in enumerate(corners):
        first.click(f".draw-class[data-class='{label}']")
        click_chart(first, fx, fy)
        if i < 3:  # too few to train on yet: shown in their class's colour, and counted
            expect(first.locator(".pending-point")).to_have_count(i + 1)
            expect(first.locator("#draw-status")).to_contain_text(f"{i + 1} of 4")
            marks = first.locator(".pending-point").evaluate_all("(marks) => marks.map((m) => m.style.backgroundColor)")
        else:
            wait_points(first, i + 1)
    assert len(drawn(first)) == 6
    assert marks == [rgb(state(first)["colours"][kind]) for kind in ("positive", "positive", "negative")]
    # the points are where they were clicked: x1 grows to the right, x2 upwards
    labels = {(x1 > 0, x2 > 0): y for x1, x2, y in drawn(first) if abs(x1) > 3}
    assert labels == {(False, True): 1, (True, False): 1, (False, False): 0, (True, True): 0}
    first.click("#play")
    wait_epoch(first, "e >= 20")
    first.click("#play")
    assert paused_epoch(first) >= 20
    shared = first.url
    second = open_page().page  # another student's browser
    open_ready(second, shared)
    assert drawn(second) == drawn(first)
    assert points_in_url(second) == points_in_url(first)
    # clicking a drawn point removes it, and the link follows
    second.click("#draw-toggle")
    x1, x2, _ = max(drawn(second))
    click_chart(second, (x1 + 6) / 12, (6 - x2) / 12)
    wait_points(second, 5)
    assert len(drawn(second)) == 5 and (x1, x2) not in [(a, b) for a, b, _ in drawn(second)]
    second.click("#draw-clear")
    wait_points(second, 500)  # the generated dataset again
    assert "points=" not in second.url


def test_drawing_a_regression_set_takes_the_chosen_value(page: Page) -> None:
    open_ready(page, "/?dataset=plane")
    page.click("#draw-toggle")
    page.fill("#draw-value", "-0.5")
    for fx, fy in ((0.2, 0.2), (0.4, 0.2), (0.6, 0.2), (0.8, 0.2)):
        click_chart(page, fx, fy)
    wait_points(page, 4)
    assert {y for _, _, y in drawn(page)} == {-0.5}


CSV = "x1,x2,label\n" + "".join(f"{x},{y},{'cat' if x * y > 0 else 'dog'}\n" for x in (-4, -2, 2, 4) for y in (-3, 3))


def test_a_csv_file_uploaded_on_the_page(page: Page, api: httpx.Client) -> None:
    open_ready(page, "/?dataset=circle")
    page.set_input_files("#data-file", files=[{"name": "pets.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    page.wait_for_url(re.compile(r"data=[0-9a-f]{64}"))
    assert len(drawn(page)) == 8
    expect(page.locator("#data-io")).to_contain_text("Training on the data you uploaded")
    downloaded = api.get(page.locator("#download-data").get_attribute("href")).text
    assert downloaded.count("\n") == 9 and downloaded.startswith("x1,x2,label,split\n")
    # a bad file is refused in the student's language, naming the row and column; nothing changes
    before = page.url
    page.click("text=Español")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.set_input_files("#data-file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"1,2,0\n3,abc,1\n"}])
    expect(page.locator(".notes .error")).to_contain_text("Fila 2, columna x2: «abc» no es un número")
    assert len(drawn(page)) == 8 and page.url.split("&lang")[0] == before.split("&lang")[0]


def test_a_saved_model_loaded_on_the_page(page: Page, api: httpx.Client) -> None:
    trained = api.post("/api/sessions", json={"dataset": "spiral", "layers": [5, 3]}).json()["id"]
    api.post(f"/api/sessions/{trained}/step", json={"epochs": 37})
    model = api.get(f"/api/sessions/{trained}/model").json()
    open_ready(page, "/")
    page.set_input_files("#model-file", files=[{"name": "m.json", "mimeType": "application/json",
                                                "buffer": json.dumps(model).encode()}])
    expect(page.locator("#epoch")).to_have_text("37")
    assert "dataset=spiral" in page.url and "layers=5,3" in page.url
    assert api.get(f"/api/sessions/{sid(page)}/model").json() == model


def confusion(page: Page, split: str) -> list[list[int]]:
    return page.evaluate("""(split) => [...document.querySelectorAll(`#confusion-${split} tbody tr`)]
        .map((row) => [...row.querySelectorAll('td')].slice(0, -1).map((td) => Number(td.textContent.replace(/\\D/g, ''))))""",
                         split)


def test_metrics_follow_training(page: Page) -> None:
    open_ready(page, "/?dataset=blobs&classes=4&lr=0.1")
    before = confusion(page, "test")
    assert len(before) == 4 and sum(map(sum, before)) == 250 and sum(map(sum, confusion(page, "train"))) == 250
    page.click("#play")
    wait_epoch(page, "e >= 30")
    page.click("#play")
    paused_epoch(page)
    after = confusion(page, "test")
    assert after != before and sum(after[i][i] for i in range(4)) > sum(before[i][i] for i in range(4))
    expect(page.locator("#confusion-train caption")).to_have_text("Training points")


def test_regression_plots_predicted_against_true(page: Page) -> None:
    open_ready(page, "/?dataset=plane&lr=0.1")
    expect(page.locator("#r2-values")).to_contain_text("R²: training")
    first = page.locator("#r2-values").text_content()
    page.click("#play")
    wait_epoch(page, "e >= 10")
    page.click("#play")
    paused_epoch(page)
    assert page.locator("#r2-values").text_content() != first
    counts = page.evaluate("document.getElementById('prediction-chart').data.map((trace) => trace.x.length)")
    assert counts == [200, 200, 2]  # training points, test points (at most 200 each), the diagonal


@pytest.mark.parametrize(("picture", "kind"), [("output", "png"), ("output", "svg"), ("loss", "png"), ("loss", "svg"),
                                               ("network", "svg"), ("network", "png")])
def test_pictures_download(page: Page, picture: str, kind: str) -> None:
    open_ready(page, "/?dataset=xor")
    with page.expect_download() as caught:
        page.click(f".picture[data-picture='{picture}'][data-format='{kind}']")
    download = caught.value
    assert download.suggested_filename == f"playground-{picture}.{kind}"
    content = open(download.path(), "rb").read()
    if kind == "png":
        assert content.startswith(b"\x89PNG") and len(content) > 2000
    else:
        text = content.decode()
        assert "<svg" in text and len(text) > 2000
        if picture != "network":  # the canvas: the loss chart, or the output's map under the axes and points
            assert text.count("<image") == 1 and (picture == "loss" or "scatterlayer" in text)
        if picture == "network":  # edges, and each node's picture
            assert text.count("<path") == 2 * 4 + 4 * 2 + 2 * 1 and text.count("<image") == 2 + 4 + 2 + 1


def test_a_tensorflow_playground_link_opens_here(page: Page) -> None:
    open_ready(page, "/")
    page.fill("#tfpg-url", "https://playground.tensorflow.org/#activation=relu&dataset=xor&networkShape=3"
                           "&learningRate=0.1&seed=0.5&collectStats=false&x=true&y=true&xTimesY=true")
    page.press("#tfpg-url", "Enter")
    page.wait_for_url(re.compile(r"dataset=xor"))
    expect(page.locator(".notes")).to_contain_text("collectStats: this TensorFlow Playground setting has no counterpart")
    params = parse_qs(urlparse(page.url).query)
    assert params["activation"] == ["relu"] and params["layers"] == ["3"] and params["features"] == ["x1,x2,x1x2"]
    assert "tfpg" not in params  # the address bar holds the canonical link, to share
