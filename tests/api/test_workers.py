"""Trainers in worker processes: the same answers as in-process, errors carried across, and a
dead worker's sessions treated as expired."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import PlaygroundConfig
from app.main import create_app
from app.sessions import InMemorySessionStore
from app.settings import Settings
from app.trainers import TrainerGone, Trainers, WorkerTrainers

CONFIG = PlaygroundConfig(dataset="xor", noise=10, seed=5)


@pytest.fixture(scope="module")
def workers():
    trainers = WorkerTrainers(2)
    yield trainers
    trainers.close()


def test_workers_train_exactly_like_the_server_process(workers) -> None:
    local = InMemorySessionStore(60, 10, trainers=Trainers()).create(CONFIG)
    remote = InMemorySessionStore(60, 10, trainers=workers).create(CONFIG)
    for session in (local, remote):
        session.run("step", epochs=5, since=-1, grid=10)
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
    store.create(CONFIG)  # evicts the first; its worker drops it with its next request
    with pytest.raises(TrainerGone):
        workers.call(first.id, "info", {})


def test_a_dead_worker_comes_back_and_its_sessions_count_as_expired() -> None:
    trainers = WorkerTrainers(1)
    try:
        session = InMemorySessionStore(60, 10, trainers=trainers).create(CONFIG)
        trainers._workers[0].process.kill()
        trainers._workers[0].process.join()
        with pytest.raises(TrainerGone):
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
