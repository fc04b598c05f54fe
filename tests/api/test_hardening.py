"""One careless or hostile client against the server (issue 8): bounded bodies and error answers,
security headers, the API keeping its own contract, typed engine errors, the join page's host."""

from __future__ import annotations

import json
import pickle
import re
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import FieldError, PlaygroundConfig, engine_field_error, validate_config
from app.main import create_app
from app.routes.api import MAX_PROBLEMS, MAX_SOURCE, MAX_TARGET
from app.security import CONTENT_SECURITY_POLICY, MAX_BODY_BYTES
from app.settings import Settings
from engine.errors import InvalidValue
from engine.trainer import Setup, Trainer

JSON = {"content-type": "application/json"}


def _session(client: TestClient, **config: Any) -> str:
    answer = client.post("/api/sessions", json=config)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


# -- request and error size --------------------------------------------------------------------------


def _unknown_keys(count: int) -> bytes:
    return json.dumps({f"k{i}": 1 for i in range(count)}).encode()


def test_the_issues_ten_megabyte_body_is_refused_unread(client: TestClient) -> None:
    body = _unknown_keys(800_000)  # the issue's reproduction: 10 MB, once a 251 MB answer
    answer = client.post("/api/sessions", content=body, headers=JSON)
    assert answer.status_code == 413
    assert str(MAX_BODY_BYTES) in answer.json()["detail"] and len(answer.content) < 200


def test_a_body_without_content_length_is_counted_as_it_arrives(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
        for _ in range(MAX_BODY_BYTES // 1000 + 1):
            yield b" " * 1000
        yield b"{}"

    answer = client.post("/api/sessions", content=chunks(), headers=JSON)
    assert answer.status_code == 413 and "too large" in answer.json()["detail"]
    form = client.post("/s/no-such-session/config", content=chunks(),
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413


def test_a_body_just_under_the_limit_gets_a_short_answer(client: TestClient) -> None:
    count = 1
    while len(_unknown_keys(count * 2)) <= MAX_BODY_BYTES:
        count *= 2
    body = _unknown_keys(count)  # thousands of unknown keys, as many as the limit lets through
    for path in ("/api/sessions", f"/api/sessions/{_session(client)}/step"):
        answer = client.post(path, content=body, headers=JSON)
        assert answer.status_code == 422
        problems = answer.json()["detail"]
        assert len(problems) == MAX_PROBLEMS + 1 and len(answer.content) < 2000
        assert problems[-1] == {"field": "body", "message": f"and {count - MAX_PROBLEMS} more problems"}
        assert sum("allowed: " in p["message"] for p in problems) == 1  # the allowed fields, once
        assert "allowed: " in problems[0]["message"] and problems[1]["message"].startswith("unknown")


# -- security headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/join"), ("GET", "/docs"), ("GET", "/healthz"), ("GET", "/openapi.json"),
    ("GET", "/static/css/playground.css"), ("GET", "/no-such-page"), ("GET", "/api/sessions/none"),
    ("POST", "/api/sessions"), ("DELETE", "/api/sessions"),
])
def test_every_answer_has_the_security_headers(client: TestClient, method: str, path: str) -> None:
    headers = client.request(method, path).headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["referrer-policy"] == "no-referrer"


def test_the_policy_forbids_inline_script_and_other_origins() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["object-src"] == "'none'"
    assert all("http" not in sources and "*" not in sources for sources in directives.values())


def test_no_template_has_an_inline_handler_or_script() -> None:
    from app.paths import TEMPLATES_DIR

    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert all("src=" in tag or "application/json" in tag for tag in re.findall(r"<script[^>]*>", text)), template


# -- the API keeps its contract ------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "words"), [
    (b'{"epochs": 1, "x": "\xff"}', "not UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b'{"epochs": ' + b"9" * 5000 + b"}", "more than 4300 digits"),
    (b"{epochs: 1}", "malformed JSON"),
])
def test_an_unreadable_body_is_a_422_on_body(client: TestClient, body: bytes, words: str) -> None:
    for path in ("/api/sessions", f"/api/sessions/{_session(client)}/step"):
        answer = client.post(path, content=body, headers=JSON)
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["field"] == "body" and words in problem["message"]


