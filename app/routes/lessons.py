"""The course pages: ``GET /lessons`` (the sequence) and ``GET /lessons/<n>`` (one lesson).

A lesson page shows the lesson's text and, under it, the real playground in the lesson's
configuration (rendered by app/routes/pages.py, so it is the same playground in every detail).
``/lessons/3?lang=es`` opens lesson 3 as prepared; ``/lessons/3?<playground query>`` opens it
with that configuration instead, which is how the address bar keeps a student's changes
(static/js/lessons.js keeps it on the lesson as the playground changes).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from app.config import FieldError, PlaygroundConfig, page_url, parse_query
from app.i18n import LANGUAGES, choose_language, translator
from app.lesson_views import FOLLOWS_THE_STUDENT, VIEW_MESSAGES, VIEWS, DoesNotFit
from app.lessons import LESSONS, Lesson, lesson_at
from app.routes.pages import PAGE_KEYS, open_playground, templates
from app.sessions import SessionStore, get_store

router = APIRouter(include_in_schema=False)


def lesson_path(number: int) -> str:
    return f"/lessons/{number}"


def _in(lang: str, path: str) -> str:
    """``path`` in ``lang``, with nothing else in its query."""
    return f"{path}?{urlencode({'lang': lang})}"


@router.get("/lessons", response_class=HTMLResponse)
def lessons(request: Request) -> HTMLResponse:
    """The whole sequence, each lesson with its formula."""
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    context = {
        "t": translator(lang),
        "lang": lang,
        "languages": [(code, name, _in(code, "/lessons")) for code, name in LANGUAGES],
        "lessons": [(lesson_path(n), lesson) for n, lesson in enumerate(LESSONS, start=1)],
    }
    return templates.TemplateResponse(request, "lessons/index.html", context)


@router.get("/lessons/{number}", response_class=HTMLResponse)
def lesson(number: int, request: Request, store: SessionStore = Depends(get_store)) -> HTMLResponse:
    """One lesson: its text, its ready playground, previous and next."""
    chosen = _lesson(number)
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    config, notes = _config(chosen, request)
    path = lesson_path(number)
    t = translator(lang)
    context = {
        "view_messages": {key: t(f"lessons.view.js.{key}") for key in VIEW_MESSAGES} if chosen.view else {},
        "lesson": chosen,
        "number": number,
        "total": len(LESSONS),
        "lesson_path": path,
        "lesson_languages": [(code, name, page_url(config, code, path)) for code, name in LANGUAGES],
        "restart": _in(lang, path),
        "index": _in(lang, "/lessons"),
        "previous": _in(lang, lesson_path(number - 1)) if number > 1 else None,
        "next": _in(lang, lesson_path(number + 1)) if number < len(LESSONS) else None,
    }
    return open_playground(request, store, "lessons/lesson.html", config, lang, notes, context)


@router.get("/lessons/{number}/view")
def lesson_view(number: int, request: Request) -> JSONResponse:
    """The numbers the lesson's own view draws (app/lesson_views.py), for the page's current
    configuration where the view follows it; 422 with a message when it cannot show it."""
    chosen = _lesson(number)
    if chosen.view is None:
        raise HTTPException(status_code=404, detail=f"lesson {number} has no view of its own")
    config = _config(chosen, request)[0] if chosen.view in FOLLOWS_THE_STUDENT else chosen.config()
    try:
        return JSONResponse(VIEWS[chosen.view](config))
    except DoesNotFit as exc:
        lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
        return JSONResponse({"detail": [{"field": "config", "message": translator(lang)(exc.code)}]}, status_code=422)


def _lesson(number: int) -> Lesson:
    chosen = lesson_at(number)
    if chosen is None:
        raise HTTPException(status_code=404, detail=f"there are lessons 1 to {len(LESSONS)}")
    return chosen


def _config(chosen: Lesson, request: Request) -> tuple[PlaygroundConfig, list[FieldError]]:
    """The configuration in the address, read leniently, or the lesson's own when there is none."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGE_KEYS]
    return parse_query(items) if items else (chosen.config(), [])
