"""Sessions: one trainer per open playground, kept between requests, shared fairly in a class.

The store keeps, for each session, its configuration, its owner (the client address that opened
it), its turn-taking and when it was last used; the trainer itself lives in a worker process or in
this one (app/trainers.py), and routes reach it only through ``Session.run`` (from a thread) or
``Session.call`` (from a coroutine).

**Turns.** Two requests for one session may be under way at once, one at work and
``MAX_QUEUED_PER_SESSION`` waiting; any more answer 429 at once (``SessionBusy``), so a client
cannot fill the thread pool or a worker's queue with one session. Operations reach the trainer in
the order they were submitted, and routes that change the configuration hold ``session.lock`` so
that the stored configuration always matches the trainer.

**Fairness.** Opening a page costs no trainer: a session starts *unstarted*, and its first frame,
points and numbers are computed from its configuration (the first frame of a URL is
deterministic) by a shared preview in this process. Its trainer is created in a worker with its
first step or change. A client may start ``session_starts_per_minute`` trainers a minute
(``TooManySessions`` beyond) and hold ``max_sessions_per_client`` of them (beyond, its own least
recently used one goes); beyond ``max_sessions`` in all, and ``max_unstarted`` unstarted ones,
the least recently used session of whoever holds the most goes. Sessions also expire after
``ttl_seconds`` without use.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable, Protocol

from fastapi import Request

from app.config import DEFAULT_GRID, PlaygroundConfig
from app.own_data import own_dataset
from app.security import RateLimit
from app.settings import MAX_QUEUED_PER_SESSION
from app.trainers import OPERATIONS, LocalTrainers, Request as TrainerRequest, TrainerGone
from engine.datasets import Dataset
from engine.trainer import Trainer

OwnData = Callable[[PlaygroundConfig], Dataset | None]  # the drawn or uploaded set a config names

# The address of the client whose request is being served (set by ClientAddress).
CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("client", default=None)
PREVIEW_OPERATIONS = ("view", "frame", "data", "info")  # what an unstarted session can answer
PREVIEWS_KEPT = 32


class SessionBusy(Exception):
    """The session already has as many requests under way as it may."""


class StoreUnavailable(Exception):
    """The shared session store (Redis) cannot be reached: the API answers 503, pages say the
    server is unavailable and try again (app/unavailable.py)."""


class TooManySessions(Exception):
    """The client started more trainers in the last minute than it may."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many new sessions from this address; try again in {retry_after} s")
        self.retry_after = retry_after


class ClientAddress:
    """ASGI middleware: remembers the client's address (``CLIENT``) for the session store."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = scope.get("client")
        token = CLIENT.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT.reset(token)


class _Turns:
    """Admission to one session: a context manager (``with session.lock``) that raises
    ``SessionBusy`` instead of waiting when the session has all the requests it may, and
    otherwise waits its turn among the session's configuration changes."""

    def __init__(self) -> None:
        self._count = 0
        self._mutex = threading.Lock()
        self._lock = threading.Lock()

    def admit(self) -> None:
        with self._mutex:
            if self._count > MAX_QUEUED_PER_SESSION:
                raise SessionBusy()
            self._count += 1

    def leave(self) -> None:
        with self._mutex:
            self._count -= 1

    def __enter__(self) -> "_Turns":
        self.admit()
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        self.leave()


class _Previews:
    """Fresh trainers by configuration, to answer unstarted sessions without a worker."""

    def __init__(self) -> None:
        self._trainers: OrderedDict[str, Trainer] = OrderedDict()
        self._lock = threading.Lock()

    def run(self, config: PlaygroundConfig, data: Dataset | None, operation: str, arguments: dict[str, Any]) -> Any:
        key = config.to_query()  # (which names drawn or uploaded data by its points or hash)
        with self._lock:  # a few milliseconds, and a snapshot reuses the trainer's buffers
            trainer = self._trainers.pop(key, None) or Trainer(config.to_setup(), data)
            self._trainers[key] = trainer
            while len(self._trainers) > PREVIEWS_KEPT:
                self._trainers.popitem(last=False)
            return OPERATIONS[operation](trainer, **arguments)


