"""Sessions in Redis (``REDIS_URL``): any app process on any machine serves any request.

Imported only when ``REDIS_URL`` is set; the embedded store (app/sessions.py) needs no Redis.

**Keys**, all with the session id as a Redis Cluster hash tag (one slot per session):
``pg:{id}`` a hash: ``config`` (the PlaygroundConfig as JSON), ``owner``, ``v`` (the version:
0 while unstarted, then a new random number at each write, never a count, so that a Redis
restored from an older snapshot cannot give the number of a forgotten write to other contents,
which a process that kept the forgotten trainer would take for its own), ``setup`` (the
trainer's setup and uploaded data, written when they change) and ``state`` (weights, optimizer,
random generator, counters: a few hundred bytes);
``pg:{id}:h`` the history, rows of an epoch and its four series (``HISTORY_ROW`` bytes), extended
in place by each step; ``pg:{id}:lock`` the lock, held while an operation runs. Every write renews
the expiry of the hash and the history to the session's idle timeout. Uploaded files are apart,
under ``pg:data:<hash>``, with their own expiry (``RedisDataStore``).

**The history is bounded**: up to ``STORED_ROWS`` epochs it is stored whole, one exact row an
epoch; beyond, the commit that would pass ``STORED_ROWS`` rewrites it as the older epochs thinned
to ``MAX_HISTORY_POINTS`` rows (``History.window``: each bucket's lowest and highest value, so
the curve keeps every dip and spike) and the last ``EXACT_TAIL`` epochs exact, and steps extend
that again. A process that loads it gets one entry an epoch back (``History.from_dict``), and the
curve it draws is, to the eye, the one the page had. So a session holds at most ``STORED_ROWS``
rows whatever its epoch, a step writes only its new rows, and one step in about
``STORED_ROWS - MAX_HISTORY_POINTS - EXACT_TAIL`` epochs writes the bounded history whole.

**An operation** is two round trips: ``ACQUIRE`` takes the lock and answers the version; the
process reuses the trainer it keeps in memory when it has that version and loads it otherwise;
``COMMIT`` writes what changed and a new version, and releases the lock, in one script, only if the
lock is still this operation's. A process that dies holding a lock holds it until the lock
expires (``lock_seconds``); what it had not committed is lost, and the student continues from
the last answered frame. A commit whose lock had expired is refused (``SessionBusy``, 429): that
one answer is lost, never another process's work.

**A steady player's step is one round trip.** Once an ``ACQUIRE`` found this process's trainer
current (nobody else changed the session since this process last did: a playing page's stream,
which stays on one process), the next steps train it straight away and ``COMMIT_AT`` writes each
only if the version is still the one the trainer was at and no lock is held: the version check
is the write's condition. If another process changed the session meanwhile (the student changed
a setting through another process, or a JSON client is spread over processes), that step is
thrown away, the trainer reloaded and the step taken the locked way: two processes never commit
on one version, so steps never interleave; a process stepping at once with another only loses
its own work. A refused write also ends the trainer's steadiness: a session whose every request
lands on another process than the last (a JSON client behind a round-robin proxy) always takes
the lock first and never trains on a stale copy; one that moves now and then pays one step
thrown away each time it moves.

The stored fields keep one layout across releases: ``setup`` holds ``Trainer.setup_dict`` and
``state`` ``Trainer.progress_dict`` (with the state's format), so any two of them load together.
"""

from __future__ import annotations

import errno
import json
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from typing import Any, Callable

import numpy as np
import redis

from app.config import MAX_HISTORY_POINTS, ConfigError, PlaygroundConfig
from app.datastore import DataStore, checked, data_hash, read_stored, stored_form
from app.own_data import own_dataset
from app.sessions import (
    CLIENT,
    PREVIEW_OPERATIONS,
    OwnData,
    Session,
    SessionBusy,
    SessionStore,
    StoreUnavailable,
    TooManySessions,
    _previews,
    _Turns,
)
from app.trainers import OPERATIONS, TrainerGone
from engine.datasets import Dataset, dataset_from_dict
from engine.trainer import History, Trainer, compile_training

# Operations that change the trainer: their answer is committed before it is sent.
CHANGING = frozenset({"create", "apply", "reset", "step_json", "step_stream", "set_weight", "set_bias",
                      "load"})
