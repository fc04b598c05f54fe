"""Sessions: one trainer per open playground, kept between requests.

The store keeps, for each session, its configuration, its lock and when it was last used; the
trainer itself lives in a ``Trainers`` table, in this process or in a worker process (see
app/trainers.py), and routes reach it only through ``Session.run``.

FastAPI runs sync endpoints in a thread pool, so two requests for the same session can run at
once; each session therefore has its own lock, which every operation on it holds, so that two
steps, or a step and a configuration change, never interleave. The store has a separate lock of
its own that guards only the table of sessions, never a training step.
"""

from __future__ import annotations

import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import Request

from app.config import PlaygroundConfig
from app.own_data import own_dataset
from app.trainers import Trainers, WorkerTrainers
from engine.datasets import Dataset

OwnData = Callable[[PlaygroundConfig], Dataset | None]  # the drawn or uploaded set a config names


@dataclass(eq=False)
class Session:
    id: str
    config: PlaygroundConfig
    trainers: Trainers | WorkerTrainers = field(repr=False)
    own_data: OwnData = field(default=own_dataset, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    last_used: float = 0.0

    def run(self, operation: str, **arguments: Any) -> Any:
        """Run one of app.trainers.OPERATIONS on this session's trainer. Caller holds the lock.
        Raises ValueError for bad arguments (nothing changed) and TrainerGone if it is lost."""
        return self.trainers.call(self.id, operation, arguments)

    def apply(self, config: PlaygroundConfig) -> str:
        """Move to ``config``, rebuilding only what the change needs, and say what was rebuilt.
        The trainer changes nothing when it raises ValueError, and the config is stored only after
        it succeeded, so a failed change leaves the session as it was. Caller holds the lock."""
        rebuilt = self.run("apply", setup=config.to_setup(), data=self.own_data(config))
        self.config = config
        return rebuilt

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial weights; a new seed also draws new data and becomes the config's.
        Caller holds the lock."""
        config = self.config if seed is None else self.config.with_changes(seed=seed)
        self.run("reset", seed=config.seed)
        self.config = config


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
    """Sessions expire after ``ttl_seconds`` without use; beyond ``max_sessions`` the least
    recently used one is dropped, so a classroom cannot exhaust the server's memory.

    The table is ordered from least to most recently used, which makes both expiry (from the
    front) and eviction (the front) cheap. Expired sessions are dropped lazily, on access."""

    def __init__(
        self,
        ttl_seconds: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
        trainers: Trainers | WorkerTrainers | None = None,
        own_data: OwnData = own_dataset,
    ):
        if ttl_seconds <= 0 or max_sessions < 1:
            raise ValueError(f"need ttl_seconds > 0 and max_sessions ≥ 1, got {ttl_seconds}, {max_sessions}")
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self.clock = clock
        self.trainers = trainers if trainers is not None else Trainers()
        self.own_data = own_data
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, config: PlaygroundConfig) -> Session:
        session = Session(secrets.token_urlsafe(18), config, self.trainers, self.own_data)
        # Building the trainer is the slow part: do it outside the store's lock.
        self.trainers.create(session.id, config.to_setup(), self.own_data(config))
        with self._lock:
            session.last_used = now = self.clock()
            self._drop_expired(now)
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._forget(self._sessions.popitem(last=False)[0])
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_used = now
                self._sessions.move_to_end(session_id)
            return session

    def delete(self, session_id: str) -> bool:
        with self._lock:
            found = self._sessions.pop(session_id, None) is not None
        if found:
            self._forget(session_id)
        return found

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired(self.clock())
            return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
        self.trainers.close()

    def _forget(self, session_id: str) -> None:
        self.trainers.drop([session_id])

    def _drop_expired(self, now: float) -> None:
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_used < self.ttl_seconds:
                break
            self._forget(self._sessions.popitem(last=False)[0])


def get_store(request: Request) -> SessionStore:
    """FastAPI dependency: the application's session store (made in ``create_app``)."""
    return request.app.state.sessions
