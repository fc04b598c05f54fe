"""The history a session keeps in Redis is bounded whatever its epoch, a frame's write does not
grow with it, and a process that loads it draws the curve the page had (against the test
cluster's redis-server; two stores in this process stand for two app processes)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from app.config import MAX_HISTORY_POINTS, validate_config
from app.redis_store import EXACT_TAIL, HISTORY_ROW, STORED_ROWS, RedisSessionStore, RedisSession, _keys
from tests.scale.conftest import STEP

SERIES = ("train_loss", "test_loss", "train_metric", "test_metric")
LONG = 100_000  # epochs


def _written(store: RedisSessionStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each commit of ``store`` sends from now on (its arguments but the claim, the
    expiry and the random new version: the history rows and the hash's fields), a steady step's
    or a locked operation's."""
    sizes: list[int] = []

    def counted(commit: Any) -> Any:
        def run(keys: list[str], args: list[Any]) -> Any:
            sizes.append(sum(len(a) if isinstance(a, (bytes, str)) else len(str(a)) for a in args[3:]))
            return commit(keys=keys, args=args)
        return run

    for script in ("_commit", "_commit_at"):
        monkeypatch.setattr(store, script, counted(getattr(store, script)))
    return sizes


def _stored_bytes(store: RedisSessionStore, session: RedisSession) -> int:
    return store.redis.strlen(_keys(session.id)[2])


def _with_long_history(session: RedisSession, epochs: int) -> np.ndarray:
    """Load into the session its own trainer as it would be after ``epochs`` epochs of a noisy
    falling loss with rare spikes (a model file can carry such a history); the loss it had."""
    rng = np.random.default_rng(7)
    loss = np.exp(-np.arange(epochs + 1) / (epochs / 4)) + 0.05 * rng.random(epochs + 1)
    loss[rng.choice(epochs, 30, replace=False)] += 1.0  # spikes a curve must keep showing
    state = session.export()
    state["epoch"] = epochs
    state["history"] = {name: (loss * (i + 1)).tolist() for i, name in enumerate(SERIES)}
    with session.lock:
        session.load(session.config, state)
    return loss


def _bands(frame: dict[str, Any], series: str) -> tuple[np.ndarray, np.ndarray]:
    """Each bucket's lowest and highest value of a frame's thinned history (pairs, then the
    last epoch alone: ``History.window``)."""
    values = np.asarray(frame["history"][series][:-1]).reshape(-1, 2)
    return values.min(axis=1), values.max(axis=1)


def _same_curve(kept: dict[str, Any], reloaded: dict[str, Any], buckets: int) -> None:
    """The two frames draw the same curve to the eye: the same epochs, the same last value,
    lowest and highest value, and each bucket's band within the other's, give or take
    ``buckets`` buckets (a fraction of a pixel on a chart of ``MAX_HISTORY_POINTS`` points)."""
    assert kept["history"]["epochs"] == reloaded["history"]["epochs"]
    for series in SERIES:
        assert kept["history"][series][-1] == reloaded["history"][series][-1]
        (low_a, high_a), (low_b, high_b) = _bands(kept, series), _bands(reloaded, series)
        assert (low_a.min(), high_a.max()) == (low_b.min(), high_b.max())
        for (low, high), (other_low, other_high) in (((low_a, high_a), (low_b, high_b)), ((low_b, high_b), (low_a, high_a))):
            near = np.lib.stride_tricks.sliding_window_view(np.pad(low, buckets, mode="edge"), 2 * buckets + 1)
            assert (near.min(axis=1) <= other_low).all()
            near = np.lib.stride_tricks.sliding_window_view(np.pad(high, buckets, mode="edge"), 2 * buckets + 1)
            assert (other_high <= near.max(axis=1)).all()


def test_a_long_history_is_stored_bounded_and_reloads_as_the_same_curve(stores) -> None:
    first, second = stores
    session = first.create(validate_config({"dataset": "circle"}))
    json.loads(session.run("step_json", **STEP))
    _with_long_history(session, LONG)
    for _ in range(3):
        json.loads(session.run("step_json", **STEP))
    assert _stored_bytes(first, session) <= STORED_ROWS * HISTORY_ROW < LONG * HISTORY_ROW // 20
    kept = session.run("frame", since=-1)
    there = second.get(session.id)
    reloaded = there.run("frame", since=-1)  # loaded from Redis: the thinned history, one entry an epoch again
    assert reloaded["epoch"] == kept["epoch"] == LONG + 6
    assert len(there.kept.trainer.history.train_loss) == LONG + 7
    _same_curve(kept, reloaded, buckets=1)
    # The recent epochs are exact: a page that asks for them gets what the first process has.
    recent = LONG + 6 - EXACT_TAIL + 1
    assert there.run("frame", since=recent)["history"] == session.run("frame", since=recent)["history"]


def test_a_frame_writes_as_many_bytes_at_epoch_100000_as_at_epoch_100(stores, monkeypatch) -> None:
    store, _ = stores
    short, long = (store.create(validate_config({"seed": seed})) for seed in (1, 2))
    for session, epochs in ((short, 100), (long, LONG)):
        json.loads(session.run("step_json", **STEP))
        _with_long_history(session, epochs)
    sizes = _written(store, monkeypatch)
    for session in (short, long):
        json.loads(session.run("step_json", **STEP))
    small, large = sizes
    assert large - small <= 10  # the epoch and iteration counters have more digits; nothing else grows
    assert _stored_bytes(store, short) == (100 + 3) * HISTORY_ROW  # a short history is stored whole


def test_training_past_the_bound_rewrites_the_history_rarely_and_keeps_it_bounded(stores, monkeypatch) -> None:
    first, second = stores
    session = first.create(validate_config({"dataset": "xor", "layers": [3], "batch": 50, "train": 50}))
    frame = {**STEP, "epochs": 100}
    json.loads(session.run("step_json", **frame))
    sizes = _written(first, monkeypatch)
    stored = []
    for _ in range(90):  # to epoch 9,100: beyond STORED_ROWS twice over
        json.loads(session.run("step_json", **frame))
        stored.append(_stored_bytes(first, session))
    assert max(stored) <= STORED_ROWS * HISTORY_ROW
    rewrites = [size for size in sizes if size > 10 * HISTORY_ROW * frame["epochs"]]
    room = STORED_ROWS - MAX_HISTORY_POINTS - EXACT_TAIL  # epochs between two rewrites, at least
    assert rewrites, "past STORED_ROWS the history is rewritten bounded"
    assert len(rewrites) <= 9_100 // room + 1, f"{len(rewrites)} rewrites in 9,100 epochs: more than one every {room}"
    assert max(rewrites) <= STORED_ROWS * HISTORY_ROW + 4096  # the bounded history and the small state
    reloaded = second.get(session.id).run("frame", since=-1)
    kept = session.run("frame", since=-1)
    assert kept["epoch"] == 9_100
    _same_curve(kept, reloaded, buckets=2)  # thinned twice: each value stays within two buckets


def test_the_loaded_history_has_its_epochs_exact(stores) -> None:
    first, second = stores
    session = first.create(validate_config({}))
    json.loads(session.run("step_json", **STEP))
    loss = _with_long_history(session, LONG)
    there = second.get(session.id)
    assert there.run("info")["epoch"] == LONG  # loaded from Redis
    values = np.frombuffer(there.kept.trainer.history.train_loss, dtype=np.float64)
    assert len(values) == LONG + 1
    assert np.array_equal(values[-EXACT_TAIL:], loss[-EXACT_TAIL:])  # the tail as it was
    assert set(values.tolist()) <= set(loss.tolist())  # older epochs take values the loss had
