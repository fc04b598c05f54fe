"""The Trainer: data + network + optimizer + random generator + counters + history.

A ``Setup`` is the engine's whole description of a playground: what data, which features, what
network, how it learns, and the seed. The same Setup always gives the same data, the same initial
weights and the same training run, because every random draw comes from one of three streams
derived from the seed (data, initial weights, training order) — so changing, say, the network
never changes the data.
"""

from __future__ import annotations

import copy
import math
from array import array
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

import numpy as np

from engine.activations import ACTIVATIONS
from engine.datasets import (
    DATASETS,
    FEATURES,
    HALF_SIDE,
    MAX_NOISE,
    MAX_TRAIN_FRACTION,
    MIN_TRAIN_FRACTION,
    SCALER_METHODS,
    Dataset,
    Scaler,
    dataset_from_dict,
    dataset_to_dict,
    feature_matrix,
    make_dataset,
    shuffle_split,
)
from engine import tfpg
from engine.errors import InvalidValue
from engine.losses import (
    HALF_SQUARE,
    REGULARIZATIONS,
    add_penalty_gradient,
    check_loss,
    check_regularization,
    loss_terms,
    loss_value,
    mean_loss,
)
from engine.network import INITIALIZATIONS, Network
from engine.nongradient import NON_GRADIENT_METHODS, check_method_fits, non_gradient_epoch
from engine.optimizers import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule

Array = np.ndarray
MAX_GRID = 100
MAX_EDIT_VALUE = 1e6  # the largest weight or bias a student may type
# A growing training loss past this many times its start (or past this, if it started below 1)
# counts as diverged: stopped there, the kept weights are still ones training can go on from.
DIVERGENCE_FACTOR = 100.0
_DATA_STREAM, _INIT_STREAM, _TRAIN_STREAM = 0, 1, 2
STATE_VERSION = 1
OUTPUT_BY_PROBLEM = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


