"""The HTML page and its HTMX partial: the playground form, re-rendered on every change.

``GET /`` reads the configuration from the URL (leniently: bad values fall back to defaults and
are listed on the page), creates a session and renders the page with the first frame inline.
``POST /s/{sid}/config`` receives the whole form; a valid change is applied to the session and
the re-rendered playground comes back with ``HX-Replace-Url`` so the address bar stays a
shareable link; an invalid one leaves the session as it was and says why, in place.
"""

from __future__ import annotations

import json
import secrets
from types import MappingProxyType
from typing import Any, Mapping

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from app.config import (
    BATCH_SIZES,
    HIDEABLE,
    LEARNING_RATES,
    MAX_CLASSES,
    MIN_CLASSES,
    OPTIMIZER_PARAMS,
    REG_RATES,
    SCHEDULE_PARAMS,
    MAX_NOISE,
    MAX_SEED,
    MAX_TRAIN,
    MIN_NOISE,
    MIN_TRAIN,
    ConfigError,
    FieldError,
    PlaygroundConfig,
    engine_field_error,
    first_error_per_field,
    page_url,
    parse_form_values,
    parse_query,
    validate_config,
)
from app.gallery import gallery_links
from app.i18n import (
    LANGUAGES,
    Translator,
    choose_language,
    describe_error,
    format_number,
    number_separators,
    read_number,
    translator,
)
from app.paths import TEMPLATES_DIR
from app.page_model import (
    CLASS_COLOURS,
    NEGATIVE,
    OPTIONS,
    POSITIVE,
    activation_curve,
    dataset_preview,
    first_dataset_of,
    network_layout,
)
from app.sessions import CLIENT, Session, SessionStore, get_store
from app.tfpg import read_notes
from app.trainers import TrainerGone
from engine.datasets import DATASETS, HALF_SIDE
from engine.trainer import MAX_EDIT_VALUE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
# ``{{ 0.03 | number }}``: a number as the page's language writes it (0,03 in Spanish)
templates.env.filters["number"] = pass_context(
    lambda context, value, grouped=True: format_number(value, context["lang"], grouped))
PAGE_KEYS = ("lang", "tfpg")  # query keys that belong to the page, not to the configuration
TYPED_NUMBERS = (*OPTIMIZER_PARAMS, *SCHEDULE_PARAMS)  # boxes where students type numbers
ARTICLE_SECTIONS = ("neuron", "activation", "data", "cost", "gradient", "sgd", "bruteforce", "hidden")
JS_MESSAGES = ("train", "test", "epoch", "loss", "function", "derivative", "weight", "bias", "neuron", "output",
               "invalid_number", "copied", "copy_failed", "expired", "server_error", "diverged", "zero_gradients",
               "oscillating", "loss_log", "node_map", "unavailable",
               "weight_gradient", "bias_gradient", "pinned", "pinned_run", "same_settings", "layers", "seed")


@router.get("/", response_class=HTMLResponse)
def page(request: Request, store: SessionStore = Depends(get_store)) -> HTMLResponse:
    return _open(request, store, "page.html")


@router.get("/playground", response_class=HTMLResponse)
def playground(request: Request, store: SessionStore = Depends(get_store)) -> HTMLResponse:
    """The playground alone, for a page whose session expired: rebuilt from its URL."""
    return _open(request, store, "partials/playground.html")


def _open(request: Request, store: SessionStore, template: str) -> HTMLResponse:
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    config, notes = parse_query(list(request.query_params.multi_items()), ignore=PAGE_KEYS)
    notes += read_notes(request.query_params.get("tfpg", ""))  # from /from-tfpg (app/tfpg.py)
    return open_playground(request, store, template, config, lang, notes)


def open_playground(
    request: Request,
    store: SessionStore,
    template: str,
    config: PlaygroundConfig,
    lang: str,
    notes: list[FieldError] = (),
    context: Mapping[str, Any] = MappingProxyType({}),
) -> HTMLResponse:
    """A new session for ``config``, rendered with ``template``: the playground page, or a page
    that embeds the playground under its own text (a lesson, with its ``context``). Beyond the
    client's ``page_opens_per_minute``, a short page that opens it again once it may."""
    retry_after = request.app.state.page_opens.take(CLIENT.get())
    if retry_after is not None:
        return _too_many_pages(request, lang, retry_after)
    session, notes = _create(store, config, list(notes))
    with session.lock:
        return _render(request, template, session, lang, notes=notes, extra=context)


