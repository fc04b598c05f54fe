"""What a request answers while the shared session store (Redis) cannot be reached.

The API answers 503 with ``Retry-After`` and a plain message; a page is never an error page: it
says that the server is unavailable for a moment and reloads itself until the store is back
(an HTMX form post asks the browser to reload the page, which then does the same).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from app.i18n import choose_language, translator
from app.paths import TEMPLATES_DIR
from app.sessions import StoreUnavailable

RETRY_SECONDS = 5
API_MESSAGE = f"the server cannot reach its session store for the moment; try again in {RETRY_SECONDS} s"
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def install_unavailable_handler(app: FastAPI) -> None:
    @app.exception_handler(StoreUnavailable)
    def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        retry = {"Retry-After": str(RETRY_SECONDS), "Cache-Control": "no-store"}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": API_MESSAGE}, status_code=503, headers=retry)
        if request.headers.get("hx-request"):
            return Response(status_code=200, headers={**retry, "HX-Refresh": "true"})
        lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
        context = {"t": translator(lang), "lang": lang, "retry": RETRY_SECONDS}
        return templates.TemplateResponse(request, "unavailable.html", context, headers=retry)