@pytest.mark.parametrize("key", ["layers", "lr", "colour"])
def test_a_deep_value_that_json_can_read_is_refused_without_walking_it(client: TestClient, key: str) -> None:
    body = f'{{"{key}": {"[" * 900}{"]" * 900}}}'
    for method, path in (("POST", "/api/sessions"), ("PATCH", f"/api/sessions/{_session(client)}/config")):
        answer = client.request(method, path, content=body, headers=JSON)
        assert answer.status_code == 422 and answer.json()["detail"][0]["field"] in (key, "body")


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/step", {"epochs": True}, "epochs"),
    ("POST", "/step", {"grid": "20"}, "grid"),
    ("POST", "/reset", {"seed": False}, "seed"),
    ("PUT", "/weight", {"layer": 0, "source": 0, "target": 0, "value": False}, "value"),
    ("PUT", "/bias", {"layer": True, "node": 0, "value": 1}, "layer"),
    ("PATCH", "/config", {"seed": False}, "seed"),
    ("PATCH", "/config", {"layers": [True]}, "layers"),
    ("PATCH", "/config", {"show_test": 1}, "show_test"),
    ("PATCH", "/config", {"lr": "0.1"}, "lr"),
])
def test_booleans_are_not_numbers_nor_numbers_booleans(client: TestClient, method: str, path: str,
                                                         body: dict[str, Any], field: str) -> None:
    session = _session(client)
    answer = client.request(method, f"/api/sessions/{session}{path}", json=body)
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["detail"]] == [field]
    assert client.post("/api/sessions", json={"seed": False}).status_code == 422


def test_whole_numbers_written_with_a_point_are_integers(client: TestClient) -> None:
    session = _session(client, layers=[3.0], seed=2.0)
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 2.0}).json()["epoch"] == 2
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 2.5}).status_code == 422


def test_allow_lists_every_method_of_the_path(client: TestClient) -> None:
    session = _session(client)
    for method in ("OPTIONS", "PUT", "POST"):
        answer = client.request(method, f"/api/sessions/{session}")
        assert answer.status_code == 405
        assert set(answer.headers["allow"].split(", ")) == {"GET", "DELETE"}
    assert client.delete(f"/api/sessions/{session}").status_code == 204


def test_the_schema_bounds_every_index_and_admits_no_extra_keys(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    models = schema["components"]["schemas"]
    for model, bounds in (("WeightBody", {"layer": 6, "source": MAX_SOURCE, "target": MAX_TARGET}),
                          ("BiasBody", {"layer": 6, "node": MAX_TARGET})):
        for name, maximum in bounds.items():
            assert models[model]["properties"][name] == {**models[model]["properties"][name], "minimum": 0,
                                                          "maximum": maximum}
        assert models[model]["additionalProperties"] is False
    for path, method in (("/api/sessions", "post"), ("/api/sessions/{id}/config", "patch")):
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        body = next((s for s in body.get("anyOf", [body]) if s.get("type") != "null"), body)
        assert body["additionalProperties"] is False
        assert set(body["properties"]) == set(PlaygroundConfig.model_fields)


def test_the_largest_index_of_any_network_is_within_the_schema(client: TestClient) -> None:
    widest = _session(client, dataset="blobs", classes=5, layers=[8] * 6,
                      features=["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2", "cosx1", "cosx2"])
    edit = {"layer": 0, "source": MAX_SOURCE, "target": 7, "value": 1.0}
    assert client.put(f"/api/sessions/{widest}/weight", json=edit).status_code == 200
    assert client.put(f"/api/sessions/{widest}/bias", json={"layer": 6, "node": 4, "value": 1.0}).status_code == 200
    beyond = {**edit, "source": MAX_SOURCE + 1}
    assert client.put(f"/api/sessions/{widest}/weight", json=beyond).status_code == 422


# -- typed engine errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("setup", "field", "allowed"), [
    (dict(dataset="plane", loss="cross_entropy"), "loss", ("mse",)),
    (dict(optimizer="perceptron"), "optimizer", ()),
    (dict(activation="nope"), "activation", None),
    (dict(learning_rate=0.0), "learning_rate", ()),
    (dict(optimizer="adam", optimizer_params={"beta1": 2.0}), "beta1", ()),
    (dict(optimizer="adam", optimizer_params={"speed": 2.0}), "speed", ("beta1", "beta2", "eps")),
])
def test_the_engine_names_the_field_it_refuses(setup: dict[str, Any], field: str, allowed: tuple | None) -> None:
    with pytest.raises(InvalidValue) as caught:
        Setup(**setup)
    assert caught.value.field == field and isinstance(caught.value, ValueError)
    if allowed is not None:
        assert caught.value.allowed == allowed
    else:
        assert "tanh" in caught.value.allowed
    again = pickle.loads(pickle.dumps(caught.value))  # as a worker process sends it back
    assert (again.field, str(again), again.allowed) == (field, str(caught.value), caught.value.allowed)


