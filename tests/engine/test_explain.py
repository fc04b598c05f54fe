"""engine/explain.py: what the lessons show step by step is what training does."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.explain import backprop_step, linear_cost_grid, linear_descent_path, perceptron_steps
from engine.losses import loss_value
from engine.network import Network
from engine.trainer import Setup, Trainer


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_backprop_step_gives_the_trainers_gradient_and_leaves_the_network_alone(loss: str) -> None:
    trainer = Trainer(Setup(dataset="xor", hidden=(3, 2), activation="sigmoid", loss=loss))
    network = trainer.network
    x, y = trainer.x_train[:5], trainer.y_train[:5]
    params = network.params.copy()
    step = backprop_step(network, x, y, loss, 0.1)
    assert np.array_equal(network.params, params)  # unchanged
    network._batch_gradient(x, y, loss)  # the training step's own gradient
    assert np.allclose(np.concatenate([g.ravel() for g in step.grad_weights]), network.grads[: network.n_weights])
    for layer, delta in enumerate(step.deltas):
        inputs = x if layer == 0 else step.activations[layer - 1]
        assert np.allclose(step.grad_weights[layer], inputs.T @ delta)
    assert np.allclose(step.new_weights[0], step.weights[0] - 0.1 * step.grad_weights[0])
    assert step.loss == trainer.batch_loss(x, y)
    network.params -= 0.1 * network.grads
    assert np.isclose(step.loss_after, trainer.batch_loss(x, y))


def test_perceptron_steps_are_one_epoch_of_the_trainers_rule() -> None:
    trainer = Trainer(Setup(dataset="gauss", hidden=(), optimizer="perceptron", seed=3))
    order = copy.deepcopy(trainer.rng).permutation(len(trainer.x_train))
    w, b = trainer.network.weights[0][:, 0].copy(), trainer.network.biases[0][0]
    steps = perceptron_steps(w, b, trainer.x_train[order], trainer.y_train[order, 0], 0.03)
    trainer.step(1)
    assert np.array_equal(steps[-1].weights, trainer.network.weights[0][:, 0])
    assert steps[-1].bias == trainer.network.biases[0][0]
    right = [s for s in steps if s.prediction == s.y]
    assert right and all(s.prediction in (0.0, 1.0) for s in steps)


def test_the_cost_grid_evaluates_every_pair_and_the_path_goes_downhill() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (50, 2))
    y = x @ np.array([[0.3], [-0.2]])
    w1, w2 = np.linspace(-1, 1, 21), np.linspace(-1, 1, 11)
    cost = linear_cost_grid(x, y, w1, w2)
    assert cost.shape == (11, 21)
    z = x @ np.array([[w1[4]], [w2[7]]])
    assert np.isclose(cost[7, 4], loss_value("mse", "linear", z, z, y))
    path = linear_descent_path(x, y, np.array([-0.9, 0.9]), 0.01, 40)
    assert path.shape == (41, 2) and np.allclose(path[-1], [0.3, -0.2], atol=1e-3)
    with pytest.raises(ValueError, match="2 features"):
        linear_cost_grid(np.ones((3, 3)), np.ones(3), w1, w2)


def test_backprop_step_on_a_network_without_hidden_layers() -> None:
    network = Network((2, 1), (), "linear", np.array([0.5, -0.5, 0.1]))
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    step = backprop_step(network, x, y, "mse", 0.1)
    assert len(step.deltas) == 1 and np.allclose(step.deltas[0], 2 * (step.activations[0] - y))
