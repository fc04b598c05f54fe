"""Every update rule and schedule against torch.optim, the reference the playground teaches from.

Gradients depend on the parameters (logistic regression, then a small MLP), so any difference in
a rule or its state would make the trajectories drift apart; float64 in both lets us demand
agreement to rounding error.
"""

import numpy as np
import pytest

from engine.losses import output_gradient
from engine.network import Network
from engine.optimizers import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from engine.trainer import Setup, Trainer

torch = pytest.importorskip("torch", reason="PyTorch is a test-only extra (pip install '.[parity]'); .ci/run installs it")
F = torch.nn.functional

TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
LR = {"gd": 0.5, "sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.3, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05}
# Non-default values, so a hyper-parameter wired to the wrong torch argument shows.
CUSTOM = {
    "momentum": {"momentum": 0.7},
    "nesterov": {"momentum": 0.6},
    "adagrad": {"eps": 1e-3},
    "rmsprop": {"alpha": 0.9, "eps": 1e-4},
    "adam": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-4},
    "adamw": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-4, "weight_decay": 0.3},
}
SCHEDULE_PARAMS = {"constant": {}, "step": {"step_size": 2, "gamma": 0.5}, "exponential": {"gamma": 0.8},
                   "inverse_time": {"decay": 0.3}}


def torch_optimizer(name, groups, lr, hyper):
    """The torch.optim equivalent of our `name`; `groups` is [decayed tensors, undecayed tensors]."""
    h = {p.name: p.default for p in OPTIMIZERS[name].hyper} | hyper
    if name in ("gd", "sgd", "momentum", "nesterov"):
        return torch.optim.SGD(sum(groups, []), lr=lr, momentum=h.get("momentum", 0.0), nesterov=name == "nesterov")
    if name == "adagrad":
        return torch.optim.Adagrad(sum(groups, []), lr=lr, eps=h["eps"])
    if name == "rmsprop":
        return torch.optim.RMSprop(sum(groups, []), lr=lr, alpha=h["alpha"], eps=h["eps"])
    betas = (h["beta1"], h["beta2"])
    if name == "adam":
        return torch.optim.Adam(sum(groups, []), lr=lr, betas=betas, eps=h["eps"])
    decayed, undecayed = groups
    return torch.optim.AdamW(
        [{"params": decayed}, {"params": undecayed, "weight_decay": 0.0}],
        lr=lr, betas=betas, eps=h["eps"], weight_decay=h["weight_decay"],
    )


def torch_schedule(name, optimizer, params):
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=params["step_size"], gamma=params["gamma"])
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=params["gamma"])
    if name == "inverse_time":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + params["decay"] * epoch))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


class Logistic:
    """Logistic regression on fixed random data: flat params are [w (4), b (1)], w decayed, b not."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(30, 4))
        self.y = (self.x @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=30) > 0).astype(float)
        self.params = rng.normal(size=5)
        self.decay_mask = np.array([1, 1, 1, 1, 0])

    def grad(self, params):
        p = 1.0 / (1.0 + np.exp(-(self.x @ params[:4] + params[4])))
        return np.append(self.x.T @ (p - self.y), np.sum(p - self.y)) / len(self.y)

    def torch_tensors(self):
        return [[torch.tensor(self.params[:4], requires_grad=True)], [torch.tensor(self.params[4:], requires_grad=True)]]

    def torch_backward(self, groups):
        (w,), (b,) = groups
        z = torch.from_numpy(self.x) @ w + b
        F.binary_cross_entropy_with_logits(z, torch.from_numpy(self.y)).backward()

    @staticmethod
    def flat(groups):
        return np.concatenate([t.detach().numpy() for group in groups for t in group])


def assert_same_trajectory(name, hyper, lrs, changes=None):
    """Run both frameworks with learning rate lrs[k] at step k; apply `changes` halfway."""
    problem = Logistic()
    ours = make_optimizer(name, 5, decay_mask=problem.decay_mask, **hyper)
    params = problem.params.copy()
    groups = problem.torch_tensors()
    theirs = torch_optimizer(name, groups, lrs[0], hyper)
    for k, lr in enumerate(lrs):
        if changes and k == len(lrs) // 2:
            ours = ours.with_hyper(**changes)
            for group, decayed in zip(theirs.param_groups, (True, False)):
                group.update(torch_hyper(changes, decayed))
        ours.step(params, problem.grad(params), lr)
        for group in theirs.param_groups:
            group["lr"] = lr
        theirs.zero_grad()
        problem.torch_backward(groups)
        theirs.step()
        np.testing.assert_allclose(params, problem.flat(groups), **TOLERANCE, err_msg=f"step {k}")
    assert np.abs(params - problem.params).max() > 1e-3  # the run really moved


def torch_hyper(changes, decayed):
    """Our hyper-parameter names as a torch param-group update; the bias group keeps no decay."""
    h = dict(changes)
    if "beta1" in h:
        h["betas"] = (h.pop("beta1"), h.pop("beta2"))
    if "weight_decay" in h and not decayed:
        h["weight_decay"] = 0.0
    return h


GRADIENT_RULES = list(OPTIMIZERS)


@pytest.mark.parametrize("custom", [False, True], ids=["defaults", "custom"])
@pytest.mark.parametrize("name", GRADIENT_RULES)
def test_rule_matches_torch(name, custom):
    hyper = CUSTOM.get(name, {}) if custom else {}
    assert_same_trajectory(name, hyper, [LR[name]] * 8)


@pytest.mark.parametrize("name", CUSTOM)
def test_changing_hyper_mid_run_matches_torch(name):
    """torch keeps its state when a param group's hyper-parameters change; with_hyper must too."""
    assert_same_trajectory(name, {}, [LR[name]] * 10, changes=CUSTOM[name])


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", GRADIENT_RULES)
def test_schedule_matches_torch_lr_scheduler(name, schedule):
    """One update per epoch; torch's scheduler steps once per epoch after the optimizer."""
    params = SCHEDULE_PARAMS[schedule]
    problem = Logistic(seed=1)
    ours = make_optimizer(name, 5, decay_mask=problem.decay_mask)
    flat = problem.params.copy()
    groups = problem.torch_tensors()
    theirs = torch_optimizer(name, groups, LR[name], {})
    scheduler = torch_schedule(schedule, theirs, params)
    lr_at = make_schedule(schedule, **params)
    for epoch in range(8):
        lr = lr_at(LR[name], epoch)
        assert lr == pytest.approx(theirs.param_groups[0]["lr"], rel=1e-12)
        ours.step(flat, problem.grad(flat), lr)
        theirs.zero_grad()
        problem.torch_backward(groups)
        theirs.step()
        scheduler.step()
        np.testing.assert_allclose(flat, problem.flat(groups), **TOLERANCE, err_msg=f"epoch {epoch}")


