"""TensorFlow Playground's own set-up on the page: the conventions control, its explanation, the
loss it plots, and a TensorFlow Playground link that opens with it."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_playground import open_ready, query, sid, swap

pytestmark = pytest.mark.e2e


def test_the_conventions_control_switches_to_tensorflow_playgrounds_numbers(page: Page, api) -> None:
    open_ready(page, "/?dataset=xor&init=playground&lang=en")
    control = page.locator("[data-control=convention]")
    expect(control).to_contain_text("Conventions")
    expect(control.locator(".control-help")).to_contain_text("labels 0 and 1")
    swap(page, lambda: page.select_option("select[name=convention]", "tfpg"))
    assert query(page)["convention"] == "tfpg"
    expect(page.locator("select[name=convention]")).to_have_value("tfpg")
    expect(control.locator(".control-help")).to_contain_text("J = 1/m Σ ½(o − t)²")
    expect(page.locator("[data-control=loss] .control-help")).to_contain_text("TensorFlow Playground")
    expect(page.locator("#loss-plotted")).to_contain_text("½ squared error")
    page.click("#step")
    expect(page.locator("#epoch")).to_have_text("1")
    metrics = api.get(f"/api/sessions/{sid(page)}").json()["metrics"]
    expect(page.locator("#train-loss")).to_have_text(f"{metrics['train_loss']:.3f}")
    expect(page.locator("canvas#output-map")).to_be_visible()


def test_a_refused_combination_is_named_beside_the_form(page: Page) -> None:
    open_ready(page, "/?convention=tfpg&lang=es")
    swap(page, lambda: page.select_option("select[name=optimizer]", "adam"))
    expect(page.locator(".notes .error")).to_contain_text("las de TensorFlow Playground necesitan dos clases o regresión")
    expect(page.locator("select[name=convention]")).to_have_value("tfpg")


def test_a_tensorflow_playground_link_opens_with_its_conventions(page: Page) -> None:
    tf = "https://playground.tensorflow.org/#activation=tanh&batchSize=10&dataset=xor&learningRate=0.03&networkShape=4,2"
    page.goto(f"/from-tfpg?url={quote(tf, safe='')}&lang=en")
    expect(page.locator("#output-chart .main-svg").first).to_be_attached()
    expect(page).to_have_url(re.compile(r"[?&]convention=tfpg(&|$)"))
    expect(page.locator("select[name=convention]")).to_have_value("tfpg")
