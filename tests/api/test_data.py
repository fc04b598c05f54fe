"""CSV in and out: uploads of every kind of label, every kind of bad file, and links to an
uploaded set that survive a restart of the server."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.csv_data import MAX_CSV_BYTES, MAX_DATA_ROWS
from app.main import create_app
from app.settings import Settings


def _app(data_dir: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir)))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with _app(data_dir) as test_client:
        yield test_client


def _session(client: TestClient, config: dict[str, Any] | None = None) -> str:
    answer = client.post("/api/sessions", json=config or {})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _upload(client: TestClient, session: str, text: str | bytes, **params: str) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return client.post(f"/api/sessions/{session}/data", content=body, params=params,
                       headers={"content-type": "text/csv"})


def _rows(client: TestClient, session: str) -> list[dict[str, str]]:
    answer = client.get(f"/api/sessions/{session}/data.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def _table(points: np.ndarray, labels: list[Any], header: str | None = "x1,x2,label") -> str:
    rows = [f"{a!r},{b!r},{label}" for (a, b), label in zip(points.tolist(), labels)]
    return "\n".join(([header] if header else []) + rows) + "\n"


POINTS = np.random.default_rng(3).uniform(-6, 6, size=(40, 2))


def test_binary_upload_trains_on_the_file_and_comes_back_with_its_split(client: TestClient) -> None:
    session = _session(client, {"dataset": "xor", "train": 60})
    labels = (POINTS[:, 0] > 0).astype(int).tolist()
    answer = _upload(client, session, _table(POINTS, labels))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["problem"] == "binary" and body["rows"] == 40 and body["class_names"] is None
    assert body["config"]["dataset"] == "xor" and len(body["config"]["data"]) == 64
    assert f"data={body['config']['data']}" in body["query"]
    rows = _rows(client, session)
    assert list(rows[0]) == ["x1", "x2", "label", "split"]
    assert [r["split"] for r in rows].count("train") == 24 and [r["split"] for r in rows].count("test") == 16
    got = sorted((float(r["x1"]), float(r["x2"]), int(r["label"])) for r in rows)
    assert got == sorted(zip(POINTS[:, 0].tolist(), POINTS[:, 1].tolist(), labels))
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 2}).status_code == 200


@pytest.mark.parametrize(("labels", "expected"), [
    (["-1", "1"], [0, 1]),
    (["0", "1"], [0, 1]),
    (["dog", "cat"], [1, 0]),  # names are numbered alphabetically
])
def test_two_kinds_of_label_make_a_binary_problem(client: TestClient, labels: list[str], expected: list[int]) -> None:
    session = _session(client)
    answer = _upload(client, session, _table(POINTS[:8], labels * 4, header=None))
    assert answer.status_code == 200, answer.text
    assert answer.json()["problem"] == "binary"
    rows = _rows(client, session)
    by_point = {(float(r["x1"]), float(r["x2"])): int(r["label"]) for r in rows}
    assert [by_point[tuple(p)] for p in POINTS[:8].tolist()] == expected * 4


def test_names_make_classes_and_switch_to_a_multiclass_playground(client: TestClient) -> None:
    session = _session(client, {"dataset": "circle", "loss": "mse"})
    names = ["red", "green", "blue", "amber"] * 10
    answer = _upload(client, session, _table(POINTS, names))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["problem"] == "multiclass" and body["class_names"] == ["amber", "blue", "green", "red"]
    assert body["config"]["classes"] == 4 and body["config"]["dataset"] == "blobs"
    assert body["frame"]["output"]["classes"] == 4


def test_class_ids_make_classes_and_other_numbers_a_target(client: TestClient) -> None:
    session = _session(client, {"loss": "cross_entropy"})
    assert _upload(client, session, _table(POINTS, [0, 1, 2] * 13 + [0])).json()["problem"] == "multiclass"
    answer = _upload(client, session, _table(POINTS, (POINTS[:, 0] / 3).tolist()))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # regression refuses cross-entropy: the loss went back to its default
    assert body["problem"] == "regression" and body["config"]["dataset"] == "plane" and body["config"]["loss"] == "auto"
    targets = {(float(r["x1"]), float(r["x2"])): float(r["label"]) for r in _rows(client, session)}
    assert all(targets[tuple(p)] == p[0] / 3 for p in POINTS.tolist())


def test_two_numbers_can_be_forced_to_a_target(client: TestClient) -> None:
    session = _session(client)
    answer = _upload(client, session, _table(POINTS[:8], [0.5, 1.5] * 4), problem="regression")
    assert answer.status_code == 200 and answer.json()["problem"] == "regression"


def test_spreadsheet_csv_with_semicolons_and_decimal_commas(client: TestClient) -> None:
    session = _session(client)
    text = "x1;x2;clase\n1,5;-2,25;0\n0,5;1;1\n-3;2;0\n4;4;1\n"
    assert _upload(client, session, text).status_code == 200
    assert sorted(float(r["x1"]) for r in _rows(client, session)) == [-3.0, 0.5, 1.5, 4.0]


def test_a_downloaded_file_uploads_again(client: TestClient) -> None:
    session = _session(client, {"dataset": "spiral"})
    downloaded = client.get(f"/api/sessions/{session}/data.csv").text
    other = _session(client)
    assert _upload(client, other, downloaded).status_code == 200
    assert sorted(map(tuple, _points(_rows(client, other)))) == sorted(map(tuple, _points(_rows(client, session))))


def _points(rows: list[dict[str, str]]) -> list[list[float]]:
    return [[float(r["x1"]), float(r["x2"]), float(r["label"])] for r in rows]


BAD_FILES = [
    ("non-numeric", "x1,x2,label\n1,2,0\n3,abc,1\n", "row 3, column x2", "'abc' is not a number"),
    ("non-finite", "1,2,0\ninf,2,1\n", "row 2, column x1", "must be a finite number"),
    ("nan target", "1,2,0.5\n3,4,nan\n", "row 2, column label", "must be a finite number"),
    ("huge", "1,2,0\n1e300,2,1\n", "row 2, column x1", "at most 1e+06"),
    ("wrong column count", "x1,x2,label\n1,2,0\n3,4\n", "row 3", "expected 3 columns (x1, x2, label), got 2"),
    ("too many columns", "1,2,0,extra\n", "row 1", "got 4"),
    ("too many rows", "\n".join(f"{i % 12 - 6},1,{i % 2}" for i in range(MAX_DATA_ROWS + 1)),
     f"row {MAX_DATA_ROWS + 1}", f"at most {MAX_DATA_ROWS} points"),
    ("too many classes", "".join(f"{i},{i},{name}\n" for i, name in enumerate("abcdefg")), "column label",
     "7 classes found (a, b, c, d, e, f, g); at most 5"),
    ("one class", "1,2,cat\n3,4,cat\n", "column label", "only one class found (cat)"),
    ("sparse class", "1,1,a\n2,2,a\n3,3,b\n4,4,b\n5,5,c\n", "column label", "class 2 has 1 points"),
    ("too few points", "1,1,0\n2,2,1\n", "column label", "too few"),
    ("empty", "\n\n", "body", "the file is empty"),
    ("not text", b"\xff\xfe\x00binary", "body", "not UTF-8 text"),
    ("names for a target", "1,2,0.5\n3,4,big\n", "row 2, column label", "'big' is not a number"),
]


@pytest.mark.parametrize(("text", "field", "message"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_refused_with_its_row_and_column(client: TestClient, text: str | bytes, field: str, message: str) -> None:
    session = _session(client, {"dataset": "xor"})
    before = client.get(f"/api/sessions/{session}/data.csv").text
    params = {"problem": "regression"} if "target" in field or message.startswith("'big'") else {}
    answer = _upload(client, session, text, **params)
    assert answer.status_code == 422, answer.text
    assert any(p["field"] == field and message in p["message"] for p in answer.json()["detail"]), answer.json()
    assert client.get(f"/api/sessions/{session}/data.csv").text == before
    assert client.get(f"/api/sessions/{session}").json()["config"]["data"] is None


def test_a_file_over_the_size_limit_is_refused(client: TestClient) -> None:
    session = _session(client)
    answer = _upload(client, session, "1,2,0\n" * (MAX_CSV_BYTES // 6 + 1))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "body" and f"the limit is {MAX_CSV_BYTES}" in answer.json()["detail"][0]["message"]


def test_an_unknown_problem_is_refused(client: TestClient) -> None:
    answer = _upload(client, _session(client), "1,2,0\n", problem="ranking")
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "problem"


def test_the_link_to_an_upload_survives_a_restart(client: TestClient, data_dir: Path) -> None:
    session = _session(client)
    uploaded = _upload(client, session, _table(POINTS, [0, 1] * 20)).json()
    stored = sorted(data_dir.rglob("*.csv"))
    assert [p.name for p in stored] == [f"{uploaded['config']['data']}.csv"]
    with _app(data_dir) as restarted:  # a new server on the same DATA_DIR
        again = restarted.post("/api/sessions", json=uploaded["config"])
        assert again.status_code == 201, again.text
        assert again.json()["data"] == uploaded["data"]
        page = restarted.get(f"/?{uploaded['query']}")
        assert page.status_code == 200 and "ignored" not in page.text


def test_the_same_data_is_stored_once(client: TestClient, data_dir: Path) -> None:
    text = _table(POINTS, [0, 1] * 20)
    first = _upload(client, _session(client), text).json()["config"]["data"]
    second = _upload(client, _session(client), text.replace("x1,x2,label\n", "")).json()["config"]["data"]
    assert first == second and len(list(data_dir.rglob("*.csv"))) == 1


def test_a_link_to_data_this_server_lacks(client: TestClient, tmp_path: Path) -> None:
    uploaded = _upload(client, _session(client), _table(POINTS, [0, 1] * 20)).json()
    with _app(tmp_path / "elsewhere") as other:
        answer = other.post("/api/sessions", json={"data": uploaded["config"]["data"]})
        assert answer.status_code == 409  # well formed, but not a file this server holds
        assert answer.json()["detail"][0]["field"] == "data" and "upload the file again" in answer.json()["detail"][0]["message"]
        page = other.get(f"/?{uploaded['query']}")  # the page opens anyway, with generated data and a note
        assert page.status_code == 200 and "upload the file again" in page.text


def test_a_model_trained_on_an_upload_loads_on_another_server(client: TestClient, tmp_path: Path) -> None:
    session = _session(client)
    _upload(client, session, _table(POINTS, [0, 1] * 20))
    client.post(f"/api/sessions/{session}/step", json={"epochs": 3})
    model = client.get(f"/api/sessions/{session}/model").json()
    with _app(tmp_path / "elsewhere") as other:
        fresh = other.post("/api/sessions", json={}).json()["id"]
        answer = other.post(f"/api/sessions/{fresh}/model", json=model)
        assert answer.status_code == 200, answer.text
        assert other.get(f"/api/sessions/{fresh}/model").json() == model
        # the data came with the model, so its link works here now
        assert other.post("/api/sessions", json=model["config"]).status_code == 201
        model["trainer"]["custom_data"]["y"][0] = 1 - model["trainer"]["custom_data"]["y"][0]
        refused = other.post(f"/api/sessions/{fresh}/model", json=model)
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "trainer.custom_data"
        assert len(list((tmp_path / "elsewhere").rglob("*.csv"))) == 1  # the refused data was not stored


def test_an_unwritable_data_dir_is_the_servers_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with _app(blocker / "uploads") as client:
        answer = _upload(client, _session(client), _table(POINTS, [0, 1] * 20))
        assert answer.status_code == 503 and "cannot store uploaded data" in answer.json()["detail"]


def test_data_dir_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Settings.from_env().data_dir == tmp_path / "xdg" / "nn-playground"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings().data_dir == tmp_path / "home" / ".local" / "share" / "nn-playground"
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "classroom"))
    assert Settings.from_env().data_dir == tmp_path / "classroom"


def test_a_form_upload_is_refused_with_how_to_send_the_file(client: TestClient) -> None:
    answer = client.post(f"/api/sessions/{_session(client)}/data", files={"file": ("p.csv", b"1,2,0\n")})
    assert answer.status_code == 422 and "--data-binary" in answer.json()["detail"][0]["message"]
