"""Your own data in, your model out: a CSV file in and out, the model loaded back, the network
as a Python script.

These answer under /api like the rest of the JSON API, with its 422 shape
(``{"detail": [{"field", "message"}]}``); a refused upload leaves the session as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.config import ConfigError, PlaygroundConfig
from app.csv_data import MAX_CSV_BYTES, read_csv
from app.datastore import DataStore
from app.model_file import MAX_MODEL_BYTES, read_model_file
from app.own_data import check_saved_data
from app.page_model import first_dataset_of
from app.routes.api import _SESSION_ERRORS, SessionDep, _config_problems, _config_view, _problems
from app.sessions import Session
from engine.datasets import PROBLEMS, Dataset

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
    return await run_in_threadpool(_load, session, request.app.state.datastore, content)


def _load(session: Session, store: DataStore, content: Any) -> dict[str, Any]:
    try:
        config, state = read_model_file(content)
        with _storage():
            check_saved_data(config, state["custom_data"], store)
    except ConfigError as exc:
        raise _config_problems(exc) from None
    with session.lock:
        try:
            session.run("load", state=state)
        except ValueError as exc:
            raise _problems(("trainer", str(exc))) from None
        session.config = config
        return {**_config_view(session), "frame": session.run("frame"), "data": session.run("data")}


_CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.post("/sessions/{id}/data", responses=_SESSION_ERRORS, openapi_extra=_CSV_BODY,
             summary="Train on your own data: a CSV file of x1, x2 and a label or target")
async def upload_data(
    request: Request,
    session: SessionDep,
    problem: Annotated[Literal[PROBLEMS] | None, Query(description="force the kind of label")] = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    body = await _body(request, MAX_CSV_BYTES)
    return await run_in_threadpool(_use_upload, session, request.app.state.datastore, body, problem)


def _use_upload(session: Session, store: DataStore, body: bytes, problem: str | None) -> dict[str, Any]:
    try:
        read = read_csv(body, problem)
    except ConfigError as exc:
        raise _config_problems(exc) from None
    with _storage():
        digest = store.put(read.dataset)
    with session.lock:
        try:
            session.apply(_config_for(session.config, read.dataset, digest))
        except ConfigError as exc:
            raise _config_problems(exc) from None
        except ValueError as exc:  # the engine's: say, too few points for the split
            raise _problems(("body", str(exc))) from None
        return {**_config_view(session), "frame": session.run("frame"), "data": session.run("data"),
                "rows": len(read.dataset.y), "problem": read.dataset.problem, "class_names": read.class_names}


def _config_for(config: PlaygroundConfig, dataset: Dataset, digest: str) -> PlaygroundConfig:
    """The playground's settings with the uploaded set: a dataset of its problem (and its number
    of classes); a loss or optimizer the new problem refuses goes back to its default."""
    changes: dict[str, Any] = {"data": digest, "points": None}
    if dataset.problem != config.problem:
        changes["dataset"] = first_dataset_of(dataset.problem)
    if dataset.problem == "multiclass":
        changes["classes"] = dataset.n_classes
    try:
        return config.with_changes(**changes)
    except ConfigError as exc:
        refused = [e.field for e in exc.errors if e.code in ("loss_needs_classes", "perceptron_shape")]
        if not refused:
            raise
        return config.with_changes(**changes, **{f: PlaygroundConfig.model_fields[f].default for f in refused})


@router.get("/sessions/{id}/data.csv", responses=_SESSION_ERRORS, response_class=Response,
            summary="The current data as CSV: x1, x2, label (class id or target) and split (train/test)")
def download_data(session: SessionDep) -> Response:
    with session.lock:
        text = session.run("data_csv")
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="playground-data.csv"'})


@contextmanager
def _storage() -> Iterator[None]:
    """A folder the server cannot write (DATA_DIR) is the server's problem, not the file's."""
    try:
        yield
    except OSError as exc:
        raise HTTPException(503, f"this server cannot store uploaded data: {exc.strerror}") from None
