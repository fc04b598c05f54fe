"""Update rules and learning-rate schedules, one registry each.

The network keeps every weight and bias in one flat float64 vector, and its gradient in another,
so each rule here is a handful of in-place NumPy calls on flat arrays with buffers allocated once:
that keeps the per-step Python overhead small enough to beat PyTorch on tiny networks. The rules
follow torch.optim's formulas and order of operations, so the parity tests can demand agreement
to rounding error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.errors import InvalidValue


@dataclass(frozen=True)
class HyperParam:
    """A tunable number with its default and the inclusive range the engine accepts."""

    name: str
    default: float
    minimum: float
    maximum: float
    integer: bool = False

    def validate(self, value: object, owner: str) -> float | int:
        """Return `value` as a float (an int if `integer`), or raise ValueError naming it and the range."""
        number = math.nan
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            number = float(value)
        in_range = math.isfinite(number) and self.minimum <= number <= self.maximum
        if not in_range or (self.integer and not number.is_integer()):
            kind = "an integer" if self.integer else "a finite number"
            raise InvalidValue(
                self.name,
                f"{owner}: {self.name} must be {kind} in [{self.minimum:g}, {self.maximum:g}], got {value!r}"
            )
        return int(number) if self.integer else number


def _validate_all(specs: tuple[HyperParam, ...], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Check every given value (defaults fill the rest) before any is used, so nothing half-applies."""
    allowed = [p.name for p in specs]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise InvalidValue(
            unknown[0], f"{owner}: unknown hyper-parameter {unknown[0]!r}; allowed: {', '.join(allowed) or 'none'}", allowed
        )
    return {p.name: p.validate(given.get(p.name, p.default), owner) for p in specs}


def _choose(registry: dict[str, Any], name: object, what: str) -> Any:
    if name not in registry:
        raise InvalidValue(what, f"unknown {what} {name!r}; allowed: {', '.join(registry)}", registry)
    return registry[name]


