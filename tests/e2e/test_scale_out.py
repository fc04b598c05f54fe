"""The page through nginx, in front of three app processes that keep every session in Redis
(tests/cluster.py): a representative selection of the page tests, and a class that goes on while
app processes die under it.
"""

from __future__ import annotations

import re
from typing import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.cluster import Cluster
from tests.e2e.test_playground import (  # noqa: F401 - collected here, against the proxy
    epoch,
    open_ready,
    test_add_layer_and_neuron,
    test_edit_weight_by_clicking_an_edge,
    test_expired_session_recovers,
    test_page_opens_with_diagram_and_chart,
    test_play_trains_and_pause_stops,
    test_step_adds_exactly_one_epoch,
    test_two_tabs_train_independently,
    wait_epoch,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base_url(cluster: Cluster) -> str:
    """The proxy instead of the single server of the other page tests."""
    return cluster.url


@pytest.fixture(scope="module")
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def test_a_student_keeps_training_while_app_processes_are_killed(cluster: Cluster, page: Page, api) -> None:
    """Each app process in turn is killed (SIGKILL) while the page plays, so one of them held
    the page's frame stream: the page goes on from the frame it had, shows no error, never
    sees a failed answer (nginx passes a request that met a dead process to the next), and
    asks again once (a JSON step) for each stream that died, then opens a new stream."""
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    streams, retried = [], []
    page.on("websocket", lambda socket: streams.append(socket))
    page.on("request", lambda r: retried.append(r.url) if r.url.endswith("/step") else None)
    open_ready(page, "/?dataset=spiral&layers=8,8")
    page.click("#play")
    wait_epoch(page, "e >= 10")  # playing over its stream before the first process dies
    for victim in range(len(cluster.apps)):
        before = epoch(page)
        cluster.kill_app(victim)
        wait_epoch(page, f"e > {before + 20}", timeout=20_000)  # training goes on
        cluster.start_app(victim)
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    assert failed == []
    died = [stream for stream in streams if stream.is_closed()]
    assert len(died) in range(1, len(cluster.apps) + 1) and len(streams) == len(died) + 1
    assert len(retried) == len(died)  # one retried request for each stream that died
    expect(page.locator("#flags")).to_be_hidden()
    session = page.locator("#playground").get_attribute("data-sid")
    assert api.get(f"/api/sessions/{session}").json()["epoch"] >= epoch(page)  # the same session throughout


def test_a_playing_page_pauses_while_redis_is_away_and_plays_on_after(cluster: Cluster, page: Page, watched) -> None:
    # The steps that find Redis away answer 503, which Chromium logs as a console error.
    watched.allowed_console.append(re.compile(r"Failed to load resource: .*status of 503"))
    open_ready(page, "/?lang=es")
    page.click("#play")
    wait_epoch(page, "e > 10")
    cluster.stop_redis()
    try:
        expect(page.locator("#flags")).to_contain_text("no puede acceder a sus sesiones")
        expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
        paused = epoch(page)
    finally:
        cluster.start_redis()
    page.click("#play")
    wait_epoch(page, f"e > {paused + 10}")  # the same session, from where it was
    page.click("#play")
