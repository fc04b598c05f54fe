"""The application factory: static files, routers, and the session store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from html import escape

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.datastore import DataStore, make_datastore
from app.own_data import own_dataset
from app.paths import STATIC_DIR
from app.routes import api, classroom, data, errors, pages, stream
from app.routes import lessons as lesson_pages
from app.security import BodyLimit, ClientTurns, RateLimit, SecurityHeaders
from app.sessions import ClientAddress, InMemorySessionStore, SessionStore
from app.settings import Settings
from app.trainers import make_trainers
from app.unavailable import install_unavailable_handler


def make_session_store(settings: Settings, datastore: DataStore) -> SessionStore:
    """Sessions in Redis when ``REDIS_URL`` is set (any number of app processes share them;
    the trainers run in each process), else in this process with its worker processes. Either
    finds a configuration's drawn or uploaded data (uploads in ``datastore``)."""
    own_data = partial(own_dataset, store=datastore)
    if settings.redis_url:
        from app.redis_store import RedisSessionStore  # imports redis: only when asked for

        return RedisSessionStore(settings.redis_url, settings.session_ttl_seconds,
                                 settings.request_deadline_seconds, settings.session_starts_per_minute,
                                 own_data=own_data, datastore=datastore)
    return InMemorySessionStore(
        settings.session_ttl_seconds, settings.max_sessions,
        trainers=make_trainers(settings.workers, settings.request_deadline_seconds),
        max_per_client=settings.max_sessions_per_client, starts_per_minute=settings.session_starts_per_minute,
        max_unstarted=settings.max_unstarted_sessions, own_data=own_data)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    datastore = make_datastore(settings)
    store = make_session_store(settings, datastore)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()  # stops the worker processes

    # FastAPI's own /docs and /redoc load their scripts from a CDN; classrooms may be offline and
    # nothing may load from the internet, so /docs is a plain page of our own (see api_docs).
    app = FastAPI(title="Neural network playground", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.sessions = store
    app.state.datastore = datastore
    app.state.page_opens = RateLimit(settings.page_opens_per_minute)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(ClientAddress)
    app.add_middleware(ClientTurns)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, errors included
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(stream.router)
    app.include_router(data.router)
    app.include_router(pages.router)
    app.include_router(classroom.router)
    app.include_router(lesson_pages.router)
    api.install_error_handlers(app)
    errors.install(app)
    install_unavailable_handler(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs() -> str:
        """Every endpoint with its summary, and the OpenAPI schema for tools; no external assets."""
        rows = "".join(
            f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
            f"<td>{escape(operation.get('summary', ''))}</td></tr>"
            for path, operations in app.openapi()["paths"].items()
            for method, operation in operations.items()
        )
        return (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(app.title)} API</title>"
            "<link rel='icon' href='/static/favicon.svg' type='image/svg+xml'>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em .2em 0}</style></head><body>"
            f"<h1>{escape(app.title)}: JSON API</h1><p>The full schema (bodies, answers, limits) is "
            "<a href='/openapi.json'>/openapi.json</a>; load it into any OpenAPI viewer. "
            "Errors answer 422 with <code>{\"detail\": [{\"field\", \"message\"}]}</code>.</p>"
            f"<table>{rows}</table></body></html>"
        )

    return app