_previews = _Previews()


Frame = dict[str, Any]


class TrainerAccess(Protocol):
    """What routes do with a session's trainer, wherever it lives: in this process, in a worker
    process (``Session``) or in Redis (app/redis_store.py ``RedisSession``). Routes call these
    methods, never operation names; the methods that change the configuration, and the ones
    that read it alongside, are called holding ``session.lock``. Each raises ``TrainerGone``
    when the trainer is lost (the store has forgotten the session by then), ``ValueError`` for
    a request that does not fit the trainer (nothing changed), ``SessionBusy`` and
    ``StoreUnavailable``."""

    id: str
    config: PlaygroundConfig
    lock: Any  # ``with session.lock``: this request's turn; SessionBusy if there is none

    def start(self) -> None: ...
    def view(self) -> dict[str, Any]: ...
    def frame(self, since: int = -1, grid: int = DEFAULT_GRID) -> Frame: ...
    def data(self) -> dict[str, Any]: ...
    def info(self) -> dict[str, Any]: ...
    def export(self) -> dict[str, Any]: ...
    def apply(self, config: PlaygroundConfig) -> str: ...
    def reset(self, seed: int | None = None) -> None: ...
    def set_weight(self, layer: int, source: int, target: int, value: float) -> Frame: ...
    def set_bias(self, layer: int, node: int, value: float) -> Frame: ...
    def load(self, config: PlaygroundConfig, state: dict[str, Any]) -> None: ...
    def python_script(self) -> str: ...
    def data_csv(self) -> str: ...
    async def step_json(self, epochs: int, since: int, grid: int, budget: float, compress: bool) -> bytes: ...
    async def step_stream(self, epochs: int, since: int, grid: int, budget: float) -> bytes: ...
    async def frame_json(self, since: int, grid: int, compress: bool) -> bytes: ...


