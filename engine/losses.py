"""Losses at the output of the network, and the L1/L2 penalties on the weights.

The loss functions take the output layer's pre-activation ``z`` as well as its activation ``a``
so that cross-entropy can be computed from logits: log(0) and overflow in exp() never happen, and
the gradient with respect to ``z`` is the well-known, exact ``(a - y) / m``.

Targets ``y`` always have the shape of the output: (m, 1) for two classes (0/1, or −1/+1 under
TensorFlow Playground's set-up) and regression, one-hot (m, k) for k classes.
"""

from __future__ import annotations

import numpy as np

from engine.activations import sigmoid_into, softmax
from engine.errors import InvalidValue

Array = np.ndarray
LOSSES = ("mse", "cross_entropy")  # the losses a student chooses
# TensorFlow Playground's error ½(o − t)², whose derivative is o − t: not a choice of its own, it
# comes with that playground's set-up (engine/tfpg.py), as its tanh output and ±1 labels do.
HALF_SQUARE = "half_square"
REGULARIZATIONS = ("none", "l1", "l2")


def check_loss(loss: str, output: str) -> None:
    """Reject a loss that does not fit the output layer (cross-entropy needs probabilities)."""
    if loss not in (*LOSSES, HALF_SQUARE):
        raise InvalidValue("loss", f"unknown loss {loss!r}; allowed: {', '.join(LOSSES)}", LOSSES)
    if loss == "cross_entropy" and output in ("linear", "tanh"):
        raise InvalidValue("loss", "cross_entropy needs a sigmoid or softmax output; regression uses 'mse'", ("mse",))


def loss_value(loss: str, output: str, z: Array, a: Array, y: Array) -> float:
    """Mean loss over the batch: MSE is the primer's J(w) = 1/m Σ (y − ŷ)² (mean over all outputs),
    half_square TensorFlow Playground's 1/m Σ ½(o − t)²."""
    return mean_loss(loss_terms(loss, output, z, a, y))


def loss_terms(loss: str, output: str, z: Array, a: Array, y: Array) -> Array:
    """The loss's terms, one per row and output (one per row for softmax), whose mean is the
    loss: rows of the same batch can be averaged apart (the trainer's training and test rows)."""
    if loss == "mse":
        return (a - y) ** 2
    if loss == HALF_SQUARE:
        return 0.5 * (a - y) ** 2
    if output == "sigmoid":
        # log(1 + e^z) - y·z, written so that neither exp() overflows nor log() sees 0.
        return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    shifted = z - z.max(axis=1, keepdims=True)
    return np.log(np.exp(shifted).sum(axis=1)) - (shifted * y).sum(axis=1)


def mean_loss(terms: Array) -> float:
    return float(terms.sum() / terms.size)  # np.mean's result, without its Python overhead


def output_gradient(loss: str, output: str, z: Array, a: Array, y: Array) -> Array:
    """dLoss/dz at the output layer, for a batch of m rows."""
    if loss == "cross_entropy":  # the famous simplification: (a - y) / m, for sigmoid and softmax
        return (a - y) / len(y)
    # dLoss/da of the mean of squares, or of halves of squares (TF Playground's o − t, averaged)
    out = (a - y) * ((1.0 if loss == HALF_SQUARE else 2.0) / a.size)
    if output == "sigmoid":
        out *= a
        out *= 1.0 - a
    elif output == "tanh":
        out *= 1.0 - a * a
    elif output == "softmax":  # the softmax Jacobian: a ⊙ (g − Σ g·a)
        out -= (out * a).sum(axis=1, keepdims=True)
        out *= a
    return out


def output_activation_into(output: str, z: Array, out: Array) -> None:
    """The output layer's activation: sigmoid (two classes), tanh (two classes, TensorFlow
    Playground's), softmax (k classes) or identity; ``out`` may be ``z`` itself."""
    if output == "sigmoid":
        sigmoid_into(z, out)
    elif output == "tanh":
        np.tanh(z, out=out)
    elif output == "softmax":
        out[...] = softmax(z)
    elif out is not z:
        out[...] = z


def output_activation(output: str, z: Array) -> Array:
    out = np.empty_like(z)
    output_activation_into(output, z, out)
    return out


def check_regularization(kind: str, rate: float) -> None:
    if kind not in REGULARIZATIONS:
        raise InvalidValue("regularization", f"unknown regularization {kind!r}; allowed: {', '.join(REGULARIZATIONS)}",
                           REGULARIZATIONS)
    if not np.isfinite(rate) or rate < 0:
        raise InvalidValue("regularization_rate", f"regularization rate must be a finite number ≥ 0, got {rate!r}")


def penalty(kind: str, rate: float, weights: Array) -> float:
    """L1: rate·Σ|w|; L2: rate·½Σw² (so its gradient is rate·w, the usual weight decay)."""
    if kind == "l1":
        return rate * float(np.abs(weights).sum())
    if kind == "l2":
        return 0.5 * rate * float(weights @ weights)
    return 0.0


def add_penalty_gradient(kind: str, rate: float, weights: Array, grads: Array) -> None:
    """Add the penalty's gradient to ``grads`` in place (biases are never penalised)."""
    if kind == "l1" and rate:
        grads += rate * np.sign(weights)
    elif kind == "l2" and rate:
        grads += rate * weights
