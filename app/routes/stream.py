"""The frame stream: a WebSocket per playing page, the play loop's path (docs/api.md).

The page sends a step request as a text message, ``{"epochs", "since", "grid"}``, validated by
the JSON step's own ``StepBody``; the answer is one binary message, encoded in the worker that
trained (app/trainers.py ``binary_message``): the frame's small JSON and its heatmaps' raw bytes,
without base64, JSON lists or gzip. Compared with ``POST /step`` this saves the HTTP request, the
routing and body parsing, the header lines and the compression: the server process only moves
bytes. A problem is answered with a binary message whose JSON is ``{"error": status, "detail"}``
(the statuses and details of the JSON API), and the stream stays open.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from app.routes.api import BUSY, StepBody, step_arguments, validation_problems
from app.sessions import SessionBusy, StoreUnavailable, TooManySessions
from app.trainers import TrainerGone, binary_message
from app.unavailable import API_MESSAGE

router = APIRouter()
log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1024  # a step request is a few dozen bytes


def _error(status: int, detail: Any) -> bytes:
    return binary_message({"error": status, "detail": detail})


@router.websocket("/api/sessions/{id}/stream")
async def stream(websocket: WebSocket, id: str) -> None:
    store = websocket.app.state.sessions
    await websocket.accept()
    try:
        while True:
            await websocket.send_bytes(await _answer(websocket, store, id, await websocket.receive_text()))
    except (WebSocketDisconnect, RuntimeError):  # the page closed (RuntimeError: while we trained)
        return


async def _answer(websocket: WebSocket, store: Any, session_id: str, text: str) -> bytes:
    """The message that answers one step request."""
    if len(text) > MAX_MESSAGE_BYTES:
        return _error(413, f"a step request has at most {MAX_MESSAGE_BYTES} bytes")
    try:
        body = StepBody.model_validate_json(text)
    except ValidationError as exc:
        return _error(422, validation_problems(exc.errors(), StepBody))
    try:
        session = store.get(session_id)
        if session is None:
            return _error(404, str(TrainerGone(session_id)))
        return await session.step_stream(**step_arguments(websocket.app, body))
    except TrainerGone as exc:  # the store has forgotten the session
        return _error(404, str(exc))
    except SessionBusy:
        return _error(429, BUSY)
    except TooManySessions as exc:
        return _error(429, str(exc))
    except StoreUnavailable:
        return _error(503, API_MESSAGE)
    except ValueError as exc:
        return _error(422, [{"field": "body", "message": str(exc)}])
    except Exception:  # a bug must not close every student's stream: say so, log it, go on
        log.exception("frame stream step failed")
        return _error(500, "the step failed on the server")
