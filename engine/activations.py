"""Activation functions: one registry of name -> function, derivative and formula.

Every derivative takes both the pre-activation ``z`` and the activation ``a = f(z)`` because for
most functions the cheapest derivative is written in terms of ``a`` (sigmoid: a(1 - a)) and for
the others in terms of ``z``. The step function is kept for the perceptron, but its derivative is
zero almost everywhere, so it is marked as not learnable by gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Array = np.ndarray
LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
_GELU_C = np.sqrt(2.0 / np.pi)


@dataclass(frozen=True)
class Activation:
    name: str
    function: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]
    formula: str
    learns_by_gradient: bool = True


def sigmoid(z: Array) -> Array:
    """Logistic function, written with tanh so it never overflows for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z: Array) -> Array:
    """Row-wise softmax; subtracting the row maximum keeps exp() finite."""
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _gelu(z: Array) -> Array:
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + 0.044715 * z**3)))


def _gelu_derivative(z: Array, a: Array) -> Array:
    inner = _GELU_C * (z + 0.044715 * z**3)
    t = np.tanh(inner)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z * z)


def _swish_derivative(z: Array, a: Array) -> Array:
    s = sigmoid(z)
    return s + a * (1.0 - s)


def _elu(z: Array) -> Array:
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", lambda z: z, lambda z, a: np.ones_like(z), "f(z) = z"),
        Activation(
            "step",
            lambda z: (z >= 0).astype(z.dtype),
            lambda z, a: np.zeros_like(z),
            "f(z) = 1 if z ≥ 0 else 0",
            learns_by_gradient=False,
        ),
        Activation("sigmoid", sigmoid, lambda z, a: a * (1.0 - a), "f(z) = 1 / (1 + e^(−z))"),
        Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a, "f(z) = tanh(z)"),
        Activation("relu", lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype),
                   "f(z) = max(0, z)"),
        Activation(
            "leaky_relu",
            lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
            lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
            f"f(z) = z if z > 0 else {LEAKY_SLOPE}·z",
        ),
        Activation("elu", _elu, lambda z, a: np.where(z > 0, 1.0, a + ELU_ALPHA),
                   "f(z) = z if z > 0 else e^z − 1"),
        Activation("softplus", lambda z: np.logaddexp(0.0, z), lambda z, a: sigmoid(z),
                   "f(z) = ln(1 + e^z)"),
        Activation("gelu", _gelu, _gelu_derivative,
                   "f(z) = ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))"),
        Activation("swish", lambda z: z * sigmoid(z), _swish_derivative, "f(z) = z · σ(z)"),
    )
}

# Output activations are chosen by the problem, not by the student.
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear")
SOFTMAX_FORMULA = "f(z)ᵢ = e^(zᵢ) / Σⱼ e^(zⱼ)"


# In-place forms of the common activations for the training step and the drawing grid. Each
# does the same floating-point operations as the registry's function or derivative (so training
# gives identical numbers); any other activation falls back to the registry and a copy.


def _sigmoid_into(z: Array, out: Array) -> None:
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5


def _activate_into(activation: Activation, z: Array, out: Array) -> None:
    """out = activation.function(z); ``out`` may be ``z`` itself."""
    name = activation.name
    if name == "tanh":
        np.tanh(z, out=out)
    elif name == "relu":
        np.maximum(z, 0.0, out=out)
    elif name == "sigmoid":
        _sigmoid_into(z, out)
    else:
        out[...] = activation.function(z)


def _multiply_by_derivative(activation: Activation, z: Array, a: Array, delta: Array, scratch: Array) -> None:
    """delta *= activation.derivative(z, a), using ``scratch`` for the derivative."""
    name = activation.name
    if name == "tanh":
        np.multiply(a, a, out=scratch)
        np.subtract(1.0, scratch, out=scratch)
    elif name == "sigmoid":
        np.subtract(1.0, a, out=scratch)
        scratch *= a
    elif name == "linear":
        return
    else:
        scratch[...] = activation.derivative(z, a)
    delta *= scratch


def get_activation(name: str) -> Activation:
    """The activation called ``name``; ValueError lists the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
        ) from None