class Optimizer:
    """An update rule with its hyper-parameters, moment buffers and step count.

    Subclasses name their buffers and implement `_update`; validation, hyper-parameter changes
    and state round-trips are shared. Build one with `make_optimizer`.
    """

    buffer_names: ClassVar[tuple[str, ...]] = ()
    # True for a rule the trainer runs a whole epoch of in one compiled call (engine.compiled),
    # adding the epoch's steps to `steps` itself.
    compiled_epoch: ClassVar[bool] = False

    def __init__(self, name: str, n_params: int, hyper: dict[str, Any], decay_mask: np.ndarray | None):
        self.name = name
        self.n_params = n_params
        self.decay_mask = decay_mask
        self.steps = 0
        self._hyper = hyper
        self._buffers = {b: np.zeros(n_params) for b in self.buffer_names}
        self._tmp = np.empty(n_params)
        self._tmp2 = np.empty(n_params)

    def __deepcopy__(self, memo: dict[int, Any]) -> Optimizer:
        return self.copy()

    def copy(self) -> Optimizer:
        """A copy with its own buffers, made directly: the trainer keeps one every epoch for
        the divergence rollback, and the generic deep copy costs more than a small epoch."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._hyper = dict(self._hyper)
        other._buffers = {b: values.copy() for b, values in self._buffers.items()}
        other._tmp, other._tmp2 = np.empty(self.n_params), np.empty(self.n_params)
        return other

    @property
    def hyper(self) -> dict[str, Any]:
        """The current hyper-parameter values (a copy: change them with `with_hyper`)."""
        return dict(self._hyper)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """Update the flat `params` in place from the flat `grads` with learning rate `lr`."""
        if not (lr >= 0.0 and math.isfinite(lr)):
            raise ValueError(f"{self.name}: learning rate must be a finite number >= 0, got {lr!r}")
        self.steps += 1
        self._update(params, grads, lr)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _step_scaled_by(self, squares: np.ndarray, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """w -= lr·g / (√squares + ε): the per-weight step size of Adagrad and RMSprop."""
        denom, tmp = self._tmp, self._tmp2
        np.sqrt(squares, out=denom)
        denom += self._hyper["eps"]
        np.multiply(grads, lr, out=tmp)
        tmp /= denom
        params -= tmp

    def with_hyper(self, **changes: Any) -> Optimizer:
        """A copy with some hyper-parameters changed and the moment buffers and step count kept.

        The trainer changes hyper-parameters mid-training; resetting the moments would make a
        slider move jolt the loss curve.
        """
        hyper = _validate_all(OPTIMIZERS[self.name].hyper, {**self._hyper, **changes}, self.name)
        other = type(self)(self.name, self.n_params, hyper, self.decay_mask)
        other.steps = self.steps
        for b, values in self._buffers.items():
            other._buffers[b][:] = values
        return other

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit, as JSON-safe lists, numbers and strings."""
        return {
            "name": self.name,
            "n_params": self.n_params,
            "hyper": dict(self._hyper),
            "steps": self.steps,
            "buffers": {b: values.tolist() for b, values in self._buffers.items()},
            "decay_mask": None if self.decay_mask is None else self.decay_mask.astype(int).tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace hyper-parameters, buffers and step count with those of `state` (all or nothing)."""
        restored = optimizer_from_state(state)
        if (restored.name, restored.n_params) != (self.name, self.n_params):
            raise ValueError(
                f"state is for {restored.name!r} with {restored.n_params} parameters; "
                f"this optimizer is {self.name!r} with {self.n_params}"
            )
        self.__dict__.update(restored.__dict__)


class _SGD(Optimizer):
    """w -= lr·g (the "gd" rule too: the trainer feeds it the whole training set)."""

    compiled_epoch = True

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        np.multiply(grads, lr, out=self._tmp)
        params -= self._tmp


class _Momentum(Optimizer):
    """torch SGD with dampening 0: v = μv + g; w -= lr·v (Nesterov: w -= lr·(g + μv))."""

    buffer_names = ("velocity",)
    nesterov: ClassVar[bool] = False

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        mu, velocity, tmp = self._hyper["momentum"], self._buffers["velocity"], self._tmp
        velocity *= mu
        velocity += grads
        if self.nesterov:
            np.multiply(velocity, mu, out=tmp)
            tmp += grads
            tmp *= lr
        else:
            np.multiply(velocity, lr, out=tmp)
        params -= tmp


class _Nesterov(_Momentum):
    nesterov = True


class _Adagrad(Optimizer):
    """torch Adagrad (no lr decay): s += g²; w -= lr·g / (√s + ε)."""

    buffer_names = ("sum_sq",)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        sum_sq, tmp = self._buffers["sum_sq"], self._tmp2
        np.multiply(grads, grads, out=tmp)
        sum_sq += tmp
        self._step_scaled_by(sum_sq, params, grads, lr)


class _RMSprop(Optimizer):
    """torch RMSprop (not centered, no momentum): a = αa + (1-α)g²; w -= lr·g / (√a + ε)."""

    buffer_names = ("square_avg",)

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        alpha, square_avg, tmp = self._hyper["alpha"], self._buffers["square_avg"], self._tmp2
        square_avg *= alpha
        np.multiply(grads, 1.0 - alpha, out=tmp)
        tmp *= grads
        square_avg += tmp
        self._step_scaled_by(square_avg, params, grads, lr)


class _Adam(Optimizer):
    """torch Adam (amsgrad off), bias-corrected first and second moments."""

    buffer_names = ("exp_avg", "exp_avg_sq")

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        h, m, v = self._hyper, self._buffers["exp_avg"], self._buffers["exp_avg_sq"]
        beta1, beta2, tmp, denom = h["beta1"], h["beta2"], self._tmp, self._tmp2
        np.subtract(grads, m, out=tmp)  # m.lerp_(g, 1 - β1), as torch writes it
        tmp *= 1.0 - beta1
        m += tmp
        v *= beta2
        np.multiply(grads, 1.0 - beta2, out=tmp)
        tmp *= grads
        v += tmp
        np.sqrt(v, out=denom)
        denom /= (1.0 - beta2**self.steps) ** 0.5
        denom += h["eps"]
        np.multiply(m, lr / (1.0 - beta1**self.steps), out=tmp)
        tmp /= denom
        params -= tmp


class _AdamW(_Adam):
    """torch AdamW: w *= 1 - lr·wd where `decay_mask` is 1 (weights, not biases), then Adam."""

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        shrink = lr * self._hyper["weight_decay"]
        if self.decay_mask is None:
            params *= 1.0 - shrink
        else:
            np.multiply(self.decay_mask, -shrink, out=self._tmp)
            self._tmp += 1.0
            params *= self._tmp
        super()._update(params, grads, lr)


@dataclass(frozen=True)
class OptimizerSpec:
    """A registry entry: the name the UI and API use, its hyper-parameters, the class to build."""

    name: str
    hyper: tuple[HyperParam, ...]
    factory: Callable[[str, int, dict[str, Any], np.ndarray | None], Optimizer]


_MOMENTUM = HyperParam("momentum", 0.9, 0.0, 0.999)
_BETAS = (HyperParam("beta1", 0.9, 0.0, 0.999), HyperParam("beta2", 0.999, 0.0, 0.99999))
_ADAM_EPS = HyperParam("eps", 1e-8, 1e-12, 1.0)

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec("gd", (), _SGD),
        OptimizerSpec("sgd", (), _SGD),
        OptimizerSpec("momentum", (_MOMENTUM,), _Momentum),
        OptimizerSpec("nesterov", (_MOMENTUM,), _Nesterov),
        OptimizerSpec("adagrad", (HyperParam("eps", 1e-10, 1e-12, 1.0),), _Adagrad),
        OptimizerSpec("rmsprop", (HyperParam("alpha", 0.99, 0.0, 0.9999), _ADAM_EPS), _RMSprop),
        OptimizerSpec("adam", (*_BETAS, _ADAM_EPS), _Adam),
        OptimizerSpec("adamw", (*_BETAS, _ADAM_EPS, HyperParam("weight_decay", 0.01, 0.0, 1.0)), _AdamW),
    )
}


def make_optimizer(name: str, n_params: int, decay_mask: np.ndarray | None = None, **hyper: Any) -> Optimizer:
    """Build optimizer `name` for a flat vector of `n_params` parameters.

    `decay_mask` (0/1 per parameter, used by "adamw") marks the entries weight decay applies to;
    None means all of them. Unknown names, hyper-parameters and out-of-range values raise ValueError.
    """
    spec = _choose(OPTIMIZERS, name, "optimizer")
    if isinstance(n_params, bool) or not isinstance(n_params, (int, np.integer)) or n_params < 1:
        raise ValueError(f"{name}: n_params must be an integer >= 1, got {n_params!r}")
    values = _validate_all(spec.hyper, hyper, name)
    if decay_mask is not None:
        mask = np.asarray(decay_mask)
        if mask.shape != (n_params,) or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name}: decay_mask must be {n_params} values each 0 or 1, got shape {mask.shape}")
        decay_mask = mask.astype(np.float64)
    return spec.factory(name, int(n_params), values, decay_mask)


def optimizer_from_state(state: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from `Optimizer.state_dict()` output so it continues bit-for-bit."""
    try:
        optimizer = make_optimizer(state["name"], state["n_params"], state["decay_mask"], **state["hyper"])
        buffers = {b: np.asarray(state["buffers"][b], dtype=np.float64) for b in optimizer.buffer_names}
        steps = state["steps"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed optimizer state: {exc!r}") from exc
    if sorted(state["buffers"]) != sorted(buffers) or any(v.shape != (optimizer.n_params,) for v in buffers.values()):
        raise ValueError(f"{optimizer.name}: state buffers must be {sorted(buffers)} of {optimizer.n_params} values each")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{optimizer.name}: steps must be an integer >= 0, got {steps!r}")
    optimizer.steps = steps
    for b, values in buffers.items():
        optimizer._buffers[b][:] = values
    return optimizer


@dataclass(frozen=True)
class ScheduleSpec:
    """A registry entry: a per-epoch learning-rate rule and its parameters."""

    name: str
    hyper: tuple[HyperParam, ...]
    rule: Callable[[float, int, dict[str, Any]], float]


SCHEDULES: dict[str, ScheduleSpec] = {
    spec.name: spec
    for spec in (
        ScheduleSpec("constant", (), lambda lr, epoch, p: lr),
        ScheduleSpec(
            "step",
            (HyperParam("step_size", 100, 1, 100_000, integer=True), HyperParam("gamma", 0.5, 0.0, 1.0)),
            lambda lr, epoch, p: lr * p["gamma"] ** (epoch // p["step_size"]),
        ),
        ScheduleSpec(
            "exponential", (HyperParam("gamma", 0.99, 0.0, 1.0),), lambda lr, epoch, p: lr * p["gamma"] ** epoch
        ),
        ScheduleSpec(
            "inverse_time",
            (HyperParam("decay", 0.01, 0.0, 100.0),),
            lambda lr, epoch, p: lr / (1.0 + p["decay"] * epoch),
        ),
    )
}


def make_schedule(schedule: str, **params: Any) -> Callable[[float, int], float]:
    """Validate a schedule once and return `lr_at(base_lr, epoch)`, cheap enough to call every step."""
    spec = _choose(SCHEDULES, schedule, "schedule")
    values = _validate_all(spec.hyper, params, schedule)
    return lambda base_lr, epoch: spec.rule(base_lr, epoch, values)
