"""The JSON API end to end: happy paths, 404s, one 422 message per bad field with the session
left unchanged, learning-rate vs dataset changes, reset, concurrency, independent sessions."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import MAX_EPOCHS_PER_STEP, MAX_GRID, MAX_HIDDEN_LAYERS, MAX_NEURONS, MAX_SEED, MIN_GRID
from app.main import create_app
from app.settings import Settings

from .conftest import decode, non_finite_paths

JSON = {"content-type": "application/json"}


def create(client: TestClient, **config: Any) -> dict[str, Any]:
    answer = client.post("/api/sessions", json=config)
    assert answer.status_code == 201, answer.text
    return answer.json()


def state(client: TestClient, session: str) -> tuple[dict[str, Any], int, list]:
    """What must not change after a failed request: config, epoch and weights."""
    info = client.get(f"/api/sessions/{session}").json()
    weights = client.get(f"/api/sessions/{session}/model").json()["trainer"]["params"]
    return info["config"], info["epoch"], weights


def fields(answer, status: int = 422) -> list[str]:
    assert answer.status_code == status, answer.text
    problems = answer.json()["detail"]
    assert all(set(p) == {"field", "message"} and p["message"] for p in problems)
    return [p["field"] for p in problems]


# -- happy paths ----------------------------------------------------------------------------------


def test_create_with_defaults_and_with_a_partial_config(client: TestClient) -> None:
    created = create(client)
    assert set(created) == {"id", "config", "query", "frame", "data"}
    assert created["config"]["dataset"] == "circle" and created["query"].startswith("dataset=circle&")
    assert created["frame"]["epoch"] == 0 and set(created["data"]) == {"train", "test"}
    assert client.post("/api/sessions").status_code == 201  # no body at all: the defaults
    xor = create(client, dataset="xor", layers=[3], lr=0.1)
    assert (xor["config"]["dataset"], xor["config"]["layers"], xor["config"]["lr"]) == ("xor", [3], 0.1)
    assert "layers=3&" in xor["query"]
    assert [len(layer) for layer in xor["frame"]["nodes"]["layers"]] == [2, 3]


def test_read_session(client: TestClient) -> None:
    created = create(client, dataset="plane")
    info = client.get(f"/api/sessions/{created['id']}").json()
    assert set(info) == {"id", "config", "query", "epoch", "iteration", "metrics", "flags"}
    assert info["config"] == created["config"] and info["query"] == created["query"]
    assert info["metrics"] == created["frame"]["metrics"] and info["metrics"]["metric"] == "r2"


def test_step_and_frame(client: TestClient) -> None:
    session = create(client)["id"]
    frame = client.post(f"/api/sessions/{session}/step", json={"epochs": 7, "since": 4, "grid": 20}).json()
    assert frame["epoch"] == 7 and frame["iteration"] == 7 * 25  # 250 training points, batch 10
    assert frame["history"]["start"] == 5 and len(frame["history"]["train_loss"]) == 3
    assert decode(frame["output"]["z"]).shape == (20, 20)
    assert client.post(f"/api/sessions/{session}/step").json()["epoch"] == 8  # body optional
    again = client.get(f"/api/sessions/{session}/frame", params={"since": 7, "grid": 30}).json()
    assert again["epoch"] == 8 and again["history"]["start"] == 8
    assert decode(again["output"]["z"]).shape == (30, 30)
    assert client.get(f"/api/sessions/{session}/frame").json()["history"]["start"] == 0


def test_change_config(client: TestClient) -> None:
    session = create(client)["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 3})
    answer = client.patch(f"/api/sessions/{session}/config", json={"lr": 0.1}).json()
    assert set(answer) == {"config", "query", "rebuilt", "frame", "data"}
    assert (answer["rebuilt"], answer["data"], answer["frame"]["epoch"]) == ("training", None, 3)
    assert answer["config"]["lr"] == 0.1 and "lr=0.1&" in answer["query"]
    assert answer["config"]["dataset"] == "circle"  # merged onto the current config
    same = client.patch(f"/api/sessions/{session}/config", json={"lr": 0.1}).json()
    assert same["rebuilt"] == "nothing"
    network = client.patch(f"/api/sessions/{session}/config", json={"layers": [5]}).json()
    assert (network["rebuilt"], network["frame"]["epoch"], network["data"]) == ("network", 0, None)
    data = client.patch(f"/api/sessions/{session}/config", json={"dataset": "xor"}).json()
    assert data["rebuilt"] == "data" and set(data["data"]) == {"train", "test"}
    assert data["config"]["layers"] == [5] and data["config"]["lr"] == 0.1


def test_learning_rate_change_keeps_weights_and_dataset_change_starts_over(client: TestClient) -> None:
    session = create(client)["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 10})
    before = client.get(f"/api/sessions/{session}/model").json()["trainer"]
    client.patch(f"/api/sessions/{session}/config", json={"lr": 0.3})
    after = client.get(f"/api/sessions/{session}/model").json()["trainer"]
    assert after["params"] == before["params"] and after["epoch"] == 10
    assert after["setup"]["learning_rate"] == 0.3
    client.patch(f"/api/sessions/{session}/config", json={"dataset": "gauss"})
    info = client.get(f"/api/sessions/{session}").json()
    assert (info["epoch"], info["iteration"], info["config"]["dataset"]) == (0, 0, "gauss")


def test_reset_same_seed_gives_the_initial_weights_of_a_fresh_session(client: TestClient) -> None:
    first = create(client, dataset="xor", seed=4)
    session = first["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 10})
    answer = client.post(f"/api/sessions/{session}/reset").json()
    assert set(answer) == {"config", "query", "frame", "data"}
    assert answer["frame"]["epoch"] == 0 and answer["config"]["seed"] == 4
    assert answer["frame"]["weights"] == first["frame"]["weights"]
    fresh = create(client, dataset="xor", seed=4)["id"]
    model = client.get(f"/api/sessions/{session}/model").json()["trainer"]
    assert model["params"] == client.get(f"/api/sessions/{fresh}/model").json()["trainer"]["params"]
    same_seed = client.post(f"/api/sessions/{session}/reset", json={"seed": 4}).json()
    assert same_seed["frame"]["weights"] == first["frame"]["weights"]


def test_reset_with_a_new_seed_changes_the_config_the_data_and_the_weights(client: TestClient) -> None:
    first = create(client, seed=1)
    answer = client.post(f"/api/sessions/{first['id']}/reset", json={"seed": 2}).json()
    assert answer["config"]["seed"] == 2 and "seed=2" in answer["query"]
    assert answer["data"] != first["data"] and answer["frame"]["weights"] != first["frame"]["weights"]
    fresh = create(client, seed=2)
    assert (answer["data"], answer["frame"]) == (fresh["data"], fresh["frame"])


def test_set_weight_and_bias(client: TestClient) -> None:
    session = create(client)["id"]
    frame = client.put(f"/api/sessions/{session}/weight",
                       json={"layer": 1, "source": 3, "target": 0, "value": -2.5}).json()
    assert frame["weights"][1][3][0] == -2.5
    frame = client.put(f"/api/sessions/{session}/bias", json={"layer": 2, "node": 0, "value": 0.75}).json()
    assert frame["biases"][2][0] == 0.75 and frame["weights"][1][3][0] == -2.5
    info = client.get(f"/api/sessions/{session}").json()
    assert info["metrics"] == frame["metrics"]  # losses re-evaluated for the new weights


def test_model_download(client: TestClient) -> None:
    created = create(client)
    client.post(f"/api/sessions/{created['id']}/step", json={"epochs": 2})
    answer = client.get(f"/api/sessions/{created['id']}/model")
    assert answer.headers["content-disposition"] == 'attachment; filename="playground-model.json"'
    model = answer.json()
    assert set(model) == {"format", "version", "config", "query", "trainer"}
    assert model["config"] == created["config"] and model["trainer"]["epoch"] == 2


def test_delete(client: TestClient) -> None:
    session = create(client)["id"]
    answer = client.delete(f"/api/sessions/{session}")
    assert answer.status_code == 204 and answer.content == b""
    assert client.get(f"/api/sessions/{session}").status_code == 404


# -- 404 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PATCH", "/config", {"lr": 0.1}),
        ("POST", "/step", {}),
        ("POST", "/reset", {}),
        ("GET", "/frame", None),
        ("PUT", "/weight", {"layer": 0, "source": 0, "target": 0, "value": 1}),
        ("PUT", "/bias", {"layer": 0, "node": 0, "value": 1}),
        ("GET", "/model", None),
        ("DELETE", "", None),
    ],
)
def test_unknown_session_is_404(client: TestClient, method: str, path: str, body: Any) -> None:
    answer = client.request(method, f"/api/sessions/nope{path}", json=body)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "session nope not found or expired; create one with POST /api/sessions"}


def test_expired_session_is_404() -> None:
    with TestClient(create_app(Settings(session_ttl_seconds=1))) as client:
        session = create(client)["id"]
        client.app.state.sessions.clock = lambda: float("inf")  # much later
        assert client.get(f"/api/sessions/{session}").status_code == 404


# -- 422: one message per bad field, and the session unchanged ---------------------------------------


BAD_CONFIGS = [
    ({"lr": 0}, ["lr"]),
    ({"lr": 11}, ["lr"]),
    ('{"lr": NaN}', ["lr"]),
    ('{"lr": Infinity}', ["lr"]),
    ({"lr": "fast"}, ["lr"]),
    ({"dataset": "moon"}, ["dataset"]),
    ({"layers": [4] * (MAX_HIDDEN_LAYERS + 1)}, ["layers"]),
    ({"layers": [4, MAX_NEURONS + 1]}, ["layers"]),
    ({"features": []}, ["features"]),
    ({"colour": "red"}, ["colour"]),
    ({"noise": -1, "batch": 0}, ["noise", "batch"]),
    ({"loss": "cross_entropy", "dataset": "plane"}, ["loss"]),
    ([1, 2], ["body"]),
    ('{"lr": 0.1', ["body"]),
]


def _send(client: TestClient, method: str, url: str, body: Any):
    if isinstance(body, str):
        return client.request(method, url, content=body.encode(), headers=JSON)
    return client.request(method, url, json=body)


@pytest.mark.parametrize(("body", "expected"), BAD_CONFIGS)
def test_bad_config_on_create(client: TestClient, body: Any, expected: list[str]) -> None:
    assert sorted(fields(_send(client, "POST", "/api/sessions", body))) == sorted(expected)
    assert len(client.app.state.sessions) == 0


@pytest.mark.parametrize(("body", "expected"), BAD_CONFIGS)
def test_bad_config_change_leaves_the_session_unchanged(client: TestClient, body: Any, expected: list[str]) -> None:
    session = create(client, dataset="xor")["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 3})
    before = state(client, session)
    assert sorted(fields(_send(client, "PATCH", f"/api/sessions/{session}/config", body))) == sorted(expected)
    assert state(client, session) == before


def test_messages_say_what_is_allowed(client: TestClient) -> None:
    detail = client.post("/api/sessions", json={"lr": 11, "dataset": "moon", "colour": 1}).json()["detail"]
    messages = {p["field"]: p["message"] for p in detail}
    assert "10" in messages["lr"] and "'circle'" in messages["dataset"] and "allowed: dataset" in messages["colour"]
    step = client.post(f"/api/sessions/{create(client)['id']}/step", json={"epochs": 0, "colour": 1}).json()
    messages = {p["field"]: p["message"] for p in step["detail"]}
    assert "greater than or equal to 1" in messages["epochs"]
    assert messages["colour"] == "unknown field; allowed: epochs, since, grid"


BAD_REQUESTS = [
    ("POST", "/step", {"epochs": MAX_EPOCHS_PER_STEP + 1}, ["epochs"]),
    ("POST", "/step", {"epochs": 0}, ["epochs"]),
    ("POST", "/step", {"epochs": "many"}, ["epochs"]),
    ("POST", "/step", {"epochs": 1.5}, ["epochs"]),
    ("POST", "/step", {"since": -2}, ["since"]),
    ("POST", "/step", {"grid": MIN_GRID - 1}, ["grid"]),
    ("POST", "/step", {"grid": MAX_GRID + 1}, ["grid"]),
    ("POST", "/step", {"speed": 2}, ["speed"]),
    ("POST", "/step", '{"epochs": NaN}', ["epochs"]),
    ("POST", "/step", "{epochs: 1}", ["body"]),
    ("POST", "/reset", {"seed": -1}, ["seed"]),
    ("POST", "/reset", {"seed": MAX_SEED + 1}, ["seed"]),
    ("GET", "/frame?grid=5", None, ["grid"]),
    ("GET", "/frame?since=x", None, ["since"]),
    ("PUT", "/weight", {"layer": 0, "source": 0, "target": 0, "value": 1e7}, ["value"]),
    ("PUT", "/weight", '{"layer": 0, "source": 0, "target": 0, "value": NaN}', ["value"]),
    ("PUT", "/weight", {"layer": 0, "source": 0, "value": 1}, ["target"]),
    ("PUT", "/weight", None, ["body"]),
    ("PUT", "/bias", {"layer": -1, "node": 0, "value": 1}, ["layer"]),
    ("PUT", "/bias", {"layer": 0, "node": 0, "value": "big"}, ["value"]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), BAD_REQUESTS)
def test_bad_request_leaves_the_session_unchanged(client: TestClient, method: str, path: str, body: Any,
                                                  expected: list[str]) -> None:
    session = create(client)["id"]
    client.post(f"/api/sessions/{session}/step", json={"epochs": 2})
    before = state(client, session)
    assert fields(_send(client, method, f"/api/sessions/{session}{path}", body)) == expected
    assert state(client, session) == before


# Well formed, and within every network's bounds, but not in this session's network (inputs x1,
# x2; hidden 4, 2; one output): a conflict with the session as it is.
CONFLICTS = [
    ("PUT", "/weight", {"layer": 3, "source": 0, "target": 0, "value": 1}, ["layer"]),
    ("PUT", "/weight", {"layer": 0, "source": 2, "target": 0, "value": 1}, ["source"]),
    ("PUT", "/weight", {"layer": 0, "source": 0, "target": 4, "value": 1}, ["target"]),
    ("PUT", "/bias", {"layer": 2, "node": 1, "value": 1}, ["node"]),
    ("PATCH", "/config", {"loss": "cross_entropy"}, ["loss"]),  # the session's dataset is a regression
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), CONFLICTS)
def test_a_request_that_does_not_fit_the_session_is_a_conflict(client: TestClient, method: str, path: str,
                                                                body: Any, expected: list[str]) -> None:
    session = create(client, dataset="plane" if path == "/config" else "circle")["id"]
    before = state(client, session)
    assert fields(_send(client, method, f"/api/sessions/{session}{path}", body), 409) == expected
    assert state(client, session) == before


def test_step_is_capped_but_a_full_step_runs(client: TestClient) -> None:
    session = create(client)["id"]
    frame = client.post(f"/api/sessions/{session}/step", json={"epochs": MAX_EPOCHS_PER_STEP}).json()
    assert frame["epoch"] == MAX_EPOCHS_PER_STEP


# -- divergence, concurrency, independence -----------------------------------------------------------


def test_divergence_is_flagged_and_frames_stay_finite(client: TestClient) -> None:
    session = create(client, dataset="plane", lr=10)["id"]
    frame = client.post(f"/api/sessions/{session}/step", json={"epochs": 50}).json()
    assert frame["flags"]["diverged"]["epoch"] == frame["epoch"] + 1
    assert non_finite_paths(frame) == []
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 5}).json()["epoch"] == frame["epoch"]
    assert client.post(f"/api/sessions/{session}/reset").json()["frame"]["flags"]["diverged"] is None


def test_concurrent_steps_on_one_session_add_up(client: TestClient) -> None:
    session = create(client)["id"]
    requested = [40, 60, 80, 100, 30, 50, 70, 90]
    answers: list[Any] = []
    start = threading.Barrier(len(requested))

    def step(epochs: int) -> None:
        start.wait()
        answers.append((epochs, client.post(f"/api/sessions/{session}/step", json={"epochs": epochs})))

    threads = [threading.Thread(target=step, args=(n,)) for n in requested]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One step at work and one waiting; the others are refused at once (see test_fairness.py).
    ran = [(n, a) for n, a in answers if a.status_code == 200]
    assert {a.status_code for _, a in answers} <= {200, 429} and len(ran) >= 2
    # Steps that never interleave end on the running sums of the epochs they ran (all that was
    # asked, or fewer when another request waited: see the time budget), whatever their order.
    epochs = sorted(a.json()["epoch"] for _, a in ran)
    assert sorted(b - a for a, b in zip([0, *epochs], epochs)) == sorted(a.json()["epochs_run"] for _, a in ran)
    assert all(1 <= a.json()["epochs_run"] <= n for n, a in ran)
    assert all(a.json()["iteration"] == a.json()["epoch"] * 25 for _, a in ran)  # 250 points, batch 10
    frame = client.get(f"/api/sessions/{session}/frame").json()
    assert frame["epoch"] == epochs[-1] and len(frame["history"]["train_loss"]) == epochs[-1] + 1
    assert non_finite_paths(frame) == []


def test_two_tabs_with_one_config_start_alike_and_train_apart(client: TestClient) -> None:
    config = {"dataset": "spiral", "layers": [6, 3], "seed": 9}
    a, b = create(client, **config), create(client, **config)
    assert a["id"] != b["id"]
    assert (a["frame"], a["data"]) == (b["frame"], b["data"])
    stepped = client.post(f"/api/sessions/{a['id']}/step", json={"epochs": 5}).json()
    assert stepped["epoch"] == 5
    assert client.get(f"/api/sessions/{b['id']}/frame").json() == b["frame"]
    assert client.post(f"/api/sessions/{b['id']}/step", json={"epochs": 5}).json() == stepped  # deterministic


# -- documentation ----------------------------------------------------------------------------------


def test_docs_page_lists_every_endpoint_without_external_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert path in page.text and method.upper() in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/redoc").status_code == 404
