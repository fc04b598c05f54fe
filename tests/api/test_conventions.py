"""The ``convention`` field: TensorFlow Playground's own set-up through the API, the URL, the
page's form and the saved model, and its output drawn from −1 to 1."""

from __future__ import annotations

from html import unescape
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.config import PlaygroundConfig, parse_query, validate_config
from engine.trainer import Trainer

from .conftest import decode
from .test_classroom import config_of, form_values, page_state


def create(client: TestClient, **config: Any) -> dict[str, Any]:
    answer = client.post("/api/sessions", json=config)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_convention_round_trips_through_the_api_and_the_url(client: TestClient) -> None:
    created = create(client, convention="tfpg", dataset="xor")
    assert created["config"]["convention"] == "tfpg" and "convention=tfpg" in created["query"]
    config, notes = parse_query([tuple(part.split("=")) for part in created["query"].split("&")])
    assert notes == [] and config == validate_config(created["config"], strict=True)
    assert config.to_setup().convention == "tfpg"
    assert "convention" not in PlaygroundConfig(convention="standard").to_query(short=True)
    page = client.get(f"/?{created['query']}&lang=en").text
    assert '<option value="tfpg" selected>' in page


@pytest.mark.parametrize(("body", "field"), [
    ({"convention": "keras"}, "convention"),
    ({"convention": 1}, "convention"),
    ({"convention": "tfpg", "optimizer": "adam"}, "convention"),
    ({"convention": "tfpg", "loss": "mse"}, "convention"),
    ({"convention": "tfpg", "dataset": "blobs"}, "convention"),
])
def test_bad_conventions_are_refused_with_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    answer = client.post("/api/sessions", json=body)
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["detail"]] == [field]


def test_a_change_that_tensorflow_playground_cannot_train_leaves_the_session_as_it_was(client: TestClient) -> None:
    session = create(client, convention="tfpg")["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 2})
    before = client.get(f"/api/sessions/{session}/model").json()["trainer"]
    answer = client.patch(f"/api/sessions/{session}/config", json={"optimizer": "adam"})
    assert answer.status_code == 409 and answer.json()["detail"][0]["field"] == "convention"
    assert "TensorFlow Playground" in answer.json()["detail"][0]["message"]
    assert client.get(f"/api/sessions/{session}/model").json()["trainer"] == before
    switched = client.patch(f"/api/sessions/{session}/config", json={"convention": "standard"})
    assert switched.status_code == 200 and switched.json()["rebuilt"] == "data"


def test_the_output_map_runs_from_minus_one_to_one_with_the_boundary_in_the_middle(client: TestClient) -> None:
    created = create(client, convention="tfpg", dataset="xor", init="playground", lr=0.3)
    frame = client.post(f"/api/sessions/{created['id']}/step", json={"epochs": 20}).json()
    shown = decode(frame["output"]["z"]).astype(float)
    trainer = Trainer(validate_config(created["config"]).to_setup())
    trainer.step(20)
    output = trainer.snapshot(frame["output"]["grid"]).output
    assert output.min() < -0.5 and output.max() > 0.5  # tanh's range, not a probability's
    np.testing.assert_allclose(shown, np.rint((output + 1) / 2 * 255), atol=1)
    assert ((shown >= 128) == (output >= 0)).mean() > 0.99  # the colour changes where the sign does


def test_the_confusion_matrix_counts_class_one_where_the_output_is_not_negative(client: TestClient) -> None:
    created = create(client, convention="tfpg", dataset="gauss", init="playground")
    frame = client.post(f"/api/sessions/{created['id']}/step", json={"epochs": 5}).json()
    confusion = np.array(frame["metrics_detail"]["train"]["confusion"])
    assert confusion.trace() / confusion.sum() == pytest.approx(frame["metrics"]["train_metric"], abs=1e-6)
    assert frame["metrics"]["train_metric"] > 0.9 and confusion.sum(axis=1).min() > 0
    points = created["data"]["train"]["y"]
    assert set(points) == {0, 1}  # the points keep their classes; only the targets are ±1


def test_a_saved_model_carries_on_exactly(client: TestClient) -> None:
    config = {"convention": "tfpg", "dataset": "xor", "batch": 30, "reg": "l1", "reg_rate": 0.03, "lr": 0.3}
    source = create(client, **config)["id"]
    client.post(f"/api/sessions/{source}/step", json={"epochs": 3})
    saved = client.get(f"/api/sessions/{source}/model").json()
    assert saved["trainer"]["pending_rows"] == 10 and saved["trainer"]["dead_weights"]
    target = create(client)["id"]
    assert client.post(f"/api/sessions/{target}/model", json=saved).status_code == 200
    for session in (source, target):
        client.post(f"/api/sessions/{session}/step", json={"epochs": 4})
    params = [client.get(f"/api/sessions/{s}/model").json()["trainer"]["params"] for s in (source, target)]
    assert params[0] == params[1]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_page_says_what_tensorflow_playgrounds_conventions_need(client: TestClient, lang: str) -> None:
    catalogue = {"en": EN, "es": ES}[lang]
    page = client.get(f"/?convention=tfpg&lang={lang}").text
    answer = client.post(f"/s/{page_state(page)['sid']}/config", data={**form_values(page), "optimizer": ["adam"]})
    assert answer.status_code == 200
    assert f"{catalogue['field.convention']}: {catalogue['error.tfpg_needs']}" in unescape(answer.text)
    assert config_of(page_state(answer.text)["query"]).convention == "tfpg"  # the session kept its state
    assert config_of(page_state(answer.text)["query"]).optimizer == "sgd"


@pytest.mark.parametrize(("bad", "field"), [
    ({"pending_rows": 100000}, "trainer"), ({"pending_rows": -1}, "trainer.pending_rows"),
    ({"dead_weights": [999]}, "trainer"), ({"dead_weights": "x"}, "trainer.dead_weights"),
])
def test_a_model_file_with_bad_pending_points_or_dead_links_changes_nothing(client: TestClient, bad: dict[str, Any],
                                                                          field: str) -> None:
    session = create(client, convention="tfpg", batch=30)["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 2})
    saved = client.get(f"/api/sessions/{session}/model").json()
    answer = client.post(f"/api/sessions/{session}/model", json={**saved, "trainer": {**saved["trainer"], **bad}})
    assert answer.status_code == 422, answer.text
    problem = answer.json()["detail"][0]
    assert problem["field"] == field and next(iter(bad)) in f"{problem['field']} {problem['message']}"
    assert client.get(f"/api/sessions/{session}/model").json() == saved
