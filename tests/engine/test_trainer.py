"""The Trainer: learning, determinism, reconfiguration, divergence, editing and saving."""

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from engine.datasets import dataset_from_arrays, feature_matrix
from engine.losses import loss_value
from engine.optimizers import make_optimizer
from engine.trainer import History, Setup, Trainer

RICH_FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")


@pytest.mark.parametrize("dataset", ["circle", "xor", "gauss"])
def test_default_network_learns_two_class_datasets(dataset):
    trainer = Trainer(Setup(dataset=dataset, seed=1))
    trainer.step(500)
    assert trainer.history.test_metric[-1] >= 0.95
    assert trainer.history.train_loss[-1] < trainer.history.train_loss[0]


def test_spiral_learns_with_extra_features_and_a_deeper_network():
    trainer = Trainer(Setup(dataset="spiral", features=RICH_FEATURES, hidden=(8, 8, 6), seed=3))
    trainer.step(500)
    assert trainer.history.test_metric[-1] >= 0.90


def test_plane_regression_reaches_its_noise_floor():
    noise = 0.2
    trainer = Trainer(Setup(dataset="plane", noise=noise, hidden=(2,), seed=0))
    trainer.step(200)
    # The noise-free target of each test point is a plane; the best possible MSE is the
    # variance the noise adds to the targets, estimated from a noise-free copy of the data.
    clean = Trainer(Setup(dataset="plane", noise=0.0, hidden=(2,), seed=0))
    floor = float(np.mean((clean.y_test - trainer.y_test) ** 2))
    assert trainer.history.test_loss[-1] <= floor * 1.25 + 1e-3
    assert trainer.history.test_metric[-1] > 0.8


def test_multiclass_blobs_use_softmax_and_learn():
    trainer = Trainer(Setup(dataset="blobs", n_classes=4, seed=2))
    assert trainer.network.output == "softmax" and trainer.network.sizes[-1] == 4
    trainer.step(100)
    assert trainer.history.test_metric[-1] >= 0.9


def test_perceptron_rule_separates_separable_data():
    trainer = Trainer(Setup(dataset="gauss", hidden=(), optimizer="perceptron", learning_rate=0.1))
    # Start from a line that puts every point on the wrong side: the rule has to turn it round.
    trainer.set_weight(0, 0, 0, -1.0)
    trainer.set_weight(0, 1, 0, -1.0)
    trainer.set_bias(0, 0, 0.0)
    assert trainer.history.train_metric[-1] < 0.1
    trainer.step(30)
    assert trainer.history.train_metric[-1] == 1.0


def test_perceptron_rule_refuses_hidden_layers():
    with pytest.raises(ValueError, match="perceptron"):
        Trainer(Setup(dataset="gauss", hidden=(3,), optimizer="perceptron"))


def test_random_search_only_accepts_improvements():
    # One batch holds the whole training set, so each proposal is judged on the training loss.
    trainer = Trainer(Setup(dataset="gauss", optimizer="random_search", learning_rate=0.2, batch_size=1000))
    trainer.step(60)
    losses = trainer.history.train_loss
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0]