def test_edits_name_their_argument() -> None:
    trainer = Trainer(Setup())
    for arguments, field in (({"layer": 9, "source": 0, "target": 0}, "layer"),
                             ({"layer": 0, "source": 5, "target": 0}, "source"),
                             ({"layer": 0, "source": 0, "target": 0, "value": float("nan")}, "value")):
        with pytest.raises(InvalidValue) as caught:
            trainer.set_weight(**{"value": 1.0, **arguments})
        assert caught.value.field == field


def test_the_app_maps_the_field_never_the_message() -> None:
    """A message in any words lands on the configuration field the engine named."""
    assert engine_field_error(InvalidValue("learning_rate", "anything at all")) == FieldError("lr", "anything at all")
    assert engine_field_error(InvalidValue("loss", "mse only")).code == "loss_needs_classes"
    assert engine_field_error(InvalidValue("optimizer", "one layer")).code == "perceptron_shape"
    assert engine_field_error(ValueError("loss: cross_entropy")).field == "config"
    with pytest.raises(Exception) as caught:
        validate_config({"dataset": "plane", "loss": "cross_entropy"})
    assert [(e.field, e.code) for e in caught.value.errors] == [("loss", "loss_needs_classes")]


def test_a_worker_process_sends_the_field_back() -> None:
    with TestClient(create_app(Settings(workers=1))) as client:
        session = _session(client)
        answer = client.put(f"/api/sessions/{session}/weight", json={"layer": 0, "source": 2, "target": 0, "value": 1})
        assert answer.status_code == 409 and answer.json()["detail"][0]["field"] == "source"


# -- the join page's address ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", [
    '[fe80::1%"><img src=x onerror=alert(1)>]', "[fe80::1%25eth0]:8000", "fe80::1", "[example.com]",
    "999.1.1.1", "a_b.example", "-a.example", "user@10.0.0.1", "10.0.0.1:99999", "10.0.0.1/x", "10.0.0.1#x",
])
def test_join_refuses_a_malformed_host(client: TestClient, host: str) -> None:
    html = client.get("/join", params={"host": host, "lang": "en"}).text
    assert "was not used" in html
    address = re.search(r'id="join-address">([^<]*)<', html).group(1)
    assert "fe80" not in address and "example" not in address and "10.0.0.1" not in address


