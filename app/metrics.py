"""The metrics beyond the loss curve, for the frame's ``metrics_detail``: for classes, the
confusion matrix and the accuracy of each class, on the training and the test points; for
regression, the predicted value of each point, which the page plots against the true one.

The overall accuracy and R² are the history's (``frames.metrics``): not computed twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.trainer import Trainer

MAX_PLOTTED = 200  # points per split in the predicted-vs-true plot: enough to see, small to send
PREDICTION_DECIMALS = 3


def metrics_detail(trainer: Trainer) -> dict[str, Any]:
    """Per split: ``{confusion, class_accuracy}`` for classes, ``{predicted}`` for regression.
    ``confusion[i][j]`` counts the points of class i predicted as class j; ``class_accuracy[i]``
    is the share of class i predicted right (None when the split has none of it); ``predicted``
    follows the order of the frame's data points (the first ``MAX_PLOTTED`` of each split).
    From the outputs of the trainer's last evaluation (``Trainer.outputs``)."""
    outputs, n = trainer.outputs(), len(trainer.x_train)
    splits = {"train": (outputs[:n], trainer.y_train), "test": (outputs[n:], trainer.y_test)}
    with np.errstate(all="ignore"):
        if trainer.problem == "regression":
            return {split: {"predicted": _predictions(predicted[:MAX_PLOTTED])} for split, (predicted, _) in splits.items()}
        return {split: _confusion(predicted, y, trainer.decision_threshold) for split, (predicted, y) in splits.items()}


def _predictions(predicted: np.ndarray) -> list[float | None]:
    values = np.round(predicted[:, 0], PREDICTION_DECIMALS)
    return [float(v) if np.isfinite(v) else None for v in values]


def _confusion(predicted: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    if y.shape[1] == 1:  # two classes: P(class 1) against 0/1, or TF Playground's tanh against ±1
        k, truth, guess = 2, (y[:, 0] >= threshold).astype(int), (predicted[:, 0] >= threshold).astype(int)
    else:
        k, truth, guess = y.shape[1], y.argmax(axis=1), np.nan_to_num(predicted, nan=-np.inf).argmax(axis=1)
    confusion = np.bincount(truth * k + guess, minlength=k * k).reshape(k, k)
    counts = confusion.sum(axis=1)
    accuracy = [float(confusion[i, i] / counts[i]) if counts[i] else None for i in range(k)]
    return {"confusion": confusion.tolist(), "class_accuracy": accuracy}
