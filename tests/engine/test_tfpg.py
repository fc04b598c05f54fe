"""TensorFlow Playground's own set-up: the same weights give the same numbers as there.

``ReferenceNetwork`` below is TensorFlow Playground's ``src/nn.ts`` (and the training loop and
loss of its ``src/playground.ts``) written again node by node and link by link, independently of
the engine: ``forwardProp``, ``backProp`` with ``Errors.SQUARE``, ``updateWeights`` with its
regularization and dead links, ``oneStep``'s ``(i + 1) % batchSize`` and ``getLoss``. The engine,
started from the same weights, must give its weights and plotted losses to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import InvalidValue
from engine.explain import backprop_step
from engine.tfpg import epoch_batches
from engine.trainer import Setup, Trainer

ACTIVATIONS = {  # nn.ts's Activations: (output, der)
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(0.0, x), lambda x: 0.0 if x <= 0 else 1.0),
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)), lambda x: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x)))),
    "linear": (lambda x: x, lambda x: 1.0),
}
REGULARIZATION_DER = {"l1": lambda w: -1.0 if w < 0 else (1.0 if w > 0 else 0.0), "l2": lambda w: w}


class Node:
    def __init__(self, activation: str | None, bias: float) -> None:
        self.activation = activation
        self.bias = bias
        self.inputs: list[Link] = []
        self.outputs: list[Link] = []
        self.total_input = self.output = self.output_der = self.input_der = 0.0
        self.acc_input_der = 0.0
        self.num_accumulated = 0


class Link:
    def __init__(self, source: Node, dest: Node, weight: float) -> None:
        self.source, self.dest, self.weight = source, dest, weight
        self.is_dead = False
        self.acc_error_der = 0.0
        self.num_accumulated = 0


class ReferenceNetwork:
    """nn.ts's network, with the engine's initial weights: ``W_l[i, j]`` is the link from node i
    of layer l to node j of layer l + 1."""

    def __init__(self, trainer: Trainer, regularization: str) -> None:
        net = trainer.network
        layer_activations = [None, *(a.name for a in net.hidden_activations), net.output]
        self.layers = [[Node(layer_activations[0], 0.0) for _ in range(net.sizes[0])]]
        for depth, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
            layer = [Node(layer_activations[depth], float(b[j])) for j in range(w.shape[1])]
            for j, node in enumerate(layer):
                for i, source in enumerate(self.layers[-1]):
                    link = Link(source, node, float(w[i, j]))
                    source.outputs.append(link)
                    node.inputs.append(link)
            self.layers.append(layer)
        self.regularization = regularization

    def forward(self, inputs: list[float]) -> float:
        for node, value in zip(self.layers[0], inputs):
            node.output = value
        for layer in self.layers[1:]:
            for node in layer:
                node.total_input = node.bias
                for link in node.inputs:
                    node.total_input += link.weight * link.source.output
                node.output = ACTIVATIONS[node.activation][0](node.total_input)
        return self.layers[-1][0].output

    def backward(self, target: float) -> None:
        out = self.layers[-1][0]
        out.output_der = out.output - target  # Errors.SQUARE.der
        for depth in range(len(self.layers) - 1, 0, -1):
            layer = self.layers[depth]
            for node in layer:
                node.input_der = node.output_der * ACTIVATIONS[node.activation][1](node.total_input)
                node.acc_input_der += node.input_der
                node.num_accumulated += 1
            for node in layer:
                for link in node.inputs:
                    if link.is_dead:
                        continue
                    link.acc_error_der += node.input_der * link.source.output
                    link.num_accumulated += 1
            if depth == 1:
                continue
            for node in self.layers[depth - 1]:
                node.output_der = sum(link.weight * link.dest.input_der for link in node.outputs)

    def update(self, lr: float, rate: float) -> None:
        for layer in self.layers[1:]:
            for node in layer:
                if node.num_accumulated > 0:
                    node.bias -= lr * node.acc_input_der / node.num_accumulated
                    node.acc_input_der, node.num_accumulated = 0.0, 0
                for link in node.inputs:
                    if link.is_dead:
                        continue
                    regul_der = REGULARIZATION_DER[self.regularization](link.weight) \
                        if self.regularization != "none" else 0.0
                    if link.num_accumulated > 0:
                        link.weight = link.weight - (lr / link.num_accumulated) * link.acc_error_der
                        new_weight = link.weight - (lr * rate) * regul_der
                        if self.regularization == "l1" and link.weight * new_weight < 0:
                            link.weight, link.is_dead = 0.0, True
                        else:
                            link.weight = new_weight
                        link.acc_error_der, link.num_accumulated = 0.0, 0

    def one_step(self, xs: np.ndarray, labels: np.ndarray, batch: int, lr: float, rate: float) -> None:
        """playground.ts's oneStep: every training point in order, an update every batch."""
        for i, (x, label) in enumerate(zip(xs.tolist(), labels.tolist())):
            self.forward(x)
            self.backward(label)
            if (i + 1) % batch == 0:
                self.update(lr, rate)

    def loss(self, xs: np.ndarray, labels: np.ndarray) -> float:
        """playground.ts's getLoss: the mean of ½(o − t)² over the points."""
        total = 0.0
        for x, label in zip(xs.tolist(), labels.tolist()):
            total += 0.5 * (self.forward(x) - label) ** 2
        return total / len(labels)

    def params(self) -> np.ndarray:
        """Weights then biases, in the engine's ``params`` order."""
        weights, biases = [], []
        for layer in self.layers[1:]:
            biases += [node.bias for node in layer]
        for source_layer in self.layers[:-1]:
            weights.append(np.array([[link.weight for link in node.outputs] for node in source_layer]).ravel())
        return np.concatenate([*weights, biases])