@pytest.mark.parametrize(("host", "address"), [
    ("192.168.1.20:8000", "http://192.168.1.20:8000"), ("[2001:db8::1]:8080", "http://[2001:db8::1]:8080"),
    ("class-room.local", "http://class-room.local"), ("https://laptop.lan:8443/", "https://laptop.lan:8443"),
])
def test_join_takes_a_plain_host(client: TestClient, host: str, address: str) -> None:
    html = client.get("/join", params={"host": host}).text
    assert f'id="join-address">{address}<' in html and "was not used" not in html


def test_join_does_not_trust_a_forged_host_header(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.routes import classroom

    monkeypatch.setattr(classroom, "lan_address", lambda: "192.168.1.20")
    with TestClient(create_app(Settings(port=8000))) as client:
        html = client.get("/join", headers={"host": "evil.example:80"}).text
        assert 'id="join-address">http://192.168.1.20:8000<' in html and "evil" not in html
    with TestClient(create_app(Settings(public_url="http://class.local:9000"))) as client:
        html = client.get("/join", headers={"host": "evil.example"}).text
        assert 'id="join-address">http://class.local:9000<' in html


# -- bounded history ----------------------------------------------------------------------------------


def _long_history(trainer: Trainer, epochs: int) -> None:
    """As if ``epochs`` epochs had run: a falling loss with one spike, a rising accuracy."""
    for epoch in range(1, epochs + 1):
        loss = 1.0 / (1 + epoch / 1000) + (2.0 if epoch == 54_321 else 0.0)
        trainer.history.append((loss, loss * 1.1, 1 - loss / 2, 1 - loss / 3))
    trainer.epoch = epochs


def test_a_window_keeps_every_dip_and_spike() -> None:
    trainer = Trainer(Setup())
    _long_history(trainer, 100_000)
    epochs, window = trainer.history.window(0, 2000)
    assert len(epochs) == len(window.train_loss) <= 2000 and epochs == sorted(epochs)
    assert (epochs[0], epochs[-1], window.train_loss[-1]) == (0, 100_000, trainer.history.train_loss[-1])
    for name in ("train_loss", "test_loss", "train_metric", "test_metric"):
        full, kept = getattr(trainer.history, name), getattr(window, name)
        assert max(kept) == max(full) and min(kept) == min(full) and kept[0] == full[0]
    spike = max(range(1, len(epochs) - 1), key=lambda i: window.train_loss[i])
    assert abs(epochs[spike] - 54_321) <= 100_000 / 1000  # drawn where it happened, to a bucket
    assert trainer.history.window(99_990, 2000) == (None, type(window)(*(s[99_990:] for s in (
        trainer.history.train_loss, trainer.history.test_loss, trainer.history.train_metric,
        trainer.history.test_metric))))


def test_every_answer_bounds_the_history_whatever_the_epoch(client: TestClient) -> None:
    from app.config import MAX_HISTORY_POINTS

    session = _session(client)
    # the trainer itself, inside the in-process store (WORKERS=0): 100,000 epochs without training them
    _long_history(client.app.state.sessions.trainers._local._trainers._trainers[session], 100_000)
    answers = {
        "patch": client.patch(f"/api/sessions/{session}/config", json={"lr": 0.1}),  # keeps the history
        "frame": client.get(f"/api/sessions/{session}/frame"),
        "old frame": client.get(f"/api/sessions/{session}/frame", params={"since": 10}),
        "step": client.post(f"/api/sessions/{session}/step", json={"since": -1}),
        "model": client.get(f"/api/sessions/{session}/model"),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200 and len(answer.content) < 250_000, (name, len(answer.content))
        body = answer.json()
        history = body["trainer"]["history"] if name == "model" else (body.get("frame") or body)["history"]
        assert len(history["epochs"]) == len(history["train_loss"]) <= MAX_HISTORY_POINTS, name
        assert history["epochs"][-1] == (100_001 if name in ("step", "model") else 100_000), name
    recent = client.get(f"/api/sessions/{session}/frame", params={"since": 100_000}).json()["history"]
    assert recent["epochs"] is None and recent["start"] == 100_001 and len(recent["train_loss"]) == 1
