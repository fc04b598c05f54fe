"""Saved models: downloaded, loaded back (here or on another server), and carrying on training."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.model_file import MAX_MODEL_BYTES, MODEL_FORMAT
from app.points import encode_points
from app.settings import Settings
from engine.datasets import DATASETS, FEATURES
from engine.optimizers import OPTIMIZERS, SCHEDULES
from tests.api.test_points import drawn_sets


@pytest.fixture
def other_server() -> Iterator[TestClient]:
    """A second app: a model saved on one server is loaded on another."""
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def _session(client: TestClient, config: dict[str, Any] | None = None) -> str:
    answer = client.post("/api/sessions", json=config or {})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _model(client: TestClient, session: str) -> dict[str, Any]:
    return client.get(f"/api/sessions/{session}/model").json()


def _train(client: TestClient, session: str, epochs: int) -> None:
    if epochs:
        assert client.post(f"/api/sessions/{session}/step", json={"epochs": epochs}).status_code == 200


configs = st.fixed_dictionaries(
    {
        "dataset": st.sampled_from(list(DATASETS)),
        "features": st.lists(st.sampled_from(list(FEATURES)), min_size=1, max_size=4, unique=True),
        "preprocessing": st.sampled_from(["none", "standardize", "normalize"]),
        "layers": st.lists(st.integers(1, 4), max_size=3),
        "activation": st.sampled_from(["tanh", "relu", "sigmoid", "elu"]),
        "optimizer": st.sampled_from(list(OPTIMIZERS)),
        "schedule": st.sampled_from(list(SCHEDULES)),
        "reg": st.sampled_from(["none", "l1", "l2"]),
        "reg_rate": st.sampled_from([0.0, 0.001, 0.03]),
        "batch": st.sampled_from([1, 7, 30]),
        "seed": st.integers(0, 1000),
    }
)
_FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FEW
@given(config=configs, before=st.integers(0, 4))
def test_load_of_save_is_identity(client: TestClient, other_server: TestClient, config: dict[str, Any], before: int) -> None:
    session = _session(client, config)
    _train(client, session, before)
    saved = _model(client, session)
    fresh = _session(other_server)
    answer = other_server.post(f"/api/sessions/{fresh}/model", json=saved)
    assert answer.status_code == 200, answer.text
    assert answer.json()["config"] == saved["config"]
    assert answer.json()["frame"]["epoch"] == saved["trainer"]["epoch"]  # before, unless it diverged
    assert _model(other_server, fresh) == saved


@_FEW
@given(config=configs, before=st.integers(0, 3), after=st.integers(1, 4))
def test_training_after_a_reload_equals_training_without_it(
    client: TestClient, other_server: TestClient, config: dict[str, Any], before: int, after: int
) -> None:
    session = _session(client, config)
    _train(client, session, before)
    saved = _model(client, session)
    _train(client, session, after)
    reloaded = _session(other_server, {"dataset": "xor", "layers": [2]})  # any session will do
    assert other_server.post(f"/api/sessions/{reloaded}/model", json=saved).status_code == 200
    _train(other_server, reloaded, after)
    assert _model(other_server, reloaded) == _model(client, session)


def _edited(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(model: dict[str, Any]) -> dict[str, Any]:
        model = copy.deepcopy(model)
        change(model)
        return model

    return edit


BAD_FILES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    ("foreign file", lambda m: {"name": "a keras model", "layers": []}, "format", "not a playground model file"),
    ("not an object", lambda m: [1, 2, 3], "body", "JSON object"),
    ("newer version", _edited(lambda m: m.update(version=2)), "version", "version 2 is not supported"),
    ("no trainer", _edited(lambda m: m.pop("trainer")), "trainer", "Field required"),
    ("extra key", _edited(lambda m: m.update(comment="hi")), "comment", "Extra inputs"),
    ("bad config", _edited(lambda m: m["config"].update(lr=-1)), "config.lr", "greater than 0"),
    ("unknown config key", _edited(lambda m: m["config"].update(colour="red")), "config.colour", "unknown setting"),
    ("NaN weight", _edited(lambda m: m["trainer"]["params"].__setitem__(3, float("nan"))), "trainer.params.3", "finite"),
    ("text weight", _edited(lambda m: m["trainer"]["params"].__setitem__(0, "big")), "trainer.params.0", "number"),
    ("negative epoch", _edited(lambda m: m["trainer"].update(epoch=-1)), "trainer.epoch", "greater than or equal to 0"),
    ("state version", _edited(lambda m: m["trainer"].update(version=99)), "trainer.version", "Input should be 1"),
    ("another config's trainer", _edited(lambda m: m["config"].update(lr=0.1)), "trainer.setup", "not made from"),
    ("unknown setup key", _edited(lambda m: m["trainer"]["setup"].update(colour=1)), "trainer.setup", "colour"),
    ("too few weights", _edited(lambda m: m["trainer"]["params"].pop()), "trainer", "params must be"),
    ("broken optimizer", _edited(lambda m: m["trainer"].update(optimizer={"name": "adam"})), "trainer", "optimizer"),
    ("broken random state", _edited(lambda m: m["trainer"].update(rng={"bit_generator": "nope"})), "trainer", "trainer:"),
]


@pytest.mark.parametrize(("change", "field", "message"), [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
def test_a_bad_file_is_refused_and_changes_nothing(
    client: TestClient, change: Callable[[dict[str, Any]], Any], field: str, message: str
) -> None:
    source = _session(client, {"dataset": "xor", "lr": 0.03})
    _train(client, source, 3)
    target = _session(client, {"dataset": "spiral", "layers": [3]})
    _train(client, target, 2)
    before = _model(client, target)
    # json.dumps writes NaN as the non-standard NaN, which a hand-edited file may hold
    answer = client.post(f"/api/sessions/{target}/model", content=json.dumps(change(_model(client, source))))
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert any(p["field"] == field and message in p["message"] for p in problems), problems
    assert _model(client, target) == before


def test_malformed_json_is_refused(client: TestClient) -> None:
    session = _session(client)
    answer = client.post(f"/api/sessions/{session}/model", content=b'{"format": ',
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "body" and "not a JSON model file" in answer.json()["detail"][0]["message"]


def test_an_oversized_file_is_refused(client: TestClient) -> None:
    session = _session(client)
    body = json.dumps({"format": MODEL_FORMAT, "padding": "x" * MAX_MODEL_BYTES}).encode()
    answer = client.post(f"/api/sessions/{session}/model", content=body)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [{"field": "body", "message": f"the file is {len(body)} bytes; the limit is {MAX_MODEL_BYTES}"}]


def test_loading_into_an_unknown_session_is_404(client: TestClient) -> None:
    assert client.post("/api/sessions/nope/model", json={}).status_code == 404


@_FEW
@given(drawn=drawn_sets(min_size=8), before=st.integers(0, 3), after=st.integers(1, 3))
def test_a_model_trained_on_drawn_points_round_trips(
    client: TestClient, other_server: TestClient, drawn: tuple[str, Any], before: int, after: int
) -> None:
    problem, rows = drawn
    dataset = {"binary": "xor", "multiclass": "blobs", "regression": "plane"}[problem]
    session = _session(client, {"dataset": dataset, "points": encode_points(problem, rows), "layers": [3]})
    _train(client, session, before)
    saved = _model(client, session)
    _train(client, session, after)
    reloaded = _session(other_server)
    assert other_server.post(f"/api/sessions/{reloaded}/model", json=saved).status_code == 200
    assert _model(other_server, reloaded) == saved
    _train(other_server, reloaded, after)
    assert _model(other_server, reloaded) == _model(client, session)
