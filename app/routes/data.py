"""Your own data in, your model out: the model loaded back, the network as a Python script.

These answer under /api like the rest of the JSON API, with its 422 shape
(``{"detail": [{"field", "message"}]}``); a refused upload leaves the session as it was.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.config import ConfigError
from app.model_file import MAX_MODEL_BYTES, read_model_file
from app.routes.api import _SESSION_ERRORS, SessionDep, _config_problems, _config_view, _problems

router = APIRouter(prefix="/api", tags=["data"])


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (422) as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _problems(("body", f"the file is {int(declared)} bytes; the limit is {limit}"))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _problems(("body", f"the file is over the limit of {limit} bytes"))
    return bytes(body)


@router.get("/sessions/{id}/model.py", responses=_SESSION_ERRORS,
            response_class=Response, summary="The trained network as a standalone Python script (NumPy only)")
def model_script(session: SessionDep) -> Response:
    with session.lock:
        script = session.run("python_script")
    return Response(script, media_type="text/x-python; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="model.py"'})


@router.post("/sessions/{id}/model", responses=_SESSION_ERRORS,
             summary="Load a downloaded model back and carry on training where it stopped")
async def load_model(request: Request, session: SessionDep) -> dict[str, Any]:
    raw = await _body(request, MAX_MODEL_BYTES)
    try:
        content = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _problems(("body", f"not a JSON model file: {exc}")) from None
    return await run_in_threadpool(_load, session, content)


def _load(session: Any, content: Any) -> dict[str, Any]:
    try:
        config, state = read_model_file(content)
    except ConfigError as exc:
        raise _config_problems(exc) from None
    with session.lock:
        try:
            session.run("load", state=state)
        except ValueError as exc:
            raise _problems(("trainer", str(exc))) from None
        session.config = config
        return {**_config_view(session), "frame": session.run("frame"), "data": session.run("data")}
