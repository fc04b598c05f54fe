"""Trainers in worker processes: the same answers as in-process, errors carried across, a dead,
stuck or stopped worker replaced (its sessions lost, new ones fine), and nothing but training
waiting for training."""

from __future__ import annotations

import json

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from app.config import PlaygroundConfig
from app.main import create_app
from app.sessions import InMemorySessionStore, Session
from app.settings import Settings
from app import trainers
from app.trainers import LocalTrainers, Request, TrainerGone, TrainerLost, WorkerTrainers
from engine.datasets import FEATURES
from engine.trainer import Trainer

from .test_classroom import page_state

CONFIG = PlaygroundConfig(dataset="xor", noise=10, seed=5)
# A network whose epoch takes a while: 9 features, six layers of 8, batch 1.
HEAVY = {"dataset": "plane", "train": 90, "layers": [8] * 6, "batch": 1, "features": list(FEATURES)}


def _wait_until_busy(session: Session) -> None:
    """Until the session has a request at work and one waiting (their threads take a moment)."""
    for _ in range(1000):
        if session.lock._count == 2:
            return
        time.sleep(0.01)
    raise AssertionError("the two requests never reached the session")


@pytest.fixture(scope="module")
def workers():
    trainers = WorkerTrainers(2)
    yield trainers
    trainers.close()


def test_workers_train_exactly_like_the_server_process(workers) -> None:
    local = InMemorySessionStore(60, 10, trainers=LocalTrainers()).create(CONFIG)
    remote = InMemorySessionStore(60, 10, trainers=workers).create(CONFIG)
    for session in (local, remote):
        json.loads(session.run("step_json", epochs=5, since=-1, grid=10))
    assert remote.run("export") == local.run("export")
    assert remote.run("frame", since=2, grid=20) == local.run("frame", since=2, grid=20)


def test_an_invalid_operation_raises_value_error_and_changes_nothing(workers) -> None:
    session = InMemorySessionStore(60, 10, trainers=workers).create(CONFIG)
    before = session.run("export")
    with pytest.raises(ValueError, match="source"):
        session.run("set_weight", layer=0, source=9, target=0, value=1.0)
    assert session.run("export") == before


def test_evicted_sessions_are_dropped_in_their_worker(workers) -> None:
    store = InMemorySessionStore(60, 1, trainers=workers)
    first = store.create(CONFIG)
    first.start()
    store.create(CONFIG).start()  # evicts the first; its worker drops it with its next request
    with pytest.raises(TrainerGone):
        workers.submit(Request(first.id, "info", {})).result()


def test_a_dead_worker_comes_back_and_its_sessions_count_as_lost() -> None:
    trainers = WorkerTrainers(1)
    try:
        session = InMemorySessionStore(60, 10, trainers=trainers).create(CONFIG)
        session.start()
        trainers._workers[0].process.kill()
        trainers._workers[0].process.join()
        with pytest.raises(TrainerLost, match="restarted"):
            session.run("info")
        fresh = InMemorySessionStore(60, 10, trainers=trainers).create(CONFIG)
        assert fresh.run("info")["epoch"] == 0
    finally:
        trainers.close()


def test_the_api_and_the_page_work_with_workers() -> None:
    with TestClient(create_app(Settings(workers=2))) as client:
        created = client.post("/api/sessions", json={"dataset": "circle"}).json()
        frame = client.post(f"/api/sessions/{created['id']}/step", json={"epochs": 3}).json()
        assert frame["epoch"] == 3
        assert client.get("/?dataset=gauss&lang=es").status_code == 200
        assert client.patch(f"/api/sessions/{created['id']}/config", json={"lr": 11}).status_code == 422


def test_creating_a_session_right_after_a_worker_died_succeeds() -> None:
    with TestClient(create_app(Settings(workers=1))) as client:
        old = client.post("/api/sessions", json={}).json()["id"]
        worker = client.app.state.sessions.trainers._workers[0]
        worker.process.kill()
        worker.process.join()
        created = client.post("/api/sessions", json={"dataset": "xor"})
        assert created.status_code == 201
        assert client.post(f"/api/sessions/{created.json()['id']}/step", json={"epochs": 2}).json()["epoch"] == 2
        page = client.get("/?dataset=xor")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        step = client.post(f"/api/sessions/{page_state(page.text)['sid']}/step", json={"epochs": 1})
        assert step.status_code == 200 and step.json()["epoch"] == 1
        lost = client.post(f"/api/sessions/{old}/step", json={"epochs": 1})
        assert lost.status_code == 404 and "restarted" in lost.json()["detail"]


