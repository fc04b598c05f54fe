"""The Redis session store itself, against the test cluster's redis-server: two stores in this
process stand for two app processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis

from app.config import validate_config
from app.redis_store import HISTORY_ROW, RedisSessionStore, _keys
from app.sessions import SessionBusy, StoreUnavailable
from app.settings import Settings
from app.trainers import TrainerGone
from tests.cluster import ROOT
from tests.scale.conftest import STEP, TTL


def _commands(store: RedisSessionStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands ``store`` sends from now on (scripts are EVALSHA)."""
    sent: list[str] = []
    execute = store.redis.execute_command

    def counted(*args, **kwargs):
        sent.append(str(args[0]).upper())
        return execute(*args, **kwargs)

    monkeypatch.setattr(store.redis, "execute_command", counted)
    return sent


def test_a_steady_player_costs_one_check_and_one_write_a_frame(stores, monkeypatch) -> None:
    store, _ = stores
    session = store.create(validate_config({"dataset": "xor"}))
    json.loads(session.run("step_json", **STEP))  # the trainer starts here
    trainer = session.kept.trainer
    sent = _commands(store, monkeypatch)
    for _ in range(10):
        session.run("step_json", **STEP)
    assert sent == ["EVALSHA"] * 20  # take the lock with the version, commit with the release
    assert session.kept.trainer is trainer  # never reloaded: its version never moved elsewhere
    assert store.redis.strlen(_keys(session.id)[2]) == (1 + 11 * 2) * HISTORY_ROW


def test_another_process_reloads_the_trainer_only_when_its_version_moved(stores) -> None:
    first, second = stores
    session = first.create(validate_config({"dataset": "gauss", "seed": 3}))
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 2
    there = second.get(session.id)
    assert json.loads(there.run("step_json", **STEP))["epoch"] == 4  # loaded from Redis
    loaded = there.kept.trainer
    assert json.loads(there.run("step_json", **STEP))["epoch"] == 6 and there.kept.trainer is loaded
    assert session.run("info")["epoch"] == 6  # the first process's copy had moved on: reloaded
    assert session.run("frame", since=-1)["history"]["train_loss"] == there.run("frame", since=-1)["history"]["train_loss"]


def test_unstarted_sessions_hold_only_their_configuration_with_the_idle_expiry(stores) -> None:
    store, _ = stores
    session = store.create(validate_config({"dataset": "spiral"}))
    hash_key, _, history_key = _keys(session.id)
    assert store.redis.hget(hash_key, "v") == b"0" and store.redis.hget(hash_key, "state") is None
    assert session.run("view")["epoch"] == 0 and store.redis.hget(hash_key, "state") is None
    assert 0 < store.redis.pttl(hash_key) <= TTL * 1000
    json.loads(session.run("step_json", **STEP))
    assert 0 < store.redis.pttl(history_key) <= TTL * 1000 and store.redis.hget(hash_key, "v") == b"1"
    assert store.delete(session.id) and store.redis.exists(hash_key, history_key) == 0
    assert store.get(session.id) is None


def test_a_lock_left_by_a_dead_process_delays_the_next_step_until_it_expires(stores) -> None:
    store, _ = stores
    session = store.create(validate_config({}))
    json.loads(session.run("step_json", **STEP))
    store.redis.set(_keys(session.id)[1], "dead process", px=400)
    began = time.monotonic()
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 4
    assert time.monotonic() - began >= 0.3


def test_a_write_after_the_lock_expired_is_refused(stores) -> None:
    store, _ = stores
    session = store.create(validate_config({}))
    json.loads(session.run("step_json", **STEP))
    store._lock_session(session.id, "mine")
    store.redis.set(_keys(session.id)[1], "another process")  # my lock expired and was taken
    with pytest.raises(SessionBusy):
        store._finish(session, "mine", {"state": "{}"})
    assert store.redis.hget(_keys(session.id)[0], "v") == b"1"  # nothing written


def test_a_session_gone_from_redis_is_gone_for_every_process(stores) -> None:
    first, second = stores
    session = first.create(validate_config({}))
    json.loads(session.run("step_json", **STEP))
    second.delete(session.id)
    with pytest.raises(TrainerGone):
        json.loads(session.run("step_json", **STEP))


def test_the_embedded_store_never_imports_redis() -> None:
    code = ("import sys; from app.main import create_app; from app.settings import Settings; "
            "create_app(Settings()); print('redis' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost", "redis:/x"])
def test_redis_url_must_be_a_redis_address(monkeypatch, url: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ValueError, match="REDIS_URL"):
        Settings.from_env()
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    assert Settings.from_env().redis_url == "redis://cache:6379/0"


def test_a_step_whose_write_failed_is_not_kept(stores, monkeypatch) -> None:
    store, _ = stores
    session = store.create(validate_config({}))
    json.loads(session.run("step_json", **STEP))
    commit = store._commit

    def unreachable(*args, **kwargs):
        monkeypatch.setattr(store, "_commit", commit)  # Redis is back for the release
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(store, "_commit", unreachable)
    with pytest.raises(StoreUnavailable):
        json.loads(session.run("step_json", **STEP))
    assert session.run("info")["epoch"] == 2  # what Redis has, not the step that was never written