def test_a_random_search_epoch_makes_one_proposal_a_mini_batch():
    """Each mini-batch is judged for the current weights and for one proposal, as cheap as an SGD
    epoch, not the whole training set for every proposal: one proposal (one normal number per
    parameter) a batch of 7, and the weights those proposals give."""
    trainer = Trainer(Setup(dataset="gauss", optimizer="random_search", learning_rate=0.2, batch_size=7))
    rng, net = copy.deepcopy(trainer.rng), Trainer(trainer.setup).network  # (a twin: the same weights)
    order = rng.permutation(len(trainer.x_train))
    batches = -(-len(order) // 7)
    noise = rng.standard_normal((batches, len(net.params)))
    xs, ys = trainer.x_train[order], trainer.y_train[order]

    def batch_loss(x, y):  # Trainer.batch_loss, with the readable forward pass
        forward = net.forward(x)
        return loss_value(trainer.loss_name, net.output, forward.zs[-1], forward.output, y)

    for i, start in enumerate(range(0, len(xs), 7)):
        x, y = xs[start : start + 7], ys[start : start + 7]
        before, current = net.params.copy(), batch_loss(x, y)
        net.params += 0.2 * noise[i]
        if batch_loss(x, y) >= current:
            net.params[:] = before
    trainer.step(1)
    assert trainer.iteration == batches
    assert trainer.rng.bit_generator.state == rng.bit_generator.state
    np.testing.assert_allclose(trainer.network.params, net.params, rtol=1e-12, atol=1e-14)


def test_same_setup_gives_identical_history():
    setup = Setup(dataset="xor", noise=0.2, seed=7, optimizer="adam", learning_rate=0.01)
    first, second = Trainer(setup), Trainer(setup)
    first.step(30)
    second.step(30)
    assert first.history == second.history
    assert np.array_equal(first.network.params, second.network.params)


def test_a_different_seed_gives_different_weights_and_data():
    a, b = Trainer(Setup(seed=1)), Trainer(Setup(seed=2))
    assert not np.array_equal(a.network.params, b.network.params)
    assert not np.array_equal(a.x_train, b.x_train)


def test_changing_the_network_keeps_the_data():
    a = Trainer(Setup(seed=5))
    b = Trainer(Setup(seed=5, hidden=(3,)))
    assert np.array_equal(a.x_train, b.x_train)


def test_learning_rate_change_keeps_weights_and_optimizer_state():
    trainer = Trainer(Setup(optimizer="adam"))
    trainer.step(5)
    params, epoch = trainer.network.params.copy(), trainer.epoch
    assert trainer.reconfigure(replace(trainer.setup, learning_rate=0.001)) == "training"
    assert np.array_equal(trainer.network.params, params) and trainer.epoch == epoch
    assert trainer.optimizer.steps > 0
    assert trainer.reconfigure(replace(trainer.setup, optimizer_params={"beta1": 0.8})) == "training"
    assert trainer.optimizer.hyper["beta1"] == 0.8 and trainer.optimizer.steps > 0


def test_optimizer_change_keeps_the_weights_and_starts_the_new_rule_afresh():
    trainer = Trainer(Setup(optimizer="momentum"))
    trainer.step(5)
    params, history = trainer.network.params.copy(), trainer.history.to_dict()
    assert trainer.reconfigure(replace(trainer.setup, optimizer="adam")) == "optimizer"
    assert trainer.optimizer.name == "adam" and trainer.optimizer.steps == 0
    assert np.array_equal(trainer.network.params, params) and trainer.history.to_dict() == history
    # The next epoch is the one a fresh Adam takes from these weights.
    reference = Trainer.from_dict(trainer.to_dict())
    trainer.step(1)
    reference.optimizer = make_optimizer("adam", len(params), reference.optimizer.decay_mask)
    reference.step(1)
    assert np.array_equal(trainer.network.params, reference.network.params)


def test_loss_change_keeps_the_weights_and_re_evaluates_the_last_epoch():
    trainer = Trainer(Setup(dataset="xor", noise=0.1))
    trainer.step(5)
    params, history = trainer.network.params.copy(), trainer.history.to_dict()
    assert trainer.reconfigure(replace(trainer.setup, loss="mse")) == "training"
    assert trainer.loss_name == "mse" and np.array_equal(trainer.network.params, params)
    predicted = trainer.network.predict(trainer.x_train)
    assert trainer.history.train_loss[-1] == pytest.approx(np.mean((predicted - trainer.y_train) ** 2), rel=1e-12)
    assert list(trainer.history.train_loss[:-1]) == history["train_loss"][:-1]
    assert trainer.history.train_loss[-1] != history["train_loss"][-1]
    trainer.step(1)
    predicted = trainer.network.predict(trainer.x_train)
    assert trainer.history.train_loss[-1] == pytest.approx(np.mean((predicted - trainer.y_train) ** 2), rel=1e-12)


def test_network_change_resets_weights_and_history():
    trainer = Trainer(Setup())
    trainer.step(5)
    assert trainer.reconfigure(replace(trainer.setup, hidden=(5,))) == "network"
    assert trainer.epoch == 0 and len(trainer.history.train_loss) == 1
    assert trainer.network.sizes == (2, 5, 1)


def test_invalid_reconfigure_changes_nothing():
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (40, 2))
    trainer = Trainer(Setup(loss="mse"), dataset_from_arrays(x, np.sin(x[:, 0]), "regression"))
    trainer.step(3)
    before = trainer.to_dict()
    with pytest.raises(ValueError, match="cross_entropy"):
        trainer.reconfigure(replace(trainer.setup, loss="cross_entropy", learning_rate=0.1))
    assert trainer.to_dict() == before


