"""Your own data in, your model out: a CSV file in and out, the model loaded back, the network
as a Python script.

The JSON API answers under /api with its 422 shape (``{"detail": [{"field", "message"}]}``);
the page posts the same files to /s/{sid}/... and gets the playground back, re-rendered, with the
problems in the student's language. Either way a refused file leaves the session as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Callable, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.config import ConfigError, FieldError, PlaygroundConfig, validate_config
from app.csv_data import MAX_CSV_BYTES, ReadData, read_csv
from app.datastore import DataStore
from app.i18n import CATALOGUES_KEYS, Translator, choose_language, describe_error, translator
from app.model_file import MAX_MODEL_BYTES, MODEL_FORMAT, MODEL_VERSION, read_model_file
from app.own_data import check_saved_data
from app.page_model import first_dataset_of
from app.points import LEVELS, MAX_DRAWN_POINTS, POINTS_VERSION, PROBLEM_CODES, VALUE_ZERO
from app.routes.api import SESSION_ERRORS, SessionDep, config_view, refusal
from app.routes.pages import _drop_choices_the_problem_refuses, _render, _with_url, templates
from app.sessions import Session, SessionStore, get_store
from app.tfpg import page_link
from engine.datasets import HALF_SIDE, MIN_POINTS, PROBLEMS, Dataset

router = APIRouter()
# What data.js needs to encode drawn points as app/points.py does (templates/partials/data_io.html).
templates.env.globals["own_data"] = {
    "min_points": MIN_POINTS, "max_points": MAX_DRAWN_POINTS, "levels": LEVELS, "value_zero": VALUE_ZERO,
    "half_side": HALF_SIDE, "problems": PROBLEM_CODES, "version": POINTS_VERSION,
}
# A form-encoded file is up to three times its size (every comma becomes %2C).
_FORM_GROWTH = 3


class Unstorable(Exception):
    """DATA_DIR cannot be written: the server's problem, not the file's (503)."""


# -- what uploads do, for the API and the page alike --------------------------------------------


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_big(f"the file is {int(declared)} bytes; the limit is {limit}", limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_big(f"the file is over the limit of {limit} bytes", limit)
    return bytes(body)


def _too_big(message: str, limit: int) -> ConfigError:
    return ConfigError([FieldError("body", message, "file_too_big", (("limit", str(limit)),))])


@contextmanager
def _storing() -> Iterator[None]:
    """A DATA_DIR the server cannot write is the server's problem, not the file's."""
    try:
        yield
    except OSError as exc:
        raise Unstorable(f"this server cannot store uploaded data: {exc.strerror}") from None


def _use_upload(session: Session, store: DataStore, body: bytes, problem: str | None) -> ReadData:
    """Read the file, store it and train on it; ConfigError (nothing changed) if it will not do."""
    read = read_csv(body, problem)
    with _storing():
        digest = store.put(read.dataset)
    with session.lock:
        try:
            session.apply(_config_for(session.config, read.dataset, digest))
        except ConfigError:
            raise
        except ValueError as exc:  # the engine's: say, too few points for the split
            raise ConfigError([FieldError("body", str(exc), "file_refused", (("reason", str(exc)),))]) from None
    return read


def _config_for(config: PlaygroundConfig, dataset: Dataset, digest: str) -> PlaygroundConfig:
    """The playground's settings with the uploaded set: a dataset of its problem (and its number
    of classes); a loss or optimizer the new problem refuses goes back to its default."""
    changes: dict[str, Any] = {"data": digest, "points": None}
    if dataset.problem != config.problem:
        changes["dataset"] = first_dataset_of(dataset.problem)
    if dataset.problem == "multiclass":
        changes["classes"] = dataset.n_classes
    values = {**config.model_dump(), **changes}
    _drop_choices_the_problem_refuses(values)
    return validate_config(values)


def _load(session: Session, store: DataStore, raw: bytes) -> None:
    """Load a model file into the session; ConfigError (nothing changed) if it will not do."""
    try:
        content = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError([FieldError("body", f"not a JSON model file: {exc}", "model_not_json")]) from None
    config, state = read_model_file(content)
    with _storing():
        check_saved_data(config, state["custom_data"], store)
    with session.lock:
        try:
            session.load(config, state)
        except ValueError as exc:
            raise ConfigError([FieldError("trainer", str(exc), "model_refused", (("reason", str(exc)),))]) from None


# -- JSON API ----------------------------------------------------------------------------------


async def _api(action: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(action)
    except ConfigError as exc:
        raise refusal(exc.errors) from None
    except Unstorable as exc:
        raise HTTPException(503, str(exc)) from None


def _view(session: Session) -> dict[str, Any]:
    with session.lock:
        return {**config_view(session), "frame": session.frame(), "data": session.data()}


@router.get("/api/sessions/{id}/model.py", responses=SESSION_ERRORS, tags=["data"],
            response_class=Response, summary="The trained network as a standalone Python script (NumPy only)")
def model_script(session: SessionDep) -> Response:
    with session.lock:
        script = session.python_script()
    return Response(script, media_type="text/x-python; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="model.py"'})


# What a schema can say of a model file; the trainer state inside is checked by app/model_file.py.
_MODEL_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["format", "version", "config", "trainer"],
    "properties": {"format": {"const": MODEL_FORMAT}, "version": {"const": MODEL_VERSION},
                   "config": {"type": "object"}, "query": {"type": ["string", "null"]}, "trainer": {"type": "object"}},
}}}}}


@router.post("/api/sessions/{id}/model", responses=SESSION_ERRORS, openapi_extra=_MODEL_BODY, tags=["data"],
             summary="Load a downloaded model back and carry on training where it stopped")
async def load_model(request: Request, session: SessionDep) -> dict[str, Any]:
    raw = await _api_body(request, MAX_MODEL_BYTES)
    await _api(lambda: _load(session, request.app.state.datastore, raw))
    return await run_in_threadpool(_view, session)


_CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.post("/api/sessions/{id}/data", responses=SESSION_ERRORS, openapi_extra=_CSV_BODY, tags=["data"],
             summary="Train on your own data: a CSV file of x1, x2 and a label or target")
async def upload_data(
    request: Request,
    session: SessionDep,
    problem: Annotated[Literal[PROBLEMS] | None, Query(description="force the kind of label")] = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise refusal([FieldError("body", "send the file itself as the body (text/csv), as "
                                           "curl --data-binary @points.csv does, not as a form")])
    body = await _api_body(request, MAX_CSV_BYTES)
    read = await _api(lambda: _use_upload(session, request.app.state.datastore, body, problem))
    return {**await run_in_threadpool(_view, session), "rows": len(read.dataset.y),
            "problem": read.dataset.problem, "class_names": read.class_names}


async def _api_body(request: Request, limit: int) -> bytes:
    try:
        return await _body(request, limit)
    except ConfigError as exc:
        raise refusal(exc.errors) from None


@router.get("/api/sessions/{id}/data.csv", responses=SESSION_ERRORS, response_class=Response, tags=["data"],
            summary="The current data as CSV: x1, x2, label (class id or target) and split (train/test)")
def download_data(session: SessionDep) -> Response:
    with session.lock:
        text = session.data_csv()
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="playground-data.csv"'})


# -- the page ------------------------------------------------------------------------------------


@router.post("/s/{sid}/data", include_in_schema=False, response_class=HTMLResponse)
async def page_upload(sid: str, request: Request, store: SessionStore = Depends(get_store)) -> Response:
    """The page's CSV upload (form field ``file``): the playground comes back re-rendered."""
    datastore = request.app.state.datastore
    return await _page(sid, request, store, MAX_CSV_BYTES,
                       lambda session, text: _use_upload(session, datastore, text.encode(), None))


