"""Drawn points in the URL: the encoding round trips, and the API and the page accept it."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from app.config import ConfigError, parse_query, validate_config
from app.points import (
    LEVELS,
    MAX_DRAWN_POINTS,
    PROBLEM_CODES,
    VALUE_ZERO,
    PointsError,
    decode_points,
    encode_points,
    points_dataset,
)
from engine.datasets import MIN_POINTS
from tests.api.test_config import query_items

LABEL_LIMIT = {"binary": 1, "multiclass": 2, "regression": 2 * VALUE_ZERO}  # with 3 classes


@st.composite
def drawn_sets(draw: st.DrawFn, min_size: int = 0) -> tuple[str, np.ndarray]:
    problem = draw(st.sampled_from(PROBLEM_CODES))
    row = st.tuples(st.integers(0, LEVELS), st.integers(0, LEVELS), st.integers(0, LABEL_LIMIT[problem]))
    rows = draw(st.lists(row, min_size=min_size, max_size=MAX_DRAWN_POINTS))
    return problem, np.array(rows, dtype=np.int64).reshape(-1, 3)


@given(drawn_sets())
def test_decode_of_encode_is_identity(drawn: tuple[str, np.ndarray]) -> None:
    problem, rows = drawn
    text = encode_points(problem, rows)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded_problem, decoded = decode_points(text)
    assert decoded_problem == problem and np.array_equal(decoded, rows)
    assert encode_points(*decode_points(text)) == text


@given(drawn_sets(min_size=MIN_POINTS))
def test_a_drawn_set_survives_its_url(drawn: tuple[str, np.ndarray]) -> None:
    problem, rows = drawn
    dataset = {"binary": "xor", "multiclass": "blobs", "regression": "plane"}[problem]
    config = validate_config({"dataset": dataset, "points": encode_points(problem, rows)})
    parsed, notes = parse_query(query_items(config.to_query()))
    assert notes == [] and parsed == config


def test_points_are_where_the_bytes_say() -> None:
    rows = np.array([[0, 255, 1], [255, 0, 0], [51, 204, 1], [128, 127, 0]])
    data = points_dataset(encode_points("binary", rows), "binary", 3)
    np.testing.assert_allclose(data.x, [[-6, 6], [6, -6], [-3.6, 3.6], [6 / 255, -6 / 255]], rtol=0, atol=1e-12)
    assert data.y.tolist() == [1.0, 0.0, 1.0, 0.0]
    values = points_dataset(encode_points("regression", np.array([[0, 0, 0], [1, 1, 50], [2, 2, 100], [3, 3, 200]])),
                            "regression", 3)
    assert values.y.tolist() == [-1.0, -0.5, 0.0, 1.0]
    classes = points_dataset(encode_points("multiclass", np.array([[0, 0, 0], [1, 1, 1], [2, 2, 3], [3, 3, 3]])),
                             "multiclass", 4)
    assert classes.n_classes == 4 and classes.y.tolist() == [0, 1, 3, 3]


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


FOUR = [0, 0, 1, 9, 9, 0, 20, 20, 1, 30, 30, 0]
BAD = [
    ("not base64", "@@@@", "not base64url text"),
    ("another version", _text(bytes([2, 0, *FOUR])), "not drawn points of version 1"),
    ("unknown problem", _text(bytes([1, 7, *FOUR])), "cut short or garbled"),
    ("cut short", _text(bytes([1, 0, *FOUR, 5])), "cut short or garbled"),
    ("not canonical", _text(bytes([1, 0, *FOUR])) + "B", "cut short or garbled"),
    ("too few", _text(bytes([1, 0, *FOUR[:9]])), f"draw at least {MIN_POINTS} points"),
    ("a class too many", _text(bytes([1, 0, *FOUR[:-1], 2])), "classes 0..1"),
    ("another problem", _text(bytes([1, 2, *FOUR])), "drawn for a regression problem"),
    ("too long", "A" * 2000, "at most"),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_points_are_refused_on_their_field(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"dataset": "xor", "points": text})
    assert [e.field for e in caught.value.errors] == ["points"] and words in caught.value.errors[0].message


def test_a_regression_byte_beyond_one_is_refused() -> None:
    with pytest.raises(PointsError, match="values run from 0 to 200"):
        points_dataset(_text(bytes([1, 2, *FOUR[:-1], 201])), "regression", 3)


def test_points_and_uploaded_data_exclude_each_other() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"dataset": "xor", "points": _text(bytes([1, 0, *FOUR])), "data": "a" * 64})
    assert caught.value.errors[0].field == "points"


def test_the_api_trains_on_drawn_points(client: TestClient) -> None:
    text = _text(bytes([1, 0, *FOUR, 200, 40, 1]))
    created = client.post("/api/sessions", json={"dataset": "circle", "points": text})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert len(data["train"]["x1"]) + len(data["test"]["x1"]) == 5
    session = created.json()["id"]
    assert client.post(f"/api/sessions/{session}/step", json={"epochs": 3}).json()["epoch"] == 3
    fewer = _text(bytes([1, 0, *FOUR]))
    changed = client.patch(f"/api/sessions/{session}/config", json={"points": fewer}).json()
    assert changed["rebuilt"] == "data" and changed["config"]["points"] == fewer
    refused = client.patch(f"/api/sessions/{session}/config", json={"points": "AQ"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "points"
    back = client.patch(f"/api/sessions/{session}/config", json={"points": None}).json()
    assert back["rebuilt"] == "data" and len(back["data"]["train"]["x1"]) == 250


def test_a_page_with_bad_points_opens_with_a_note(client: TestClient) -> None:
    page = client.get("/?dataset=xor&points=AQAB")
    assert page.status_code == 200 and "Drawn points «AQAB»" in page.text
