"""Behaviour of the dataset generators, split, input features and scaler."""

import json
import math

import numpy as np
import pytest

from engine.datasets import (
    DATASETS,
    FEATURE_LABELS,
    FEATURES,
    MAX_SAMPLES,
    MIN_SAMPLES,
    Dataset,
    Scaler,
    dataset_from_arrays,
    feature_matrix,
    make_dataset,
    shuffle_split,
)

BINARY = ["circle", "xor", "gauss", "spiral", "moons", "checkerboard", "sine"]
MULTICLASS = ["blobs", "multispiral"]
REGRESSION = ["plane", "gaussians", "sinewave"]


def test_registry_holds_exactly_the_documented_datasets():
    assert set(DATASETS) == set(BINARY + MULTICLASS + REGRESSION)
    for name, spec in DATASETS.items():
        assert spec.name == name
        expected = 1200 if name in REGRESSION else 500
        assert spec.default_samples == expected


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", BINARY)
def test_binary_datasets_have_balanced_float_labels(name, noise):
    data = make_dataset(name, noise=noise)
    assert data.problem == "binary" and data.n_classes == 2
    assert data.x.shape == (500, 2) and data.x.dtype == np.float64
    assert data.y.shape == (500,) and data.y.dtype == np.float64
    assert set(np.unique(data.y)) == {0.0, 1.0}
    assert 0.25 < data.y.mean() < 0.75


@pytest.mark.parametrize("n_classes", [3, 4, 5])
@pytest.mark.parametrize("name", MULTICLASS)
def test_multiclass_datasets_have_every_class_equally(name, n_classes):
    data = make_dataset(name, n_classes=n_classes)
    assert data.problem == "multiclass" and data.n_classes == n_classes
    assert data.x.shape == (500, 2) and data.y.dtype == np.int64
    counts = np.bincount(data.y)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1


def test_multiclass_defaults_to_three_classes():
    assert make_dataset("blobs").n_classes == 3


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_targets_are_in_unit_range_without_noise(name):
    data = make_dataset(name)
    assert data.problem == "regression" and data.n_classes == 0
    assert data.x.shape == (1200, 2) and data.y.dtype == np.float64
    assert data.y.min() >= -1.0 and data.y.max() <= 1.0
    assert data.y.std() > 0.1


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", list(DATASETS))
def test_points_stay_in_the_square(name, noise):
    data = make_dataset(name, noise=noise, seed=3, n_classes=5)
    assert np.abs(data.x).max() <= 6.0
    assert np.isfinite(data.y).all()


@pytest.mark.parametrize("name", list(DATASETS))
def test_same_arguments_give_identical_arrays_and_other_seeds_do_not(name):
    first = make_dataset(name, noise=0.2, seed=7)
    again = make_dataset(name, noise=0.2, seed=7)
    other = make_dataset(name, noise=0.2, seed=8)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not (np.array_equal(first.x, other.x) and np.array_equal(first.y, other.y))


@pytest.mark.parametrize("name", list(DATASETS))
def test_noise_changes_the_data(name):
    clean = make_dataset(name, noise=0.0)
    noisy = make_dataset(name, noise=0.5)
    assert not (np.array_equal(clean.x, noisy.x) and np.array_equal(clean.y, noisy.y))


def test_n_samples_overrides_default():
    assert make_dataset("spiral", n_samples=MIN_SAMPLES).x.shape == (MIN_SAMPLES, 2)
    assert make_dataset("plane", n_samples=77).y.shape == (77,)


def test_clean_circle_is_separable_by_radius():
    data = make_dataset("circle", seed=4)
    radius = np.linalg.norm(data.x, axis=1)
    assert radius[data.y == 1].max() < radius[data.y == 0].min()


def test_noisy_circle_mislabels_some_points():
    data = make_dataset("circle", noise=0.5, seed=4)
    radius = np.linalg.norm(data.x, axis=1)
    assert radius[data.y == 1].max() > radius[data.y == 0].min()


