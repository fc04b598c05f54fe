"""The two ways of learning without gradients that the primer compares gradient descent with.

- The perceptron rule (one layer, step activation): for each point, w ← w + α·(y − ŷ)·x and
  b ← b + α·(y − ŷ), where ŷ is 1 when w·x + b ≥ 0. It converges on linearly separable data.
- Brute-force random search: propose w + α·ε with ε ~ N(0, 1) and keep it only if the training
  loss falls. It needs no derivative, but it wastes most proposals, which is the lesson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InvalidValue
from engine.losses import penalty

if TYPE_CHECKING:
    from engine.trainer import Trainer

NON_GRADIENT_METHODS = ("perceptron", "random_search")
# Each random-search proposal is judged on the whole training set, so one proposal per mini-batch
# made an epoch quadratic in the points (450 points in batches of 1: 450 × 450 evaluations, a
# hundred times an SGD epoch). At most this many an epoch keeps it in the order of an SGD epoch;
# the default 250 points in batches of 10 make exactly 25.
MAX_PROPOSALS_PER_EPOCH = 25


def check_method_fits(method: str, hidden: tuple[int, ...], problem: str) -> None:
    """The perceptron rule is defined for one layer and two classes only."""
    if method == "perceptron" and (hidden or problem != "binary"):
        raise InvalidValue(
            "optimizer",
            "the perceptron rule needs a network without hidden layers and a two-class dataset; "
            f"got hidden layers {list(hidden)} and a {problem} problem"
        )


def non_gradient_epoch(method: str, trainer: "Trainer", xs: np.ndarray, ys: np.ndarray, lr: float) -> int:
    """One epoch of ``method`` over the shuffled training set; returns the number of updates."""
    if method == "perceptron":
        return _perceptron_epoch(trainer, xs, ys, lr)
    return _random_search_epoch(trainer, xs, ys, lr)


def _perceptron_epoch(trainer: "Trainer", xs: np.ndarray, ys: np.ndarray, lr: float) -> int:
    w, b = trainer.network.weights[0][:, 0], trainer.network.biases[0]
    for x, y in zip(xs, ys[:, 0]):
        error = y - (1.0 if x @ w + b[0] >= 0 else 0.0)
        if error:
            w += lr * error * x
            b += lr * error
    return len(xs)


def _random_search_epoch(trainer: "Trainer", xs: np.ndarray, ys: np.ndarray, lr: float) -> int:
    net, s = trainer.network, trainer.setup
    proposals = min(MAX_PROPOSALS_PER_EPOCH, max(1, -(-len(xs) // s.batch_size)))

    def objective() -> float:
        return trainer.batch_loss(xs, ys) + penalty(s.regularization, s.regularization_rate, net.params[: net.n_weights])

    best = objective()
    for _ in range(proposals):
        previous = net.params.copy()
        net.params += lr * trainer.rng.standard_normal(len(net.params))
        candidate = objective()
        if candidate < best:
            best = candidate
        else:
            net.params[:] = previous
    return proposals
