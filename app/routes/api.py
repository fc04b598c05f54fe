"""The JSON API under /api: create a session, change its configuration, train, draw, export.

Every operation on a session holds the session's lock (see app/sessions.py). Every 422 and 409
answer has the shape ``{"detail": [{"field": ..., "message": ...}, ...]}``, whether the
configuration, the request body or the engine found the problem, with at most ``MAX_PROBLEMS``
problems, and a failed request leaves the session unchanged. 422: the request is wrong whatever
the session; 409: it is well formed but does not fit the session as it is (a weight the network
does not have, cross-entropy for a session on a regression dataset).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any, Callable, Coroutine, Iterable

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.config import (
    DEFAULT_GRID,
    MAX_CLASSES,
    MAX_EPOCHS_PER_STEP,
    MAX_GRID,
    MAX_HIDDEN_LAYERS,
    MAX_HISTORY_POINTS,
    MAX_NEURONS,
    MAX_SEED,
    MIN_GRID,
    ConfigError,
    FieldError,
    PlaygroundConfig,
    config_body_schema,
    engine_field_error,
    validate_config,
    whole_number_as_int,
)
from app.model_file import model_file
from app.sessions import Session, SessionBusy, SessionStore, TooManySessions, get_store
from app.trainers import TrainerGone
from engine.datasets import FEATURES
from engine.errors import InvalidValue
from engine.trainer import MAX_EDIT_VALUE, History

MAX_PROBLEMS = 20  # problems listed in one 422 or 409 answer; a last entry counts the rest
# Well-formed drawn points or a data hash that do not fit the rest of the configuration (another
# problem, a class it lacks, too few points) or name a file this server lacks: a conflict (409).
OWN_DATA_CONFLICTS = ("points_invalid", "data_missing", "data_unreadable", "data_problem", "data_classes")
# The largest node indices any network can have: a layer of nodes is the inputs (one per
# feature), a hidden layer, or the outputs (one per class at most).
MAX_SOURCE = max(len(FEATURES), MAX_NEURONS) - 1
MAX_TARGET = max(MAX_NEURONS, MAX_CLASSES) - 1


class _JSONRequest(Request):
    """A request whose unreadable JSON (not UTF-8, nested too deep for the parser, an integer
    too long to convert) is malformed JSON like any other: 422 on field "body", as documented,
    rather than FastAPI's bare 400 (it reports ``JSONDecodeError`` and nothing else)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
            except json.JSONDecodeError:
                raise
            except UnicodeDecodeError:
                raise json.JSONDecodeError("the body is not UTF-8 text", "", 0) from None
            except RecursionError:
                raise json.JSONDecodeError("nested too deeply", "", 0) from None
            except ValueError:  # Python refuses to convert integers this long (a denial of service)
                raise json.JSONDecodeError(
                    f"a number has more than {sys.get_int_max_str_digits()} digits", "", 0) from None
        return self._json


class _JSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(_JSONRequest(request.scope, request.receive))

        return handle


router = APIRouter(prefix="/api", tags=["api"], route_class=_JSONRoute)


# -- bodies and answers ---------------------------------------------------------------------------


class _Body(BaseModel):
    # strict: JSON's true and false are not numbers, nor is "1"
    model_config = ConfigDict(extra="forbid", strict=True)


Whole = Annotated[int, BeforeValidator(whole_number_as_int)]  # 2.0 is an integer in JSON


class StepBody(_Body):
    epochs: Whole = Field(1, ge=1, le=MAX_EPOCHS_PER_STEP, description="epochs to train")
    since: Whole = Field(-1, ge=-1, description="the client's last epoch; history starts after it")
    grid: Whole = Field(DEFAULT_GRID, ge=MIN_GRID, le=MAX_GRID, description="output heatmap side")


class ResetBody(_Body):
    seed: Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(whole_number_as_int)] | None = Field(None, description="a new seed draws new data and weights")


_Value = Field(ge=-MAX_EDIT_VALUE, le=MAX_EDIT_VALUE, allow_inf_nan=False)


