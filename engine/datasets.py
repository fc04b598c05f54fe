"""Datasets the playground trains on: generators, train/test split, input features, scaling.

Every point lives in the square [-HALF_SIDE, HALF_SIDE]² (the square the page draws), and every random number
comes from a ``numpy.random.Generator`` so that the same configuration gives the same data on
every machine. The binary and regression shapes follow TensorFlow Playground's ``dataset.ts``
(geometry and noise scaling), with its labels -1/+1 mapped to 0/1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HALF_SIDE = 6.0
"""Points live in [-HALF_SIDE, HALF_SIDE]²."""
MIN_SAMPLES = 10
MAX_SAMPLES = 5000
MAX_NOISE = 0.5
"""Noise runs from 0 (clean) to 0.5, TensorFlow Playground's 0–50 %."""
MIN_CLASSES = 3
MAX_CLASSES = 5
DEFAULT_CLASSES = 3
MIN_POINTS = 4
"""Fewest points a drawn or uploaded dataset may have."""
MIN_POINTS_PER_CLASS = 2
MIN_TRAIN_FRACTION = 0.1
MAX_TRAIN_FRACTION = 0.9
PROBLEMS = ("binary", "multiclass", "regression")
SCALER_METHODS = ("none", "standardize", "normalize")

Points = np.ndarray
Labelled = tuple[np.ndarray, np.ndarray]
"""Points (n, 2) and their targets (n,), as every generator returns them."""
GeneratorFn = Callable[[int, float, np.random.Generator, int], Labelled]


@dataclass(frozen=True)
class Dataset:
    """Points and targets of one problem; validated so that the trainer can trust the shapes."""

    x: np.ndarray
    y: np.ndarray
    problem: str
    n_classes: int

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem {self.problem!r} is not one of {PROBLEMS}")
        if self.x.ndim != 2 or self.x.shape[1] != 2 or self.x.dtype != np.float64:
            raise ValueError(
                f"x must be a float64 array of shape (n, 2), got {self.x.dtype} {self.x.shape}"
            )
        n = self.x.shape[0]
        if n < 1 or self.y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) with n >= 1, got {self.y.shape}")
        expected_classes = {"binary": 2, "regression": 0}.get(self.problem, self.n_classes)
        if self.problem == "multiclass" and not MIN_CLASSES <= self.n_classes <= MAX_CLASSES:
            raise ValueError(
                f"n_classes {self.n_classes} is outside {MIN_CLASSES}..{MAX_CLASSES} "
                "for multiclass"
            )
        if self.n_classes != expected_classes:
            raise ValueError(
                f"n_classes {self.n_classes} does not fit problem {self.problem!r}; "
                f"expected {expected_classes}"
            )
        _check_targets(self.y, self.problem, self.n_classes)


def _check_targets(y: np.ndarray, problem: str, n_classes: int) -> None:
    """Binary targets are float 0/1, multiclass ones int class ids, regression ones finite."""
    expected_dtype = np.int64 if problem == "multiclass" else np.float64
    if y.dtype != expected_dtype:
        raise ValueError(f"y for {problem!r} must be {np.dtype(expected_dtype)}, got {y.dtype}")
    if problem == "binary" and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"binary labels must be 0 or 1, got {np.unique(y)[:5].tolist()}")
    if problem == "multiclass" and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"multiclass labels must be in 0..{n_classes - 1}")
    if problem == "regression" and not np.isfinite(y).all():
        raise ValueError("regression targets must be finite")


# --- generators -------------------------------------------------------------------------------


