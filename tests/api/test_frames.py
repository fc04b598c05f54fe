"""The frame: shapes and ranges of the heatmaps, history increments, no NaN, and its size."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest

from app.config import DEFAULT_GRID, MAX_GRID, MIN_GRID, PlaygroundConfig
from app.frames import build_frame, data_points, raw_map, typed_map
from engine.trainer import Trainer

from .conftest import decode, non_finite_paths

FRAME_KEYS = {"epoch", "iteration", "lr", "history", "metrics", "output", "nodes", "weights", "biases",
              "gradient_norms", "weight_gradients", "bias_gradients", "flags", "metrics_detail"}


def trainer(**changes) -> Trainer:
    return Trainer(PlaygroundConfig().with_changes(**changes).to_setup())


def test_default_frame_keys_and_shapes() -> None:
    frame = build_frame(trainer())
    assert set(frame) == FRAME_KEYS
    assert frame["epoch"] == frame["iteration"] == 0
    out = frame["output"]
    assert (out["grid"], out["problem"], out["classes"], out["confidence"]) == (DEFAULT_GRID, "binary", 0, None)
    assert decode(out["z"]).shape == (DEFAULT_GRID, DEFAULT_GRID) and out["z"]["dtype"] == "u1"
    g = math.ceil(DEFAULT_GRID / 2)
    assert frame["nodes"]["grid"] == g
    assert [len(layer) for layer in frame["nodes"]["layers"]] == [2, 4, 2]
    for layer in frame["nodes"]["layers"]:
        for node in layer:
            assert decode(node).shape == (g, g)
    assert [np.shape(w) for w in frame["weights"]] == [(2, 4), (4, 2), (2, 1)]
    assert [len(b) for b in frame["biases"]] == [4, 2, 1]
    assert len(frame["gradient_norms"]) == 3
    assert [decode(g).shape for g in frame["weight_gradients"]] == [(2, 4), (4, 2), (2, 1)]
    assert [decode(g).shape for g in frame["bias_gradients"]] == [(4,), (2,), (1,)]
    assert frame["flags"] == {"diverged": None, "zero_gradients": None, "oscillating": False}
    assert set(frame["metrics"]) == {"train_loss", "test_loss", "train_metric", "test_metric", "metric"}
    assert frame["metrics"]["metric"] == "accuracy"


@pytest.mark.parametrize("grid", [MIN_GRID, 11, MAX_GRID])
def test_grid_sizes(grid: int) -> None:
    frame = build_frame(trainer(), grid=grid)
    assert decode(frame["output"]["z"]).shape == (grid, grid)
    assert decode(frame["nodes"]["layers"][0][0]).shape == (math.ceil(grid / 2),) * 2


def test_node_layers_follow_the_network() -> None:
    frame = build_frame(trainer(features=("x1", "x2", "x1sq", "sinx1", "x1x2"), layers=(3, 5, 1)))
    assert [len(layer) for layer in frame["nodes"]["layers"]] == [5, 3, 5, 1]
    frame = build_frame(trainer(layers=()))
    assert [len(layer) for layer in frame["nodes"]["layers"]] == [2]


def test_heatmaps_encode_the_snapshot() -> None:
    t = trainer()
    t.step(20)
    snap = t.snapshot(DEFAULT_GRID)
    frame = build_frame(t)
    z = decode(frame["output"]["z"]).astype(float) / 255
    assert np.abs(z - snap.output).max() <= 0.5 / 255 + 1e-9  # probability, row = x2, column = x1
    x1 = decode(frame["nodes"]["layers"][0][0]).astype(float)
    # The input x1 grows along each row (columns) and is constant down each column.
    assert (np.diff(x1, axis=1) >= 0).all() and (np.diff(x1, axis=0) == 0).all()
    # x1 spans [-6, 6]; scaled by its largest magnitude it uses the whole colour range without
    # saturating (the thumbnail's last column is grid[G - 2], just short of 6).
    assert x1.min() == 0 and x1.max() >= 245 and len(np.unique(x1)) == x1.shape[1]
    hidden = decode(frame["nodes"]["layers"][1][0]).astype(float)
    expected = (np.clip(snap.node_maps[1][0][::2, ::2], -1, 1) + 1) / 2 * 255
    assert np.abs(hidden - expected).max() <= 0.5 + 1e-9


def test_regression_output_maps_minus_one_to_one() -> None:
    t = trainer(dataset="plane")
    t.step(5)
    frame = build_frame(t)
    assert (frame["output"]["problem"], frame["metrics"]["metric"]) == ("regression", "r2")
    z = decode(frame["output"]["z"]).astype(float)
    expected = (np.clip(t.snapshot(DEFAULT_GRID).output, -1, 1) + 1) / 2 * 255
    assert np.abs(z - expected).max() <= 0.5 + 1e-9


def test_multiclass_output_has_classes_and_confidence() -> None:
    t = trainer(dataset="blobs", classes=4)
    t.step(5)
    out = build_frame(t, grid=20)["output"]
    probabilities = t.snapshot(20).output
    assert (out["problem"], out["classes"]) == ("multiclass", 4)
    assert (decode(out["z"]) == probabilities.argmax(axis=2)).all()
    confidence = decode(out["confidence"]).astype(float) / 255
    assert np.abs(confidence - probabilities.max(axis=2)).max() <= 0.5 / 255 + 1e-9
    assert confidence.min() >= 0.25 - 1 / 255  # the likeliest of 4 classes has at least 1/4


def test_history_increments_with_since() -> None:
    t = trainer()
    t.step(5)
    full = build_frame(t)["history"]
    assert full["start"] == 0 and len(full["train_loss"]) == 6  # epoch 0 (untrained) .. 5
    part = build_frame(t, since=3)["history"]
    assert part["start"] == 4
    for key in ("train_loss", "test_loss", "train_metric", "test_metric"):
        assert part[key] == full[key][4:]
    # A client that is up to date (or ahead, after a reset) still gets the latest entry.
    for since in (5, 99):
        latest = build_frame(t, since=since)["history"]
        assert latest["start"] == 5 and latest["train_loss"] == full["train_loss"][-1:]
    assert full["train_loss"][-1] == build_frame(t)["metrics"]["train_loss"]


@pytest.mark.parametrize("changes", [
    {},  # the compiled SGD epoch
    {"optimizer": "adam", "reg": "l2", "reg_rate": 0.03},  # a step at a time, penalty included
    {"dataset": "blobs", "classes": 3, "layers": (3,), "reg": "l1", "reg_rate": 0.01},
])
def test_gradients_are_the_last_mini_batchs(changes) -> None:
    t = trainer(**changes)
    t.step(3)
    grads = t.network.grads.copy()
    assert np.abs(grads).max() > 0
    for maps, read in ((typed_map, decode), (raw_map, lambda a: a)):
        frame = build_frame(t, maps=maps)
        got = [read(g) for g in (*frame["weight_gradients"], *frame["bias_gradients"])]
        assert all(g.dtype == np.float32 for g in got)
        assert [g.shape for g in got] == [p.shape for p in (*t.network.grad_weights, *t.network.grad_biases)]
        flat = np.concatenate([g.ravel() for g in got])  # the engine's order: weights, then biases
        np.testing.assert_allclose(flat, grads, rtol=1e-6, atol=1e-30)
    assert np.array_equal(t.network.grads, grads)  # the frame computed nothing new


def test_gradients_are_null_without_a_gradient_method() -> None:
    t = trainer(optimizer="random_search")
    t.step(2)
    frame = build_frame(t)
    assert frame["weight_gradients"] is None and frame["bias_gradients"] is None


def test_gradients_out_of_float32s_range_are_drawn_at_its_limit() -> None:
    t = trainer()
    t.network.grads[:3] = [1e300, -np.inf, np.nan]
    with np.errstate(all="ignore"):  # the layer's norm overflows too
        first = decode(build_frame(t)["weight_gradients"][0]).ravel()[:3]
    assert first.tolist() == [np.finfo(np.float32).max, -np.finfo(np.float32).max, 0.0]


def test_numbers_are_rounded_to_six_significant_digits() -> None:
    t = trainer()
    t.network.weights[0][0, 0] = 0.123456789
    frame = build_frame(t)
    assert frame["weights"][0][0][0] == 0.123457
    assert all(len(repr(abs(v)).replace(".", "").lstrip("0")) <= 6 for v in frame["history"]["train_loss"])


def test_no_nan_or_infinity_even_after_divergence() -> None:
    t = trainer(dataset="plane", lr=10)
    t.step(50)
    assert t.divergence is not None
    frame = build_frame(t)
    assert frame["flags"]["diverged"] == {"epoch": t.divergence.epoch, "reason": t.divergence.reason}
    assert non_finite_paths(frame) == []
    json.dumps(frame, allow_nan=False)


def test_non_finite_numbers_become_null() -> None:
    t = trainer()
    t.network.weights[0][0, 0] = np.inf
    t.network.biases[0][0] = np.nan
    with np.errstate(all="ignore"):
        frame = build_frame(t)
    assert frame["weights"][0][0][0] is None and frame["biases"][0][0] is None
    json.dumps(frame, allow_nan=False)


def test_zero_gradient_flag() -> None:
    frame = build_frame(trainer(activation="step"))
    assert "zero derivative" in frame["flags"]["zero_gradients"]


def test_data_points() -> None:
    t = trainer()
    points = data_points(t)
    assert len(points["train"]["x1"]) == len(t.train_data.y) and len(points["test"]["y"]) == len(t.test_data.y)
    assert set(points["train"]["y"]) == {0, 1}
    assert points["train"]["x1"][0] == round(float(t.train_data.x[0, 0]), 3)
    regression = data_points(trainer(dataset="plane"))["test"]["y"]
    assert all(isinstance(y, float) and round(y, 3) == y for y in regression)
    assert set(data_points(trainer(dataset="blobs", classes=5))["train"]["y"]) == {0, 1, 2, 3, 4}


def test_default_frame_is_small_gzipped() -> None:
    t = trainer()
    t.step(100)
    body = json.dumps(build_frame(t), separators=(",", ":")).encode()  # all 101 epochs of history
    assert len(gzip.compress(body)) < 20_000


def test_default_frame_is_small_on_the_wire(client) -> None:
    session = client.post("/api/sessions", json={}).json()["id"]
    answer = client.post(f"/api/sessions/{session}/step", json={"epochs": 100},
                         headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.num_bytes_downloaded < 20_000
    assert answer.json()["epoch"] == 100


def test_frame_flags_a_loss_that_thrashes() -> None:
    rich = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
    thrashing = trainer(dataset="spiral", features=rich, lr=10.0)
    thrashing.step(150)
    assert build_frame(thrashing)["flags"]["oscillating"] is True
    calm = trainer()
    calm.step(150)
    assert build_frame(calm)["flags"]["oscillating"] is False