@pytest.mark.timeout(120)
def test_a_stopped_worker_is_replaced_after_the_deadline_and_nothing_else_waits() -> None:
    """SIGSTOP a worker: its requests wait at most the deadline, then the worker is replaced and
    its sessions answer 404 ("restarted"), which the page turns into a fresh start. Meanwhile
    more than one waiting request per session answers 429 at once, and /healthz, pages and
    static files answer without waiting."""
    deadline = 5
    with TestClient(create_app(Settings(workers=1, request_deadline_seconds=deadline))) as client:
        sid = client.post("/api/sessions", json={}).json()["id"]
        worker = client.app.state.sessions.trainers._workers[0]
        os.kill(worker.process.pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(4) as pool:
                started = time.monotonic()
                waiting = [pool.submit(client.post, f"/api/sessions/{sid}/step", json={"epochs": 1}) for _ in range(2)]
                _wait_until_busy(client.app.state.sessions.get(sid))
                assert client.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).status_code == 429
                assert client.get(f"/api/sessions/{sid}").status_code == 429
                for path in ("/healthz", "/?dataset=xor", "/static/css/playground.css", "/playground"):
                    assert client.get(path).status_code == 200, path
                assert time.monotonic() - started < deadline  # none of it waited for the worker
                answers = [w.result(timeout=deadline + 30) for w in waiting]
        finally:
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGCONT)
        assert [a.status_code for a in answers] == [404, 404]
        assert "did not answer" in answers[0].json()["detail"]
        assert worker.restarts == 1 and worker.process.is_alive()
        assert client.post("/api/sessions", json={}).status_code == 201


def test_a_step_stops_when_its_time_budget_is_spent_and_says_how_many_epochs_ran() -> None:
    with TestClient(create_app(Settings(step_budget_ms=1))) as client:
        sid = client.post("/api/sessions", json=HEAVY).json()["id"]
        frame = client.post(f"/api/sessions/{sid}/step", json={"epochs": 100, "since": 0}).json()
        assert frame["epochs_run"] in range(1, 100) and frame["epoch"] == frame["epochs_run"]
        assert len(frame["history"]["train_loss"]) == frame["epochs_run"]
    with TestClient(create_app(Settings())) as client:  # within the budget every epoch runs
        sid = client.post("/api/sessions", json={}).json()["id"]
        assert client.post(f"/api/sessions/{sid}/step", json={"epochs": 3}).json()["epochs_run"] == 3


def test_a_step_stops_before_an_epoch_that_would_overrun_its_budget(monkeypatch) -> None:
    """Requests waiting behind a long step wait its budget, not its budget and one more epoch."""
    now = [0.0]

    def epoch(trainer: Trainer, epochs: int) -> int:
        now[0] += 0.004  # each epoch takes 4 ms
        return epochs

    monkeypatch.setattr(trainers.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(Trainer, "step", epoch)
    assert trainers._train(Trainer(), 100, 0.010) == 2  # a third would end at 12 ms
    assert trainers._train(Trainer(), 100, 0.001) == 1  # the first always runs
    assert trainers._train(Trainer(), 5, None) == 5


def test_concurrent_requests_beyond_one_waiting_get_429_at_once() -> None:
    with TestClient(create_app(Settings())) as client:
        sid = client.post("/api/sessions", json=HEAVY).json()["id"]
        session = client.app.state.sessions.get(sid)
        with session.lock:  # a request at work (holding the session) ...
            blocked = threading.Thread(target=lambda: client.get(f"/api/sessions/{sid}"))
            blocked.start()  # ... and one waiting for it
            _wait_until_busy(session)
            for answer in (client.get(f"/api/sessions/{sid}"), client.post(f"/api/sessions/{sid}/step", json={}),
                           client.patch(f"/api/sessions/{sid}/config", json={"lr": 0.1})):
                assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
        blocked.join(10)
        assert client.post(f"/api/sessions/{sid}/step", json={}).status_code == 200
