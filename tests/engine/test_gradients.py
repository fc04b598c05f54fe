"""Backpropagation against central differences, for every activation, loss and penalty."""

import zlib

import numpy as np
import pytest

from engine import compiled
from engine.activations import ACTIVATIONS
from engine.losses import add_penalty_gradient, loss_value, output_gradient, penalty
from engine.network import Network

DIFFERENTIABLE = [name for name, a in ACTIVATIONS.items() if a.learns_by_gradient]
# (output rule, loss, number of outputs)
HEADS = [("sigmoid", "mse", 1), ("sigmoid", "cross_entropy", 1), ("softmax", "mse", 3),
         ("softmax", "cross_entropy", 3), ("linear", "mse", 1),
         ("tanh", "half_square", 1), ("linear", "half_square", 1)]  # TensorFlow Playground's set-up


def _targets(output: str, n_out: int, m: int, rng: np.random.Generator) -> np.ndarray:
    if output == "sigmoid":
        return rng.integers(0, 2, (m, 1)).astype(float)
    if output == "tanh":  # TensorFlow Playground's labels
        return rng.choice([-1.0, 1.0], (m, 1))
    if output == "softmax":
        return np.eye(n_out)[rng.integers(0, n_out, m)]
    return rng.normal(size=(m, 1))


def _objective(net: Network, x, y, loss, reg, rate) -> float:
    fp = net.forward(x)
    return loss_value(loss, net.output, fp.zs[-1], fp.output, y) + penalty(reg, rate, net.params[: net.n_weights])


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@pytest.mark.parametrize("output,loss,n_out", HEADS)
@pytest.mark.parametrize("reg", ["none", "l1", "l2"])
def test_backprop_matches_central_differences(activation, output, loss, n_out, reg):
    rng = np.random.default_rng(zlib.crc32(f"{activation}/{output}/{loss}/{reg}".encode()))
    sizes = (3, 4, 3, n_out)
    net = Network.create(sizes, [activation, activation], output, "xavier", rng)
    net.params[:] = rng.normal(0.0, 0.8, net.params.shape)  # biases too, away from kinks
    x = rng.normal(size=(7, 3))
    y = _targets(output, n_out, 7, rng)
    rate = 0.05

    fp = net.forward(x)
    net.backward(fp, output_gradient(loss, output, fp.zs[-1], fp.output, y))
    add_penalty_gradient(reg, rate, net.params[: net.n_weights], net.grads[: net.n_weights])
    analytic = net.grads.copy()

    numeric = np.empty_like(analytic)
    h = 1e-6
    for i in range(len(net.params)):
        saved = net.params[i]
        net.params[i] = saved + h
        up = _objective(net, x, y, loss, reg, rate)
        net.params[i] = saved - h
        down = _objective(net, x, y, loss, reg, rate)
        net.params[i] = saved
        numeric[i] = (up - down) / (2 * h)

    relative = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    assert relative < 1e-6, f"relative error {relative:.2e}"


def test_step_activation_is_flagged_and_has_zero_gradient():
    rng = np.random.default_rng(0)
    net = Network.create((2, 3, 1), ["step"], "sigmoid", "xavier", rng)
    x = rng.normal(size=(5, 2))
    fp = net.forward(x)
    net.backward(fp, output_gradient("mse", "sigmoid", fp.zs[-1], fp.output, np.ones((5, 1))))
    assert net.blocked_by_step()
    assert np.all(net.grad_weights[0] == 0.0)
    assert np.any(net.grad_weights[1] != 0.0)


def test_stable_cross_entropy_for_extreme_logits():
    z = np.array([[1000.0], [-1000.0]])
    y = np.array([[1.0], [0.0]])
    a = 0.5 * (1 + np.tanh(0.5 * z))
    assert loss_value("cross_entropy", "sigmoid", z, a, y) == pytest.approx(0.0, abs=1e-12)
    assert loss_value("cross_entropy", "sigmoid", z, a, 1 - y) == pytest.approx(1000.0)
    logits = np.array([[1000.0, -1000.0, 0.0]])
    probs = np.exp(logits - logits.max()); probs /= probs.sum()
    assert np.isfinite(loss_value("cross_entropy", "softmax", logits, probs, np.array([[0.0, 1.0, 0.0]])))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("output,loss,n_out", HEADS)
def test_the_training_step_computes_the_same_gradient_as_backward(activation, output, loss, n_out):
    """Training uses the compiled ``_batch_gradient``; it must agree with the
    forward/backward pair that the central differences above check."""
    rng = np.random.default_rng(zlib.crc32(f"fast/{activation}/{output}/{loss}".encode()))
    net = Network.create((3, 4, 3, n_out), [activation, activation], output, "xavier", rng)
    net.params[:] = rng.normal(0.0, 0.8, net.params.shape)
    x = rng.normal(size=(7, 3))
    y = _targets(output, n_out, 7, rng)
    fp = net.forward(x)
    net.backward(fp, output_gradient(loss, output, fp.zs[-1], fp.output, y))
    expected = net.grads.copy()
    net.grads[:] = np.nan
    net._batch_gradient(x, y, loss)
    np.testing.assert_allclose(net.grads, expected, rtol=1e-12, atol=1e-14)


