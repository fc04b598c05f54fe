"""The in-memory session store: ids, idle timeout, least-recently-used cap, thread safety."""

from __future__ import annotations

import json

import threading

import pytest

from app.config import PlaygroundConfig
from app.sessions import InMemorySessionStore, Session
from engine.trainer import Trainer

CONFIG = PlaygroundConfig()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ids_are_unique_long_and_url_safe() -> None:
    store = InMemorySessionStore(ttl_seconds=60, max_sessions=100)
    ids = [store.create(CONFIG).id for _ in range(50)]
    assert len(set(ids)) == 50
    for session_id in ids:
        assert len(session_id) >= 24  # 18 random bytes = 144 bits
        assert all(c.isalnum() or c in "-_" for c in session_id)


def test_session_holds_a_trainer_built_from_its_config() -> None:
    config = PlaygroundConfig(dataset="xor", layers=(3,), seed=7)
    session = InMemorySessionStore(60, 10).create(config)
    assert session.config == config
    assert session.run("export")["setup"] == Trainer(config.to_setup()).to_dict()["setup"]


def test_idle_sessions_expire_and_use_keeps_them_alive() -> None:
    clock = FakeClock()
    store = InMemorySessionStore(ttl_seconds=60, max_sessions=10, clock=clock)
    kept, dropped = store.create(CONFIG), store.create(CONFIG)
    clock.now += 50
    assert store.get(kept.id) is kept  # refreshes its last use
    clock.now += 20  # dropped idle 70 s, kept idle 20 s
    assert store.get(dropped.id) is None
    assert store.get(kept.id) is kept
    assert len(store) == 1
    clock.now += 61
    assert len(store) == 0


def test_create_drops_expired_sessions() -> None:
    clock = FakeClock()
    store = InMemorySessionStore(ttl_seconds=10, max_sessions=10, clock=clock)
    old = store.create(CONFIG)
    clock.now += 11
    new = store.create(CONFIG)
    assert store._sessions.keys() == {new.id}  # dropped on create, before anyone asked for it
    assert store.get(old.id) is None


def _started(store: InMemorySessionStore) -> Session:
    """A session holding its trainer (``max_sessions`` counts those)."""
    session = store.create(CONFIG)
    session.start()
    return session


def test_cap_evicts_least_recently_used_first() -> None:
    store = InMemorySessionStore(ttl_seconds=60, max_sessions=3, clock=FakeClock())
    a, b, c = (_started(store) for _ in range(3))
    assert store.get(a.id) is a  # now b is the least recently used
    d = _started(store)
    assert store.get(b.id) is None
    assert [s.id for s in (a, c, d) if store.get(s.id)] == [a.id, c.id, d.id]
    e = _started(store)  # the gets above touched a, c, d in that order: a goes
    assert store.get(a.id) is None
    assert len(store) == 3 and store.get(e.id) is e


def test_delete() -> None:
    store = InMemorySessionStore(60, 10)
    session = store.create(CONFIG)
    assert store.delete(session.id) is True
    assert store.delete(session.id) is False
    assert store.get(session.id) is None and len(store) == 0


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        InMemorySessionStore(ttl_seconds=0, max_sessions=10)
    with pytest.raises(ValueError):
        InMemorySessionStore(ttl_seconds=10, max_sessions=0)


def test_concurrent_create_and_get_from_threads() -> None:
    store = InMemorySessionStore(ttl_seconds=60, max_sessions=1000)
    created: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            for _ in range(10):
                session = store.create(CONFIG)
                created.append(session.id)
                for other in created[-5:]:
                    assert store.get(other) is not None
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(created) == len(set(created)) == 80 == len(store)


def test_apply_failure_keeps_the_session_unchanged() -> None:
    session = InMemorySessionStore(60, 10).create(CONFIG)
    json.loads(session.run("step_json", epochs=3, since=-1, grid=10))
    weights = session.run("export")["params"]

    class Broken:
        def to_setup(self):
            raise ValueError("no")

    with pytest.raises(ValueError):
        session.apply(Broken())  # type: ignore[arg-type]
    assert session.config == CONFIG and session.run("info")["epoch"] == 3
    assert session.run("export")["params"] == weights


def test_apply_reports_what_was_rebuilt() -> None:
    session = InMemorySessionStore(60, 10).create(CONFIG)
    assert session.apply(CONFIG.with_changes(lr=0.1)) == "training"
    assert session.apply(CONFIG.with_changes(lr=0.1, layers=(3,))) == "network"
    assert session.apply(CONFIG.with_changes(dataset="xor")) == "data"
    assert session.config.dataset == "xor" and session.config.layers == (4, 2)
