"""Runtime settings, read once from environment variables so a teacher can tune a classroom server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int_from_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


# Requests of one session that may wait while another of its requests is at work: more answer
# 429 at once, so that one client cannot fill the server's thread pool or a worker's queue.
MAX_QUEUED_PER_SESSION = 1
# HTTP requests of one client (address) at work at once; its others wait their turn, costing
# nothing (app/security.py ClientTurns): a script with a hundred connections gets the server
# process's attention like a student with sixteen.
MAX_REQUESTS_AT_WORK_PER_CLIENT = 16
# A step's time budget while other requests wait for the same worker (app/trainers.py): what a
# student's frame may wait behind another's long training, and about the heaviest allowed epoch.
SHARED_STEP_BUDGET_MS = 10


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    session_ttl_seconds: int = 30 * 60
    max_sessions: int = 500
    log_level: str = "info"
    # Fairness between the clients (addresses) of a class: trainers one client may hold (beyond
    # it, its own least recently used one goes), and trainers it may start a minute.
    max_sessions_per_client: int = 20
    session_starts_per_minute: int = 60
    # Pages (a playground or a lesson) one client may open a minute, in bursts of as many: each
    # is rendered by the server process, which also relays every student's frames.
    page_opens_per_minute: int = 60
    # Opened pages whose student has not trained or changed anything yet hold no trainer, only
    # their configuration (~1 kB); this many are kept, evicted from whoever holds the most.
    max_unstarted_sessions: int = 5000
    # CPU per request: a step trains until this budget is spent (at least one epoch), and a
    # worker that does not answer within the deadline is replaced (its sessions are lost).
    step_budget_ms: int = 1000
    request_deadline_seconds: float = 5.0
    # Worker processes that hold the trainers (0: train in the server process itself). Training is
    # Python-bound, so one process uses one core; `from_env` defaults to one per core (at most 4).
    workers: int = 0
    # The address students open, as the join page shows it (e.g. "http://192.168.1.20:8000").
    # None: detected from the request and the machine's LAN address (see app/routes/classroom.py).
    public_url: str | None = None
    # Where uploaded data sets are kept, content-addressed, so that shared links survive a restart.
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    # With REDIS_URL, uploaded data sets live in Redis instead, each kept this many days after it
    # was last uploaded or opened (app/datastore.py).
    data_ttl_days: int = 30
    # Where every session lives when several app processes or machines share the class
    # (docs/scale-out.md), e.g. "redis://127.0.0.1:6379/0". None: in this process's memory.
    redis_url: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        """Settings from HOST, PORT, SESSION_TTL_SECONDS, MAX_SESSIONS, MAX_SESSIONS_PER_CLIENT,
        SESSION_STARTS_PER_MINUTE, PAGE_OPENS_PER_MINUTE, MAX_UNSTARTED_SESSIONS, STEP_BUDGET_MS,
        REQUEST_DEADLINE_SECONDS, LOG_LEVEL, WORKERS, PUBLIC_URL, DATA_DIR, DATA_TTL_DAYS and REDIS_URL."""
        log_level = os.environ.get("LOG_LEVEL", cls.log_level).lower()
        allowed = ("critical", "error", "warning", "info", "debug")
        if log_level not in allowed:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(allowed)}, got {log_level!r}")
        return cls(
            host=os.environ.get("HOST", cls.host),
            port=_int_from_env("PORT", cls.port, 1),
            session_ttl_seconds=_int_from_env("SESSION_TTL_SECONDS", cls.session_ttl_seconds, 1),
            max_sessions=_int_from_env("MAX_SESSIONS", cls.max_sessions, 1),
            max_sessions_per_client=_int_from_env("MAX_SESSIONS_PER_CLIENT", cls.max_sessions_per_client, 1),
            session_starts_per_minute=_int_from_env("SESSION_STARTS_PER_MINUTE", cls.session_starts_per_minute, 1),
            page_opens_per_minute=_int_from_env("PAGE_OPENS_PER_MINUTE", cls.page_opens_per_minute, 1),
            max_unstarted_sessions=_int_from_env("MAX_UNSTARTED_SESSIONS", cls.max_unstarted_sessions, 1),
            step_budget_ms=_int_from_env("STEP_BUDGET_MS", cls.step_budget_ms, 1),
            request_deadline_seconds=_int_from_env("REQUEST_DEADLINE_SECONDS", int(cls.request_deadline_seconds), 1),
            log_level=log_level,
            workers=_int_from_env("WORKERS", default_workers(), 0),
            public_url=_url_from_env("PUBLIC_URL"),
            data_dir=Path(os.environ.get("DATA_DIR", "").strip() or default_data_dir()),
            data_ttl_days=_int_from_env("DATA_TTL_DAYS", cls.data_ttl_days, 1),
            redis_url=_redis_url_from_env("REDIS_URL"),
        )


def default_workers() -> int:
    """One worker per core, up to 4: beyond that the server process, which speaks HTTP for all
    of them, is the limit, and each worker costs about 50 MB."""
    return min(len(os.sched_getaffinity(0)), 4)  # the cores this process may use, not the host's


def default_data_dir() -> Path:
    """The user's data folder, as the XDG convention has it: $XDG_DATA_HOME/nn-playground, else
    ~/.local/share/nn-playground."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / "nn-playground"


def _url_from_env(name: str) -> str | None:
    """An http(s) base address such as ``http://192.168.1.20:8000``, without a trailing slash."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")) or len(raw) < len("http://x"):
        raise ValueError(f"{name} must be an address starting with http:// or https://, got {raw!r}")
    return raw.rstrip("/")


def _redis_url_from_env(name: str) -> str | None:
    """A Redis address such as ``redis://host:6379/0`` (``rediss://`` with TLS, ``unix://``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{name} must start with redis://, rediss:// or unix://, got {raw!r}")
    return raw
