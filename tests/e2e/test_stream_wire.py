"""The frame stream on the wire, from the real server (`python -m app`), as a browser meets it."""

from __future__ import annotations

import json

import httpx
from websockets.sync.client import connect


def test_the_stream_declines_compression_a_browser_offers(base_url: str, api: httpx.Client) -> None:
    """Chromium offers permessage-deflate on every WebSocket; the stream answers without it, so the
    one server process does not deflate every student's every frame (app/__main__.py)."""
    session = api.post("/api/sessions", json={}).json()["id"]
    url = base_url.replace("http://", "ws://") + f"/api/sessions/{session}/stream"
    with connect(url, compression="deflate", origin=base_url) as stream:
        assert "permessage-deflate" not in (stream.response.headers.get("Sec-WebSocket-Extensions") or "")
        stream.send(json.dumps({"epochs": 2}))
        message = stream.recv(timeout=30)
    head = json.loads(message[4 : 4 + int.from_bytes(message[:4], "little")])
    assert head["epoch"] == 2
