"""What students see when a piece of the scaled-out playground fails: an app process killed
mid-class, Redis restarted, Redis gone for a while."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api.test_stream import read
from tests.cluster import Cluster

EPOCHS = 5
BIG = {"dataset": "spiral", "layers": [8, 8, 8], "train": 80}  # steps of tens of milliseconds


def _create(client: httpx.Client, **config: Any) -> str:
    answer = client.post("/api/sessions", json=config)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_player_continues_when_an_app_process_is_killed(cluster: Cluster, client: httpx.Client) -> None:
    session = _create(client, **BIG)
    frames: list[dict[str, Any]] = []
    problems: list[str] = []
    stop = threading.Event()

    def play() -> None:
        with httpx.Client(base_url=cluster.url, timeout=30) as player:
            epoch = 0
            while not stop.is_set():
                answer = player.post(f"/api/sessions/{session}/step", json={"epochs": EPOCHS, "since": epoch})
                if answer.status_code != 200:
                    problems.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                frames.append((epoch, answer.json()))
                epoch = answer.json()["epoch"]

    player = threading.Thread(target=play)
    player.start()
    try:
        time.sleep(1.0)
        killed_at = len(frames)
        cluster.kill_app(1)
        # A step that the dead process held keeps the session locked until the lock expires
        # (REQUEST_DEADLINE_SECONDS, 5 s): the player waits that long at most, once.
        ends = time.monotonic() + 20
        while len(frames) < killed_at + 5 and not problems and time.monotonic() < ends:
            time.sleep(0.1)
        stop.set()
        player.join(timeout=30)
    finally:
        stop.set()
        cluster.start_app(1)
    assert problems == [], cluster.logs()
    assert len(frames) >= killed_at + 5
    # Every frame continues from the one before it: its history starts right after the epoch the
    # player had, and holds every epoch since (nothing the student had is lost).
    for since, frame in frames:
        assert frame["epoch"] > since
        assert frame["history"]["start"] == since + 1
        assert len(frame["history"]["train_loss"]) == frame["epoch"] - since


def test_a_stream_player_continues_from_its_last_frame_when_its_process_is_killed(cluster: Cluster, client: httpx.Client) -> None:
    """A page's stream stays on one process, whose trainer becomes steady (one round trip a step,
    no lock held): that process killed in the middle of a step, a new stream goes on from the
    last frame the player was answered, with every epoch since."""
    session = _create(client, **BIG)
    stream = f"ws://127.0.0.1:{cluster.proxy_port}/api/sessions/{session}/stream"
    epoch, killed = 0, []
    try:
        with connect(stream, open_timeout=10) as socket:
            for _ in range(4):  # started, current, then steady
                socket.send(json.dumps({"epochs": EPOCHS, "since": epoch}))
                epoch = read(socket.recv(timeout=30))["epoch"]
            for victim in range(len(cluster.apps)):  # one of them holds this stream
                socket.send(json.dumps({"epochs": EPOCHS, "since": epoch}))
                cluster.kill_app(victim)
                killed.append(victim)
                try:
                    epoch = read(socket.recv(timeout=30))["epoch"]
                except ConnectionClosed:
                    break  # its process died with the step under way, answered or not
            else:
                raise AssertionError("the stream outlived every app process")
        for victim in killed:
            cluster.start_app(victim)
        killed = []
        with connect(stream, open_timeout=10) as socket:
            socket.send(json.dumps({"epochs": EPOCHS, "since": epoch}))
            frame = read(socket.recv(timeout=30))
    finally:
        for victim in killed:
            cluster.start_app(victim)
    assert frame["epoch"] > epoch and frame["history"]["start"] == epoch + 1
    assert len(frame["history"]["train_loss"]) == frame["epoch"] - epoch  # nothing the player had is lost


def test_sessions_survive_a_redis_restart(cluster: Cluster, client: httpx.Client) -> None:
    session = _create(client, dataset="xor", lr=0.1)
    client.post(f"/api/sessions/{session}/step", json={"epochs": 7})
    before = client.get(f"/api/sessions/{session}/model").json()
    page = client.get("/", params={"dataset": "gauss"})
    assert page.status_code == 200
    cluster.stop_redis()
    cluster.start_redis()
    info = client.get(f"/api/sessions/{session}").json()
    assert (info["epoch"], info["config"]["dataset"], info["config"]["lr"]) == (7, "xor", 0.1)
    assert client.get(f"/api/sessions/{session}/model").json() == before  # weights, history, all
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 1}).json()["epoch"] == 8


def _stream_step(cluster: Cluster, session: str) -> dict[str, Any]:
    """One step over the frame stream, through nginx: the head of its answer."""
    with connect(f"ws://127.0.0.1:{cluster.proxy_port}/api/sessions/{session}/stream", open_timeout=10) as socket:
        socket.send(json.dumps({"epochs": 1}))
        return read(socket.recv(timeout=30))


def test_without_redis_the_api_answers_503_and_pages_wait_for_it(cluster: Cluster, client: httpx.Client) -> None:
    session = _create(client)
    client.post(f"/api/sessions/{session}/step", json={"epochs": 3})
    assert _stream_step(cluster, session)["epoch"] == 4  # the stream goes through nginx too
    cluster.stop_redis()
    try:
        for _ in range(3):  # whichever process answers
            step = client.post(f"/api/sessions/{session}/step", json={"epochs": 1})
            assert step.status_code == 503 and step.headers["retry-after"] == "5"
            assert "session store" in step.json()["detail"]
        assert client.post("/api/sessions").status_code == 503
        assert _stream_step(cluster, session) == {"error": 503, "detail": step.json()["detail"]}
        for lang, words in (("en", "cannot reach"), ("es", "no puede acceder")):
            page = client.get("/", params={"lang": lang})
            assert page.status_code == 200 and words in page.text
            assert '<meta http-equiv="refresh" content="5">' in page.text
        form = client.post(f"/s/{session}/config", data={"dataset": "xor"}, headers={"HX-Request": "true"})
        assert form.status_code == 200 and form.headers["hx-refresh"] == "true"
    finally:
        cluster.start_redis()
    assert 'id="playground"' in client.get("/").text
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 1}).json()["epoch"] == 5