STEPS = frozenset({"step_json", "step_stream"})  # they only extend the history
HISTORY_SERIES = tuple(f.name for f in fields(History))  # train and test loss and metric
# A stored history row: its epoch, then the series (thinned rows are not one an epoch).
_ROW = np.dtype([("epoch", "<i8"), *((name, "<f8") for name in HISTORY_SERIES)])
HISTORY_ROW = _ROW.itemsize
STORED_ROWS = 4000  # history rows a session holds in Redis at most (160 kB)
EXACT_TAIL = 500  # the last epochs, kept exact when the older ones are thinned
# Threads that run trainers in a process: two, so that one waiting for another process's lock
# does not stop the rest, and no more, since they take turns on the interpreter lock anyway and
# contend for it: one process serving 30 players spent 2.25 ms of CPU a frame with 16 threads,
# 2.0 with 4, 1.45 with 2, 1.14 with 1 (docs/scale-out.md). More cores: more processes (WORKERS).
SESSION_THREADS = 2
SESSIONS_KEPT = 1000  # sessions (and their trainers) each process keeps in memory, least recent out
LOCK_POLL_SECONDS = 0.003  # first wait for a busy lock, doubled up to 0.05 s

# The scripts' keys: the session's hash, lock and history.
_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
if redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('hget', KEYS[1], 'v') or '0')
end
return -2
"""
# The commits' ARGV: the claim (the lock's token, or the version written on), ttl ms, the new
# version, history mode ('', 'set', 'range'), history offset, history bytes, then field/value
# pairs of the hash (none: nothing changed, the version stays, the lock is only released).
# -1: the session is gone; -2: not this claim's to write.
_WRITE = """
if #ARGV > 6 then
  redis.call('hset', KEYS[1], 'v', ARGV[3], unpack(ARGV, 7, #ARGV))
  version = tonumber(ARGV[3])
end
if ARGV[4] == 'set' then redis.call('set', KEYS[3], ARGV[6])
elseif ARGV[4] == 'range' then redis.call('setrange', KEYS[3], tonumber(ARGV[5]), ARGV[6]) end
redis.call('pexpire', KEYS[1], ARGV[2])
redis.call('pexpire', KEYS[3], ARGV[2])
"""
_COMMIT = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return -2 end
if redis.call('exists', KEYS[1]) == 0 then redis.call('del', KEYS[2]); return -1 end
local version = tonumber(redis.call('hget', KEYS[1], 'v') or '0')
""" + _WRITE + """
redis.call('del', KEYS[2])
return version
"""
_COMMIT_AT = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local version = tonumber(redis.call('hget', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) or redis.call('exists', KEYS[2]) == 1 then return -2 end
""" + _WRITE + """
return version
"""


def call(command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One Redis command; an unreachable Redis is ``StoreUnavailable`` (503 for the API)."""
    try:
        return command(*args, **kwargs)
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
        raise StoreUnavailable(str(exc)) from exc


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def _keys(session_id: str) -> tuple[str, str, str]:
    """The session's hash, lock and history keys."""
    base = f"pg:{{{session_id}}}"
    return base, f"{base}:lock", f"{base}:h"


def _rows(epochs: np.ndarray, history: History, start: int = 0) -> bytes:
    """History rows for ``epochs``, their series taken from ``history`` from entry ``start`` on."""
    rows = np.empty(len(epochs), _ROW)
    rows["epoch"] = epochs
    for name in HISTORY_SERIES:
        rows[name] = np.frombuffer(getattr(history, name), dtype=np.float64)[start:start + len(epochs)]
    return rows.tobytes()


def _stored_history(history: History) -> bytes:
    """The history as Redis keeps it: whole up to ``STORED_ROWS`` entries, else the older
    entries thinned and the last ``EXACT_TAIL`` exact."""
    entries = len(history.train_loss)
    if entries <= STORED_ROWS:
        return _rows(np.arange(entries), history)
    cut = entries - EXACT_TAIL
    epochs, older = History(*(getattr(history, name)[:cut] for name in HISTORY_SERIES)).window(0, MAX_HISTORY_POINTS)
    return _rows(np.asarray(epochs), older) + _rows(np.arange(cut, entries), history, cut)


def _history_from(blob: bytes) -> dict[str, Any]:
    """What ``History.from_dict`` takes: the stored rows with their epochs."""
    rows = np.frombuffer(blob, dtype=_ROW)
    return {**{name: rows[name] for name in HISTORY_SERIES}, "epochs": rows["epoch"] if rows.size else None}


def _new_version() -> int:
    """A written session's version: random from 1 to 2**52, exact as a Lua number (see ``v``)."""
    return secrets.randbelow(2**52) + 1


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Moved(Exception):
    """A steady step's commit found the session changed, or locked, by another process."""


class _Kept:
    """A trainer this process keeps, at the version of Redis it matches, and how much of its
    history Redis has: ``entries`` entries (epochs 0 to ``entries - 1``) in ``rows`` rows, the
    last of them exact (0 and 0: nothing of this trainer is in Redis yet). ``steady``: the last
    lock taken found it current, so a step may run before asking Redis (see the module's
    docstring)."""

    def __init__(self, trainer: Trainer, version: int, rows: int = 0) -> None:
        self.trainer = trainer
        self.version = version
        self.entries = len(trainer.history.train_loss) if rows else 0
        self.rows = rows
        self.steady = False


class _RedisTurns(_Turns):
    """``with session.lock``: a turn in this process, and the configuration read afresh from Redis,
    since another process may have changed it."""

    def __init__(self, session: "RedisSession") -> None:
        super().__init__()
        self._session = session

    def __enter__(self) -> "_RedisTurns":
        super().__enter__()
        try:
            self._session.refresh()
        except BaseException:
            super().__exit__()
            raise
        return self


class RedisSession(Session):
    """A session whose trainer lives in Redis; this process keeps the last version it used."""

    def __init__(self, session_id: str, config: PlaygroundConfig, store: "RedisSessionStore",
                 owner: str | None) -> None:
        super().__init__(session_id, config, None, owner, on_lost=lambda lost: store.forget(lost.id),  # type: ignore[arg-type]
                         own_data=store.own_data)
        self.store = store
        self.lock = _RedisTurns(self)
        self.kept: _Kept | None = None
        self.using_kept = threading.Lock()  # this process's operations share ``kept``: one at a time

    def submit(self, operation: str, arguments: dict[str, Any], config: PlaygroundConfig | None = None) -> Future:
        return self.store.executor.submit(self.store.execute, self, operation, arguments, config)

    def refresh(self) -> None:
        """The configuration as Redis has it (unchanged if the session is gone: the operation
        that follows says so)."""
        raw = self.store.call(self.store.redis.hget, _keys(self.id)[0], "config")
        if raw is not None:
            self.config = PlaygroundConfig.model_validate_json(raw)

    def _reconfigure(self, operation: str, arguments: dict[str, Any], config: PlaygroundConfig) -> Any:
        return self.answer(self.submit(operation, arguments, config))


class RedisSessionStore(SessionStore):
    """Every session in Redis with its idle expiry; recently used trainers kept in this process.

    The limits of the embedded store that need a view of every session (at most
    ``max_sessions``, ``max_sessions_per_client``) are left to Redis's memory limit and the idle
    expiry (docs/scale-out.md); trainers started per client and minute are counted in Redis."""

    def __init__(self, url: str, ttl_seconds: float, lock_seconds: float,
                 starts_per_minute: int | None = None, threads: int = SESSION_THREADS, own_data: OwnData = own_dataset,
                 datastore: DataStore | None = None) -> None:
        self.redis = _client(url)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.lock_ms = int(lock_seconds * 1000)
        self.lock_seconds = lock_seconds
        self.starts_per_minute = starts_per_minute
        self.own_data = own_data  # the drawn or uploaded set a configuration names (app/own_data.py)
        self.datastore = datastore  # where own_data finds uploaded sets, to store one again
        compile_training()  # the trainers run in this process: compiled before it serves a step
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._commit = self.redis.register_script(_COMMIT)
        self._commit_at = self.redis.register_script(_COMMIT_AT)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="redis-session")
        self._sessions: OrderedDict[str, RedisSession] = OrderedDict()
        self._lock = threading.Lock()

    # -- Redis calls ------------------------------------------------------------------------------

    call = staticmethod(call)

    # -- the SessionStore interface ----------------------------------------------------------------

    def create(self, config: PlaygroundConfig, owner: str | None = None) -> Session:
        owner = owner if owner is not None else CLIENT.get()
        session = RedisSession(secrets.token_urlsafe(18), config, self, owner)
        key = _keys(session.id)[0]
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={"config": config.model_dump_json(), "owner": owner or "", "v": 0})
            pipe.pexpire(key, self.ttl_ms)
            self.call(pipe.execute)
        self._keep(session)
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._sessions.move_to_end(session_id)
                return session  # whether Redis still has it, its next operation finds out
        raw, stored_owner = self.call(self.redis.hmget, _keys(session_id)[0], ["config", "owner"])
        if raw is None:
            return None
        config = PlaygroundConfig.model_validate_json(raw)
        owner = stored_owner.decode() or None if stored_owner else None
        try:
            session = RedisSession(session_id, config, self, owner)
        except ConfigError as exc:
            if not self._restore_data(session_id, config, exc):
                return None  # unstarted, and its uploaded file is gone: as good as expired
            session = RedisSession(session_id, config, self, owner)
        self._keep(session)
        return session

    def _restore_data(self, session_id: str, config: PlaygroundConfig, missing: ConfigError) -> bool:
        """The uploaded file a session's configuration names is gone from Redis (expired, or
        evicted under memory pressure): a started session stores it again from its trainer's own
        copy, so that it, and every link to the file, work again. Whether it could."""
        if self.datastore is None or not any(e.code == "data_missing" for e in missing.errors):
            return False
        saved = self.call(self.redis.hget, _keys(session_id)[0], "setup")
        custom = json.loads(saved)["custom_data"] if saved else None
        if custom is None:
            return False
        dataset = dataset_from_dict(custom)
        if data_hash(dataset) != config.data:
            return False
        self.datastore.put(dataset)
        return True

    def delete(self, session_id: str) -> bool:
        self.forget(session_id)
        return bool(self.call(self.redis.delete, *_keys(session_id)))

    def forget(self, session_id: str) -> None:
        """Drop this process's copy of a session that Redis no longer has."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return sum(1 for _ in self.call(self.redis.scan_iter, match="pg:{*}", _type="hash"))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.redis.close()

    def _keep(self, session: RedisSession) -> None:
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)

    # -- one operation ------------------------------------------------------------------------------

    def execute(self, session: RedisSession, operation: str, arguments: dict[str, Any],
                config: PlaygroundConfig | None) -> Any:
        """Run one of app.trainers.OPERATIONS on the session's trainer and commit what it changed
        before answering: a steady step in one round trip, anything else holding the lock."""
        with session.using_kept:
            kept = session.kept
            if operation in STEPS and kept is not None and kept.steady:
                try:
                    return self._steady_step(session, kept, operation, arguments)
                except _Moved:
                    pass  # thrown away: the locked way reloads the trainer and steps again
            return self._locked(session, operation, arguments, config)

    def _steady_step(self, session: RedisSession, kept: _Kept, operation: str, arguments: dict[str, Any]) -> Any:
        """Step the kept trainer, then write it only if Redis is still at its version, unlocked."""
        try:
            answer = OPERATIONS[operation](kept.trainer, **arguments)
            self._commit_trainer(session, kept.version, kept, operation, None)
        except BaseException:
            session.kept = None  # ahead of Redis, or half-done: reload from Redis next time
            raise
        return answer

    def _locked(self, session: RedisSession, operation: str, arguments: dict[str, Any],
                config: PlaygroundConfig | None) -> Any:
        """``execute`` holding the session's lock in Redis."""
        token = secrets.token_hex(8)
        version = self._lock_session(session.id, token)
        try:
            if version == 0 and operation in PREVIEW_OPERATIONS:  # unstarted: its first frame
                answer = _previews.run(session.config, session.custom_data, operation, arguments)
                self._finish(session, token, {})
                return answer
            kept = self._trainer(session, version)
            answer = None if operation == "create" else OPERATIONS[operation](kept.trainer, **arguments)
        except BaseException:
            session.kept = None  # half-done: reload from Redis next time
            self._release(session.id, token)
            raise
        if operation not in CHANGING and version:
            self._finish(session, token, {})
            return answer
        try:
            self._commit_trainer(session, token, kept, operation, config)
        except BaseException:
            session.kept = None  # ahead of Redis: reload from Redis next time
            self._release(session.id, token)
            raise
        return answer

    def _lock_session(self, session_id: str, token: str) -> int:
        """Take the session's lock, waiting while another operation holds it; its version."""
        hash_key, lock_key, _ = _keys(session_id)
        ends = time.monotonic() + 2 * self.lock_seconds  # a lock left by a dead process expires first
        pause = LOCK_POLL_SECONDS
        while True:
            version = self.call(self._acquire, keys=[hash_key, lock_key], args=[token, self.lock_ms])
            if version == -1:
                raise TrainerGone(session_id)
            if version >= 0:
                return version
            if time.monotonic() > ends:
                raise SessionBusy()
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _trainer(self, session: RedisSession, version: int) -> _Kept:
        """The session's trainer at ``version``: the one kept here, else loaded (or, unstarted,
        created from the configuration)."""
        if session.kept is not None and session.kept.version == version:
            session.kept.steady = True  # nobody changed it since this process last did
            return session.kept
        if version == 0:
            self._count_start(session.owner)
            session.kept = _Kept(Trainer(session.config.to_setup(), session.custom_data), 0)
            return session.kept
        hash_key, _, history_key = _keys(session.id)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(hash_key, ["config", "setup", "state"])
            pipe.get(history_key)
            (config, setup, state), history = self.call(pipe.execute)
        if state is None:
            raise TrainerGone(session.id)
        session.config = PlaygroundConfig.model_validate_json(config)
        whole = {**json.loads(setup), **json.loads(state), "history": _history_from(history or b"")}
        session.kept = _Kept(Trainer.from_dict(whole), version, len(history or b"") // HISTORY_ROW)
        return session.kept

    def _commit_trainer(self, session: RedisSession, claim: str | int, kept: _Kept, operation: str,
                        config: PlaygroundConfig | None) -> None:
        """Write what ``operation`` changed (``claim`` as ``_finish`` takes it): a step that
        leaves the history within ``STORED_ROWS`` rows writes the small state and its new rows;
        anything else the history whole (bounded), and the setup and data too unless it was a step."""
        history = kept.trainer.history
        entries = len(history.train_loss)
        new = entries - kept.entries
        whole = operation not in STEPS or not kept.rows  # a change, or nothing in Redis yet
        fields: dict[str, Any] = {"state": _json(kept.trainer.progress_dict())}
        if whole:
            fields["setup"] = _json(kept.trainer.setup_dict())
        if not whole and new >= 0 and kept.rows + new <= STORED_ROWS:
            start = kept.entries - 1  # the last entry may have been re-evaluated
            written = ("range", (kept.rows - 1) * HISTORY_ROW, _rows(np.arange(start, entries), history, start))
            rows = kept.rows + new
        else:
            blob = _stored_history(history)
            written, rows = ("set", 0, blob), len(blob) // HISTORY_ROW
        if config is not None:
            fields["config"] = config.model_dump_json()
        kept.version = self._finish(session, claim, fields, written)
        kept.entries, kept.rows = entries, rows

    def _finish(self, session: RedisSession, claim: str | int, fields: dict[str, Any],
                history: tuple[str, int, bytes] = ("", 0, b"")) -> int:
        """Write ``fields`` and the history (if any) and renew the expiry; the new version.
        ``claim`` is the lock's token, released with the write (a lock that expired meanwhile
        refuses it: ``SessionBusy``, the answer is lost and the client asks again), or the version
        a steady step started from (``_Moved`` if Redis has moved on or is locked)."""
        hash_key, lock_key, history_key = _keys(session.id)
        pairs = [item for pair in fields.items() for item in pair]
        locked = isinstance(claim, str)
        version = self.call(self._commit if locked else self._commit_at, keys=[hash_key, lock_key, history_key],
                            args=[claim, self.ttl_ms, _new_version(), *history, *pairs])
        if version == -1:
            raise TrainerGone(session.id)
        if version == -2:
            raise SessionBusy() if locked else _Moved()
        return version

    def _release(self, session_id: str, token: str) -> None:
        hash_key, lock_key, history_key = _keys(session_id)
        try:
            self._commit(keys=[hash_key, lock_key, history_key], args=[token, self.ttl_ms, 0, "", 0, b""])
        except redis.RedisError:
            pass  # the lock expires by itself

    def _count_start(self, owner: str | None) -> None:
        """One more trainer started by ``owner`` this minute (``TooManySessions`` beyond the limit)."""
        if self.starts_per_minute is None:
            return
        minute = int(time.time() // 60)
        key = f"pg:starts:{owner or ''}:{minute}"
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = self.call(pipe.execute)
        if count > self.starts_per_minute:
            raise TooManySessions(60 - int(time.time()) % 60)


class RedisDataStore:
    """Uploaded sets in Redis (app/datastore.py ``DataStore``): ``pg:data:<hash>`` holds a set's
    canonical CSV, kept ``ttl_seconds`` after it was last stored or read, so that a link works
    from any app process for as long as it is used."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self.redis = _client(url)
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(digest: str) -> str:
        return f"pg:data:{checked(digest)}"

    def put(self, dataset: Dataset) -> str:
        digest, content = stored_form(dataset)
        try:
            call(self.redis.set, self.key(digest), content, ex=self.ttl_seconds)
        except redis.ResponseError as exc:  # out of memory (maxmemory with nothing to evict)
            raise OSError(errno.ENOSPC, str(exc)) from exc
        return digest

    def get(self, digest: str) -> Dataset:
        content = call(self.redis.getex, self.key(digest), ex=self.ttl_seconds)
        if content is None:
            raise LookupError(digest)
        return read_stored(digest, content)