def _readable_sgd_epoch(net: Network, xs, ys, batch, loss, reg, rate, lr) -> int:
    """An SGD epoch written with the readable forward/backward, the penalty and the update rule."""
    steps = 0
    for start in range(0, len(xs), batch):
        x, y = xs[start : start + batch], ys[start : start + batch]
        fp = net.forward(x)
        net.backward(fp, output_gradient(loss, net.output, fp.zs[-1], fp.output, y))
        add_penalty_gradient(reg, rate, net.params[: net.n_weights], net.grads[: net.n_weights])
        net.params -= lr * net.grads
        steps += 1
    return steps


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("output,loss,n_out", HEADS)
@pytest.mark.parametrize("reg", ["none", "l1", "l2"])
def test_the_compiled_sgd_epoch_follows_forward_backward_and_the_sgd_rule(activation, output, loss, n_out, reg):
    """The trainer runs whole SGD epochs in engine.compiled; after an epoch of 23 rows in
    batches of 5 (the last one smaller) the weights agree with the readable code's."""
    rng = np.random.default_rng(zlib.crc32(f"epoch/{activation}/{output}/{loss}/{reg}".encode()))
    sizes = (3, 4, 3, n_out)
    readable = Network.create(sizes, [activation, activation], output, "xavier", rng)
    readable.params[:] = rng.normal(0.0, 0.8, readable.params.shape)
    start = readable.params.copy()
    fused = Network(sizes, [activation, activation], output, start)
    xs = rng.normal(size=(23, 3))
    ys = _targets(output, n_out, 23, rng)
    expected_steps = _readable_sgd_epoch(readable, xs, ys, 5, loss, reg, 0.05, 0.1)
    assert fused._sgd_epoch(xs, ys, 5, loss, reg, 0.05, 0.1) == expected_steps == 5
    assert np.abs(readable.params - start).max() > 1e-3  # it trained
    np.testing.assert_allclose(fused.params, readable.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fused.grads, readable.grads, rtol=1e-12, atol=1e-14)


def _readable_random_search_epoch(net: Network, xs, ys, batch, loss, reg, rate, lr, noise) -> tuple[int, int]:
    """Random search written with the readable forward pass, ``loss_value`` and ``penalty``: the
    proposals made and how many were kept."""
    proposals = kept = 0
    for start in range(0, len(xs), batch):
        x, y = xs[start : start + batch], ys[start : start + batch]
        current = _objective(net, x, y, loss, reg, rate)
        previous = net.params.copy()
        net.params += lr * noise[proposals]
        if _objective(net, x, y, loss, reg, rate) >= current:
            net.params[:] = previous
        else:
            kept += 1
        proposals += 1
    return proposals, kept


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("output,loss,n_out", HEADS)
@pytest.mark.parametrize("reg", ["none", "l1", "l2"])
def test_the_compiled_random_search_epoch_follows_the_readable_rule(activation, output, loss, n_out, reg):
    """Random search runs compiled (engine.nongradient); over 40 rows in batches of 3 (the last one
    smaller) it keeps the same proposals as the rule written with the readable code."""
    rng = np.random.default_rng(zlib.crc32(f"search/{activation}/{output}/{loss}/{reg}".encode()))
    sizes = (3, 4, 3, n_out)
    readable = Network.create(sizes, [activation, activation], output, "xavier", rng)
    start = readable.params.copy()
    fused = Network(sizes, [activation, activation], output, start)
    xs = rng.normal(size=(40, 3))
    ys = _targets(output, n_out, 40, rng)
    noise = rng.standard_normal((14, len(start)))
    proposals, kept = _readable_random_search_epoch(readable, xs, ys, 3, loss, reg, 0.01, 0.1, noise)
    assert fused._random_search_epoch(xs, ys, 3, loss, reg, 0.01, 0.1, noise) == proposals == 14
    if activation != "step":  # (a step network's loss rarely moves: then nothing may be kept)
        assert 0 < kept < proposals
    np.testing.assert_allclose(fused.params, readable.params, rtol=1e-12, atol=1e-14)


def test_the_compiled_tanh_is_within_two_units_in_the_last_place_of_numpys():
    z = np.concatenate([np.logspace(-300, 3, 2000), [0.0, 0.5, np.nextafter(0.5, 0.0), np.inf]])
    z = np.concatenate([z, -z])
    ours = np.array([compiled._tanh(v) for v in z])
    theirs = np.tanh(z)
    assert np.all(np.abs(ours - theirs) <= 2 * np.spacing(np.abs(theirs)))
    assert np.isnan(compiled._tanh(np.nan))
