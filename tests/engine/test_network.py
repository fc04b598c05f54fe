"""The initialisations: what each one draws, as docs/engine.md describes them."""

import numpy as np

from engine.network import Network, initial_params

SIZES = (3, 40, 30, 2)  # big enough for the draws' ranges and means to show


def _split(params: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    net = Network(SIZES, ["tanh", "tanh"], "softmax", params)
    return net.weights, net.biases


def test_xavier_is_glorot_uniform_with_zero_biases():
    weights, biases = _split(initial_params(SIZES, "xavier", np.random.default_rng(0)))
    for w in weights:
        limit = np.sqrt(6.0 / sum(w.shape))
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert all(np.all(b == 0.0) for b in biases)


def test_he_is_normal_with_standard_deviation_sqrt_2_over_fan_in():
    weights, biases = _split(initial_params(SIZES, "he", np.random.default_rng(0)))
    std = weights[1].std()  # 1200 draws from N(0, 2/40)
    assert abs(std - np.sqrt(2.0 / 40)) < 0.1 * np.sqrt(2.0 / 40)
    assert all(np.all(b == 0.0) for b in biases)


def test_uniform_draws_weights_and_biases_from_zero_to_one():
    params = initial_params(SIZES, "uniform", np.random.default_rng(0))
    assert params.min() >= 0.0 and params.max() < 1.0
    assert abs(params.mean() - 0.5) < 0.05
    _, biases = _split(params)
    assert len(set(np.concatenate(biases))) == sum(SIZES[1:])  # biases are drawn too, not constant


def test_playground_draws_weights_within_a_half_and_sets_biases_to_a_tenth():
    weights, biases = _split(initial_params(SIZES, "playground", np.random.default_rng(0)))
    flat = np.concatenate([w.ravel() for w in weights])
    assert flat.min() >= -0.5 and flat.max() < 0.5 and flat.min() < -0.45 and flat.max() > 0.45
    assert all(np.all(b == 0.1) for b in biases)


def test_zeros_sets_everything_to_zero():
    params = initial_params(SIZES, "zeros", np.random.default_rng(0))
    assert params.shape == (sum(i * o for i, o in zip(SIZES, SIZES[1:])) + sum(SIZES[1:]),)
    assert np.all(params == 0.0)