def test_divergence_stops_training_and_keeps_the_last_finite_state():
    trainer = Trainer(Setup(dataset="plane", learning_rate=10.0))
    ran = trainer.step(50)
    assert trainer.divergence is not None
    assert ran == trainer.epoch < 50
    assert trainer.divergence.epoch == trainer.epoch + 1
    assert np.isfinite(trainer.network.params).all()
    assert all(np.isfinite(trainer.history.train_loss))
    assert trainer.step(5) == 0


def test_step_activation_reports_zero_gradients():
    assert Trainer(Setup(activation="step")).zero_gradient_reason
    assert Trainer(Setup(activation="tanh")).zero_gradient_reason is None


def test_reset_with_the_same_seed_restores_the_initial_weights():
    trainer = Trainer(Setup(seed=4))
    initial = trainer.network.params.copy()
    trainer.step(10)
    trainer.reset()
    assert np.array_equal(trainer.network.params, initial) and trainer.epoch == 0
    trainer.reset(seed=9)
    assert trainer.setup.seed == 9 and not np.array_equal(trainer.network.params, initial)


def test_set_weight_and_bias_change_the_prediction():
    trainer = Trainer(Setup())
    before = trainer.network.predict(trainer.x_test).copy()
    trainer.set_weight(0, 1, 2, 3.5)
    trainer.set_bias(1, 0, -1.25)
    assert trainer.network.weights[0][1, 2] == 3.5 and trainer.network.biases[1][0] == -1.25
    assert not np.allclose(before, trainer.network.predict(trainer.x_test))
    for bad in [dict(layer=3, source=0, target=0, value=1.0), dict(layer=0, source=2, target=0, value=1.0),
                dict(layer=0, source=0, target=0, value=float("nan"))]:
        with pytest.raises(ValueError):
            trainer.set_weight(**bad)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "random_search"])
def test_restored_trainer_continues_exactly(optimizer):
    setup = Setup(dataset="xor", noise=0.1, optimizer=optimizer, schedule="exponential",
                  regularization="l2", regularization_rate=0.001)
    original = Trainer(setup)
    original.step(7)
    restored = Trainer.from_dict(json.loads(json.dumps(original.to_dict())))
    original.step(6)
    restored.step(6)
    assert restored.history == original.history
    assert np.array_equal(restored.network.params, original.network.params)
    assert restored.to_dict() == original.to_dict()


def test_custom_data_round_trips():
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (40, 2))
    data = dataset_from_arrays(x, (x[:, 0] > 0).astype(float), "binary")
    trainer = Trainer(Setup(), data)
    trainer.step(3)
    restored = Trainer.from_dict(json.loads(json.dumps(trainer.to_dict())))
    assert np.array_equal(restored.dataset.x, x)