def _too_many_pages(request: Request, lang: str, retry_after: int) -> HTMLResponse:
    """429, and a page that says why and reloads itself in ``retry_after`` seconds; a request of
    the page's own (HTMX: the playground rebuilt after its session expired) reloads the page,
    which then does the same."""
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if request.headers.get("hx-request"):
        return HTMLResponse("", headers={**headers, "HX-Refresh": "true"})
    t = translator(lang)
    context = {"t": t, "lang": lang, "retry": retry_after, "message": t("limits.pages")}
    return templates.TemplateResponse(request, "unavailable.html", context, status_code=429, headers=headers)


def _create(store: SessionStore, config: PlaygroundConfig, notes: list[FieldError]) -> tuple[Session, list[FieldError]]:
    """A session for a link; one whose uploaded data this server does not have opens with a
    generated dataset instead, and says so."""
    try:
        return store.create(config), notes
    except ConfigError as exc:
        return store.create(config.with_changes(data=None, points=None)), [*notes, *exc.errors]


@router.post("/s/{sid}/config", response_class=HTMLResponse)
async def change(sid: str, request: Request, store: SessionStore = Depends(get_store)) -> HTMLResponse:
    items = list((await request.form()).multi_items())
    return await run_in_threadpool(_change, sid, items, request, store)


def _change(sid: str, items: list[tuple[str, Any]], request: Request, store: SessionStore) -> HTMLResponse:
    form = {k: v for k, v in items}
    lang = choose_language(str(form.get("lang", "")), request.headers.get("accept-language"))
    typed = {k: str(v) for k, v in items if k in TYPED_NUMBERS and str(v).strip()}  # as the student wrote them
    items = [(k, read_number(str(v), lang) if k in TYPED_NUMBERS else str(v)) for k, v in items]
    values = parse_form_values([(k, v) for k, v in items if k not in (*PAGE_KEYS, "problem")])
    problem = form.get("problem")
    dataset = values.get("dataset")
    if problem in OPTIONS.problems and dataset in DATASETS and DATASETS[dataset].problem != problem:
        values["dataset"] = first_dataset_of(str(problem))
        _drop_choices_the_problem_refuses(values)
    session = store.get(sid)
    if session is not None:
        with session.lock:
            try:
                errors = _apply(session, values, typed)
                refused = {k: v for k, v in typed.items() if any(e.field == k for e in errors)}
                response = _render(request, "partials/playground.html", session, lang, errors=errors, typed=refused)
                return response if errors else _with_url(response, session.config, lang)
            except TrainerGone:  # its worker process died: as good as expired (and forgotten)
                pass
    # Expired, or the server restarted: start again from what the form says.
    config, notes = parse_query([(k, v) for k, v in items if k != "problem"], ignore=PAGE_KEYS)
    session, notes = _create(store, config, notes)
    with session.lock:
        response = _render(request, "partials/playground.html", session, lang, notes=notes,
                           messages=[translator(lang)("js.expired")])
    return _with_url(response, session.config, lang)


def _apply(session: Session, values: dict[str, Any], typed: dict[str, str]) -> list[FieldError]:
    """Apply the form to the session, or say what is wrong with it (the session unchanged)."""
    try:
        session.apply(validate_config(values))
    except ConfigError as exc:
        return [_naming_the_value(e, typed) for e in first_error_per_field(exc.errors)]
    except ValueError as exc:
        return [engine_field_error(exc)]
    return []


def _naming_the_value(error: FieldError, typed: dict[str, str]) -> FieldError:
    """A typed value that was refused is repeated in the message as the student wrote it, so that
    the message always speaks of what is in the box (the box keeps it, see ``_render``)."""
    if error.field not in typed:
        return error
    return FieldError(error.field, error.message, error.code, (*error.params, ("rejected", typed[error.field])))


def _drop_choices_the_problem_refuses(values: dict[str, Any]) -> None:
    """A new problem type may refuse the loss, the optimizer or the convention chosen for the old
    one (cross-entropy for regression, the perceptron rule or TensorFlow Playground's set-up for
    several classes): those go back to their defaults instead of refusing the student's switch."""
    try:
        validate_config(values)
    except ConfigError as exc:
        for error in exc.errors:
            if error.code in ("loss_needs_classes", "perceptron_shape", "tfpg_needs"):
                values.pop(error.field, None)


