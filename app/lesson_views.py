"""The numbers behind the lessons' own views (drawn by static/js/lessons.js), as JSON-ready dicts.

- ``backprop``: one gradient step on the first mini-batch the playground would train on;
- ``perceptron``: the first epoch of the perceptron rule, point by point;
- ``cost_surface``: J(w₁, w₂) of linear regression on the plane over an exhaustive grid, with the
  gradient-descent path over it;
- ``standardize``: the feature ranges and the loss curves of the lesson with and without
  standardising.

The first two follow the student's current configuration (the page sends its query) as long as
it fits the view; the last two always use their own fixed set-up.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from app.config import PlaygroundConfig
from engine.datasets import FEATURE_LABELS
from engine.explain import backprop_step, linear_cost_grid, linear_descent_path, perceptron_steps
from engine.trainer import Trainer

MAX_STEP_PARAMS = 30  # weights and biases a step-through can show in a table
MAX_STEP_BATCH = 10  # points of the mini-batch it shows
COST_GRID = np.round(np.linspace(-0.5, 0.7, 61), 4)  # values tried for each weight: 61 × 61 evaluations
COST_START, COST_LR, COST_STEPS = (-0.4, 0.6), 0.01, 30
TRUE_PLANE_WEIGHTS = (0.1, 0.1)  # the plane's target is (x₁ + x₂) / 10
STANDARDIZE_EPOCHS = 50


class DoesNotFit(ValueError):
    """The configuration cannot be shown by this view; ``code`` names why (a catalogue key)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _lists(arrays: list[np.ndarray]) -> list[Any]:
    return [a.tolist() for a in arrays]


def backprop(config: PlaygroundConfig) -> dict[str, Any]:
    trainer = Trainer(config.to_setup())
    network = trainer.network
    batch = min(config.batch, len(trainer.x_train))
    if trainer.optimizer is None or len(network.params) > MAX_STEP_PARAMS or batch > MAX_STEP_BATCH:
        raise DoesNotFit("lessons.view.too_big")
    rows = trainer.next_epoch_order()[:batch]  # the first batch the playground trains on
    step = backprop_step(network, trainer.x_train[rows], trainer.y_train[rows], trainer.loss_name, config.lr)
    return {
        "features": list(config.features),
        "activation": config.activation,
        "output": network.output,
        "loss_name": trainer.loss_name,
        "lr": config.lr,
        "x": step.x.tolist(),
        "y": step.y.tolist(),
        "zs": _lists(step.zs),
        "activations": _lists(step.activations),
        "loss": step.loss,
        "deltas": _lists(step.deltas),
        "weights": _lists(step.weights),
        "biases": _lists(step.biases),
        "grad_weights": _lists(step.grad_weights),
        "grad_biases": _lists(step.grad_biases),
        "new_weights": _lists(step.new_weights),
        "new_biases": _lists(step.new_biases),
        "loss_after": step.loss_after,
    }


def perceptron(config: PlaygroundConfig) -> dict[str, Any]:
    if (config.layers or config.problem != "binary" or config.features != ("x1", "x2")
            or config.preprocessing != "none" or config.convention != "standard"):  # (0/1 labels)
        raise DoesNotFit("lessons.view.not_a_perceptron")
    trainer = Trainer(config.to_setup())
    order = trainer.next_epoch_order()
    xs, ys = trainer.x_train[order], trainer.y_train[order, 0]
    w, b = trainer.network.weights[0][:, 0], trainer.network.biases[0][0]
    steps = perceptron_steps(w, b, xs, ys, config.lr)
    return {
        "lr": config.lr,
        "start": {"w": w.tolist(), "b": float(b)},
        "steps": [{"x": s.x.tolist(), "y": s.y, "z": s.z, "prediction": s.prediction,
                   "w": s.weights.tolist(), "b": s.bias} for s in steps],
    }


def cost_surface(_config: PlaygroundConfig) -> dict[str, Any]:
    trainer = Trainer(PlaygroundConfig(dataset="plane", layers=(), features=("x1", "x2")).to_setup())
    x, y = trainer.x_train, trainer.y_train
    cost = linear_cost_grid(x, y, COST_GRID, COST_GRID)
    best = np.unravel_index(np.argmin(cost), cost.shape)
    path = linear_descent_path(x, y, np.array(COST_START), COST_LR, COST_STEPS)
    return {
        "w1": COST_GRID.tolist(),
        "w2": COST_GRID.tolist(),
        "cost": np.round(cost, 6).tolist(),
        "evaluations": int(cost.size),
        "best": [float(COST_GRID[best[1]]), float(COST_GRID[best[0]])],
        "path": path.tolist(),
        "lr": COST_LR,
        "steps": COST_STEPS,
        "learned": path[-1].tolist(),
        "true": list(TRUE_PLANE_WEIGHTS),
    }


def standardize(config: PlaygroundConfig) -> dict[str, Any]:
    runs = {}
    for method in ("none", "standardize"):
        trainer = Trainer(config.with_changes(preprocessing=method).to_setup())
        trainer.step(STANDARDIZE_EPOCHS)
        runs[method] = {
            "ranges": [[float(column.min()), float(column.max())] for column in trainer.x_train.T],
            "loss": list(trainer.history.train_loss),
            "diverged": None if trainer.divergence is None else trainer.divergence.epoch,
        }
    return {"labels": [FEATURE_LABELS[name] for name in config.features], "lr": config.lr,
            "epochs": STANDARDIZE_EPOCHS, "runs": runs}


VIEWS: dict[str, Callable[[PlaygroundConfig], dict[str, Any]]] = {
    "backprop": backprop,
    "perceptron": perceptron,
    "cost_surface": cost_surface,
    "standardize": standardize,
}
FOLLOWS_THE_STUDENT = ("backprop", "perceptron")  # the others use the lesson's own configuration
# Texts the views' script needs, in the page's language (catalogue keys lessons.view.js.<key>).
VIEW_MESSAGES = (
    "back", "forward", "mistake", "position", "forward_pass", "error", "delta_output", "delta_hidden", "update",
    "point", "weight", "value", "gradient", "new_value", "loss_change", "correct", "wrong", "rule", "no_line",
    "raw", "standardized", "ranges", "train_loss", "diverged", "evaluations", "best", "learned", "true_weights",
    "path", "epoch",
)
