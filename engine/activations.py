"""Activation functions: one registry of name -> function and derivative (the formulas the page
shows are in the students' languages, in the app's catalogues).

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
GELU_C = np.sqrt(2.0 / np.pi)


@dataclass(frozen=True)
class Activation:
    """An activation, written in place (``apply``: out = f(z), ``slope``: out = f'(z) given z and
    a = f(z)) so that the drawing grid allocates nothing; ``function`` and ``derivative`` are the
    allocating forms for everything else. ``engine.compiled`` has each one for single numbers."""

    name: str
    apply: Callable[[Array, Array], None]
    slope: Callable[[Array, Array, Array], None]
    learns_by_gradient: bool = True
    bounded: bool = False  # f(z) stays within [-1, 1] for every finite or infinite z

    def function(self, z: Array) -> Array:
        out = np.empty_like(z)
        self.apply(z, out)
        return out

    def derivative(self, z: Array, a: Array) -> Array:
        out = np.empty_like(z)
        self.slope(z, a, out)
        return out


def sigmoid_into(z: Array, out: Array) -> None:
    """Logistic function, written with tanh so it never overflows for large |z|; out may be z."""
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5


def sigmoid(z: Array) -> Array:
    out = np.empty_like(z)
    sigmoid_into(z, out)
    return out


def softmax(z: Array) -> Array:
    """Row-wise softmax; subtracting the row maximum keeps exp() finite."""
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _set(out: Array, value: Array | float) -> None:
    out[...] = value


def _gelu(z: Array, out: Array) -> None:
    _set(out, 0.5 * z * (1.0 + np.tanh(GELU_C * (z + 0.044715 * z**3))))


def _gelu_slope(z: Array, a: Array, out: Array) -> None:
    t = np.tanh(GELU_C * (z + 0.044715 * z**3))
    _set(out, 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * GELU_C * (1.0 + 3 * 0.044715 * z * z))


def _swish_slope(z: Array, a: Array, out: Array) -> None:
    s = sigmoid(z)
    _set(out, s + a * (1.0 - s))


def _tanh_slope(z: Array, a: Array, out: Array) -> None:
    np.multiply(a, a, out=out)
    np.subtract(1.0, out, out=out)


def _sigmoid_slope(z: Array, a: Array, out: Array) -> None:
    np.subtract(1.0, a, out=out)
    out *= a


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", lambda z, out: _set(out, z), lambda z, a, out: out.fill(1.0)),
        Activation(
            "step",
            lambda z, out: np.greater_equal(z, 0.0, out=out),
            lambda z, a, out: out.fill(0.0),
            learns_by_gradient=False,
            bounded=True,
        ),
        Activation("sigmoid", sigmoid_into, _sigmoid_slope, bounded=True),
        Activation("tanh", lambda z, out: np.tanh(z, out=out), _tanh_slope, bounded=True),
        Activation("relu", lambda z, out: np.maximum(z, 0.0, out=out),
                   lambda z, a, out: np.greater(z, 0.0, out=out)),
        Activation(
            "leaky_relu",
            lambda z, out: _set(out, np.where(z > 0, z, LEAKY_SLOPE * z)),
            lambda z, a, out: _set(out, np.where(z > 0, 1.0, LEAKY_SLOPE)),
        ),
        Activation("elu", lambda z, out: _set(out, np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))),
                   lambda z, a, out: _set(out, np.where(z > 0, 1.0, a + ELU_ALPHA))),
        Activation("softplus", lambda z, out: np.logaddexp(0.0, z, out=out),
                   lambda z, a, out: sigmoid_into(z, out)),
        Activation("gelu", _gelu, _gelu_slope),
        Activation("swish", lambda z, out: _set(out, z * sigmoid(z)), _swish_slope),
    )
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; ValueError lists the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
        ) from None
