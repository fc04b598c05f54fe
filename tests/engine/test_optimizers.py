"""Update rules and schedules: validation, convergence, state round-trips, hand-computed values."""

import json
import math

import numpy as np
import pytest

from engine.optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    make_optimizer,
    make_schedule,
    optimizer_from_state,
)

# A learning rate per rule that makes 200 steps on the quadratic below clearly productive.
LEARNING_RATES = {
    "gd": 0.05,
    "sgd": 0.05,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.5,
    "rmsprop": 0.01,
    "adam": 0.05,
    "adamw": 0.05,
}


def quadratic(seed: int = 0, n: int = 6):
    """f(w) = ½‖Aw − b‖², a convex problem with a known gradient Aᵀ(Aw − b)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n + 2, n))
    b = rng.normal(size=n + 2)
    return (lambda w: 0.5 * np.sum((a @ w - b) ** 2)), (lambda w: a.T @ (a @ w - b)), rng.normal(size=n)


def run(optimizer, params, grad, steps, lr=0.01):
    for _ in range(steps):
        optimizer.step(params, grad(params), lr)
    return params


def test_registry_covers_the_brief():
    assert list(OPTIMIZERS) == list(LEARNING_RATES)
    assert {n: {p.name: p.default for p in s.hyper} for n, s in OPTIMIZERS.items()} == {
        "gd": {},
        "sgd": {},
        "momentum": {"momentum": 0.9},
        "nesterov": {"momentum": 0.9},
        "adagrad": {"eps": 1e-10},
        "rmsprop": {"alpha": 0.99, "eps": 1e-8},
        "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
    }
    assert list(SCHEDULES) == ["constant", "step", "exponential", "inverse_time"]


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: make_optimizer("adamax", 3), ["'adamax'", "adam", "rmsprop"]),
        (lambda: make_optimizer("adam", 3, beta3=0.5), ["'beta3'", "beta1, beta2, eps"]),
        (lambda: make_optimizer("sgd", 3, momentum=0.9), ["'momentum'", "none"]),
        (lambda: make_optimizer("adam", 3, beta1=math.nan), ["beta1", "nan", "[0, 0.999]"]),
        (lambda: make_optimizer("momentum", 3, momentum=math.inf), ["momentum", "inf"]),
        (lambda: make_optimizer("rmsprop", 3, alpha=1.5), ["alpha", "1.5", "[0, 0.9999]"]),
        (lambda: make_optimizer("adagrad", 3, eps=-1.0), ["eps", "-1.0"]),
        (lambda: make_optimizer("adam", 3, eps="big"), ["eps", "'big'"]),
        (lambda: make_optimizer("adamw", 3, weight_decay=True), ["weight_decay", "True"]),
        (lambda: make_optimizer("adam", 0), ["n_params", "0"]),
        (lambda: make_optimizer("adamw", 3, decay_mask=np.array([1, 0])), ["decay_mask", "3"]),
        (lambda: make_optimizer("adamw", 2, decay_mask=np.array([1, 2])), ["decay_mask", "0 or 1"]),
        (lambda: make_optimizer("sgd", 2).step(np.zeros(2), np.zeros(2), -0.1), ["learning rate", "-0.1"]),
        (lambda: make_optimizer("sgd", 2).step(np.zeros(2), np.zeros(2), math.nan), ["learning rate", "nan"]),
        (lambda: make_schedule("cosine"), ["'cosine'", "constant, step, exponential, inverse_time"]),
        (lambda: make_schedule("step", step_size=0), ["step_size", "integer", "[1, 100000]"]),
        (lambda: make_schedule("step", step_size=2.5), ["step_size", "2.5"]),
        (lambda: make_schedule("exponential", gamma=1.01), ["gamma", "1.01", "[0, 1]"]),
        (lambda: make_schedule("inverse_time", gamma=0.5), ["'gamma'", "decay"]),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, named):
    with pytest.raises(ValueError) as error:
        call()
    for text in named:
        assert text in str(error.value)


def test_a_rejected_change_leaves_the_optimizer_untouched():
    optimizer = make_optimizer("adam", 2)
    with pytest.raises(ValueError, match="beta2"):
        optimizer.with_hyper(beta1=0.5, beta2=2.0)
    assert optimizer.hyper == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_rule_decreases_a_convex_quadratic(name):
    loss, grad, w0 = quadratic()
    w = run(make_optimizer(name, w0.size), w0.copy(), grad, 200, LEARNING_RATES[name])
    assert loss(w) < 0.5 * loss(w0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_restored_optimizer_continues_identically(name):
    _, grad, w0 = quadratic(seed=1)
    mask = np.array([1, 1, 0, 1, 0, 1])
    original = make_optimizer(name, w0.size, decay_mask=mask)
    w = run(original, w0.copy(), grad, 7)
    state = json.loads(json.dumps(original.state_dict()))
    restored = optimizer_from_state(state)
    loaded = make_optimizer(name, w0.size)
    loaded.load_state_dict(state)
    expected = run(original, w.copy(), grad, 10)
    np.testing.assert_array_equal(run(restored, w.copy(), grad, 10), expected)
    np.testing.assert_array_equal(run(loaded, w.copy(), grad, 10), expected)


def test_load_state_dict_refuses_another_optimizer_and_changes_nothing():
    adam = make_optimizer("adam", 3)
    adam.step(np.zeros(3), np.ones(3), 0.1)
    before = adam.state_dict()
    with pytest.raises(ValueError, match="'rmsprop' with 3 parameters"):
        adam.load_state_dict(make_optimizer("rmsprop", 3).state_dict())
    with pytest.raises(ValueError, match="exp_avg"):
        adam.load_state_dict({**before, "buffers": {"exp_avg": [0.0] * 3}})
    assert adam.state_dict() == before


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_with_hyper_keeps_the_moments(name):
    _, grad, w0 = quadratic(seed=2)
    trained = make_optimizer(name, w0.size)
    w = run(trained, w0.copy(), grad, 5)
    eps = {"eps": 1e-6} if "eps" in trained.hyper else {"momentum": 0.5}
    changed = trained.with_hyper(**eps)
    assert changed.hyper == {**trained.hyper, **eps}
    assert changed.state_dict()["buffers"] == trained.state_dict()["buffers"]
    fresh = make_optimizer(name, w0.size, **eps)
    assert not np.array_equal(run(changed, w.copy(), grad, 1), run(fresh, w.copy(), grad, 1))


def test_adamw_decays_only_masked_in_entries():
    params = np.array([1.0, -2.0, 3.0, 4.0])
    adamw = make_optimizer("adamw", 4, decay_mask=np.array([True, False, True, False]), weight_decay=0.5)
    for _ in range(3):
        adamw.step(params, np.zeros(4), 0.1)
    np.testing.assert_allclose(params, [1.0 * 0.95**3, -2.0, 3.0 * 0.95**3, 4.0], rtol=1e-15)


def test_adamw_without_a_mask_decays_everything():
    params = np.array([1.0, -2.0])
    make_optimizer("adamw", 2, weight_decay=0.5).step(params, np.zeros(2), 0.1)
    np.testing.assert_allclose(params, [0.95, -1.9], rtol=1e-15)


@pytest.mark.parametrize(
    ("schedule", "params", "epoch", "expected"),
    [
        ("constant", {}, 500, 0.1),
        ("step", {}, 99, 0.1),
        ("step", {}, 100, 0.05),
        ("step", {}, 250, 0.025),
        ("step", {"step_size": 3, "gamma": 0.1}, 7, 0.001),
        ("exponential", {}, 2, 0.1 * 0.9801),
        ("exponential", {"gamma": 0.5}, 3, 0.0125),
        ("inverse_time", {}, 100, 0.05),
        ("inverse_time", {"decay": 0.5}, 6, 0.025),
    ],
)
def test_schedule_values(schedule, params, epoch, expected):
    assert make_schedule(schedule, **params)(0.1, epoch) == pytest.approx(expected, rel=1e-12)