def _with_url(response: HTMLResponse, config: PlaygroundConfig, lang: str) -> HTMLResponse:
    response.headers["HX-Replace-Url"] = page_url(config, lang)
    return response


def _render(
    request: Request,
    template: str,
    session: Session,
    lang: str,
    notes: list[FieldError] = (),
    errors: list[FieldError] = (),
    messages: list[str] = (),
    extra: Mapping[str, Any] = MappingProxyType({}),
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render with the session's current state (the caller holds the session's lock); ``extra``
    is what a page embedding the playground adds to the context; ``typed`` are refused numbers,
    shown in their boxes as the student typed them."""
    t = translator(lang)
    config, view = session.config, session.view()
    url = page_url(config, lang)
    frame, problem = view["frame"], view["problem"]
    state = {
        "sid": session.id,
        "frame": frame,
        "data": view["data"],
        "query": config.to_query(),
        "url": url,  # the address bar's canonical link (HX-Replace-Url's twin)
        "lang": lang,
        "separators": number_separators(lang),  # for Plotly's axes: "," decimal mark in Spanish
        "halfSide": HALF_SIDE,  # the input square is [-halfSide, halfSide]²
        "title": t("app.title"),
        "problem": problem,
        "showTest": config.show_test,
        "discretize": config.discretize,
        "activation": activation_curve(config.activation),
        "colours": {"negative": NEGATIVE, "positive": POSITIVE, "classes": CLASS_COLOURS},
        "maxEdit": MAX_EDIT_VALUE,
        "messages": {key: t(f"js.{key}") for key in JS_MESSAGES},
    }
    context = {
        "t": t,
        "lang": lang,
        "languages": LANGUAGES,
        "sid": session.id,
        "config": config,
        "values": config.model_dump(),
        "query": config.to_query(),
        "url": url,
        "join_url": page_url(config, lang, "/join"),
        "typed": typed or {},
        "problem": problem,
        "metric": "r2" if problem == "regression" else "accuracy",
        "plotted_loss": view["loss"],
        "epoch": view["epoch"],
        "options": OPTIONS,
        "layout": network_layout(config, view["n_outputs"]),
        "node_grid": frame["nodes"]["grid"],
        "previews": {name: dataset_preview(name) for name in OPTIONS.datasets_by_problem[problem]},
        "activation_formula": t(f"formula.{config.activation}"),
        "hidden": set(config.hide),
        "error_fields": {e.field for e in errors},
        # one line per distinct message (seven layers of 9 neurons are one mistake)
        "errors": list(dict.fromkeys([*messages, *(describe_error(t, e, lang) for e in errors)])),
        "notes": [describe_error(t, e, lang) for e in notes],
        "limits": {"min_train": MIN_TRAIN, "max_train": MAX_TRAIN, "min_noise": MIN_NOISE, "max_noise": MAX_NOISE},
        "class_choices": range(MIN_CLASSES, MAX_CLASSES + 1),
        # the current value is always a choice, so that posting the form never changes it
        "batch_choices": sorted({*BATCH_SIZES, config.batch}),
        "lr_choices": sorted({*LEARNING_RATES, config.lr}),
        "reg_rate_choices": sorted({*REG_RATES, config.reg_rate}),
        "next_seed": secrets.randbelow(MAX_SEED + 1),
        "article_sections": ARTICLE_SECTIONS,
        "gallery": gallery_links(config, lang),
        "hideable": HIDEABLE,
        "lesson_ticked": {*config.hide, "lesson_links"},  # the lesson panel's boxes ticked at first
        # json for a <script> element: "</" must not close it early
        "state_json": json.dumps(state, separators=(",", ":")).replace("</", "<\\/"),
        **{f"{kind}_labels": _labels(t, kind) for kind in OPTIONS.choices},
        **extra,
    }
    return templates.TemplateResponse(request, template, context)


def _labels(t: Translator, kind: str) -> dict[str, str]:
    return {choice: t(f"{kind}.{choice}") for choice in OPTIONS.choices[kind]}

