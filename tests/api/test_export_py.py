"""The standalone Python export: run in a subprocess, it predicts what the engine predicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.export_py import ACTIVATION_SOURCE, FEATURE_SOURCE
from engine.activations import ACTIVATIONS
from engine.datasets import FEATURES, feature_matrix
from engine.network import OUTPUTS
from engine.trainer import Trainer

POINTS = np.random.default_rng(7).uniform(-8, 8, size=(40, 2))

CASES = [
    # every problem type, every activation, every preprocessing, every feature at least once
    {"dataset": "circle"},
    {"dataset": "xor", "features": ["x1", "x2", "x1x2"], "activation": "relu", "preprocessing": "standardize"},
    {"dataset": "spiral", "features": ["x1", "x2", "sinx1", "sinx2"], "activation": "leaky_relu", "layers": [5, 3, 2]},
    {"dataset": "moons", "features": ["x1sq", "x2sq", "cosx1", "cosx2"], "activation": "elu", "preprocessing": "normalize"},
    {"dataset": "gauss", "activation": "softplus", "layers": [3]},
    {"dataset": "sine", "activation": "gelu", "preprocessing": "standardize"},
    {"dataset": "checkerboard", "activation": "swish", "features": ["x1", "x2", "x1x2", "sinx1"]},
    {"dataset": "circle", "activation": "sigmoid", "layers": []},
    {"dataset": "xor", "activation": "step", "optimizer": "random_search", "layers": [3]},
    {"dataset": "blobs", "classes": 4, "activation": "tanh"},
    {"dataset": "multispiral", "classes": 5, "activation": "relu", "preprocessing": "normalize",
     "features": ["x1", "x2", "x1sq", "x2sq"]},
    {"dataset": "plane", "activation": "linear"},
    {"dataset": "gaussians", "activation": "relu", "preprocessing": "standardize", "layers": [6, 4]},
    {"dataset": "sinewave", "activation": "tanh", "features": ["sinx1", "x2"]},
    # TensorFlow Playground's set-up: a tanh output from -1 to 1 (and a linear one for regression)
    {"dataset": "spiral", "convention": "tfpg", "activation": "relu", "init": "playground"},
    {"dataset": "plane", "convention": "tfpg", "reg": "l1", "reg_rate": 0.01},
]


def _engine_predictions(model: dict[str, Any], points: np.ndarray) -> np.ndarray:
    trainer = Trainer.from_dict(model["trainer"])
    inputs = trainer.scaler.transform(feature_matrix(points, trainer.setup.features))
    return trainer.network.predict(inputs)


def _run(script: str, stdin: str, tmp_path: Path) -> np.ndarray:
    path = tmp_path / "model.py"
    path.write_text(script)
    # -I: isolated from this project and its paths; the script may use NumPy and nothing else
    done = subprocess.run([sys.executable, "-I", str(path)], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=True)
    return np.array([[float(v) for v in line.split(",")] for line in done.stdout.splitlines()])


def _csv(points: np.ndarray, header: bool) -> str:
    rows = [f"{x1!r},{x2!r}" for x1, x2 in points.tolist()]
    return "\n".join((["x1,x2"] if header else []) + rows) + "\n"


@pytest.mark.parametrize("config", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_exported_script_predicts_what_the_engine_does(client: TestClient, config: dict[str, Any], tmp_path: Path) -> None:
    created = client.post("/api/sessions", json=config)
    assert created.status_code == 201, created.text
    session = created.json()["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 5})
    answer = client.get(f"/api/sessions/{session}/model.py")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="model.py"'
    expected = _engine_predictions(client.get(f"/api/sessions/{session}/model").json(), POINTS)
    for header in (True, False):
        printed = _run(answer.text, _csv(POINTS, header), tmp_path)
        problem = created.json()["frame"]["output"]["problem"]
        if problem != "multiclass":  # one number per row: P(class 1), or the value
            assert printed.shape == (len(POINTS), 1)
        else:  # the class probabilities
            assert printed.shape == (len(POINTS), config["classes"])
        np.testing.assert_allclose(printed, expected, rtol=0, atol=1e-12)
    if config.get("convention") == "tfpg" and config["dataset"] == "spiral":
        assert printed.min() < 0 and "a score from -1 (class 0) to 1 (class 1)" in answer.text


def test_export_knows_every_feature_and_activation() -> None:
    """A feature or activation added to the engine needs its text in the export."""
    assert set(FEATURE_SOURCE) == set(FEATURES)
    assert set(ACTIVATION_SOURCE) == set(ACTIVATIONS) | set(OUTPUTS)


def test_the_script_names_a_bad_row(client: TestClient, tmp_path: Path) -> None:
    session = client.post("/api/sessions", json={}).json()["id"]
    path = tmp_path / "model.py"
    path.write_text(client.get(f"/api/sessions/{session}/model.py").text)
    done = subprocess.run([sys.executable, "-I", str(path)], input="1,2\n3,oops\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "line 2" in done.stderr


def test_script_of_an_unknown_session_is_404(client: TestClient) -> None:
    assert client.get("/api/sessions/nope/model.py").status_code == 404