def test_clean_xor_labels_follow_sign_of_product():
    data = make_dataset("xor", seed=2)
    product = data.x[:, 0] * data.x[:, 1]
    np.testing.assert_array_equal(data.y, (product > 0).astype(float))
    assert np.abs(data.x).min() >= 0.3


def test_clean_sine_labels_follow_the_curve():
    data = make_dataset("sine", seed=5)
    above = data.x[:, 1] > 3 * np.sin(data.x[:, 0])
    np.testing.assert_array_equal(data.y, above.astype(float))


def test_noisy_sine_moves_points_across_the_curve():
    data = make_dataset("sine", noise=0.5, seed=5)
    above = data.x[:, 1] > 3 * np.sin(data.x[:, 0])
    assert 0.05 < np.mean(data.y != above) < 0.5


def test_clean_checkerboard_alternates_over_three_unit_cells():
    data = make_dataset("checkerboard", seed=1)
    cells = np.floor((data.x + 6) / 3).astype(int)
    np.testing.assert_array_equal(data.y, (cells.sum(axis=1) % 2 == 0).astype(float))


def test_gauss_classes_sit_on_their_diagonal_corners():
    data = make_dataset("gauss")
    np.testing.assert_allclose(data.x[data.y == 1].mean(axis=0), [2, 2], atol=0.2)
    np.testing.assert_allclose(data.x[data.y == 0].mean(axis=0), [-2, -2], atol=0.2)


def test_gauss_noise_widens_the_blobs():
    spread = [make_dataset("gauss", noise=n).x[:250].std() for n in (0.0, 0.5)]
    assert spread[1] > 1.8 * spread[0]


def test_clean_plane_target_is_scaled_sum():
    data = make_dataset("plane", seed=9)
    np.testing.assert_allclose(data.y, np.clip(data.x.sum(axis=1) / 10, -1, 1))


def test_clean_sinewave_target_is_sin_x1():
    data = make_dataset("sinewave", seed=9)
    np.testing.assert_allclose(data.y, np.sin(data.x[:, 0]))


def test_gaussians_peak_at_bump_centres():
    data = make_dataset("gaussians", n_samples=5000)
    near_positive = np.linalg.norm(data.x - [0, -2.5], axis=1) < 0.3
    near_negative = np.linalg.norm(data.x - [0, 2.5], axis=1) < 0.3
    assert data.y[near_positive].min() > 0.8
    assert data.y[near_negative].max() < -0.8


