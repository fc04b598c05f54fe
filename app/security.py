"""What every request and answer passes through: a bound on the body, the security headers, and
turns between clients (``ClientTurns``); and the per-client rate limit that the costly requests
spend (``RateLimit``).

Both are plain ASGI middleware, so they see every route, static files and errors included.
``BodyLimit`` counts the body's bytes as they arrive, so a client cannot get round it by leaving
out ``Content-Length`` (chunked uploads); a body over ``MAX_BODY_BYTES`` answers 413 before the
app parses any of it. ``SecurityHeaders`` adds the headers docs/security.md lists: a
Content-Security-Policy that allows scripts, styles, images and connections from this origin only
(Plotly injects ``<style>`` elements and the templates set sizes in ``style`` attributes, hence
``'unsafe-inline'`` for styles, never for scripts), and no framing by other sites.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from typing import Callable, Hashable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.csv_data import MAX_CSV_BYTES
from app.model_file import MAX_MODEL_BYTES
from app.settings import MAX_REQUESTS_AT_WORK_PER_CLIENT

# The largest request body the server reads: a whole configuration or form is under 4 KB.
MAX_BODY_BYTES = 64 * 1024
FORM_OVERHEAD = 16 * 1024  # a file sent from the page comes wrapped in a multipart form
# The routes that take a file (the API's body, or the page's form) read up to the file's own limit.
FILE_ROUTES = (
    (re.compile(r"/(api/sessions|s)/[^/]+/data"), MAX_CSV_BYTES + FORM_OVERHEAD),
    (re.compile(r"/(api/sessions|s)/[^/]+/model"), MAX_MODEL_BYTES + FORM_OVERHEAD),
)


def body_limit(path: str) -> int:
    """The largest body the route at ``path`` reads."""
    return next((limit for route, limit in FILE_ROUTES if route.fullmatch(path)), MAX_BODY_BYTES)

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",  # Plotly draws heatmaps as data: images
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: at most {limit} bytes")


class BodyLimit:
    """Answer 413 to a body over its route's limit (``body_limit``), announced or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        announced = dict(scope["headers"]).get(b"content-length", b"0")
        if announced.isdigit() and int(announced) > limit:  # refused unread
            error = BodyTooLarge(limit)
            response = JSONResponse({"detail": error.detail}, error.status_code, headers={"Connection": "close"})
            return await response(scope, receive, send)
        received = 0

        async def counted_receive() -> Message:
            """The body as it arrives; past the limit, the reader (the route reading its JSON or
            form) gets an HTTPException, which FastAPI answers as it answers any."""
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted_receive, send)


class SecurityHeaders:
    """Add ``SECURITY_HEADERS`` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


TURN_FREE_PATHS = ("/static/", "/healthz")  # cheap, and never to wait behind anything


class ClientTurns:
    """At most ``limit`` HTTP requests of one client (address) at work at once; the client's
    others wait, in order, before the app reads them, which costs the server nothing. The server
    process answers requests one at a time, in the order they come: a client with a hundred
    connections looping on requests (even ones answered 429 at once) would otherwise be served a
    hundred times for each time a student is. WebSockets (one per playing page), static files and
    ``/healthz`` take no turn."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUESTS_AT_WORK_PER_CLIENT) -> None:
        self.app = app
        self.limit = limit
        self._turns: dict[str | None, tuple[asyncio.Semaphore, list[int]]] = {}  # client -> (turns, [requests])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(TURN_FREE_PATHS):
            return await self.app(scope, receive, send)
        client = scope.get("client")
        key = client[0] if client else None
        turns, requests = self._turns.setdefault(key, (asyncio.Semaphore(self.limit), [0]))
        requests[0] += 1
        try:
            async with turns:
                await self.app(scope, receive, send)
        finally:
            requests[0] -= 1
            if not requests[0]:  # an idle client keeps nothing
                del self._turns[key]


class RateLimit:
    """At most ``per_minute`` events a minute per client (address): a token bucket per client,
    full at first (a burst of ``per_minute``) and refilled at ``per_minute`` a minute. The
    costly requests one client can make at will (opening a page renders it in the server
    process, which relays every student's frames; starting a trainer) spend from it, so one
    client cannot take the server from the others."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"need per_minute ≥ 1, got {per_minute}")
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # client -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: Hashable) -> int | None:
        """Spend one of ``client``'s events: None when it may, else the whole seconds until it may."""
        full, rate = float(self.per_minute), self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(client, (full, now))
            tokens = min(full, tokens + (now - then) * rate)
            if tokens < 1:
                return math.ceil((1 - tokens) / rate)
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget the clients whose bucket is full again
                self._buckets = {c: (t, w) for c, (t, w) in self._buckets.items() if t + (now - w) * rate < full}
            return None
