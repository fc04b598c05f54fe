"""metrics_detail: confusion matrices and per-class accuracy agree with the engine's accuracy;
regression predictions follow the data points; no NaN ever reaches the frame."""

from __future__ import annotations

import numpy as np
import pytest

from app.config import PlaygroundConfig
from app.frames import build_frame, data_points
from app.metrics import MAX_PLOTTED, metrics_detail
from engine.datasets import Dataset
from engine.trainer import Trainer

from .conftest import non_finite_paths


def trainer(data: Dataset | None = None, **changes) -> Trainer:
    return Trainer(PlaygroundConfig().with_changes(**changes).to_setup(), data)


@pytest.mark.parametrize("changes", [{"dataset": "xor"}, {"dataset": "blobs", "classes": 4}, {"dataset": "multispiral", "classes": 5}])
def test_confusion_matrices_agree_with_the_accuracy(changes: dict) -> None:
    t = trainer(**changes)
    t.step(8)
    detail = build_frame(t)["metrics_detail"]
    h = t.history
    for split, size, accuracy in (("train", len(t.y_train), h.train_metric[-1]), ("test", len(t.y_test), h.test_metric[-1])):
        confusion = np.array(detail[split]["confusion"])
        k = t.network.sizes[-1] if t.problem == "multiclass" else 2
        assert confusion.shape == (k, k) and confusion.sum() == size
        assert np.trace(confusion) / size == pytest.approx(accuracy)
        rows = confusion.sum(axis=1)
        assert detail[split]["class_accuracy"] == pytest.approx([confusion[i, i] / rows[i] for i in range(k)])


def test_confusion_rows_are_the_true_classes() -> None:
    x = np.array([[-5.0, 0], [-4, 0], [-3, 0], [3, 0], [4, 0], [5, 0], [-5, 1], [5, 1]])
    t = trainer(Dataset(x=x, y=np.array([0, 0, 0, 1, 1, 1, 0, 1.0]), problem="binary", n_classes=2),
                layers=(), train=50)
    t.network.params[:] = [1.0, 0.0, 0.0]  # P(class 1) = sigmoid(x1): right for every point
    detail = metrics_detail(t)
    for split in ("train", "test"):
        confusion = np.array(detail[split]["confusion"])
        assert np.trace(confusion) == confusion.sum() == 4
    t.network.params[:] = [-1.0, 0.0, 0.0]  # every point wrong: all off the diagonal, true class by row
    detail = metrics_detail(t)
    truth = {split: np.bincount(data.y.astype(int), minlength=2) for split, data in (("train", t.train_data), ("test", t.test_data))}
    for split in ("train", "test"):
        confusion = np.array(detail[split]["confusion"])
        assert np.trace(confusion) == 0 and confusion.sum(axis=1).tolist() == truth[split].tolist()
        assert detail[split]["class_accuracy"] == [0.0 if n else None for n in truth[split]]


def test_a_class_missing_from_a_split_has_no_accuracy() -> None:
    x = np.array([[-5.0, 0], [-4, 0], [-3, 0], [3, 0], [4, 0], [5, 0]])
    t = trainer(Dataset(x=x, y=np.array([0, 0, 0, 0, 0, 1.0]), problem="binary", n_classes=2), train=50)
    accuracy = [metrics_detail(t)[split]["class_accuracy"][1] for split in ("train", "test")]
    assert accuracy.count(None) == 1


def test_regression_predictions_follow_the_data_points() -> None:
    t = trainer(dataset="gaussians")
    t.step(3)
    frame = build_frame(t)
    points = data_points(t)
    for split, x in (("train", t.x_train), ("test", t.x_test)):
        predicted = frame["metrics_detail"][split]["predicted"]
        assert len(predicted) == min(MAX_PLOTTED, len(points[split]["y"]))
        np.testing.assert_allclose(predicted, t.network.predict(x[:MAX_PLOTTED])[:, 0], atol=5e-4)
    assert "confusion" not in frame["metrics_detail"]["test"]


def test_a_diverged_network_has_no_nan_in_its_details() -> None:
    for dataset in ("plane", "blobs", "xor"):
        t = trainer(dataset=dataset)
        t.network.params[:] = np.nan
        assert non_finite_paths(metrics_detail(t)) == []
