"""The Redis session store itself, against the test cluster's redis-server: two stores in this
process stand for two app processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
import redis

from app.config import validate_config
from app.redis_store import HISTORY_ROW, RedisSession, RedisSessionStore, _keys
from app.sessions import SessionBusy, StoreUnavailable
from app.settings import Settings
from app.trainers import TrainerGone
from engine.trainer import Trainer
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


def _steady(session: RedisSession) -> RedisSession:
    """Three steps, to epoch 6: the first starts the trainer, the second finds it current, the
    third is a steady one (and loads its script into Redis if no process had)."""
    for _ in range(3):
        json.loads(session.run("step_json", **STEP))
    assert session.kept.steady
    return session


def _reference(config: dict[str, Any], steps: int) -> Trainer:
    """The trainer one process alone has after ``steps`` steps of STEP."""
    alone = Trainer(validate_config(config).to_setup())
    for _ in range(steps):
        alone.step(STEP["epochs"])
    return alone


def test_a_steady_player_costs_one_round_trip_a_frame(stores, monkeypatch) -> None:
    store, _ = stores
    session = _steady(store.create(validate_config({"dataset": "xor"})))
    trainer = session.kept.trainer
    sent = _commands(store, monkeypatch)
    for _ in range(10):
        session.run("step_json", **STEP)
    assert sent == ["EVALSHA"] * 10  # the write, on condition that the version has not moved
    assert session.kept.trainer is trainer  # never reloaded: its version never moved elsewhere
    assert store.redis.strlen(_keys(session.id)[2]) == (1 + 13 * 2) * HISTORY_ROW
    assert np.array_equal(trainer.network.params, _reference({"dataset": "xor"}, 13).network.params)


def test_a_steady_step_on_a_session_another_process_changed_is_thrown_away_and_taken_again(stores) -> None:
    first, second = stores
    config = {"dataset": "circle", "seed": 4}
    session = _steady(first.create(validate_config(config)))
    stale = session.kept.trainer
    assert json.loads(second.get(session.id).run("step_json", **STEP))["epoch"] == 8
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 10  # on top of the other's step
    assert session.kept.trainer is not stale and not session.kept.steady  # reloaded from Redis
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 12
    assert session.kept.steady  # nobody else since: the next steps are one round trip again
    json.loads(session.run("step_json", **STEP))
    stored = second.get(session.id).run("export")
    assert stored["epoch"] == 14
    assert np.array_equal(stored["params"], _reference(config, 7).network.params)  # as one process would


def test_a_session_stepped_by_two_processes_in_turn_is_never_stepped_ahead(stores, monkeypatch) -> None:
    first, second = stores
    session = first.create(validate_config({"dataset": "gauss"}))
    there = second.get(session.id)
    ahead = []
    for store in stores:
        monkeypatch.setattr(store, "_steady_step", lambda *args: ahead.append(args))
    for turn in range(8):  # a JSON client whose requests a proxy spreads over two processes
        assert json.loads((session, there)[turn % 2].run("step_json", **STEP))["epoch"] == 2 * (turn + 1)
    assert not ahead  # every step took the lock: none was trained, and thrown away, on a stale copy


def test_a_steady_step_waits_for_a_lock_another_process_holds(stores) -> None:
    store, _ = stores
    session = _steady(store.create(validate_config({})))
    store.redis.set(_keys(session.id)[1], "another process", px=400)
    began = time.monotonic()
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 8
    assert time.monotonic() - began >= 0.3
    assert np.array_equal(session.kept.trainer.network.params, _reference({}, 4).network.params)


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
    assert 0 < store.redis.pttl(history_key) <= TTL * 1000
    assert int(store.redis.hget(hash_key, "v")) == session.kept.version > 0  # started
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
    version = store._lock_session(session.id, "mine")
    store.redis.set(_keys(session.id)[1], "another process")  # my lock expired and was taken
    with pytest.raises(SessionBusy):
        store._finish(session, "mine", {"state": "{}"})
    assert int(store.redis.hget(_keys(session.id)[0], "v")) == version  # nothing written


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


@pytest.mark.parametrize("way", ["locked", "steady"])
def test_a_step_whose_write_failed_is_not_kept(stores, monkeypatch, way: str) -> None:
    store, _ = stores
    session = store.create(validate_config({}))
    if way == "steady":
        _steady(session)  # to epoch 6
    else:
        json.loads(session.run("step_json", **STEP))  # started: its next operation takes the lock
    epoch = session.kept.trainer.epoch
    script = "_commit" if way == "locked" else "_commit_at"
    commit = getattr(store, script)

    def unreachable(*args, **kwargs):
        monkeypatch.setattr(store, script, commit)  # Redis is back (for the locked way's release)
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(store, script, unreachable)
    with pytest.raises(StoreUnavailable):
        json.loads(session.run("step_json", **STEP))
    assert session.run("info")["epoch"] == epoch  # what Redis has, not the step that was never written
    assert store.redis.exists(_keys(session.id)[1]) == 0  # and no lock is left behind


def test_a_session_stored_by_an_earlier_release_loads_and_steps(stores) -> None:
    """Redis keeps its data across an upgrade, and processes of two releases may serve one class
    while it rolls out: the fields written before steady steps existed (the state's format in
    ``state``, none in ``setup``) load, step and load again."""
    first, second = stores
    session = first.create(validate_config({"dataset": "moons"}))
    json.loads(session.run("step_json", **STEP))
    earlier = session.kept.trainer.to_dict()
    setup = {"setup": earlier.pop("setup"), "custom_data": earlier.pop("custom_data")}
    del earlier["history"]
    first.redis.hset(_keys(session.id)[0], mapping={"setup": json.dumps(setup), "state": json.dumps(earlier)})
    there = second.get(session.id)
    for _ in range(4):  # loaded, then current, then steady: each writes the state alone
        json.loads(there.run("step_json", **STEP))
    assert there.kept.steady
    assert session.run("info")["epoch"] == 10  # the first process reloads what the second wrote
    assert np.array_equal(session.kept.trainer.network.params, _reference({"dataset": "moons"}, 5).network.params)


def test_a_redis_restored_from_an_older_snapshot_never_passes_other_contents_as_current(stores) -> None:
    """Redis restarted from an RDB snapshot (or an AOF synced every second) forgets its last
    writes; the session then goes on from the snapshot elsewhere. A process that kept the trainer
    of the forgotten writes must not take it for the new one, whatever the number of writes."""
    first, second = stores
    session = _steady(first.create(validate_config({"dataset": "xor"})))  # epoch 6
    keys = _keys(session.id)
    snapshot = {key: first.redis.dump(key) for key in (keys[0], keys[2])}
    for _ in range(2):
        json.loads(session.run("step_json", **STEP))  # to epoch 10: forgotten by the restore below
    for key, value in snapshot.items():
        first.redis.restore(key, TTL * 1000, value, replace=True)
    there = second.get(session.id)
    for _ in range(2):  # as many writes as were forgotten, with other contents
        json.loads(there.run("step_json", **{**STEP, "epochs": 1}))
    assert json.loads(session.run("step_json", **STEP))["epoch"] == 10  # on top of epoch 8
    second.forget(session.id)
    stored = second.get(session.id).run("export")  # loaded afresh from Redis
    alone = Trainer(validate_config({"dataset": "xor"}).to_setup())
    for epochs in (2, 2, 2, 1, 1, 2):
        alone.step(epochs)
    assert stored["epoch"] == 10 and len(stored["history"]["train_loss"]) == 11
    assert np.array_equal(stored["params"], alone.network.params)
    assert stored["history"]["train_loss"] == list(alone.history.train_loss)