# ---- the whole network: engine.network + engine.losses against the same MLP written in torch ----

HEADS = [("sigmoid", "cross_entropy", 1), ("softmax", "cross_entropy", 3), ("linear", "mse", 1)]


def targets(output, n_out, rng):
    if output == "softmax":
        return np.eye(n_out)[rng.integers(0, n_out, 16)]
    if output == "sigmoid":
        return rng.integers(0, 2, (16, 1)).astype(float)
    return rng.normal(size=(16, 1))


def torch_loss(output, z, y):
    if output == "sigmoid":
        return F.binary_cross_entropy_with_logits(z, y)
    if output == "softmax":
        return F.cross_entropy(z, y.argmax(dim=1))
    return F.mse_loss(z, y)


@pytest.mark.parametrize("head", HEADS, ids=[h[0] for h in HEADS])
@pytest.mark.parametrize("name", GRADIENT_RULES)
def test_network_training_matches_torch(name, head):
    output, loss, n_out = head
    rng = np.random.default_rng(7)
    net = Network.create((2, 5, 4, n_out), ["tanh", "relu"], output, "xavier", rng)
    net.params[net.n_weights:] = rng.normal(0.0, 0.1, net.params.size - net.n_weights)
    start = net.params.copy()
    x, y = rng.normal(size=(16, 2)), targets(output, n_out, rng)
    weights = [torch.tensor(w, requires_grad=True) for w in net.weights]
    biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
    hidden = [torch.tanh, torch.relu]
    theirs = torch_optimizer(name, [weights, biases], LR[name], {})
    ours = make_optimizer(name, net.params.size, decay_mask=np.arange(net.params.size) < net.n_weights)

    for _ in range(5):
        fp = net.forward(x)
        net.backward(fp, output_gradient(loss, output, fp.zs[-1], fp.output, y))
        ours.step(net.params, net.grads, LR[name])

        z = torch.from_numpy(x) @ weights[0] + biases[0]
        for activation, w, b in zip(hidden, weights[1:], biases[1:]):
            z = activation(z) @ w + b
        theirs.zero_grad()
        torch_loss(output, z, torch.from_numpy(y)).backward()
        theirs.step()

    for ours_w, theirs_w in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours_w, theirs_w.detach().numpy(), **TOLERANCE)
    assert np.abs(net.params - start).max() > 1e-3


# ---- the whole Trainer: mini-batches in its shuffled order, an L2 penalty and a schedule ---------


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", GRADIENT_RULES)
def test_trainer_epochs_match_torch(name, schedule):
    rate = 0.01
    trainer = Trainer(Setup(dataset="xor", noise=0.1, hidden=(4, 2), optimizer=name, learning_rate=LR[name],
                            schedule=schedule, schedule_params=SCHEDULE_PARAMS[schedule],
                            regularization="l2", regularization_rate=rate, batch_size=50, seed=3))
    net = trainer.network
    weights = [torch.tensor(w, requires_grad=True) for w in net.weights]
    biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
    theirs = torch_optimizer(name, [weights, biases], LR[name], {})
    scheduler = torch_schedule(schedule, theirs, SCHEDULE_PARAMS[schedule])
    x, y = torch.from_numpy(trainer.x_train), torch.from_numpy(trainer.y_train)
    batch_size = len(x) if name == "gd" else 50  # "gd" is full-batch whatever the batch size

    for _ in range(3):
        shuffle = np.random.Generator(np.random.PCG64())
        shuffle.bit_generator.state = trainer.rng.bit_generator.state  # the order the trainer will use
        order = torch.from_numpy(shuffle.permutation(len(x)))
        trainer.step(1)
        for batch in order.split(batch_size):
            z = x[batch] @ weights[0] + biases[0]
            for w, b in zip(weights[1:], biases[1:]):
                z = torch.tanh(z) @ w + b
            penalty = 0.5 * rate * sum((w * w).sum() for w in weights)
            theirs.zero_grad()
            (F.binary_cross_entropy_with_logits(z, y[batch]) + penalty).backward()
            theirs.step()
        scheduler.step()

    assert trainer.iteration == 3 * -(-len(x) // batch_size)
    for ours_w, theirs_w in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours_w, theirs_w.detach().numpy(), **TOLERANCE)