def _tf_labels(trainer: Trainer, split: str) -> np.ndarray:
    """TF Playground's labels from the data set itself: −1/+1 for two classes, values for regression."""
    data = trainer.train_data if split == "train" else trainer.test_data
    return data.y.astype(float) * 2 - 1 if trainer.problem == "binary" else data.y.astype(float)


@pytest.mark.parametrize(("setup", "dies"), [
    (dict(), False),  # TF Playground's default: circle, 4,2 tanh, batch 10, lr 0.03
    (dict(batch_size=30, learning_rate=0.1, activation="relu"), False),  # 250 % 30: 10 points carried over
    (dict(regularization="l2", regularization_rate=0.03, learning_rate=0.1, batch_size=7), False),
    (dict(regularization="l1", regularization_rate=0.03, learning_rate=0.3, dataset="xor"), True),
    (dict(dataset="plane", hidden=(3,), activation="sigmoid", regularization="l2", regularization_rate=0.01,
          batch_size=20), False),
])
def test_the_engine_trains_exactly_as_tensorflow_playground(setup: dict, dies: bool) -> None:
    base = dict(convention="tfpg", init="playground", noise=0.1, seed=4)
    trainer = Trainer(Setup(**{**base, **setup}))
    s = trainer.setup
    reference = ReferenceNetwork(trainer, s.regularization)
    np.testing.assert_array_equal(reference.params(), trainer.network.params)
    x_train, x_test = trainer.x_train, trainer.x_test
    t_train, t_test = _tf_labels(trainer, "train"), _tf_labels(trainer, "test")
    assert trainer.history.train_loss[0] == pytest.approx(reference.loss(x_train, t_train), rel=1e-12)
    for epoch in range(1, 6):
        reference.one_step(x_train, t_train, s.batch_size, s.learning_rate, s.regularization_rate)
        assert trainer.step(1) == 1
        np.testing.assert_allclose(trainer.network.params, reference.params(), rtol=0, atol=1e-12)
        assert trainer.history.train_loss[epoch] == pytest.approx(reference.loss(x_train, t_train), rel=1e-12, abs=1e-15)
        assert trainer.history.test_loss[epoch] == pytest.approx(reference.loss(x_test, t_test), rel=1e-12, abs=1e-15)
        if trainer.problem == "binary":  # class 1 where the output is ≥ 0 (TF's discretized map)
            right = sum((reference.forward(x) >= 0) == (t > 0) for x, t in zip(x_train.tolist(), t_train))
            assert trainer.history.train_metric[epoch] == right / len(t_train)
    dead = [link.is_dead for layer in reference.layers[:-1] for node in layer for link in node.outputs]
    assert trainer.dead_weights.tolist() == dead
    assert any(dead) == dies
    assert np.abs(trainer.network.params - Trainer(trainer.setup).network.params).max() > 1e-2  # it learned


def test_points_left_over_join_the_next_epochs_first_update() -> None:
    rows = np.arange(23)
    batches, pending = epoch_batches(23, 5, 0)
    assert [rows[b].tolist() for b in batches] == [list(range(k, k + 5)) for k in (0, 5, 10, 15)] and pending == 3
    batches, pending = epoch_batches(23, 5, 3)
    assert rows[batches[0]].tolist() == [20, 21, 22, 0, 1, 2, 3, 4] and len(batches) == 4 and pending == 3
    assert epoch_batches(20, 20, 0)[1] == 0


