"""Answers for addresses the app does not have.

A browser that opens an unknown page (a link cut short, a typo) gets a page in the student's
language with a way back to the playground; API clients, which do not ask for HTML, keep
FastAPI's JSON ``{"detail": "Not Found"}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.config import PlaygroundConfig, page_url
from app.i18n import choose_language, translator
from app.routes.pages import templates

API_PREFIX = "/api/"


def wants_html(request: Request) -> bool:
    """A browser navigating (Accept names text/html), not a script or an API client."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith(API_PREFIX)


def not_found_page(request: Request) -> Response:
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    context = {"t": translator(lang), "lang": lang, "home": page_url(PlaygroundConfig(), lang, short=True)}
    return templates.TemplateResponse(request, "not_found.html", context, status_code=404)


def install(app: FastAPI) -> None:
    """Answer a browser's 404 with the page; every other HTTP error as the app already did (the
    API's handler, which names the allowed methods of a 405, or FastAPI's own)."""
    answer_otherwise = app.exception_handlers.get(HTTPException, http_exception_handler)

    async def handle(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404 and wants_html(request):
            return not_found_page(request)
        return await answer_otherwise(request, exc)

    app.add_exception_handler(HTTPException, handle)