class WeightBody(_Body):
    layer: Whole = Field(ge=0, le=MAX_HIDDEN_LAYERS, description="0 = the edges from the inputs")
    source: Whole = Field(ge=0, le=MAX_SOURCE, description="node in layer `layer`")
    target: Whole = Field(ge=0, le=MAX_TARGET, description="node in layer `layer + 1`")
    value: Annotated[float, _Value]


class BiasBody(_Body):
    layer: Whole = Field(ge=0, le=MAX_HIDDEN_LAYERS,
                       description="the bias of a node that layer `layer`'s edges lead into")
    node: Whole = Field(ge=0, le=MAX_TARGET)
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


# Validated by validate_config (one validator for the page, the URL and the API); the schema
# says what it accepts, the rules between fields included.
ConfigChanges = Annotated[dict[str, Any], WithJsonSchema(config_body_schema())]
_PARTIAL_CONFIG = Body(
    description="Any PlaygroundConfig fields; missing ones keep their default (create) or current "
    "value (change).",
    examples=[{"dataset": "xor", "layers": [4, 2], "lr": 0.03}],
)
_ERRORS = {422: {"model": Problems, "description": f"one message per bad field (at most {MAX_PROBLEMS})"},
           413: {"model": NotFound, "description": "the body is too large"}}
_TOO_MANY = {429: {"model": NotFound, "description": "this address started too many sessions in the last minute"}}
SESSION_ERRORS = {404: {"model": NotFound, "description": "unknown, expired or lost session"},
                   429: {"model": NotFound, "description": "the session has a request under way and one waiting"},
                   **_ERRORS}
_CONFLICTS = {409: {"model": Problems, "description": "well formed, but does not fit the session as it is"}}


def _problem_list(errors: Iterable[FieldError]) -> list[dict[str, str]]:
    """At most MAX_PROBLEMS problems (a last entry counts the rest), and the allowed fields
    named once, on the first unknown one: the answer stays small whatever the body."""
    errors = list(errors)
    listed, named_allowed = [], False
    for error in errors[:MAX_PROBLEMS]:
        message, allowed = error.message, dict(error.params).get("allowed")
        if allowed and not named_allowed:
            message, named_allowed = f"{message}; allowed: {allowed}", True
        listed.append({"field": error.field, "message": message})
    if len(errors) > MAX_PROBLEMS:
        listed.append({"field": "body", "message": f"and {len(errors) - MAX_PROBLEMS} more problems"})
    return listed


def refusal(errors: Iterable[FieldError], status: int = 422) -> HTTPException:
    return HTTPException(status, _problem_list(errors))


def _valid_alone(changes: dict[str, Any]) -> bool:
    """Whether ``changes`` make a valid configuration on the defaults: then a refusal comes from
    the session's current configuration (409), not from the request (422)."""
    try:
        validate_config(changes, strict=True)
    except ConfigError:
        return False
    return True


def _session(
    store: Annotated[SessionStore, Depends(get_store)],
    session_id: Annotated[str, Path(alias="id")],
) -> Session:
    session = store.get(session_id)
    if session is None:
        raise _not_found(session_id)
    return session


def _not_found(session_id: str) -> HTTPException:
    return HTTPException(404, str(TrainerGone(session_id)))


BUSY = "this session already has a request under way and one waiting; wait for their answers"


SessionDep = Annotated[Session, Depends(_session)]


def config_view(session: Session) -> dict[str, Any]:
    return {"config": session.config.model_dump(mode="json"), "query": session.config.to_query()}


# -- endpoints --------------------------------------------------------------------------------------


@router.post("/sessions", status_code=201, response_model=SessionCreated, responses={**_ERRORS, **_TOO_MANY},
             summary="Create a session from a (partial) configuration")