def _class_sizes(n_samples: int, n_classes: int) -> np.ndarray:
    """Split n into n_classes nearly equal counts, so classes are balanced for any n."""
    sizes = np.full(n_classes, n_samples // n_classes)
    sizes[: n_samples % n_classes] += 1
    return sizes


def _labels_by_size(sizes: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def _uniform_square(rng: np.random.Generator, n: int) -> Points:
    return rng.uniform(-HALF_SIDE, HALF_SIDE, size=(n, 2))


def _normal_in_square(rng: np.random.Generator, centres: Points, std: float) -> Points:
    """Gaussian points around each centre, redrawing any that fall outside the square.

    Redrawing (rather than clipping) keeps the blobs round instead of piling points on the edge.
    """
    points = centres + rng.normal(0.0, std, size=centres.shape)
    outside = np.abs(points).max(axis=1) > HALF_SIDE
    while outside.any():
        points[outside] = centres[outside] + rng.normal(0.0, std, size=(outside.sum(), 2))
        outside = np.abs(points).max(axis=1) > HALF_SIDE
    return points


def _gauss_std(noise: float) -> float:
    """TF Playground maps noise 0..0.5 linearly to a variance of 0.5..4."""
    return math.sqrt(0.5 + noise * (4.0 - 0.5) / MAX_NOISE)


def _circle(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Class 1 inside radius 2.5, class 0 in the ring 3.5..5; noise shifts the labelling point."""
    radius = 5.0
    n_inner, n_outer = _class_sizes(n, 2)
    r = np.concatenate(
        [rng.uniform(0, radius * 0.5, n_inner), rng.uniform(radius * 0.7, radius, n_outer)]
    )
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    shifted = x + rng.uniform(-radius, radius, size=(n, 2)) * noise
    y = np.linalg.norm(shifted, axis=1) < radius * 0.5
    return x, y.astype(np.float64)


def _xor(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Class 1 where x1·x2 >= 0; a 0.3 gap keeps clean points off the axes."""
    x = rng.uniform(-5, 5, size=(n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + rng.uniform(-5, 5, size=(n, 2)) * noise
    y = shifted[:, 0] * shifted[:, 1] >= 0
    return x, y.astype(np.float64)


def _gauss(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Class 1 around (2, 2), class 0 around (-2, -2); noise widens both."""
    labels = 1 - _labels_by_size(_class_sizes(n, 2))
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])[labels]
    return _normal_in_square(rng, centres, _gauss_std(noise)), labels.astype(np.float64)


def _multispiral(n: int, noise: float, rng: np.random.Generator, k: int) -> Labelled:
    """k interleaved spiral arms out to radius 5 (TF's spiral, generalised); returns arm ids."""
    arms = _labels_by_size(_class_sizes(n, k))
    sizes = np.bincount(arms, minlength=k)
    fraction = np.concatenate([np.arange(m) / m for m in sizes])
    r = fraction * 5
    t = 1.75 * fraction * 2 * np.pi + arms * (2 * np.pi / k)
    x = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return x + rng.uniform(-1, 1, size=(n, 2)) * noise, arms


def _spiral(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    x, arms = _multispiral(n, noise, rng, 2)
    return x, (1 - arms).astype(np.float64)


def _moons(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Upper moon is class 1, lower moon class 0; noise is Gaussian jitter of up to 1.0 std."""
    labels = 1 - _labels_by_size(_class_sizes(n, 2))
    t = rng.uniform(0, np.pi, n)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)])
    unit = np.where(labels[:, None] == 1, upper, lower)
    # Unit moons span x in [-1, 2], y in [-0.5, 1]; centre and stretch them over the square.
    centres = (unit - (0.5, 0.25)) * (3.5, 5.0)
    return _normal_in_square(rng, centres, 2.0 * noise), labels.astype(np.float64)


def _checkerboard(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """4×4 cells of side 3; noise shifts the labelling point by up to half a cell."""
    cell = 2 * HALF_SIDE / 4
    x = _uniform_square(rng, n)
    shifted = x + rng.uniform(-cell, cell, size=(n, 2)) * noise
    cells = np.floor((shifted + HALF_SIDE) / cell).astype(np.int64)
    y = cells.sum(axis=1) % 2 == 0
    return x, y.astype(np.float64)


def _sine(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Class 1 above the curve x2 = 3·sin x1; noise shifts the labelling point like TF's plane."""
    x = _uniform_square(rng, n)
    shifted = x + _uniform_square(rng, n) * noise
    y = shifted[:, 1] > 3 * np.sin(shifted[:, 0])
    return x, y.astype(np.float64)


def _blobs(n: int, noise: float, rng: np.random.Generator, k: int) -> Labelled:
    """k Gaussian blobs spaced evenly on a circle of radius 4; noise widens them like gauss."""
    labels = _labels_by_size(_class_sizes(n, k))
    angle = np.pi / 2 + labels * (2 * np.pi / k)
    centres = 4.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    return _normal_in_square(rng, centres, _gauss_std(noise)), labels


def _plane(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Target (x1 + x2) / 10 at a noise-shifted point, clamped to [-1, 1] (TF leaves ±1.2)."""
    x = _uniform_square(rng, n)
    shifted = x + _uniform_square(rng, n) * noise
    return x, np.clip(shifted.sum(axis=1) / 10.0, -1.0, 1.0)


_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def _gaussians(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Six ±1 cone-shaped bumps of radius 2 (TF's regressGaussian); the strongest bump wins."""
    x = _uniform_square(rng, n)
    shifted = x + _uniform_square(rng, n) * noise
    distance = np.linalg.norm(shifted[:, None, :] - _BUMPS[None, :, :2], axis=2)
    values = _BUMPS[:, 2] * np.clip(1.0 - distance / 2.0, 0.0, 1.0)
    strongest = np.abs(values).argmax(axis=1)
    return x, values[np.arange(n), strongest]


def _sinewave(n: int, noise: float, rng: np.random.Generator, _k: int) -> Labelled:
    """Target sin x1 plus Gaussian noise of std `noise`; the sin(x1) feature solves it alone."""
    x = _uniform_square(rng, n)
    return x, np.sin(x[:, 0]) + rng.normal(0.0, noise, n)


@dataclass(frozen=True)
class DatasetSpec:
    """What the registry knows about a dataset: its problem, default size and generator."""

    name: str
    problem: str
    default_samples: int
    generate: GeneratorFn


def _specs(*specs: DatasetSpec) -> dict[str, DatasetSpec]:
    return {spec.name: spec for spec in specs}


DATASETS: dict[str, DatasetSpec] = _specs(
    DatasetSpec("circle", "binary", 500, _circle),
    DatasetSpec("xor", "binary", 500, _xor),
    DatasetSpec("gauss", "binary", 500, _gauss),
    DatasetSpec("spiral", "binary", 500, _spiral),
    DatasetSpec("moons", "binary", 500, _moons),
    DatasetSpec("checkerboard", "binary", 500, _checkerboard),
    DatasetSpec("sine", "binary", 500, _sine),
    DatasetSpec("blobs", "multiclass", 500, _blobs),
    DatasetSpec("multispiral", "multiclass", 500, _multispiral),
    DatasetSpec("plane", "regression", 1200, _plane),
    DatasetSpec("gaussians", "regression", 1200, _gaussians),
    DatasetSpec("sinewave", "regression", 1200, _sinewave),
)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def make_dataset(
    name: str,
    *,
    noise: float = 0.0,
    seed: int = 0,
    n_samples: int | None = None,
    n_classes: int = DEFAULT_CLASSES,
) -> Dataset:
    """Generate a registered dataset; the same arguments always give identical arrays.

    ``n_classes`` only matters for multiclass datasets and is ignored otherwise.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset {name!r} is unknown; allowed: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    is_number = isinstance(noise, numbers.Real) and not isinstance(noise, bool)
    if not (is_number and math.isfinite(noise) and 0.0 <= noise <= MAX_NOISE):
        raise ValueError(f"noise {noise!r} must be a finite number in [0, {MAX_NOISE}]")
    if not (_is_int(seed) and seed >= 0):
        raise ValueError(f"seed {seed!r} must be a non-negative integer")
    in_range = _is_int(n_samples) and MIN_SAMPLES <= n_samples <= MAX_SAMPLES
    if n_samples is not None and not in_range:
        raise ValueError(
            f"n_samples {n_samples!r} must be an integer in {MIN_SAMPLES}..{MAX_SAMPLES}"
        )
    if spec.problem != "multiclass":
        n_classes = {"binary": 2, "regression": 0}[spec.problem]
    elif not (_is_int(n_classes) and MIN_CLASSES <= n_classes <= MAX_CLASSES):
        raise ValueError(
            f"n_classes {n_classes!r} must be an integer in {MIN_CLASSES}..{MAX_CLASSES}"
        )
    rng = np.random.default_rng(seed)
    n = spec.default_samples if n_samples is None else int(n_samples)
    x, y = spec.generate(n, float(noise), rng, int(n_classes))
    return Dataset(x=x, y=y, problem=spec.problem, n_classes=int(n_classes))


def dataset_from_arrays(x: Any, y: Any, problem: str) -> Dataset:
    """Build a dataset from drawn or uploaded points, with messages a student can act on."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem {problem!r} is not one of {PROBLEMS}")
    x = np.array(x, dtype=np.float64)
    y = np.array(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must have shape ({len(x)},) to match x, got {y.shape}")
    if len(x) < MIN_POINTS:
        raise ValueError(f"{len(x)} points is too few; at least {MIN_POINTS} are needed")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or infinity)")
    if problem == "binary":
        return _binary_from(x, y)
    if problem == "multiclass":
        return _multiclass_from(x, y)
    return Dataset(x=x, y=y, problem="regression", n_classes=0)


def dataset_to_dict(dataset: Dataset) -> dict[str, Any]:
    """A JSON-safe dict from which ``dataset_from_dict`` rebuilds ``dataset`` exactly."""
    return {"x": dataset.x.tolist(), "y": dataset.y.tolist(), "problem": dataset.problem,
            "n_classes": dataset.n_classes}


def dataset_from_dict(state: Mapping[str, Any]) -> Dataset:
    """The dataset ``dataset_to_dict`` wrote. Unlike ``dataset_from_arrays`` (new data), it keeps
    what a trainer already had: a drawn set may lack a class, or have fewer points than a file."""
    try:
        problem, n_classes = state["problem"], state["n_classes"]
        x = np.array(state["x"], dtype=np.float64).reshape(-1, 2)
        y = np.array(state["y"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed dataset: {exc!r}") from None
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or infinity)")
    if problem == "multiclass":
        if (y != np.round(y)).any():
            raise ValueError("multiclass labels must be whole numbers")
        y = y.astype(np.int64)
    return Dataset(x=x, y=y, problem=problem, n_classes=n_classes)


def _binary_from(x: np.ndarray, y: np.ndarray) -> Dataset:
    bad = np.setdiff1d(y, (0.0, 1.0))
    if bad.size:
        raise ValueError(f"binary labels must be 0 or 1, got {bad[:5].tolist()}")
    if np.unique(y).size < 2:
        raise ValueError(f"binary data needs both classes 0 and 1, got only {y[0]:g}")
    return Dataset(x=x, y=y, problem="binary", n_classes=2)


def _multiclass_from(x: np.ndarray, y: np.ndarray) -> Dataset:
    if (y != np.round(y)).any() or y.min() < 0:
        raise ValueError(f"multiclass labels must be integers 0..{MAX_CLASSES - 1}")
    labels = y.astype(np.int64)
    k = int(labels.max()) + 1
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        raise ValueError(f"{k} classes found; multiclass needs {MIN_CLASSES}..{MAX_CLASSES}")
    counts = np.bincount(labels, minlength=k)
    if counts.min() < MIN_POINTS_PER_CLASS:
        sparse = int(counts.argmin())
        raise ValueError(
            f"class {sparse} has {counts[sparse]} points; each class needs {MIN_POINTS_PER_CLASS}"
        )
    return Dataset(x=x, y=labels, problem="multiclass", n_classes=k)


def shuffle_split(
    dataset: Dataset, train_fraction: float, rng: np.random.Generator
) -> tuple[Dataset, Dataset]:
    """Seeded shuffle, then the first round(n·fraction) points train and the rest test."""
    if not MIN_TRAIN_FRACTION <= train_fraction <= MAX_TRAIN_FRACTION:
        raise ValueError(
            f"train_fraction {train_fraction!r} must be in "
            f"[{MIN_TRAIN_FRACTION}, {MAX_TRAIN_FRACTION}]"
        )
    n = len(dataset.y)
    n_train = round(n * train_fraction)
    if not 0 < n_train < n:
        raise ValueError(f"{n} points cannot be split {train_fraction!r}: one part would be empty")
    order = rng.permutation(n)
    return _subset(dataset, order[:n_train]), _subset(dataset, order[n_train:])


def _subset(dataset: Dataset, index: np.ndarray) -> Dataset:
    return Dataset(
        x=dataset.x[index], y=dataset.y[index], problem=dataset.problem, n_classes=dataset.n_classes
    )


# --- input features ---------------------------------------------------------------------------

FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1sq": lambda x1, x2: x1 * x1,
    "x2sq": lambda x1, x2: x2 * x2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sinx1": lambda x1, x2: np.sin(x1),
    "sinx2": lambda x1, x2: np.sin(x2),
    "cosx1": lambda x1, x2: np.cos(x1),
    "cosx2": lambda x1, x2: np.cos(x2),
}

FEATURE_LABELS: dict[str, str] = {
    "x1": "x₁",
    "x2": "x₂",
    "x1sq": "x₁²",
    "x2sq": "x₂²",
    "x1x2": "x₁x₂",
    "sinx1": "sin(x₁)",
    "sinx2": "sin(x₂)",
    "cosx1": "cos(x₁)",
    "cosx2": "cos(x₂)",
}


def feature_matrix(x: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """The network's inputs: one column per chosen feature, in the order given."""
    if isinstance(features, str) or len(features) == 0:
        raise ValueError(f"features must be a non-empty list of names from {list(FEATURES)}")
    unknown = [name for name in features if name not in FEATURES]
    if unknown:
        raise ValueError(f"features {unknown} are unknown; allowed: {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise ValueError(f"features {list(features)} contain duplicates")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    x1, x2 = x[:, 0], x[:, 1]
    return np.column_stack([FEATURES[name](x1, x2) for name in features]).astype(np.float64)


# --- scaling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaler:
    """Per-column affine map (m - offset) / scale, fitted on the training split only.

    Fitting on training data alone keeps the test split honest; the same map is then applied to
    the test points and to the grid the page draws.
    """

    method: str
    offset: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        if self.method not in SCALER_METHODS:
            raise ValueError(f"scaler method {self.method!r} is not one of {SCALER_METHODS}")
        if self.offset.shape != self.scale.shape or self.offset.ndim != 1:
            raise ValueError(
                f"offset {self.offset.shape} and scale {self.scale.shape} must be equal 1-D shapes"
            )
        if not (np.isfinite(self.offset).all() and np.isfinite(self.scale).all()):
            raise ValueError("scaler offset and scale must be finite")
        if (self.scale <= 0).any():
            raise ValueError(f"scaler scale must be positive, got {self.scale.tolist()}")

    @classmethod
    def fit(cls, method: str, m: np.ndarray) -> Scaler:
        """Standardize = z-score; normalize = min–max to [-1, 1]; constant columns map to 0."""
        if method not in SCALER_METHODS:
            raise ValueError(f"scaler method {method!r} is not one of {SCALER_METHODS}")
        m = np.asarray(m, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] < 1 or not np.isfinite(m).all():
            raise ValueError(f"fit needs a finite (n, features) matrix with n >= 1, got {m.shape}")
        constant = np.ptp(m, axis=0) == 0
        if method == "none":
            offset, scale = np.zeros(m.shape[1]), np.ones(m.shape[1])
        elif method == "standardize":
            offset, scale = m.mean(axis=0), m.std(axis=0)
        else:
            low, high = m.min(axis=0), m.max(axis=0)
            offset, scale = (high + low) / 2, (high - low) / 2
        return cls(method=method, offset=offset, scale=np.where(constant, 1.0, scale))

    @property
    def n_features(self) -> int:
        return len(self.offset)

    def transform(self, m: np.ndarray) -> np.ndarray:
        """Apply the fitted map; vectorised because it runs on the drawing grid every frame."""
        if m.ndim != 2 or m.shape[1] != self.n_features:
            raise ValueError(f"transform needs shape (n, {self.n_features}), got {m.shape}")
        return (m - self.offset) / self.scale