def test_blob_centres_are_distinct_per_class():
    data = make_dataset("blobs", n_classes=4)
    centres = np.array([data.x[data.y == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 4.0, atol=0.3)


@pytest.mark.parametrize("name", ["nope", "Circle", ""])
def test_unknown_name_lists_allowed_names(name):
    with pytest.raises(ValueError, match=f"'{name}'.*circle.*sinewave"):
        make_dataset(name)


@pytest.mark.parametrize("noise", [math.nan, math.inf, -0.1, 0.6, True])
def test_bad_noise_is_rejected_by_value(noise):
    with pytest.raises(ValueError, match=f"noise {noise!r}"):
        make_dataset("circle", noise=noise)


@pytest.mark.parametrize("n_samples", [MIN_SAMPLES - 1, MAX_SAMPLES + 1, 0, 12.5])
def test_bad_n_samples_is_rejected_by_value(n_samples):
    with pytest.raises(ValueError, match=f"n_samples {n_samples!r}"):
        make_dataset("xor", n_samples=n_samples)


@pytest.mark.parametrize("n_classes", [2, 6, 0])
def test_bad_n_classes_is_rejected_for_multiclass(n_classes):
    with pytest.raises(ValueError, match=f"n_classes {n_classes}"):
        make_dataset("multispiral", n_classes=n_classes)


def test_n_classes_is_ignored_for_binary_and_regression():
    assert make_dataset("circle", n_classes=9).n_classes == 2
    assert make_dataset("plane", n_classes=9).n_classes == 0


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_bad_seed_is_rejected_by_value(seed):
    with pytest.raises(ValueError, match="seed"):
        make_dataset("gauss", seed=seed)


SQUARE = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]


def test_dataset_from_arrays_builds_each_problem():
    binary = dataset_from_arrays(SQUARE, [0, 1, 0, 1, 0, 1], "binary")
    assert binary.y.dtype == np.float64 and binary.n_classes == 2
    multi = dataset_from_arrays(SQUARE, [0, 0, 1, 1, 2, 2], "multiclass")
    assert multi.y.dtype == np.int64 and multi.n_classes == 3
    regression = dataset_from_arrays(SQUARE, [0.5, -1, 2, 0, 0, 0], "regression")
    assert regression.n_classes == 0 and regression.x.dtype == np.float64


@pytest.mark.parametrize(
    ("x", "y", "problem", "message"),
    [
        ([[0, math.nan]] + SQUARE[1:], [0, 1, 0, 1, 0, 1], "binary", "finite"),
        (SQUARE, [0, 1, 0, 1, 0, math.inf], "regression", "finite"),
        (SQUARE, [0, 1, 0, 1, 0], "binary", r"shape \(6,\)"),
        ([[0, 0, 0]] * 6, [0, 1, 0, 1, 0, 1], "binary", r"shape \(n, 2\)"),
        (SQUARE[:3], [0, 1, 0], "binary", "3 points"),
        (SQUARE, [1, 1, 1, 1, 1, 1], "binary", "both classes"),
        (SQUARE, [0, 1, 2, 1, 0, 1], "binary", r"\[2.0\]"),
        (SQUARE, [0, 0, 1, 1, 2, 2], "ranking", "'ranking'"),
        (SQUARE, [0, 0, 1, 1, 1, 1], "multiclass", "2 classes"),
        (SQUARE, [0, 0, 1, 1, 3, 3], "multiclass", "class 2 has 0 points"),
        (SQUARE, [0, 0, 1, 1, 2, 0.5], "multiclass", "integers"),
        (SQUARE, [0, 0, 1, 1, 2, 1], "multiclass", "class 2 has 1 points"),
    ],
)
def test_dataset_from_arrays_rejects_bad_input(x, y, problem, message):
    with pytest.raises(ValueError, match=message):
        dataset_from_arrays(x, y, problem)


def test_dataset_rejects_inconsistent_fields():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="n_classes 3"):
        Dataset(x=x, y=np.array([0.0, 1, 0, 1]), problem="binary", n_classes=3)
    with pytest.raises(ValueError, match="int64"):
        Dataset(x=x, y=np.array([0.0, 1, 2, 1]), problem="multiclass", n_classes=3)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        Dataset(x=np.zeros((4, 3)), y=np.zeros(4), problem="regression", n_classes=0)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.73, 0.9])
def test_split_sizes_follow_the_fraction_and_cover_all_points(fraction):
    data = make_dataset("blobs", n_samples=101)
    train, test = shuffle_split(data, fraction, np.random.default_rng(0))
    assert len(train.y) == round(101 * fraction) and len(train.y) + len(test.y) == 101
    assert train.problem == test.problem == "multiclass" and train.n_classes == 3
    rows = {tuple(p) for p in np.vstack([train.x, test.x])}
    assert rows == {tuple(p) for p in data.x}


def test_split_is_seeded_and_keeps_points_with_their_labels():
    data = make_dataset("sine", seed=1)
    a, _ = shuffle_split(data, 0.5, np.random.default_rng(3))
    b, _ = shuffle_split(data, 0.5, np.random.default_rng(3))
    c, _ = shuffle_split(data, 0.5, np.random.default_rng(4))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    np.testing.assert_array_equal(a.y, (a.x[:, 1] > 3 * np.sin(a.x[:, 0])).astype(float))