class Session:
    """A session of the embedded store, its trainer in this process or a worker process; it
    implements ``TrainerAccess`` on ``submit``, which subclasses replace with another transport."""

    def __init__(self, session_id: str, config: PlaygroundConfig, trainers: LocalTrainers,
                 owner: str | None = None, on_start: Callable[["Session"], None] = lambda s: None,
                 on_lost: Callable[["Session"], None] = lambda s: None,
                 own_data: OwnData = own_dataset) -> None:
        self.id = session_id
        self.config = config
        self.own_data = own_data
        self.custom_data = own_data(config)  # ConfigError if the configuration's own data cannot be had
        self.owner = owner
        self.trainers = trainers
        self.lock = _Turns()
        self.last_used = 0.0
        self.started = False
        self._on_start = on_start
        self._on_lost = on_lost
        self._submitting = threading.Lock()

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, started={self.started})"

    def submit(self, operation: str, arguments: dict[str, Any]) -> Future:
        """Send one of app.trainers.OPERATIONS to this session's trainer, creating the trainer
        first if this is the session's first real request. Unstarted sessions answer
        PREVIEW_OPERATIONS from their configuration."""
        with self._submitting:  # in submission order, and the trainer created once
            if not self.started and operation in PREVIEW_OPERATIONS:
                done: Future = Future()
                try:
                    done.set_result(_previews.run(self.config, self.custom_data, operation, arguments))
                except Exception as exc:  # noqa: BLE001 - handed to whoever waits
                    done.set_exception(exc)
                return done
            setup = None
            if not self.started:
                self._on_start(self)  # may refuse: TooManySessions
                setup, self.started = self.config.to_setup(), True
            return self.trainers.submit(TrainerRequest(self.id, operation, arguments, setup, self.custom_data, self.owner))

    def start(self) -> None:
        """Create the trainer now (an API session is a stored one from the start)."""
        if not self.started:
            self.answer(self.submit("create", {}))

    def run(self, operation: str, **arguments: Any) -> Any:
        """Run an operation and wait for its answer (from a thread; the caller holds the lock).
        Raises ValueError for bad arguments (nothing changed) and TrainerGone if it is lost."""
        return self.answer(self.submit(operation, arguments))

    async def call(self, operation: str, **arguments: Any) -> Any:
        """``run`` for a coroutine: takes a turn (SessionBusy if there is none), never blocks."""
        self.lock.admit()
        try:
            return await asyncio.wrap_future(self.submit(operation, arguments))
        except TrainerGone:
            self._on_lost(self)
            raise
        finally:
            self.lock.leave()

    def answer(self, future: Future) -> Any:
        """The answer of a submitted operation. A lost trainer is handled here, for every route:
        the store forgets the session, and the route answers as for an expired one."""
        try:
            return future.result()
        except TrainerGone:
            self._on_lost(self)
            raise

    # -- TrainerAccess ------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        return self.run("view")

    def frame(self, since: int = -1, grid: int = DEFAULT_GRID) -> Frame:
        return self.run("frame", since=since, grid=grid)

    def data(self) -> dict[str, Any]:
        return self.run("data")

    def info(self) -> dict[str, Any]:
        return self.run("info")

    def export(self) -> dict[str, Any]:
        return self.run("export")

    def set_weight(self, layer: int, source: int, target: int, value: float) -> Frame:
        return self.run("set_weight", layer=layer, source=source, target=target, value=value)

    def set_bias(self, layer: int, node: int, value: float) -> Frame:
        return self.run("set_bias", layer=layer, node=node, value=value)

    def load(self, config: PlaygroundConfig, state: dict[str, Any]) -> None:
        """Become the saved model ``state`` (app/model_file.py), whose configuration is ``config``.
        Caller holds the lock."""
        self._reconfigure("load", {"state": state}, config)
        self.config, self.custom_data = config, self.own_data(config)

    def python_script(self) -> str:
        """The trained network as a standalone NumPy script (app/export_py.py)."""
        return self.run("python_script")

    def data_csv(self) -> str:
        """The session's data as CSV, with its train/test split (app/csv_data.py)."""
        return self.run("data_csv")

    async def step_json(self, epochs: int, since: int, grid: int, budget: float, compress: bool) -> bytes:
        """Train, and the frame as JSON bytes (gzip-compressed if ``compress``), encoded where
        the trainer lives."""
        return await self.call("step_json", epochs=epochs, since=since, grid=grid, budget=budget, compress=compress)

    async def step_stream(self, epochs: int, since: int, grid: int, budget: float) -> bytes:
        """Train, and the frame as the stream's binary message (app/trainers.py)."""
        return await self.call("step_stream", epochs=epochs, since=since, grid=grid, budget=budget)

    async def frame_json(self, since: int, grid: int, compress: bool) -> bytes:
        return await self.call("frame_json", since=since, grid=grid, compress=compress)

    def apply(self, config: PlaygroundConfig) -> str:
        """Move to ``config``, rebuilding only what the change needs, and say what was rebuilt.
        The trainer changes nothing when it raises ValueError, and the config is stored only after
        it succeeded, so a failed change leaves the session as it was. Caller holds the lock."""
        setup, data = config.to_setup(), self.own_data(config)
        rebuilt = self._reconfigure("apply", {"setup": setup, "data": data}, config)
        self.config, self.custom_data = config, data
        return rebuilt

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial weights; a new seed also draws new data and becomes the config's.
        Caller holds the lock."""
        config = self.config if seed is None else self.config.with_changes(seed=seed)
        self._reconfigure("reset", {"seed": config.seed}, config)
        self.config = config

    def _reconfigure(self, operation: str, arguments: dict[str, Any], config: PlaygroundConfig) -> Any:
        """Run an operation that moves the session to ``config``; a store that keeps the
        configuration beside the trainer (Redis) writes both at once."""
        return self.run(operation, **arguments)


class SessionStore(ABC):
    """Where sessions live."""

    @abstractmethod
    def create(self, config: PlaygroundConfig) -> Session: ...

    @abstractmethod
    def get(self, session_id: str) -> Session | None: ...

    @abstractmethod
    def delete(self, session_id: str) -> bool: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def close(self) -> None:
        """Let go of every trainer (and worker process)."""


class InMemorySessionStore(SessionStore):
    """Sessions in this process's memory, with the limits described at the top of this module.

    ``_sessions`` is ordered from least to most recently used, which makes expiry (from the
    front) cheap; ``_owned`` holds the same order per owner, unstarted and started apart, which
    makes eviction from an owner cheap. Expired sessions are dropped lazily, on access."""

    def __init__(
        self,
        ttl_seconds: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
        trainers: LocalTrainers | None = None,
        max_per_client: int | None = None,
        starts_per_minute: int | None = None,
        max_unstarted: int | None = None,
        own_data: OwnData = own_dataset,
    ):
        if ttl_seconds <= 0 or max_sessions < 1:
            raise ValueError(f"need ttl_seconds > 0 and max_sessions ≥ 1, got {ttl_seconds}, {max_sessions}")
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.trainers = trainers if trainers is not None else LocalTrainers()
        self.limits = {True: (max_sessions, max_per_client or max_sessions),
                       False: (max_unstarted or 10 * max_sessions, max_unstarted or 10 * max_sessions)}
        self._starts = None if starts_per_minute is None else RateLimit(starts_per_minute, clock)
        self.own_data = own_data
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._owned: dict[tuple[bool, str | None], OrderedDict[str, Session]] = {}
        self._counts = {True: 0, False: 0}
        self._lock = threading.Lock()

    def create(self, config: PlaygroundConfig, owner: str | None = None) -> Session:
        """An unstarted session (no trainer yet) for ``owner``, by default the current client."""
        owner = owner if owner is not None else CLIENT.get()
        session = Session(secrets.token_urlsafe(18), config, self.trainers, owner, self._starting,
                          on_lost=lambda lost: self.delete(lost.id), own_data=self.own_data)
        with self._lock:
            session.last_used = now = self.clock()
            self._drop_expired(now)
            self._sessions[session.id] = session
            self._hold(session)
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_used = now
                self._sessions.move_to_end(session_id)
                self._owned[session.started, session.owner].move_to_end(session_id)
            return session

    def delete(self, session_id: str) -> bool:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._forget(session)
        return session is not None

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired(self.clock())
            return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._owned.clear()
        self.trainers.close()

    def _starting(self, session: Session) -> None:
        """A session is about to get its trainer: count it as started (or refuse)."""
        with self._lock:
            if session.id not in self._sessions:  # evicted or expired meanwhile
                raise TrainerGone(session.id)
            self._take_start(session.owner)
            self._owned[False, session.owner].pop(session.id)
            self._counts[False] -= 1
            session.started = True
            self._hold(session)

    def _take_start(self, owner: str | None) -> None:
        """Spend one of the owner's starts (``session_starts_per_minute``)."""
        retry_after = None if self._starts is None else self._starts.take(owner)
        if retry_after is not None:
            raise TooManySessions(retry_after)

    def _hold(self, session: Session) -> None:
        """List a session under its owner, then enforce the owner's and the total limit."""
        kind = session.started
        owned = self._owned.setdefault((kind, session.owner), OrderedDict())
        owned[session.id] = session
        self._counts[kind] += 1
        total, per_owner = self.limits[kind]
        while len(owned) > per_owner:
            self._forget(next(iter(owned.values())))
        while self._counts[kind] > total:
            largest = max((o for (k, _), o in self._owned.items() if k == kind), key=len)
            self._forget(next(iter(largest.values())))

    def _forget(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        key = (session.started, session.owner)
        owned = self._owned.get(key)
        if owned is not None and owned.pop(session.id, None) is not None:
            self._counts[session.started] -= 1
            if not owned:
                del self._owned[key]
        if session.started:
            self.trainers.drop([session.id])

    def _drop_expired(self, now: float) -> None:
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_used < self.ttl_seconds:
                break
            self._forget(oldest)


def get_store(request: Request) -> SessionStore:
    """FastAPI dependency: the application's session store (made in ``create_app``)."""
    return request.app.state.sessions