def create_session(
    store: Annotated[SessionStore, Depends(get_store)],
    changes: Annotated[ConfigChanges | None, _PARTIAL_CONFIG] = None,
) -> dict[str, Any]:
    try:
        config = validate_config(changes or {}, strict=True)
        session = store.create(config)  # ConfigError too if its uploaded data is not here
    except ConfigError as exc:
        raise refusal(exc.errors, 409 if all(e.code in OWN_DATA_CONFLICTS for e in exc.errors) else 422) from None
    with session.lock:
        session.start()  # an API session holds its trainer from the start
        return {"id": session.id, **config_view(session), "frame": session.frame(), "data": session.data()}


@router.get("/sessions/{id}", response_model=SessionInfo, responses=SESSION_ERRORS,
            summary="The session's configuration, epoch and latest metrics")
def read_session(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        return {"id": session.id, **config_view(session), **session.info()}


@router.patch("/sessions/{id}/config", response_model=ConfigChanged, responses={**SESSION_ERRORS, **_CONFLICTS},
              summary="Change some settings, rebuilding only what the change needs")
def change_config(session: SessionDep, changes: Annotated[ConfigChanges, _PARTIAL_CONFIG]) -> dict[str, Any]:
    with session.lock:
        try:
            config = session.config.with_changes(**changes)
        except ConfigError as exc:
            raise refusal(exc.errors, 409 if _valid_alone(changes) else 422) from None
        try:
            rebuilt = session.apply(config)
        except ValueError as exc:
            raise refusal([engine_field_error(exc)], 409) from None
        return {**config_view(session), "rebuilt": rebuilt, "frame": session.frame(),
                "data": session.data() if rebuilt == "data" else None}


def _compress(request: Request) -> bool:
    """Whether the client takes gzip: frames are compressed where the trainer lives."""
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _encoded_frame(body: bytes, compressed: bool) -> Response:
    """The answer for a frame that was encoded where the trainer lives (the routes await it,
    so that a waiting frame holds no thread)."""
    headers = {"Vary": "Accept-Encoding", **({"Content-Encoding": "gzip"} if compressed else {})}
    return Response(body, media_type="application/json", headers=headers)


_FRAME_ANSWER = {200: {"description": "the frame (see docs/api.md)", "content": {"application/json": {}}},
                 **SESSION_ERRORS}


@router.post("/sessions/{id}/step", response_class=Response, responses=_FRAME_ANSWER,
             summary=f"Train 1 to {MAX_EPOCHS_PER_STEP} epochs and return the new frame")
async def step(request: Request, session: SessionDep, body: StepBody = StepBody()) -> Response:
    compress = _compress(request)
    return _encoded_frame(await session.step_json(**step_arguments(request.app, body), compress=compress), compress)


def step_arguments(app: FastAPI, body: StepBody) -> dict[str, Any]:
    """What a step asks of the trainer, for the JSON step and the frame stream alike."""
    return {"epochs": body.epochs, "since": body.since, "grid": body.grid,
            "budget": app.state.settings.step_budget_ms / 1000}


@router.post("/sessions/{id}/reset", response_model=ResetAnswer, responses=SESSION_ERRORS,
             summary="Back to the initial weights (a new seed also draws new data)")
def reset(session: SessionDep, body: ResetBody = ResetBody()) -> dict[str, Any]:
    with session.lock:
        session.reset(body.seed)
        return {**config_view(session), "frame": session.frame(), "data": session.data()}


@router.get("/sessions/{id}/frame", response_class=Response, responses=_FRAME_ANSWER,
            summary="The current frame, without training")
async def frame(
    request: Request,
    session: SessionDep,
    since: Annotated[int, Query(ge=-1, description="the client's last epoch")] = -1,
    grid: Annotated[int, Query(ge=MIN_GRID, le=MAX_GRID, description="output heatmap side")] = DEFAULT_GRID,
) -> Response:
    compress = _compress(request)
    return _encoded_frame(await session.frame_json(since=since, grid=grid, compress=compress), compress)


def _edit(session: Session, body: _Body, edit: Callable[..., Frame]) -> Frame:
    """Run the engine's edit (``session.set_weight`` or ``set_bias``). The body is within every
    network's bounds; a node or layer that this session's network lacks is a conflict (409) on
    the field the engine names."""
    with session.lock:
        try:
            return edit(**body.model_dump())
        except ValueError as exc:
            named = isinstance(exc, InvalidValue) and exc.field in type(body).model_fields
            raise refusal([FieldError(exc.field if named else "body", str(exc))], 409) from None


@router.put("/sessions/{id}/weight", responses={**SESSION_ERRORS, **_CONFLICTS}, summary="Set one weight by hand")
def set_weight(session: SessionDep, body: WeightBody) -> Frame:
    return _edit(session, body, session.set_weight)


@router.put("/sessions/{id}/bias", responses={**SESSION_ERRORS, **_CONFLICTS}, summary="Set one bias by hand")
def set_bias(session: SessionDep, body: BiasBody) -> Frame:
    return _edit(session, body, session.set_bias)


@router.get("/sessions/{id}/model", responses=SESSION_ERRORS,
            summary="Download the configuration and the whole trainer state as JSON (load it back with POST)")
def export_model(session: SessionDep) -> Response:
    with session.lock:
        content = model_file(session.config, session.export())
    # A long history comes decimated, as in a frame ("epochs" says which; from_dict reads the rest).
    epochs, history = History.from_dict(content["trainer"]["history"]).window(0, MAX_HISTORY_POINTS)
    content["trainer"]["history"] = {**history.to_dict(), "epochs": epochs}
    return JSONResponse(content, headers={"Content-Disposition": 'attachment; filename="playground-model.json"'})


@router.delete("/sessions/{id}", status_code=204, responses=SESSION_ERRORS,
               summary="Delete the session")
def delete_session(store: Annotated[SessionStore, Depends(get_store)], session: SessionDep) -> Response:
    store.delete(session.id)
    return Response(status_code=204)


# -- errors ---------------------------------------------------------------------------------------


def _validation_problem(error: dict[str, Any], body_model: Any) -> FieldError:
    """One of FastAPI's validation errors in the API's shape: the field is the last named part
    of its location ("body" for a body that is not JSON or not an object)."""
    names = [str(part) for part in error["loc"] if isinstance(part, str) and part not in ("body", "query", "path")]
    field = names[-1] if names else "body"
    message, params = error["msg"], ()
    if error["type"] == "json_invalid":
        message = f"malformed JSON: {(error.get('ctx') or {}).get('error', message)}"
    elif error["type"] == "extra_forbidden":
        message, params = "unknown field", (("allowed", ", ".join(getattr(body_model, "model_fields", ()))),)
    return FieldError(field, message, error["type"], params)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(app: FastAPI, scope: dict[str, Any]) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    return ", ".join(method for method in _METHODS
                     if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.router.routes))