@router.post("/s/{sid}/model", include_in_schema=False, response_class=HTMLResponse)
async def page_load_model(sid: str, request: Request, store: SessionStore = Depends(get_store)) -> Response:
    """The page's model upload (form field ``file``)."""
    datastore = request.app.state.datastore
    return await _page(sid, request, store, MAX_MODEL_BYTES,
                       lambda session, text: _load(session, datastore, text.encode()))


async def _page(sid: str, request: Request, store: SessionStore, limit: int,
                action: Callable[[Session, str], Any]) -> Response:
    session = store.get(sid)
    if session is None:
        return Response(status_code=404)  # the page rebuilds its session from its URL, as after any expiry
    errors: list[FieldError] = []
    form: dict[str, list[str]] = {}
    try:
        form = parse_qs((await _body(request, _FORM_GROWTH * limit)).decode("utf-8", "replace"))
        text = form.get("file", [""])[0]
        if len(text.encode()) > limit:
            raise _too_big(f"the file is over the limit of {limit} bytes", limit)
        await run_in_threadpool(action, session, text)
    except ConfigError as exc:
        errors = exc.errors
    except Unstorable as exc:
        errors = [FieldError("body", str(exc), "file_unstorable")]
    lang = choose_language(form.get("lang", [""])[0], request.headers.get("accept-language"))
    return await run_in_threadpool(_page_answer, request, session, lang, errors)


def _page_answer(request: Request, session: Session, lang: str, errors: list[FieldError]) -> Response:
    t = translator(lang)
    with session.lock:
        response = _render(request, "partials/playground.html", session, lang,
                           messages=[_describe(t, error, lang) for error in errors])
    return response if errors else _with_url(response, session.config, lang)


def _describe(t: Translator, error: FieldError, lang: str) -> str:
    """A file's problem in the student's language: its own sentence (which names the row and
    column) when the catalogue has one, else as any field error."""
    key = f"error.{error.code}"
    if key in CATALOGUES_KEYS and error.code.startswith(("csv_", "file_", "model_")):
        return t(key, **dict(error.params))
    return describe_error(t, error, lang)


# -- TensorFlow Playground links ----------------------------------------------------------------


@router.get("/from-tfpg", include_in_schema=False)
def from_tfpg_link(request: Request, url: str = "") -> RedirectResponse:
    """The same set-up as a playground.tensorflow.org address, here, with notes on what differs."""
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    return RedirectResponse(page_link(url, lang), status_code=303)
