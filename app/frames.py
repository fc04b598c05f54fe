"""A Trainer -> the compact JSON frame the page draws (see "The frame" in docs/api.md).

The page asks for a frame every few epochs, so frames must be small: heatmaps are quantised to
uint8 and sent as Plotly typed arrays (base64) in JSON, or as raw bytes on the frame stream
(app/trainers.py ``RawMaps``), numbers are rounded to 6 significant digits, and
the loss history is sent only from the epoch after the client's last one (``since``).
JSON cannot carry NaN or Infinity, so every number passes through ``_number``, which turns a
non-finite value into null; heatmaps map non-finite values into their range.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Callable

import numpy as np

from app.config import DEFAULT_GRID, MAX_HISTORY_POINTS
from app.metrics import metrics_detail
from engine.progress import oscillating
from engine.trainer import Trainer

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def typed_map(values: np.ndarray) -> dict[str, str]:
    """A uint8 matrix (a heatmap: row i is x2 = grid[i], column j is x1) or a float32 one (a
    layer's gradients) as a Plotly typed array: the JSON frame's form of both."""
    values = raw_map(values)
    return {
        "dtype": "f4" if values.dtype == np.float32 else "u1",
        "bdata": base64.b64encode(values.tobytes()).decode("ascii"),
        "shape": ",".join(str(n) for n in values.shape),
    }


def raw_map(values: np.ndarray) -> np.ndarray:
    """A uint8 matrix (float32 stays float32) as it is, row-major: the frame stream sends its
    bytes (app/trainers.py ``RawMaps``)."""
    return np.ascontiguousarray(values, dtype=np.float32 if values.dtype == np.float32 else np.uint8)


def build_frame(trainer: Trainer, since: int = -1, grid: int = DEFAULT_GRID,
                maps: Callable[[np.ndarray], Any] = typed_map) -> dict[str, Any]:
    """Everything needed to draw the trainer's current moment on a ``grid``×``grid`` heatmap,
    with the history of epochs after ``since`` (-1: all of it); ``maps`` gives each heatmap its
    form."""
    snap = trainer.snapshot(grid)
    start = min(max(since + 1, 0), trainer.epoch)
    epochs, history = trainer.history.window(start, MAX_HISTORY_POINTS)
    return {
        "epoch": trainer.epoch,
        "iteration": trainer.iteration,
        "lr": _number(trainer.learning_rate),
        "history": {
            "start": start,
            "epochs": epochs,
            "train_loss": _numbers(history.train_loss),
            "test_loss": _numbers(history.test_loss),
            "train_metric": _numbers(history.train_metric),
            "test_metric": _numbers(history.test_metric),
        },
        "metrics": metrics(trainer),
        "output": _output(trainer, snap.output, grid, maps),
        # Node maps are thumbnails a few dozen pixels wide: every second row and column of the
        # output's grid (ceil(G/2) points a side) looks the same there and quarters their size.
        "nodes": {
            "grid": math.ceil(grid / 2),
            "layers": [[maps(node) for node in layer] for layer in _node_thumbnails(snap.node_maps)],
        },
        "weights": [_numbers(w) for w in snap.weights],
        "biases": [_numbers(b) for b in snap.biases],
        "gradient_norms": _numbers(snap.gradient_norms),
        **gradients(trainer, maps),
        "flags": flags(trainer),
        "metrics_detail": metrics_detail(trainer),  # confusion matrices, predictions (app/metrics.py)
    }


def gradients(trainer: Trainer, maps: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    """∂J/∂w and ∂J/∂b of the last mini-batch (penalty included), as the engine kept them from
    its last step: nothing is computed for the frame. One float32 array per layer, shaped as
    ``weights`` and ``biases``; null for a training method that uses no gradient."""
    if trainer.optimizer is None:
        return {"weight_gradients": None, "bias_gradients": None}
    net = trainer.network
    grads = net.grads
    # float32 holds what a tooltip shows; a gradient beyond its range is drawn at its limit
    if not np.abs(grads).max() < _FLOAT32_MAX:  # (NaN included) rare: checked, not clipped, per frame
        grads = np.clip(np.nan_to_num(grads), -_FLOAT32_MAX, _FLOAT32_MAX)
    weights, biases = net.layers_of(grads.astype(np.float32))
    return {"weight_gradients": [maps(w) for w in weights], "bias_gradients": [maps(b) for b in biases]}


def metrics(trainer: Trainer) -> dict[str, Any]:
    """The latest losses and metric (accuracy, or R² for regression)."""
    h = trainer.history
    return {
        "train_loss": _number(h.train_loss[-1]),
        "test_loss": _number(h.test_loss[-1]),
        "train_metric": _number(h.train_metric[-1]),
        "test_metric": _number(h.test_metric[-1]),
        "metric": "r2" if trainer.problem == "regression" else "accuracy",
    }


def flags(trainer: Trainer) -> dict[str, Any]:
    """What the page must warn about: training diverged, no gradient can flow, or the loss
    thrashes up and down without improving (a learning rate too high to settle)."""
    d = trainer.divergence
    return {
        "diverged": None if d is None else {"epoch": d.epoch, "reason": d.reason},
        "zero_gradients": trainer.zero_gradient_reason,
        "oscillating": oscillating(trainer.history.train_loss),
    }


def data_points(trainer: Trainer) -> dict[str, Any]:
    """The train and test points (input coordinates and class id or target), drawn once per
    data change rather than in every frame."""
    classes = trainer.problem != "regression"

    def points(data: Any) -> dict[str, list]:
        return {
            "x1": np.round(data.x[:, 0], 3).tolist(),
            "x2": np.round(data.x[:, 1], 3).tolist(),
            "y": data.y.astype(int).tolist() if classes else np.round(data.y, 3).tolist(),
        }

    return {"train": points(trainer.train_data), "test": points(trainer.test_data)}


def _output(trainer: Trainer, output: np.ndarray, grid: int, maps: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    """Binary: P(class 1), or TF Playground's tanh output from −1 to 1, so that either way 128 is
    the boundary; regression: the value; multiclass: the likeliest class and its probability,
    which the page uses as the colour's strength."""
    problem = trainer.problem
    frame: dict[str, Any] = {"grid": grid, "problem": problem, "classes": 0, "confidence": None}
    if problem == "multiclass":
        probabilities = np.nan_to_num(output, nan=0.0)
        frame["classes"] = output.shape[2]
        frame["z"] = maps(probabilities.argmax(axis=2).astype(np.uint8))
        frame["confidence"] = maps(_unit(probabilities.max(axis=2)))
    elif problem == "binary":
        frame["z"] = maps(_signed(output) if trainer.output == "tanh" else _unit(output))
    else:
        frame["z"] = maps(_signed(output))
    return frame


def _unit(values: np.ndarray) -> np.ndarray:
    """[0, 1] -> 0..255 (clipped; NaN to the middle). A few whole-array calls: every frame
    makes one per heatmap."""
    v = np.multiply(values, 255.0)
    np.clip(v, 0.0, 255.0, out=v)
    np.rint(v, out=v)
    nan = np.isnan(v)
    out = v.astype(np.uint8)
    if nan.any():
        out[nan] = 128
    return out


def _signed(values: np.ndarray) -> np.ndarray:
    """Clipped to [-1, 1] -> 0..255, as TF Playground colours nodes (0 is the middle colour)."""
    return _unit((np.asarray(values) + 1.0) / 2.0)


def _node_thumbnails(node_maps: list[np.ndarray]) -> list[np.ndarray]:
    """Each layer's node maps (nodes, G, G) as uint8 thumbnails, every second row and column,
    quantised in one call for the whole network (a frame makes them all). An input feature spans
    its own range (x1 runs from -6 to 6 unscaled, x1² from 0 to 36): divided by its largest
    magnitude, every input map shows its whole shape in the colours."""
    inputs = node_maps[0]
    largest = np.abs(inputs).max(axis=(1, 2), keepdims=True)
    layers = [inputs[:, ::2, ::2] / np.where(largest > 0, largest, 1), *(layer[:, ::2, ::2] for layer in node_maps[1:])]
    quantised = _signed(np.concatenate(layers))
    ends = np.cumsum([len(layer) for layer in layers])
    return [quantised[end - len(layer):end] for end, layer in zip(ends.tolist(), layers)]


def _number(value: float) -> float | None:
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _numbers(values: Any) -> list:
    """Nested lists of rounded numbers (null for non-finite) from an array or list."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return [_numbers(v) if isinstance(v, list) else _number(v) for v in values]
