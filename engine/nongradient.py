"""The two ways of learning without gradients that the primer compares gradient descent with.

- The perceptron rule (one layer, step activation): for each point, w ← w + α·(y − ŷ)·x and
  b ← b + α·(y − ŷ), where ŷ is 1 when w·x + b ≥ 0. It converges on linearly separable data.
- Brute-force random search: for each mini-batch, propose w + α·ε with ε ~ N(0, 1) and keep it
  only if the loss on that mini-batch falls. It needs no derivative, but it wastes most
  proposals, which is the lesson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InvalidValue

if TYPE_CHECKING:
    from engine.trainer import Trainer

NON_GRADIENT_METHODS = ("perceptron", "random_search")


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
    """One proposal per mini-batch, judged on that mini-batch: as SGD estimates its gradient from a
    mini-batch, random search estimates whether a proposal helps from one. An epoch therefore
    looks at each training point twice (the current weights and the proposal), about what an SGD
    epoch costs, instead of evaluating the whole training set for every proposal.

    For each batch: the objective J = ``trainer.batch_loss`` + the L1/L2 penalty for the current
    weights w; then w + lr·ε with ε ~ N(0, 1) from the trainer's generator; the proposal stays only
    if J falls. The loop runs compiled (``engine.compiled.random_search_epoch``): with batches of
    one point it is a thousand tiny forward passes, which NumPy would spend its time calling; the
    tests tie it to this rule written with ``batch_loss`` and ``penalty`` (to 1e-12)."""
    net, s = trainer.network, trainer.setup
    proposals = -(-len(xs) // s.batch_size)
    noise = trainer.rng.standard_normal((proposals, len(net.params)))  # one row a proposal, in order
    penalty = s.regularization if s.regularization_rate > 0 else "none"
    return net._random_search_epoch(xs, ys, s.batch_size, trainer.loss_name, penalty, s.regularization_rate, lr, noise)