def test_the_pending_points_and_dead_links_are_saved_and_restored() -> None:
    trainer = Trainer(Setup(convention="tfpg", dataset="xor", batch_size=30, regularization="l1",
                            regularization_rate=0.03, learning_rate=0.3))
    trainer.step(3)
    assert trainer.pending_rows == 10 and trainer.dead_weights.any()
    copy = Trainer.from_dict(trainer.to_dict())
    assert copy.pending_rows == 10 and copy.dead_weights.tolist() == trainer.dead_weights.tolist()
    trainer.step(4)
    copy.step(4)
    np.testing.assert_array_equal(copy.network.params, trainer.network.params)


def test_without_reshuffling_every_epoch_takes_the_points_in_their_order() -> None:
    trainer = Trainer(Setup(convention="tfpg"))
    np.testing.assert_array_equal(trainer.next_epoch_order(), np.arange(len(trainer.x_train)))
    standard = Trainer(Setup())
    assert not np.array_equal(standard.next_epoch_order(), np.arange(len(standard.x_train)))
    np.testing.assert_array_equal(standard.next_epoch_order(), standard.next_epoch_order())  # nothing consumed


def test_two_classes_have_a_tanh_output_and_labels_of_minus_and_plus_one() -> None:
    trainer = Trainer(Setup(convention="tfpg"))
    assert trainer.output == "tanh" and trainer.loss_name == "half_square" and trainer.decision_threshold == 0.0
    np.testing.assert_array_equal(trainer.y_train[:, 0], trainer.train_data.y * 2.0 - 1.0)
    output = trainer.snapshot(10).output
    assert output.min() < 0 < output.max() and np.abs(output).max() < 1
    regression = Trainer(Setup(convention="tfpg", dataset="plane"))
    assert regression.output == "linear" and regression.loss_name == "half_square"
    np.testing.assert_array_equal(regression.y_train[:, 0], regression.train_data.y)


def test_switching_the_convention_keeps_the_data_and_the_initial_weights() -> None:
    trainer = Trainer(Setup(init="playground"))
    start = trainer.network.params.copy()
    trainer.step(2)
    assert trainer.reconfigure(Setup(init="playground", convention="tfpg")) == "data"
    np.testing.assert_array_equal(trainer.network.params, start)
    assert trainer.output == "tanh" and set(trainer.y_train[:, 0]) == {-1.0, 1.0} and trainer.epoch == 0


@pytest.mark.parametrize("setup", [dict(optimizer="adam"), dict(loss="mse"), dict(loss="cross_entropy"),
                                   dict(dataset="blobs"), dict(optimizer="gd")])
def test_what_tensorflow_playground_cannot_train_is_refused(setup: dict) -> None:
    with pytest.raises(InvalidValue) as caught:
        Setup(convention="tfpg", **setup)
    assert caught.value.field == "convention" and "TensorFlow Playground" in str(caught.value)


def test_an_unknown_convention_is_refused() -> None:
    with pytest.raises(InvalidValue) as caught:
        Setup(convention="keras")
    assert caught.value.field == "convention" and caught.value.allowed == ("standard", "tfpg")


def test_the_step_through_shows_the_update_tensorflow_playground_makes() -> None:
    """engine.explain's one-batch view, on TF Playground's set-up: its δ at the output is
    (o − t)(1 − o²)/m, and its new weights are those of an epoch trained in one batch."""
    trainer = Trainer(Setup(convention="tfpg", init="playground", batch_size=1000, learning_rate=0.3))
    rows = trainer.next_epoch_order()
    step = backprop_step(trainer.network, trainer.x_train[rows], trainer.y_train[rows], trainer.loss_name, 0.3)
    o, t = step.activations[-1], step.y
    np.testing.assert_allclose(step.deltas[-1], (o - t) * (1 - o * o) / len(t), rtol=1e-12)
    assert step.loss == pytest.approx(trainer.history.train_loss[0], rel=1e-12)
    trainer.step(1)
    for new, trained in zip(step.new_weights + step.new_biases, trainer.network.weights + trainer.network.biases):
        np.testing.assert_allclose(new, trained, rtol=0, atol=1e-12)


def test_divergence_is_caught_and_the_last_finite_weights_kept() -> None:
    trainer = Trainer(Setup(convention="tfpg", dataset="plane", learning_rate=10.0, batch_size=1))
    assert trainer.step(50) < 50 and trainer.divergence is not None
    assert np.isfinite(trainer.network.params).all() and np.isfinite(trainer.history.train_loss).all()