@dataclass(frozen=True)
class Setup:
    """Everything that defines a playground run. Invalid values raise ValueError on creation."""

    dataset: str = "circle"
    noise: float = 0.0
    n_samples: int | None = None
    n_classes: int = 3
    train_fraction: float = 0.5
    features: tuple[str, ...] = ("x1", "x2")
    preprocessing: str = "none"
    hidden: tuple[int, ...] = (4, 2)
    activation: str | tuple[str, ...] = "tanh"
    init: str = "xavier"
    loss: str = "auto"
    convention: str = "standard"  # or "tfpg": TensorFlow Playground's own set-up (engine/tfpg.py)
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    optimizer_params: Mapping[str, float] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_params: Mapping[str, float] = field(default_factory=dict)
    regularization: str = "none"
    regularization_rate: float = 0.0
    batch_size: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "hidden", tuple(int(n) for n in self.hidden))
        if not isinstance(self.activation, str):
            object.__setattr__(self, "activation", tuple(self.activation))
        object.__setattr__(self, "optimizer_params", dict(self.optimizer_params))
        object.__setattr__(self, "schedule_params", dict(self.schedule_params))
        _choice("dataset", self.dataset, DATASETS)
        _choice("preprocessing", self.preprocessing, SCALER_METHODS)
        _choice("init", self.init, INITIALIZATIONS)
        _choice("optimizer", self.optimizer, (*OPTIMIZERS, *NON_GRADIENT_METHODS))
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("convention", self.convention, tfpg.CONVENTIONS)
        for name in self.hidden_activations:
            _choice("activation", name, ACTIVATIONS)
        if not self.features or len(set(self.features)) != len(self.features):
            raise InvalidValue("features", f"features must be a non-empty list without repeats, got {self.features}")
        for name in self.features:
            _choice("feature", name, FEATURES)
        if any(n < 1 for n in self.hidden):
            raise InvalidValue("hidden", f"every hidden layer needs at least 1 neuron, got {self.hidden}")
        _number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        _number("train_fraction", self.train_fraction, low=MIN_TRAIN_FRACTION, high=MAX_TRAIN_FRACTION)
        _number("noise", self.noise, low=0.0, high=MAX_NOISE)
        check_regularization(self.regularization, self.regularization_rate)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise InvalidValue("batch_size", f"batch_size must be a whole number ≥ 1, got {self.batch_size!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InvalidValue("seed", f"seed must be a whole number ≥ 0, got {self.seed!r}")
        if self.convention == "tfpg":
            tfpg.check_fits(self.problem, self.loss, self.optimizer)
        if self.loss != "auto":
            check_loss(self.loss, self.output)
        check_method_fits(self.optimizer, self.hidden, self.problem)
        # The optimizer and schedule validate their own parameters (names and ranges).
        if self.optimizer in OPTIMIZERS:
            make_optimizer(self.optimizer, 1, **self.optimizer_params)
        elif self.optimizer_params:
            raise InvalidValue("optimizer_params",
                               f"{self.optimizer} takes no optimizer parameters, got {dict(self.optimizer_params)}")
        make_schedule(self.schedule, **self.schedule_params)

    @property
    def problem(self) -> str:
        return DATASETS[self.dataset].problem

    @property
    def output(self) -> str:
        return output_rule(self.problem, self.convention)

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        if isinstance(self.activation, str):
            return (self.activation,) * len(self.hidden)
        if len(self.activation) != len(self.hidden):
            raise InvalidValue(
                "activation",
                f"give one activation for all layers or one per hidden layer ({len(self.hidden)}), "
                f"got {len(self.activation)}"
            )
        return self.activation


def output_rule(problem: str, convention: str) -> str:
    """The output layer's rule for a problem: sigmoid, softmax or linear; tanh for two classes
    under TensorFlow Playground's set-up."""
    return (tfpg.OUTPUT_BY_PROBLEM if convention == "tfpg" else OUTPUT_BY_PROBLEM)[problem]


def _choice(what: str, value: Any, allowed: Any) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidValue(what, f"unknown {what} {value!r}; allowed: {', '.join(allowed)}", allowed)


def _number(what: str, value: Any, *, low: float, high: float | None = None, low_inclusive: bool = True,
            field: str | None = None) -> None:
    """Refuse a non-finite or out-of-range ``value``, named ``what`` in the message and ``field``
    (``what`` by default) in the error."""
    ok_type = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok_type or not np.isfinite(value):
        raise InvalidValue(field or what, f"{what} must be a finite number, got {value!r}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or (high is not None and value > high):
        bounds = f"{'≥' if low_inclusive else '>'} {low}" + (f" and ≤ {high}" if high is not None else "")
        raise InvalidValue(field or what, f"{what} must be {bounds}, got {value!r}")


@dataclass(frozen=True)
class Divergence:
    epoch: int
    reason: str


@dataclass
class History:
    """One entry per epoch, epoch 0 being the untrained network. The metric is accuracy for
    classification and R² for regression. Kept as compact float arrays (32 bytes an epoch, not
    the ~130 of lists of Python floats): a classroom server holds hundreds of these."""

    train_loss: array = field(default_factory=lambda: array("d"))
    test_loss: array = field(default_factory=lambda: array("d"))
    train_metric: array = field(default_factory=lambda: array("d"))
    test_metric: array = field(default_factory=lambda: array("d"))

    def append(self, values: tuple[float, float, float, float]) -> None:
        for series, value in zip(self._series(), values):
            series.append(value)

    def replace_last(self, values: tuple[float, float, float, float]) -> None:
        for series, value in zip(self._series(), values):
            series[-1] = value

    def _series(self) -> tuple[array, ...]:
        return self.train_loss, self.test_loss, self.train_metric, self.test_metric

    def window(self, start: int, max_points: int) -> tuple[list[int] | None, "History"]:
        """The entries from epoch ``start`` on, at most ``max_points`` of them (at least 3): a
        longer stretch is cut into equal buckets of epochs, each kept as its lowest and highest
        value of every series in the order they came (so a curve drawn through them shows every
        dip and spike), plus the last epoch as it is. Returns the epochs of the kept entries
        (None: every epoch from ``start``, one entry each) and the entries."""
        n = len(self.train_loss) - start
        if n <= max_points:
            return None, History(*(series[start:] for series in self._series()))
        size = -(-(n - 1) // ((max_points - 1) // 2))  # epochs a bucket (ceiling)
        buckets = -(-(n - 1) // size)
        firsts = start + size * np.arange(buckets)
        epochs = np.column_stack([firsts, np.minimum(firsts + size // 2, start + n - 2)]).ravel()
        kept = []
        for series in self._series():
            values = np.frombuffer(series, dtype=np.float64)
            body = np.resize(values[start:-1], buckets * size)  # the last bucket padded
            body[n - 1:] = values[-2]
            body = body.reshape(buckets, size)
            low, high = body.argmin(axis=1), body.argmax(axis=1)
            rows = np.arange(buckets)
            first = np.where(low <= high, body[rows, low], body[rows, high])
            second = np.where(low <= high, body[rows, high], body[rows, low])
            kept.append(array("d", [*np.column_stack([first, second]).ravel(), values[-1]]))
        return [*epochs.tolist(), start + n - 1], History(*kept)

    def to_dict(self) -> dict[str, list[float]]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> "History":
        """From ``to_dict``, or from the entries of ``window(0, ...)`` with their ``epochs`` (a long
        history saved thinned): then each epoch takes the last entry kept at or before it, so the
        history has one entry an epoch again and draws as the same curve."""
        series = {f.name: np.asarray(state[f.name], dtype=np.float64) for f in fields(cls)}
        if len({len(values) for values in series.values()}) != 1:
            raise InvalidValue("history", "the history's series must have one length")
        if state.get("epochs") is not None:
            kept = np.asarray(state["epochs"])
            if (kept.ndim != 1 or len(kept) != len(series["train_loss"]) or not len(kept) or kept[0] != 0
                    or np.any(np.diff(kept) <= 0)):
                raise InvalidValue("history", "the history's epochs must start at 0 and increase, one an entry")
            at = np.searchsorted(kept, np.arange(kept[-1] + 1), side="right") - 1
            series = {name: values[at] for name, values in series.items()}
        return cls(**{name: array("d", values.tolist()) for name, values in series.items()})


@dataclass
class Snapshot:
    """One moment of training, for drawing. Maps are sampled on a G×G grid over the input square
    [-HALF_SIDE, HALF_SIDE]²: row i has x2 = grid[i], column j has x1 = grid[j]. The maps are
    float32 (computed in float32 from the float64 weights: ample for colours, and about twice as
    fast); weights are float64."""

    epoch: int
    grid: Array
    output: Array  # (G, G), or (G, G, k) class probabilities for k classes
    node_maps: list[Array]  # per layer of nodes (inputs first, then hidden): (nodes, G, G)
    weights: list[Array]
    biases: list[Array]
    gradient_norms: list[float]


class Trainer:
    """Trains one network on one dataset, one epoch at a time. See ``docs/engine.md``."""

    def __init__(self, setup: Setup | None = None, data: Dataset | None = None):
        self.setup = setup or Setup()
        self._schedule = make_schedule(self.setup.schedule, **self.setup.schedule_params)  # validated once
        self.custom_data = data
        self._build_data()
        self._build_network()

    # -- building -----------------------------------------------------------------------------

    def _build_data(self) -> None:
        s = self.setup
        data_rng = np.random.default_rng([s.seed, _DATA_STREAM])
        if self.custom_data is not None:
            self.dataset = self.custom_data
        else:
            self.dataset = make_dataset(
                s.dataset, noise=s.noise, seed=int(data_rng.integers(2**31)),
                n_samples=s.n_samples, n_classes=s.n_classes,
            )
        self.train_data, self.test_data = shuffle_split(self.dataset, s.train_fraction, data_rng)
        # Train rows then test rows in one array (x_train and x_test are views into it), so that
        # evaluate() needs one forward pass for both sets.
        n_train = len(self.train_data.x)
        raw = feature_matrix(np.concatenate([self.train_data.x, self.test_data.x]), s.features)
        self.scaler = Scaler.fit(s.preprocessing, raw[:n_train])
        self._x_all = self.scaler.transform(raw)
        self._y_all = np.concatenate([self._encode(self.train_data), self._encode(self.test_data)])
        self.x_train, self.x_test = self._x_all[:n_train], self._x_all[n_train:]
        self.y_train, self.y_test = self._y_all[:n_train], self._y_all[n_train:]
        self._grids: dict[int, tuple[Array, Array]] = {}

    def _encode(self, data: Dataset) -> Array:
        if data.problem == "multiclass":
            return np.eye(data.n_classes)[data.y]
        y = data.y.reshape(-1, 1).astype(np.float64)
        return tfpg.signed_labels(y) if self.tf_playground and data.problem == "binary" else y

    @property
    def problem(self) -> str:
        return self.dataset.problem

    @property
    def tf_playground(self) -> bool:
        """Trained as TensorFlow Playground trains (engine/tfpg.py)."""
        return self.setup.convention == "tfpg"

    @property
    def output(self) -> str:
        return output_rule(self.problem, self.setup.convention)

    @property
    def decision_threshold(self) -> float:
        """Two classes: a point counts as class 1 where the output is at least this (the
        sigmoid's 0.5, or tanh's 0 with TF Playground's ±1 labels); targets split the same way."""
        return tfpg.DECISION_THRESHOLD if self.tf_playground else 0.5

    @property
    def loss_name(self) -> str:
        """The loss in use: 'auto' means cross-entropy for classes and MSE for regression
        (TF Playground's ½(o − t)² under its set-up)."""
        if self.tf_playground:
            return HALF_SQUARE
        if self.setup.loss != "auto":
            return self.setup.loss
        return "mse" if self.problem == "regression" else "cross_entropy"

    def _build_network(self) -> None:
        s = self.setup
        if self.tf_playground:  # (own data may be of another problem than the Setup's dataset)
            tfpg.check_fits(self.problem, s.loss, s.optimizer)
        check_loss(self.loss_name, self.output)
        check_method_fits(s.optimizer, s.hidden, self.problem)
        sizes = (len(s.features), *s.hidden, self.y_train.shape[1])
        init_rng = np.random.default_rng([s.seed, _INIT_STREAM])
        self.network = Network.create(sizes, s.hidden_activations, self.output, s.init, init_rng)
        self.rng = np.random.default_rng([s.seed, _TRAIN_STREAM])
        self._build_optimizer()
        # TF Playground's set-up only: training points whose derivatives wait for the next
        # epoch's first update, and the weights L1 has set to 0 for good (engine/tfpg.py).
        self.pending_rows = 0
        self.dead_weights = np.zeros(self.network.n_weights, dtype=bool)
        self.epoch = 0
        self.iteration = 0
        self.divergence: Divergence | None = None
        self.history = History()
        self.history.append(self.evaluate())

    def _build_optimizer(self) -> None:
        s = self.setup
        if s.optimizer in NON_GRADIENT_METHODS:
            self.optimizer = None
            return
        mask = np.arange(len(self.network.params)) < self.network.n_weights
        self.optimizer = make_optimizer(s.optimizer, len(self.network.params), mask, **s.optimizer_params)

    # -- changing -----------------------------------------------------------------------------

    def reconfigure(self, setup: Setup) -> str:
        """Move to ``setup``, rebuilding only what the change requires, and say what that was:
        'data' (new data and a new network), 'network' (new initial weights), 'optimizer' (same
        weights, fresh optimizer state), 'training' (same weights and optimizer state: learning
        rate, schedule, hyper-parameters, loss, regularisation, batch size) or 'nothing'.
        On ValueError nothing has changed."""
        old = self.setup
        changed = {f.name for f in fields(Setup) if getattr(old, f.name) != getattr(setup, f.name)}
        if not changed:
            return "nothing"
        candidate = Trainer.__new__(Trainer)
        candidate.__dict__.update(self.__dict__)
        candidate.setup = setup
        candidate._schedule = make_schedule(setup.schedule, **setup.schedule_params)
        # (the convention changes the targets, -1/+1 or 0/1, and the output rule)
        data_fields = {"dataset", "noise", "n_samples", "n_classes", "train_fraction", "seed",
                       "features", "preprocessing", "convention"}
        network_fields = {"hidden", "activation", "init"}
        if changed & data_fields:
            candidate._build_data()
            candidate._build_network()
            what = "data"
        elif changed & network_fields:
            candidate._build_network()
            what = "network"
        else:
            check_loss(candidate.loss_name, candidate.output)
            check_method_fits(setup.optimizer, setup.hidden, candidate.problem)
            if "optimizer" in changed:
                candidate._build_optimizer()
                what = "optimizer"
            else:
                if self.optimizer is not None and "optimizer_params" in changed:
                    candidate.optimizer = self.optimizer.with_hyper(**setup.optimizer_params)
                what = "training"
            # The weights kept after a divergence are finite: with new learning settings (a smaller
            # learning rate, say) training may go on from them.
            candidate.divergence = None
            if "loss" in changed:
                candidate.history = copy.deepcopy(self.history)
                candidate.history.replace_last(candidate.evaluate())
        self.__dict__.update(candidate.__dict__)
        return what

    def reset(self, seed: int | None = None) -> None:
        """Start again from the initial weights of ``seed`` (the current one by default).
        A new seed draws new data as well as new weights."""
        if seed is None or seed == self.setup.seed:
            self._build_network()
        else:  # the seed also draws the data, so this is a whole new start
            self.reconfigure(replace(self.setup, seed=seed))

    def set_weight(self, layer: int, source: int, target: int, value: float) -> None:
        """Set the weight of the edge from node ``source`` of layer ``layer`` to node ``target``
        of the next layer. The current losses are re-evaluated in place of the last ones."""
        self._check_layer(layer)
        w = self.network.weights[layer]
        _index("source", source, w.shape[0])
        _index("target", target, w.shape[1])
        _number("weight", value, low=-MAX_EDIT_VALUE, high=MAX_EDIT_VALUE, field="value")
        w[source, target] = value
        self.history.replace_last(self.evaluate())

    def set_bias(self, layer: int, node: int, value: float) -> None:
        """Set the bias of ``node`` in the layer that ``layer``'s weights lead into."""
        self._check_layer(layer)
        b = self.network.biases[layer]
        _index("node", node, b.shape[0])
        _number("bias", value, low=-MAX_EDIT_VALUE, high=MAX_EDIT_VALUE, field="value")
        b[node] = value
        self.history.replace_last(self.evaluate())

    def _check_layer(self, layer: int) -> None:
        _index("layer", layer, self.network.n_layers)

    # -- training -----------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next epoch, after the schedule."""
        return self._schedule(self.setup.learning_rate, self.epoch)

    @property
    def zero_gradient_reason(self) -> str | None:
        """Why gradient descent cannot learn here, or None when it can."""
        if self.optimizer is not None and self.network.blocked_by_step():
            return "the step activation has a zero derivative everywhere, so no gradient flows back"
        return None

    def step(self, epochs: int = 1) -> int:
        """Train ``epochs`` epochs (stopping early if training diverges); return how many ran."""
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise InvalidValue("epochs", f"epochs must be a whole number ≥ 0, got {epochs!r}")
        ran = 0
        with np.errstate(all="ignore"):
            for _ in range(epochs):
                if self.divergence is not None:
                    break
                self._one_epoch()
                ran += self.divergence is None
        return ran

    def next_epoch_order(self) -> Array:
        """The order in which the next epoch will take the training points (the generator is
        left as it is): a fresh shuffle, or the points' own order under TF Playground's set-up."""
        if self.tf_playground:
            return np.arange(len(self.x_train))
        return copy.deepcopy(self.rng).permutation(len(self.x_train))

    def _one_epoch(self) -> None:
        net, s = self.network, self.setup
        optimizer = None if self.optimizer is None else self.optimizer.copy()
        saved = (net.params.copy(), optimizer, self.rng.bit_generator.state, self.iteration,
                 self.pending_rows, self.dead_weights.copy())
        lr = self.learning_rate
        if self.tf_playground:
            self._tfpg_epoch(lr)
        else:
            self._shuffled_epoch(lr)
        values = self.evaluate()
        if self._diverged(values):
            net.params[:] = saved[0]
            self.optimizer = saved[1]
            self.rng.bit_generator.state = saved[2]
            self.iteration, self.pending_rows, self.dead_weights = saved[3:]
            net.grads[:] = 0.0  # the last gradients were not finite; they are not the kept state's
            self.divergence = Divergence(
                self.epoch + 1,
                f"the loss exploded or a weight became infinite or NaN at epoch {self.epoch + 1} "
                f"(learning rate {lr:g}); the weights of epoch {self.epoch} were kept",
            )
            return
        self.epoch += 1
        self.history.append(values)

    def _tfpg_epoch(self, lr: float) -> None:
        """An epoch as TF Playground trains: the training points in their order, its batches and
        its update rule (engine/tfpg.py)."""
        s, net, n = self.setup, self.network, len(self.x_train)
        batches, self.pending_rows = tfpg.epoch_batches(n, min(s.batch_size, n), self.pending_rows)
        for rows in batches:
            net._batch_gradient(self.x_train[rows], self.y_train[rows], self.loss_name)
            tfpg.update(net.params, net.grads, net.n_weights, self.dead_weights, lr, s.regularization,
                        s.regularization_rate)
        self.optimizer.steps += len(batches)
        self.iteration += len(batches)

    def _shuffled_epoch(self, lr: float) -> None:
        """An epoch over the training points in a fresh random order, with the chosen method."""
        net, s = self.network, self.setup
        order = self.rng.permutation(len(self.x_train))
        xs, ys = self.x_train[order], self.y_train[order]
        if self.optimizer is None:
            self.iteration += non_gradient_epoch(s.optimizer, self, xs, ys, lr)
        else:
            batch = len(xs) if s.optimizer == "gd" else min(s.batch_size, len(xs))
            penalty = s.regularization if s.regularization_rate > 0 else "none"
            if self.optimizer.compiled_epoch:  # the whole epoch in one compiled call
                steps = net._sgd_epoch(xs, ys, batch, self.loss_name, penalty, s.regularization_rate, lr)
                self.optimizer.steps += steps
                self.iteration += steps
            else:
                weights, weight_grads = net.params[: net.n_weights], net.grads[: net.n_weights]
                loss, step = self.loss_name, self.optimizer.step
                for start in range(0, len(xs), batch):
                    net._batch_gradient(xs[start : start + batch], ys[start : start + batch], loss)
                    if penalty != "none":
                        add_penalty_gradient(penalty, s.regularization_rate, weights, weight_grads)
                    step(net.params, net.grads, lr)
                    self.iteration += 1

    def _diverged(self, values: tuple[float, float, float, float]) -> bool:
        """Non-finite numbers, or a training loss that grew past DIVERGENCE_FACTOR times its
        start: caught early, the weights kept are not already astronomically large (a loss of
        1e225 that a smaller learning rate would never bring down)."""
        if not (all(map(math.isfinite, values)) and np.isfinite(self.network.params).all()):
            return True
        loss, previous = values[0], self.history.train_loss[-1]
        return loss > previous and loss > DIVERGENCE_FACTOR * max(1.0, self.history.train_loss[0])

    def batch_loss(self, x: Array, y: Array) -> float:
        """The data loss (no penalty) of the current weights on one batch."""
        forward = self.network.forward(x)
        return loss_value(self.loss_name, self.network.output, forward.zs[-1], forward.output, y)

    def evaluate(self) -> tuple[float, float, float, float]:
        """Train loss, test loss, train metric, test metric (accuracy, or R² for regression)."""
        forward = self.network.forward(self._x_all)  # both sets in one pass
        z, predicted, n = forward.zs[-1], forward.output, len(self.x_train)
        self._evaluated = (self.network.params.copy(), self._x_all, predicted)
        terms = loss_terms(self.loss_name, self.network.output, z, predicted, self._y_all)  # as batch_loss's
        return (mean_loss(terms[:n]), mean_loss(terms[n:]),
                self._metric(predicted[:n], self.y_train), self._metric(predicted[n:], self.y_test))

    def outputs(self) -> Array:
        """The network's outputs for the training points then the test points (``x_train`` and
        ``x_test``, one row each): those of the last ``evaluate`` while the weights and data are
        still the ones it saw (a frame after an epoch then costs no forward pass), else computed."""
        params, x, predicted = self._evaluated
        if x is not self._x_all or not np.array_equal(params, self.network.params):
            with np.errstate(all="ignore"):
                predicted = self.network.predict(self._x_all)
            self._evaluated = (self.network.params.copy(), self._x_all, predicted)
        return predicted

    def _metric(self, predicted: Array, y: Array) -> float:
        if self.problem == "regression":
            total = float(np.sum((y - y.mean()) ** 2))
            residual = float(np.sum((y - predicted) ** 2))
            return 1.0 - residual / total if total > 0 else 0.0
        if self.problem == "binary":
            threshold = self.decision_threshold
            return np.count_nonzero((predicted >= threshold) == (y >= threshold)) / len(y)
        return np.count_nonzero(predicted.argmax(axis=1) == y.argmax(axis=1)) / len(y)

    # -- drawing ------------------------------------------------------------------------------

    def snapshot(self, grid_size: int = 50) -> Snapshot:
        """Every node's map over the input square in one vectorised forward pass."""
        if not isinstance(grid_size, (int, np.integer)) or not 2 <= grid_size <= MAX_GRID:
            raise InvalidValue("grid_size", f"grid_size must be a whole number from 2 to {MAX_GRID}, got {grid_size!r}")
        grid, inputs = self._grid(grid_size)
        with np.errstate(all="ignore"):
            maps = self.network._grid_maps(inputs)
        g = grid_size
        node_maps = [m.reshape(len(m), g, g) for m in maps]
        output = node_maps.pop()
        weights, biases = self.network.copy_layers()
        return Snapshot(
            epoch=self.epoch,
            grid=grid,
            output=output[0] if len(output) == 1 else output.transpose(1, 2, 0),
            node_maps=node_maps,
            weights=weights,
            biases=biases,
            gradient_norms=self.network.gradient_norms(),
        )

    def _grid(self, grid_size: int) -> tuple[Array, Array]:
        if grid_size not in self._grids:
            grid = np.linspace(-HALF_SIDE, HALF_SIDE, grid_size)
            x1, x2 = np.meshgrid(grid, grid)
            points = np.column_stack([x1.ravel(), x2.ravel()])
            inputs = self.scaler.transform(feature_matrix(points, self.setup.features))
            # features × points in float32: the layout and precision Network._grid_maps draws with
            self._grids[grid_size] = (grid, np.ascontiguousarray(inputs.T, dtype=np.float32))
        return self._grids[grid_size]

    # -- saving -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict from which ``from_dict`` continues exactly where this trainer is."""
        return {**self.setup_dict(), **self.progress_dict(), "history": self.history.to_dict()}

    def setup_dict(self) -> dict[str, Any]:
        """The part of ``to_dict`` that only a rebuild changes: the set-up and the trainer's own data."""
        setup = asdict(self.setup)
        setup["features"], setup["hidden"] = list(setup["features"]), list(setup["hidden"])
        if not isinstance(setup["activation"], str):
            setup["activation"] = list(setup["activation"])
        custom = None if self.custom_data is None else dataset_to_dict(self.custom_data)
        return {"setup": setup, "custom_data": custom}

    def progress_dict(self) -> dict[str, Any]:
        """The part of ``to_dict`` that training changes, but for the history (which only grows,
        and a store may keep apart), with the state's format: a few hundred bytes whatever the epoch."""
        return {
            "version": STATE_VERSION,
            "params": self.network.params.tolist(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "divergence": None if self.divergence is None else asdict(self.divergence),
            "pending_rows": self.pending_rows,
            "dead_weights": np.flatnonzero(self.dead_weights).tolist(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> "Trainer":
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported trainer state version {state.get('version')!r}; expected {STATE_VERSION}")
        custom = state.get("custom_data")
        data = None if custom is None else dataset_from_dict(custom)
        trainer = cls(Setup(**state["setup"]), data)
        params = np.asarray(state["params"], dtype=np.float64)
        if params.shape != trainer.network.params.shape or not np.isfinite(params).all():
            raise ValueError(f"params must be {trainer.network.params.shape[0]} finite numbers")
        trainer.network.params[:] = params
        if trainer.optimizer is not None:
            trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.rng.bit_generator.state = state["rng"]
        trainer.epoch = int(state["epoch"])
        trainer.iteration = int(state["iteration"])
        trainer.history = History.from_dict(state["history"])
        trainer.divergence = None if state["divergence"] is None else Divergence(**state["divergence"])
        # (absent from states saved before TF Playground's set-up existed)
        pending = int(state.get("pending_rows", 0))
        if not 0 <= pending < len(trainer.x_train):
            raise ValueError(f"pending_rows must be from 0 to {len(trainer.x_train) - 1}")
        trainer.pending_rows = pending
        dead = np.asarray(state.get("dead_weights", []), dtype=np.int64)
        if dead.size and not (0 <= dead.min() and dead.max() < trainer.network.n_weights):
            raise ValueError(f"dead_weights must be weight indices from 0 to {trainer.network.n_weights - 1}")
        trainer.dead_weights[dead] = True
        return trainer


def compile_training() -> None:
    """Have Numba compile the training step now (or load it from its cache, engine/compiled.py):
    otherwise the first epoch a process trains carries seconds of compiling, which a server would
    count against that request's time budget. One tiny epoch down each compiled path."""
    for optimizer in ("sgd", "adam"):  # the whole-epoch SGD loop; the per-batch gradient
        Trainer(Setup(optimizer=optimizer)).step(1)


def _index(what: str, value: Any, size: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value < size:
        raise InvalidValue(what, f"{what} must be a whole number from 0 to {size - 1}, got {value!r}")
