"""The JSON API under /api: create a session, change its configuration, train, draw, export.

Every operation on a session holds the session's lock (see app/sessions.py). Every 422 answer has
the shape ``{"detail": [{"field": ..., "message": ...}, ...]}``, whether the configuration, the
request body or the engine found the problem, and a failed request leaves the session unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.config import (
    DEFAULT_GRID,
    MAX_EPOCHS_PER_STEP,
    MAX_GRID,
    MAX_SEED,
    MIN_GRID,
    ConfigError,
    PlaygroundConfig,
    validate_config,
)
from app.model_file import model_file
from app.sessions import Session, SessionStore, get_store
from app.trainers import TrainerGone
from engine.trainer import MAX_EDIT_VALUE


router = APIRouter(prefix="/api", tags=["api"])


# -- bodies and answers ---------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepBody(_Body):
    epochs: int = Field(1, ge=1, le=MAX_EPOCHS_PER_STEP, description="epochs to train")
    since: int = Field(-1, ge=-1, description="the client's last epoch; history starts after it")
    grid: int = Field(DEFAULT_GRID, ge=MIN_GRID, le=MAX_GRID, description="output heatmap side")


class ResetBody(_Body):
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="a new seed draws new data and weights")


_Value = Field(ge=-MAX_EDIT_VALUE, le=MAX_EDIT_VALUE, allow_inf_nan=False)


class WeightBody(_Body):
    layer: int = Field(ge=0, description="0 = the edges from the inputs")
    source: int = Field(ge=0, description="node in layer `layer`")
    target: int = Field(ge=0, description="node in layer `layer + 1`")
    value: Annotated[float, _Value]


class BiasBody(_Body):
    layer: int = Field(ge=0, description="the bias of a node that layer `layer`'s edges lead into")
    node: int = Field(ge=0)
    value: Annotated[float, _Value]


class FieldProblem(BaseModel):
    field: str
    message: str


class Problems(BaseModel):
    detail: list[FieldProblem]


class NotFound(BaseModel):
    detail: str


Frame = dict[str, Any]


class ConfigView(BaseModel):
    config: PlaygroundConfig
    query: str = Field(description="the canonical URL query of the configuration")


class SessionInfo(ConfigView):
    id: str
    epoch: int
    iteration: int
    metrics: dict[str, Any]
    flags: dict[str, Any]


class ResetAnswer(ConfigView):
    frame: Frame
    data: dict[str, Any]


class SessionCreated(ResetAnswer):
    id: str


class ConfigChanged(ConfigView):
    rebuilt: str = Field(description="'data', 'network', 'optimizer', 'training' or 'nothing'")
    frame: Frame
    data: dict[str, Any] | None = Field(description="the points, only when the data changed")


_PARTIAL_CONFIG = Body(
    description="Any PlaygroundConfig fields (see the PlaygroundConfig schema); missing ones keep "
    "their default (create) or current value (change).",
    examples=[{"dataset": "xor", "layers": [4, 2], "lr": 0.03}],
)
_ERRORS = {422: {"model": Problems, "description": "one message per bad field"}}
_SESSION_ERRORS = {404: {"model": NotFound, "description": "unknown or expired session"}, **_ERRORS}


def _problems(*problems: tuple[str, str]) -> HTTPException:
    return HTTPException(422, [{"field": f, "message": m} for f, m in problems])


def _config_problems(exc: ConfigError) -> HTTPException:
    return _problems(*((e.field, e.message) for e in exc.errors))


def _session(
    store: Annotated[SessionStore, Depends(get_store)],
    session_id: Annotated[str, Path(alias="id")],
) -> Session:
    session = store.get(session_id)
    if session is None:
        raise _not_found(session_id)
    return session


def _not_found(session_id: str) -> HTTPException:
    return HTTPException(404, f"session {session_id} not found or expired; create one with POST /api/sessions")


SessionDep = Annotated[Session, Depends(_session)]


def _config_view(session: Session) -> dict[str, Any]:
    return {"config": session.config.model_dump(mode="json"), "query": session.config.to_query()}


# -- endpoints --------------------------------------------------------------------------------------


@router.post("/sessions", status_code=201, response_model=SessionCreated, responses=_ERRORS,
             summary="Create a session from a (partial) configuration")
def create_session(
    store: Annotated[SessionStore, Depends(get_store)],
    changes: Annotated[dict[str, Any] | None, _PARTIAL_CONFIG] = None,
) -> dict[str, Any]:
    try:
        config = validate_config(changes or {})
        session = store.create(config)  # ConfigError too if its uploaded data is not here
    except ConfigError as exc:
        raise _config_problems(exc) from None
    with session.lock:
        return {"id": session.id, **_config_view(session), "frame": session.run("frame"), "data": session.run("data")}


@router.get("/sessions/{id}", response_model=SessionInfo, responses=_SESSION_ERRORS,
            summary="The session's configuration, epoch and latest metrics")
def read_session(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        return {"id": session.id, **_config_view(session), **session.run("info")}


@router.patch("/sessions/{id}/config", response_model=ConfigChanged, responses=_SESSION_ERRORS,
              summary="Change some settings, rebuilding only what the change needs")
def change_config(session: SessionDep, changes: Annotated[dict[str, Any], _PARTIAL_CONFIG]) -> dict[str, Any]:
    with session.lock:
        try:
            rebuilt = session.apply(session.config.with_changes(**changes))
        except ConfigError as exc:
            raise _config_problems(exc) from None
        except ValueError as exc:
            raise _problems(("config", str(exc))) from None
        return {**_config_view(session), "rebuilt": rebuilt, "frame": session.run("frame"),
                "data": session.run("data") if rebuilt == "data" else None}


def _encoded_frame(request: Request, session: Session, operation: str, **arguments: Any) -> Response:
    """A frame encoded (and gzip-compressed if the client takes it) where the trainer lives."""
    compress = "gzip" in request.headers.get("accept-encoding", "").lower()
    with session.lock:
        body = session.run(operation, compress=compress, **arguments)
    headers = {"Vary": "Accept-Encoding", **({"Content-Encoding": "gzip"} if compress else {})}
    return Response(body, media_type="application/json", headers=headers)


_FRAME_ANSWER = {200: {"description": "the frame (see docs/api.md)", "content": {"application/json": {}}},
                 **_SESSION_ERRORS}


@router.post("/sessions/{id}/step", response_class=Response, responses=_FRAME_ANSWER,
             summary=f"Train 1 to {MAX_EPOCHS_PER_STEP} epochs and return the new frame")
def step(request: Request, session: SessionDep, body: StepBody = StepBody()) -> Response:
    return _encoded_frame(request, session, "step_json", epochs=body.epochs, since=body.since, grid=body.grid)


@router.post("/sessions/{id}/reset", response_model=ResetAnswer, responses=_SESSION_ERRORS,
             summary="Back to the initial weights (a new seed also draws new data)")
def reset(session: SessionDep, body: ResetBody = ResetBody()) -> dict[str, Any]:
    with session.lock:
        session.reset(body.seed)
        return {**_config_view(session), "frame": session.run("frame"), "data": session.run("data")}


@router.get("/sessions/{id}/frame", response_class=Response, responses=_FRAME_ANSWER,
            summary="The current frame, without training")
def frame(
    request: Request,
    session: SessionDep,
    since: Annotated[int, Query(ge=-1, description="the client's last epoch")] = -1,
    grid: Annotated[int, Query(ge=MIN_GRID, le=MAX_GRID, description="output heatmap side")] = DEFAULT_GRID,
) -> Response:
    return _encoded_frame(request, session, "frame_json", since=since, grid=grid)


def _edit(session: Session, body: _Body, operation: str) -> Frame:
    """Run the engine's edit; its ValueError names the bad argument first ("source must
    be ..."), which becomes the field of the 422 answer."""
    with session.lock:
        try:
            return session.run(operation, **body.model_dump())
        except ValueError as exc:
            name = str(exc).split(" ", 1)[0]
            raise _problems((name if name in type(body).model_fields else "body", str(exc))) from None


