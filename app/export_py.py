"""A trained network as a standalone Python script that needs only NumPy.

The script holds the weights inline (written with ``repr``, so every float reads back exactly),
and writes out the input features, the preprocessing and the activations it uses, so a student
can read the whole model in one page and run it anywhere:
``python model.py < points.csv`` (rows ``x1,x2``, header optional) prints one prediction per row.

The engine's functions cannot be copied into the script (it must run without this project), so
each feature and activation has its source text here; a test runs every one of them against the
engine and the registries, so a new engine activation without a text here fails that test.
"""

from __future__ import annotations


from engine.activations import ELU_ALPHA, LEAKY_SLOPE
from engine.trainer import Trainer

# name -> the body of `def feature(x1, x2)` (the engine's engine.datasets.FEATURES)
FEATURE_SOURCE: dict[str, str] = {
    "x1": "x1",
    "x2": "x2",
    "x1sq": "x1 * x1",
    "x2sq": "x2 * x2",
    "x1x2": "x1 * x2",
    "sinx1": "np.sin(x1)",
    "sinx2": "np.sin(x2)",
    "cosx1": "np.cos(x1)",
    "cosx2": "np.cos(x2)",
}

_SIGMOID = "0.5 * (np.tanh(0.5 * z) + 1.0)"  # the engine's overflow-free logistic function
# name -> the body of `def name(z)` (the engine's engine.activations.ACTIVATIONS and output rules)
ACTIVATION_SOURCE: dict[str, str] = {
    "linear": "return z",
    "step": "return (z >= 0.0).astype(np.float64)",
    "sigmoid": f"return {_SIGMOID}",
    "tanh": "return np.tanh(z)",
    "relu": "return np.maximum(z, 0.0)",
    "leaky_relu": f"return np.where(z > 0, z, {LEAKY_SLOPE!r} * z)",
    "elu": f"return np.where(z > 0, z, {ELU_ALPHA!r} * np.expm1(np.minimum(z, 0.0)))",
    "softplus": "return np.logaddexp(0.0, z)",
    "gelu": "return 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))",
    "swish": f"return z * {_SIGMOID}",
    "softmax": "e = np.exp(z - z.max(axis=1, keepdims=True))\n    return e / e.sum(axis=1, keepdims=True)",
}

# by the output layer's rule (engine.network.OUTPUTS)
_OUTPUT_MEANING = {
    "sigmoid": "the probability of class 1",
    "tanh": "a score from -1 (class 0) to 1 (class 1), as in TensorFlow Playground: class 1 where it is >= 0",
    "softmax": "the probability of each class, comma-separated",
    "linear": "the predicted value",
}

_TEMPLATE = '''#!/usr/bin/env python3
"""A neural network trained in the neural-network playground ({epochs} epochs), standalone.

Needs only NumPy. Run it as ``python model.py < points.csv``: each input row is ``x1,x2`` (a
header line is allowed), and each output line is {meaning}.
From Python: ``from model import predict; predict(np.array([[x1, x2], ...]))``.
"""

import sys

import numpy as np

# Input features, computed from the point (x1, x2).
FEATURES = [{feature_names}]


def features(x1, x2):
    return np.column_stack([
{feature_lines}
    ])


# Preprocessing ({preprocessing}): each feature column becomes (value - OFFSET) / SCALE.
OFFSET = np.array({offset!r})
SCALE = np.array({scale!r})

# Layers: {sizes}. WEIGHTS[l][i][j] is the edge from node i of layer l to node j of layer l + 1.
WEIGHTS = [np.array(w) for w in {weights!r}]
BIASES = [np.array(b) for b in {biases!r}]


# Activations, one per layer of weights (the last one is the output's).
{activation_functions}

ACTIVATIONS = [{activations}]


def predict(points):
    """The network's outputs for an (n, 2) array of points, one row per point."""
    points = np.asarray(points, dtype=np.float64)
    a = (features(points[:, 0], points[:, 1]) - OFFSET) / SCALE
    for w, b, activation in zip(WEIGHTS, BIASES, ACTIVATIONS):
        z = a @ w
        z += b
        a = activation(z)
    return a


def read_points(lines):
    """Rows ``x1,x2`` (more columns are ignored); blank lines and a first header line are skipped."""
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = [cell.strip() for cell in line.split(",")]
        if not line.strip():
            continue
        try:
            rows.append([float(cells[0]), float(cells[1])])
        except (ValueError, IndexError):
            if number == 1:
                continue  # a header
            sys.exit("line %d: expected two numbers x1,x2, got %r" % (number, line.strip()))
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


if __name__ == "__main__":
    for row in predict(read_points(sys.stdin)){problem_rows}:
        print(",".join(repr(float(v)) for v in np.atleast_1d(row)))
'''


def python_script(trainer: Trainer) -> str:
    """The standalone script reproducing ``trainer``'s current predictions."""
    network, scaler, features = trainer.network, trainer.scaler, trainer.setup.features
    activations = [a.name for a in network.hidden_activations] + [network.output]
    return _TEMPLATE.format(
        epochs=trainer.epoch,
        meaning=_OUTPUT_MEANING[network.output],
        feature_names=", ".join(repr(name) for name in features),
        feature_lines="\n".join(f"        {FEATURE_SOURCE[name]},  # {name}" for name in features),
        preprocessing=scaler.method,
        offset=[float(v) for v in scaler.offset],
        scale=[float(v) for v in scaler.scale],
        sizes=" -> ".join(str(n) for n in network.sizes),
        weights=[w.tolist() for w in network.weights],
        biases=[b.tolist() for b in network.biases],
        activation_functions="\n\n".join(
            f"def {name}(z):\n    {ACTIVATION_SOURCE[name]}\n" for name in dict.fromkeys(activations)
        ),
        activations=", ".join(activations),
        problem_rows="" if trainer.problem == "multiclass" else "[:, 0]",
    )