def test_snapshot_has_every_node_on_the_grid():
    trainer = Trainer(Setup(features=("x1", "x2", "x1x2"), hidden=(4, 2)))
    snap = trainer.snapshot(30)
    assert snap.output.shape == (30, 30)
    assert [m.shape for m in snap.node_maps] == [(3, 30, 30), (4, 30, 30), (2, 30, 30)]
    assert np.all((snap.output >= 0) & (snap.output <= 1))
    # the x1 input map grows along columns, not rows
    assert np.all(np.diff(snap.node_maps[0][0], axis=1) > 0)
    assert np.all(np.diff(snap.node_maps[0][0], axis=0) == 0)
    with pytest.raises(ValueError, match="grid_size"):
        trainer.snapshot(101)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(dataset="moon"), "dataset"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(learning_rate=-1), "learning_rate"),
        (dict(train_fraction=0.95), "train_fraction"),
        (dict(hidden=(4, 0)), "hidden"),
        (dict(features=()), "features"),
        (dict(features=("x1", "x3")), "feature"),
        (dict(activation="softmax"), "activation"),
        (dict(activation=("tanh",)), "activation"),
        (dict(optimizer="adam", optimizer_params={"beta1": 2.0}), "beta1"),
        (dict(schedule="cosine"), "schedule"),
        (dict(regularization="l3"), "regularization"),
        (dict(regularization_rate=float("inf")), "regularization"),
        (dict(batch_size=0), "batch_size"),
        (dict(seed=-1), "seed"),
        (dict(noise=0.7), "noise"),
        (dict(dataset="plane", loss="cross_entropy"), "cross_entropy"),
    ],
)
def test_invalid_setups_name_the_bad_value(changes, message):
    with pytest.raises(ValueError, match=message):
        Setup(**changes)


def test_a_smaller_learning_rate_lets_training_go_on_after_divergence():
    trainer = Trainer(Setup(dataset="plane", learning_rate=10.0))
    trainer.step(50)
    assert trainer.divergence is not None
    kept = trainer.network.params.copy()
    trainer.reconfigure(replace(trainer.setup, learning_rate=0.01))
    assert trainer.divergence is None
    assert np.array_equal(trainer.network.params, kept)
    assert trainer.step(5) == 5 and trainer.divergence is None


def test_snapshot_maps_match_a_float64_forward_pass():
    trainer = Trainer(Setup(dataset="spiral", features=RICH_FEATURES, hidden=(8, 8, 6)))
    trainer.step(20)
    snap = trainer.snapshot(40)
    grid = np.linspace(-6, 6, 40)
    x1, x2 = np.meshgrid(grid, grid)
    inputs = trainer.scaler.transform(feature_matrix(np.column_stack([x1.ravel(), x2.ravel()]), RICH_FEATURES))
    forward = trainer.network.forward(inputs)
    assert np.allclose(snap.output, forward.output.reshape(40, 40), atol=1e-5)
    for layer, activations in enumerate(forward.activations[:-1]):
        assert np.allclose(snap.node_maps[layer], activations.T.reshape(-1, 40, 40), atol=1e-4 * max(1, np.abs(activations).max()))


def test_a_thinned_history_loads_back_with_one_entry_an_epoch():
    """A saved model's long history is thinned (History.window); loaded, every epoch has an entry
    again and the kept entries are where they were, so the curve draws the same."""
    rng = np.random.default_rng(3)
    full = History.from_dict({name: rng.random(10_001).tolist()
                              for name in ("train_loss", "test_loss", "train_metric", "test_metric")})
    epochs, window = full.window(0, 200)
    assert epochs is not None and len(epochs) <= 200
    restored = History.from_dict({**window.to_dict(), "epochs": epochs})
    assert len(restored.train_loss) == 10_001
    for name in ("train_loss", "test_loss", "train_metric", "test_metric"):
        assert [getattr(restored, name)[e] for e in epochs] == list(getattr(window, name))
    for bad in ([1, *epochs[1:]], [0, *epochs[2:], epochs[-1]], epochs[:-1]):
        with pytest.raises(ValueError, match="epochs"):
            History.from_dict({**window.to_dict(), "epochs": bad})


def test_outputs_follow_the_weights_however_they_changed():
    """``outputs`` reuses the last evaluation's forward pass; it must never serve an old one."""
    trainer = Trainer(Setup(dataset="plane", learning_rate=10.0))

    def fresh():
        return np.concatenate([trainer.network.predict(trainer.x_train), trainer.network.predict(trainer.x_test)])

    def check():
        assert np.array_equal(trainer.outputs(), fresh())

    check()
    trainer.step(2)
    check()
    trainer.network.params[3] += 0.5  # as loading a saved model does, without an evaluation
    check()
    trainer.step(50)  # diverges: the evaluation saw the rejected weights, then the kept ones return
    assert trainer.divergence is not None
    check()
    trainer.reconfigure(replace(trainer.setup, noise=0.1))  # new data
    check()