@router.put("/sessions/{id}/weight", responses=_SESSION_ERRORS, summary="Set one weight by hand")
def set_weight(session: SessionDep, body: WeightBody) -> Frame:
    return _edit(session, body, "set_weight")


@router.put("/sessions/{id}/bias", responses=_SESSION_ERRORS, summary="Set one bias by hand")
def set_bias(session: SessionDep, body: BiasBody) -> Frame:
    return _edit(session, body, "set_bias")


@router.get("/sessions/{id}/model", responses=_SESSION_ERRORS,
            summary="Download the configuration and the whole trainer state as JSON (load it back with POST)")
def export_model(session: SessionDep) -> Response:
    with session.lock:
        content = model_file(session.config, session.run("export"))
    return JSONResponse(content, headers={"Content-Disposition": 'attachment; filename="playground-model.json"'})


@router.delete("/sessions/{id}", status_code=204, responses=_SESSION_ERRORS,
               summary="Delete the session")
def delete_session(store: Annotated[SessionStore, Depends(get_store)], session: SessionDep) -> Response:
    store.delete(session.id)
    return Response(status_code=204)


# -- errors ---------------------------------------------------------------------------------------


def _validation_problem(error: dict[str, Any], body_model: Any) -> dict[str, str]:
    """One of FastAPI's validation errors in the API's shape: the field is the last named part
    of its location ("body" for a body that is not JSON or not an object)."""
    names = [str(part) for part in error["loc"] if isinstance(part, str) and part not in ("body", "query", "path")]
    field = names[-1] if names else "body"
    message = error["msg"]
    if error["type"] == "json_invalid":
        message = f"malformed JSON: {(error.get('ctx') or {}).get('error', message)}"
    elif error["type"] == "extra_forbidden":
        message = f"unknown field; allowed: {', '.join(getattr(body_model, 'model_fields', ()))}"
    return {"field": field, "message": message}


def install_error_handlers(app: FastAPI) -> None:
    """Give FastAPI's own 422 answers (bad step body, wrong JSON types, malformed JSON) the API's
    ``{"detail": [{"field", "message"}]}`` shape."""

    @app.exception_handler(TrainerGone)
    def trainer_gone(request: Request, exc: TrainerGone) -> JSONResponse:
        """A session whose trainer was lost (its worker process died) is as good as expired."""
        return JSONResponse({"detail": _not_found(str(exc)).detail}, status_code=404)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body_field = getattr(request.scope.get("route"), "body_field", None)
        body_model = body_field.field_info.annotation if body_field else None
        return JSONResponse({"detail": [_validation_problem(e, body_model) for e in exc.errors()]}, status_code=422)