def install_error_handlers(app: FastAPI) -> None:
    """Give FastAPI's own 422 answers (bad step body, wrong JSON types, malformed JSON) the API's
    ``{"detail": [{"field", "message"}]}`` shape, and 405 answers the whole ``Allow`` list."""

    @app.exception_handler(TrainerGone)
    def trainer_gone(request: Request, exc: TrainerGone) -> JSONResponse:
        """A session whose trainer was lost (its worker process died or overran its deadline
        and was replaced; the store has forgotten it) is as good as expired: the same 404,
        saying why."""
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(SessionBusy)
    def session_busy(request: Request, exc: SessionBusy) -> JSONResponse:
        return JSONResponse({"detail": BUSY}, status_code=429, headers={"Retry-After": "1"})

    @app.exception_handler(TooManySessions)
    def too_many_sessions(request: Request, exc: TooManySessions) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body_field = getattr(request.scope.get("route"), "body_field", None)
        body_model = body_field.field_info.annotation if body_field else None
        return JSONResponse({"detail": validation_problems(exc.errors(), body_model)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": _allowed_methods(app, request.scope)}
        return await http_exception_handler(request, exc)


def validation_problems(errors: Sequence[Any], body_model: Any) -> list[dict[str, str]]:
    """Pydantic's validation errors of a body as the API's problems (also the frame stream's)."""
    return _problem_list(_validation_problem(e, body_model) for e in errors)
