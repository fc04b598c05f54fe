"""What the lessons show step by step: the numbers of one backpropagation step, the perceptron
rule point by point, and a cost surface evaluated exhaustively with the gradient-descent path over
it. Each is computed with the engine's own forward pass, loss and backward pass, so what a lesson
shows is what training does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.losses import loss_value, output_gradient
from engine.network import Network

Array = np.ndarray


@dataclass
class BackpropStep:
    """One gradient step on one mini-batch. Per layer l (hidden layers, then the output):
    ``zs[l]`` and ``activations[l]`` (rows are the batch's points), ``deltas[l]`` = ∂J/∂z,
    the gradients, and the weights and biases before and after ``w ← w − lr·∂J/∂w``."""

    x: Array
    y: Array
    zs: list[Array]
    activations: list[Array]
    loss: float
    deltas: list[Array]
    grad_weights: list[Array]
    grad_biases: list[Array]
    weights: list[Array]
    biases: list[Array]
    new_weights: list[Array]
    new_biases: list[Array]
    loss_after: float


def backprop_step(network: Network, x: Array, y: Array, loss: str, lr: float) -> BackpropStep:
    """The forward pass, the error, every layer's δ and every weight's update for the batch
    (x, y), by the network's own ``forward`` and ``backward``. The network is left unchanged.

    The δ of a hidden layer is the one ``backward`` passes down: (δ above · Wᵀ) ⊙ f′(z)."""
    forward = network.forward(x)
    deltas = [output_gradient(loss, network.output, forward.zs[-1], forward.output, y)]
    for layer in range(network.n_layers - 1, 0, -1):
        activation = network.hidden_activations[layer - 1]
        slope = activation.derivative(forward.zs[layer - 1], forward.activations[layer])
        deltas.insert(0, (deltas[0] @ network.weights[layer].T) * slope)
    saved_params, saved_grads = network.params.copy(), network.grads.copy()
    network.backward(forward, deltas[-1])
    grad_weights = [g.copy() for g in network.grad_weights]
    grad_biases = [g.copy() for g in network.grad_biases]
    weights = [w.copy() for w in network.weights]
    biases = [b.copy() for b in network.biases]
    network.params -= lr * network.grads
    after = network.forward(x)
    step = BackpropStep(
        x=x.copy(), y=y.copy(), zs=forward.zs, activations=forward.activations[1:],
        loss=loss_value(loss, network.output, forward.zs[-1], forward.output, y),
        deltas=deltas, grad_weights=grad_weights, grad_biases=grad_biases,
        weights=weights, biases=biases,
        new_weights=[w.copy() for w in network.weights], new_biases=[b.copy() for b in network.biases],
        loss_after=loss_value(loss, network.output, after.zs[-1], after.output, y),
    )
    network.params[:], network.grads[:] = saved_params, saved_grads
    return step


@dataclass
class PerceptronStep:
    """One point of the perceptron rule: the point, the answer ŷ = step(w·x + b) before the
    update, and the weights and bias after w ← w + α(y − ŷ)x, b ← b + α(y − ŷ)."""

    x: Array
    y: float
    z: float
    prediction: float
    weights: Array
    bias: float


def perceptron_steps(weights: Array, bias: float, xs: Array, ys: Array, lr: float) -> list[PerceptronStep]:
    """The rule applied to the points in order (one epoch of the perceptron, as the trainer runs
    it), one step per point."""
    w, b = np.array(weights, dtype=np.float64), float(bias)
    steps = []
    for x, y in zip(xs, ys):
        z = float(x @ w + b)
        prediction = 1.0 if z >= 0 else 0.0
        w = w + lr * (y - prediction) * x
        b = b + lr * (y - prediction)
        steps.append(PerceptronStep(x.copy(), float(y), z, prediction, w, b))
    return steps


def linear_cost_grid(x: Array, y: Array, w1: Array, w2: Array) -> Array:
    """The mean squared error of ŷ = w₁x₁ + w₂x₂ at every pair of the grid w1 × w2, by brute force:
    one evaluation per pair. Row i has w₂ = w2[i], column j has w₁ = w1[j]."""
    if x.shape[1] != 2:
        raise ValueError(f"the cost surface needs exactly 2 features, got {x.shape[1]}")
    pairs = np.stack(np.meshgrid(w1, w2), axis=-1).reshape(-1, 2)  # (pairs, 2)
    predictions = x @ pairs.T  # (points, pairs)
    cost = np.mean((predictions - y.reshape(-1, 1)) ** 2, axis=0)
    return cost.reshape(len(w2), len(w1))


def linear_descent_path(x: Array, y: Array, start: Array, lr: float, steps: int) -> Array:
    """Full-batch gradient descent on the mean squared error of ŷ = w₁x₁ + w₂x₂ (no bias), with
    the engine's loss gradient: every point of the path, start included, shape (steps + 1, 2)."""
    w = np.array(start, dtype=np.float64)
    path = [w.copy()]
    y = y.reshape(-1, 1)
    for _ in range(steps):
        z = x @ w.reshape(-1, 1)
        w = w - lr * (x.T @ output_gradient("mse", "linear", z, z, y))[:, 0]
        path.append(w.copy())
    return np.array(path)