@pytest.mark.parametrize("fraction", [0.05, 0.95, 0.0, 1.0])
def test_split_fraction_out_of_bounds_is_rejected(fraction):
    with pytest.raises(ValueError, match=f"train_fraction {fraction!r}"):
        shuffle_split(make_dataset("xor"), fraction, np.random.default_rng(0))


def test_split_that_would_leave_a_part_empty_is_rejected():
    data = dataset_from_arrays(SQUARE[:4], [0, 1, 0, 1], "binary")
    with pytest.raises(ValueError, match="empty"):
        shuffle_split(data, 0.1, np.random.default_rng(0))


def test_features_are_in_documented_order_with_labels():
    names = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2", "cosx1", "cosx2"]
    assert list(FEATURES) == names
    assert list(FEATURE_LABELS) == names
    assert FEATURE_LABELS["x1sq"] == "x₁²"


def test_feature_matrix_values_for_known_points():
    x = np.array([[2.0, -3.0], [0.0, np.pi / 2]])
    m = feature_matrix(x, list(FEATURES))
    expected = [
        [2, -3, 4, 9, -6, np.sin(2), np.sin(-3), np.cos(2), np.cos(-3)],
        [0, np.pi / 2, 0, np.pi**2 / 4, 0, 0, 1, 1, 0],
    ]
    assert m.dtype == np.float64
    np.testing.assert_allclose(m, expected, atol=1e-12)


def test_feature_matrix_keeps_the_requested_order():
    x = np.array([[2.0, 3.0]])
    np.testing.assert_array_equal(feature_matrix(x, ["x1x2", "x2", "x1"]), [[6.0, 3.0, 2.0]])


@pytest.mark.parametrize(
    ("features", "message"),
    [([], "non-empty"), (["x1", "x3"], "x3"), (["x1", "x1"], "duplicates"), ("x1", "non-empty")],
)
def test_feature_matrix_rejects_bad_feature_lists(features, message):
    with pytest.raises(ValueError, match=message):
        feature_matrix(np.zeros((3, 2)), features)


def _train_test_features():
    train, test = shuffle_split(make_dataset("gauss", noise=0.3), 0.5, np.random.default_rng(0))
    features = ["x1", "x2", "x1sq", "x1x2"]
    return feature_matrix(train.x, features), feature_matrix(test.x, features)


def test_standardize_gives_zero_mean_unit_std_on_train():
    train, test = _train_test_features()
    scaler = Scaler.fit("standardize", train)
    scaled = scaler.transform(train)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-12)
    assert not np.allclose(scaler.transform(test).mean(axis=0), 0, atol=1e-6)


def test_normalize_maps_train_onto_minus_one_to_one():
    train, _ = _train_test_features()
    scaled = Scaler.fit("normalize", train).transform(train)
    np.testing.assert_allclose(scaled.min(axis=0), -1, atol=1e-12)
    np.testing.assert_allclose(scaled.max(axis=0), 1, atol=1e-12)


def test_none_leaves_values_unchanged():
    train, _ = _train_test_features()
    np.testing.assert_array_equal(Scaler.fit("none", train).transform(train), train)


@pytest.mark.parametrize("method", ["standardize", "normalize"])
def test_constant_column_maps_to_zero_without_dividing_by_zero(method):
    m = np.column_stack([np.full(5, 3.7), np.arange(5.0)])
    scaler = Scaler.fit(method, m)
    scaled = scaler.transform(m)
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled[:, 0], 0, atol=1e-12)
    assert scaler.scale[0] == 1.0


def test_scaler_rejects_bad_method_and_shapes():
    with pytest.raises(ValueError, match="'zscore'"):
        Scaler.fit("zscore", np.zeros((3, 2)))
    scaler = Scaler.fit("normalize", np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        scaler.transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="positive"):
        Scaler(method="none", offset=np.zeros(1), scale=np.zeros(1))
