"""The frame stream: the JSON step's frames as binary messages, its validation and its errors."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from .conftest import decode
from .test_classroom import page_state


def read(message: bytes) -> dict[str, Any]:
    """A stream message as the JSON frame's shape, each heatmap (and each layer's gradients) a
    NumPy vector of its bytes."""
    length = struct.unpack("<I", message[:4])[0]
    head = json.loads(message[4:4 + length])
    blobs = message[4 + length:]

    def revive(value: Any) -> Any:
        if isinstance(value, dict):
            for tag, dtype in (("u8", np.uint8), ("f4", np.float32)):
                if tag in value:
                    offset, size = value[tag]
                    return np.frombuffer(blobs[offset:offset + size], dtype=dtype)
            return {k: revive(v) for k, v in value.items()}
        if isinstance(value, list):
            return [revive(v) for v in value]
        return value

    return revive(head)


def typed_to_flat(value: Any) -> Any:
    """The JSON frame with each typed array as a flat NumPy vector, to compare with the stream."""
    if isinstance(value, dict):
        if value.keys() == {"dtype", "bdata", "shape"}:
            return decode(value).ravel()
        return {k: typed_to_flat(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_to_flat(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_the_stream_sends_the_json_steps_frames_with_raw_maps(client: TestClient) -> None:
    for config in ({}, {"dataset": "blobs", "classes": 4}, {"dataset": "plane", "layers": [3]}):
        by_json = client.post("/api/sessions", json=config).json()["id"]
        by_stream = client.post("/api/sessions", json=config).json()["id"]
        with client.websocket_connect(f"/api/sessions/{by_stream}/stream") as stream:
            for request in ({"epochs": 2, "since": -1, "grid": 50}, {"epochs": 3, "since": 2, "grid": 20}, {}):
                expected = client.post(f"/api/sessions/{by_json}/step", json=request).json()
                stream.send_text(json.dumps(request))
                got = read(stream.receive_bytes())
                assert same(got, typed_to_flat(expected)), config
        grid = got["output"]["grid"]
        assert got["output"]["z"].size == grid * grid
        assert all(g.dtype == np.float32 for g in (*got["weight_gradients"], *got["bias_gradients"]))


def test_stream_errors_are_messages_and_the_stream_goes_on(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"/api/sessions/{sid}/stream") as stream:
        for bad in ({"epochs": 1000, "grid": 3}, {"epochs": "two"}, {"speed": 2}):
            expected = client.post(f"/api/sessions/{sid}/step", json=bad)
            stream.send_text(json.dumps(bad))
            assert read(stream.receive_bytes()) == {"error": 422, "detail": expected.json()["detail"]}
        stream.send_text("{epochs: 1")
        assert read(stream.receive_bytes())["detail"][0]["field"] == "body"
        stream.send_text(" " * 2000)
        assert read(stream.receive_bytes())["error"] == 413
        stream.send_text('{"epochs": 1}')
        assert read(stream.receive_bytes())["epoch"] == 1
    with client.websocket_connect("/api/sessions/no-such-session/stream") as stream:
        stream.send_text("{}")
        answer = read(stream.receive_bytes())
        assert answer["error"] == 404 and "not found or expired" in answer["detail"]


def test_a_page_plays_over_the_stream_from_the_frame_it_showed(client: TestClient) -> None:
    state = page_state(client.get("/?dataset=xor&seed=4").text)
    with client.websocket_connect(f"/api/sessions/{state['sid']}/stream") as stream:
        stream.send_text(json.dumps({"epochs": 2, "since": -1}))
        frame = read(stream.receive_bytes())
    assert frame["epoch"] == frame["epochs_run"] == 2
    assert frame["history"]["train_loss"][0] == state["frame"]["history"]["train_loss"][0]
