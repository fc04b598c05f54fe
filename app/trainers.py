"""Where the trainers live: in the server process, or spread over worker processes.

Training a tiny network is Python-bound, so one process uses one core however many threads serve
it. With ``WORKERS=n`` each session's trainer lives in one of n worker processes (chosen from its
id), and the server process only speaks HTTP and forwards each operation through a pipe; a
two-core laptop then trains on both cores. ``WORKERS=0`` keeps the trainers in the server process,
which the tests use. Both run the very same operations (``OPERATIONS``) on a ``Trainers`` table;
only the transport differs.

Each worker (and the in-process table) has one dispatcher thread and a queue of requests: routes
submit a request and get a ``Future``, which a thread can wait on and a coroutine can await, so
nothing blocks the event loop or holds a thread of the pool while a trainer works. The queue
shares the worker between clients (addresses) by the worker time each used, first come first
served within one; since every
session has at most two requests outstanding (app/sessions.py), a busy worker slows all its
clients alike and starves none. A step trains within its time budget, and within
``SHARED_STEP_BUDGET_MS`` when other requests wait for the worker: stopping before an epoch that
would end past it.

A worker that dies, or does not answer within ``deadline`` seconds (a stuck or stopped process),
is killed and replaced; the request it held fails with ``TrainerLost``, and its other sessions
then answer as lost too (the new worker does not know them), so every page rebuilds its session
from its URL, as after a server restart. A request that would create a trainer is simply retried
on the new worker: creating a session right after a worker died succeeds.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import struct
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Callable

import numpy as np

from app.csv_data import split_csv
from app.export_py import python_script
from app.frames import build_frame, data_points, flags, metrics, raw_map
from app.model_file import load_state
from app.own_data import reconfigure
from app.settings import SHARED_STEP_BUDGET_MS
from engine.datasets import Dataset
from engine.trainer import Setup, Trainer, compile_training


GZIP_LEVEL = 6  # as good as 9 on frames, for less CPU
STARTUP_SECONDS = 120  # for a new worker process to import what it needs


class TrainerGone(LookupError):
    """The trainer is not there (dropped, expired, or its worker process died)."""

    def __init__(self, session_id: str, why: str = "not found or expired") -> None:
        super().__init__(f"session {session_id} {why}; create one with POST /api/sessions")
        self.session_id = session_id


class TrainerLost(TrainerGone):
    """The worker that held the trainer died or overran the deadline, and was replaced."""


def _info(trainer: Trainer) -> dict[str, Any]:
    """Where training stands."""
    return {"epoch": trainer.epoch, "iteration": trainer.iteration, "metrics": metrics(trainer), "flags": flags(trainer)}


def _view(trainer: Trainer) -> dict[str, Any]:
    """Everything the page shows of a trainer at rest."""
    return {
        **_info(trainer),
        "frame": build_frame(trainer),
        "data": data_points(trainer),
        "problem": trainer.problem,
        "loss": trainer.loss_name,  # "auto" resolved: the loss the curves plot
        "n_outputs": trainer.network.sizes[-1],
    }


def _train(trainer: Trainer, epochs: int, budget: float | None) -> int:
    """Train up to ``epochs`` epochs within ``budget`` seconds; return how many ran. The first
    epoch always runs; each next one only if it would end within the budget, judging by the
    longest epoch so far (an epoch cannot be cut: a request with the worker to itself stops
    before its budget rather than after, so the requests waiting behind it wait at most that).
    Training that diverges stops too."""
    began = time.perf_counter()
    longest, ran = 0.0, 0
    while ran < epochs:
        start = time.perf_counter()
        if ran and budget is not None and start - began + longest > budget:
            break
        if not trainer.step(1):
            break
        longest = max(longest, time.perf_counter() - start)
        ran += 1
    return ran


def _step_json(trainer: Trainer, epochs: int, since: int, grid: int, budget: float | None = None,
               compress: bool = False) -> bytes:
    """Train within the budget, then the frame with ``epochs_run`` as JSON bytes."""
    ran = _train(trainer, epochs, budget)
    return _json_bytes({**build_frame(trainer, since, grid), "epochs_run": ran}, compress)


def _step_stream(trainer: Trainer, epochs: int, since: int, grid: int, budget: float | None = None) -> bytes:
    """Train within the budget, then the frame with ``epochs_run`` as the stream's message."""
    ran = _train(trainer, epochs, budget)
    maps = RawMaps()
    return binary_message({**build_frame(trainer, since, grid, maps=maps), "epochs_run": ran}, maps)


def _json_bytes(value: dict[str, Any], compress: bool = False) -> bytes:
    """JSON bytes, gzip-compressed when ``compress``: the play loop's frames are encoded where
    they are made, so the server process, which serves every student, only passes bytes on."""
    body = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    return gzip.compress(body, compresslevel=GZIP_LEVEL) if compress else body


class RawMaps:
    """The frame stream's form of a heatmap (``build_frame``'s ``maps``): its uint8 bytes, row-major,
    set aside for the message's tail, and ``{"u8": [offset, length]}`` into that tail in the JSON
    (``"f4"`` for a layer's float32 gradients). Collected as the frame is built, so the message
    needs no walk through the frame."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.size = 0

    def __call__(self, values: np.ndarray) -> dict[str, list[int]]:
        values = raw_map(values)
        blob = values.tobytes()
        self.blobs.append(blob)
        self.size += len(blob)
        return {"f4" if values.dtype == np.float32 else "u8": [self.size - len(blob), len(blob)]}


def binary_message(value: dict[str, Any], maps: RawMaps | None = None) -> bytes:
    """The frame stream's message (docs/api.md, "The frame stream"): a 4-byte little-endian
    length, that many bytes of JSON, then the bytes of the heatmaps ``maps`` made for ``value``."""
    head = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    return b"".join((struct.pack("<I", len(head)), head, *(maps.blobs if maps else ())))


def _edited(edit: Callable[..., None]) -> Callable[..., dict[str, Any]]:
    def run(trainer: Trainer, **arguments: Any) -> dict[str, Any]:
        edit(trainer, **arguments)
        return build_frame(trainer)

    return run


# Everything a route may do to a trainer. Each runs where the trainer lives and returns plain
# data (picklable), so the same table serves both kinds of store.
OPERATIONS: dict[str, Callable[..., Any]] = {
    "apply": reconfigure,  # with the data the configuration names (app/own_data.py)
    "reset": lambda trainer, seed: trainer.reset(seed),
    "step_json": _step_json,
    "step_stream": _step_stream,
    "frame": build_frame,
    "frame_json": lambda trainer, compress, **arguments: _json_bytes(build_frame(trainer, **arguments), compress),
    "data": data_points,
    "info": _info,
    "view": _view,
    "set_weight": _edited(Trainer.set_weight),
    "set_bias": _edited(Trainer.set_bias),
    "export": Trainer.to_dict,
    # your own data in, your model out (app/routes/data.py)
    "python_script": python_script,
    "load": load_state,
    "data_csv": lambda trainer: split_csv(trainer.train_data, trainer.test_data),
}


@dataclass
class Request:
    """One operation on one session's trainer; ``setup`` creates the trainer first, on ``data``
    when the configuration names a drawn or uploaded set (app/own_data.py)."""

    session_id: str
    operation: str
    arguments: dict[str, Any]
    setup: Setup | None = None
    data: Dataset | None = None
    owner: str | None = None  # the client address: the queue takes turns between owners
    future: Future = field(default_factory=Future)


class Trainers:
    """A table of trainers by session id, in this process: what a worker holds."""

    def __init__(self) -> None:
        self._trainers: dict[str, Trainer] = {}

    def answer(self, dropped: list[str], session_id: str, setup: Setup | None, data: Dataset | None,
               operation: str, arguments: dict[str, Any]) -> tuple[str, Any, float]:
        """Run one request; its outcome as (status, value, CPU seconds it took), never an
        exception. CPU time, not wall time, is what the request is charged: a worker that the
        operating system set aside for a moment has not spent the client's share."""
        began = time.thread_time()
        status, value = self._answer(dropped, session_id, setup, data, operation, arguments)
        return status, value, time.thread_time() - began

    def _answer(self, dropped: list[str], session_id: str, setup: Setup | None, data: Dataset | None,
                operation: str, arguments: dict[str, Any]) -> tuple[str, Any]:
        for gone in dropped:
            self._trainers.pop(gone, None)
        try:
            if setup is not None:
                self._trainers[session_id] = Trainer(setup, data)
            if operation == "create":
                return "ok", None
            trainer = self._trainers.get(session_id)
            if trainer is None:
                return "gone", session_id
            return "ok", OPERATIONS[operation](trainer, **arguments)
        except ValueError as exc:  # (engine.errors.InvalidValue pickles with its field)
            return "invalid", exc
        except Exception:  # a bug in one request must not take half the class's sessions with it
            return "failed", traceback.format_exc()


def _serve(connection: Connection) -> None:
    """A worker process: answer each request on its own Trainers table until told to stop."""
    trainers = Trainers()
    compile_training()
    connection.send(("ready", None))  # imports and compiling done: from now on the deadline applies
    while (message := connection.recv()) is not None:
        connection.send(trainers.answer(*message))


def _outcome(request: Request, status: str, value: Any) -> Any:
    if status == "gone":
        raise TrainerGone(request.session_id)
    if status == "invalid":
        raise value
    if status == "failed":
        raise RuntimeError(f"{request.operation} failed in a trainer worker:\n{value}")
    return value


class _FairQueue:
    """Requests waiting for one worker, shared fairly between owners (client addresses) by the
    worker CPU time they used: the next request is the oldest of the waiting owner that has used
    the least (start-time fair queuing). A client whose requests cost a hundred times more gets
    its turn a hundred times less often, and a client that was idle joins at the current level,
    without credit. ``None`` means stop."""

    def __init__(self) -> None:
        self._waiting: dict[Any, deque[Request]] = {}
        self._used: dict[Any, float] = {}  # seconds of worker time, on one clock for all owners
        self._level = 0.0  # what the owner served last had used
        self._stop = False
        self._ready = threading.Condition()

    def put(self, request: Request | None) -> None:
        with self._ready:
            if request is None:
                self._stop = True
            elif request.owner in self._waiting:
                self._waiting[request.owner].append(request)
            else:
                self._waiting[request.owner] = deque([request])
                self._used[request.owner] = max(self._used.get(request.owner, 0.0), self._level)
            self._ready.notify()

    def get(self) -> tuple[Request | None, bool]:
        """The next request (None: stop), and whether other requests are waiting behind it."""
        with self._ready:
            while not self._waiting and not self._stop:
                self._ready.wait()
            if not self._waiting:
                return None, False
            owner = min(self._waiting, key=self._used.__getitem__)
            requests = self._waiting[owner]
            request = requests.popleft()
            if not requests:
                del self._waiting[owner]
            self._level = self._used[owner]
            return request, bool(self._waiting)

    def charge(self, owner: Any, seconds: float) -> None:
        """Count the worker CPU time a request of ``owner`` used."""
        with self._ready:
            self._used[owner] = self._used.get(owner, self._level) + seconds
            if len(self._used) > 10_000:  # forget idle owners: they rejoin at the level anyway
                self._used = {o: u for o, u in self._used.items() if o in self._waiting or u > self._level}


class _Dispatcher:
    """A queue of requests and the thread that serves them one after the other."""

    def __init__(self) -> None:
        self._queue = _FairQueue()
        self._dropped: list[str] = []  # sent along with the next request: dropping never waits
        self._dropped_lock = threading.Lock()
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="trainer-dispatch")
        self._thread.start()

    def submit(self, request: Request) -> Future:
        self._queue.put(request)
        return request.future

    def drop(self, session_id: str) -> None:
        with self._dropped_lock:
            self._dropped.append(session_id)

    def _take_dropped(self) -> list[str]:
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, []
            return dropped

    def _dispatch(self) -> None:
        while True:
            request, others_wait = self._queue.get()
            if request is None:
                break
            if not request.future.set_running_or_notify_cancel():
                continue
            if others_wait and request.arguments.get("budget") is not None:  # share the worker
                request.arguments["budget"] = min(request.arguments["budget"], SHARED_STEP_BUDGET_MS / 1000)
            try:
                status, value, used = self._exchange(request)
                self._queue.charge(request.owner, used)
                request.future.set_result(_outcome(request, status, value))
            except TrainerGone as exc:
                request.future.set_exception(self._explained(exc))
            except BaseException as exc:  # handed to whoever waits for the answer
                request.future.set_exception(exc)
        self._stopped()

    def _explained(self, exc: TrainerGone) -> TrainerGone:
        """Why a trainer is not there, when the dispatcher knows better than "expired"."""
        return exc

    def _exchange(self, request: Request) -> tuple[str, Any, float]:
        """The request's (status, value, CPU seconds), from wherever the trainers are."""
        raise NotImplementedError

    def _stopped(self) -> None:
        """Called by the dispatcher thread when told to stop."""

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)


class _Local(_Dispatcher):
    """The trainers in this process (``WORKERS=0``): no deadline, a thread cannot be killed."""

    def __init__(self) -> None:
        compile_training()  # (before any request: not in a step's time budget)
        self._trainers = Trainers()
        super().__init__()

    def _exchange(self, request: Request) -> tuple[str, Any, float]:
        return self._trainers.answer(self._take_dropped(), request.session_id, request.setup, request.data,
                                     request.operation, request.arguments)


class _Worker(_Dispatcher):
    """One worker process and the pipe to it, with a deadline on every answer."""

    def __init__(self, context: Any, deadline: float) -> None:
        self._context = context
        self.deadline = deadline
        self.restarts = 0
        self._held: set[str] = set()  # sessions whose trainer this worker holds
        self._lost: set[str] = set()  # sessions whose trainer died with the previous worker
        self._lost_why = ""
        self._start()
        super().__init__()

    def _start(self) -> None:
        self.connection, theirs = self._context.Pipe()
        self.process = self._context.Process(target=_serve, args=(theirs,), daemon=True, name="trainer-worker")
        self.process.start()
        theirs.close()
        self._started = False

    def _wait_until_started(self) -> None:
        """A new process imports NumPy and the engine first (seconds on a busy machine): that
        time is not a request's, so the deadline starts once the worker says it is ready."""
        if not self._started:
            if not self.connection.poll(STARTUP_SECONDS):
                raise OSError(f"the trainer worker did not start within {STARTUP_SECONDS} s")
            self.connection.recv()
            self._started = True

    def _replace(self, why: str) -> None:
        """Kill the worker (a stopped process too) and start a fresh one, without trainers; the
        sessions it held are lost, for ``why``."""
        self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()
        self.restarts += 1
        self._lost, self._held = self._held, set()
        self._lost_why = why
        self._start()

    def _exchange(self, request: Request) -> tuple[str, Any, float]:
        dropped = self._take_dropped()
        self._held.difference_update(dropped)
        self._lost.difference_update(dropped)
        message = (dropped, request.session_id, request.setup, request.data, request.operation, request.arguments)
        for attempt in (1, 2):
            try:
                self._wait_until_started()
                self.connection.send(message)
                if self.connection.poll(self.deadline):
                    answer = self.connection.recv()
                    if request.setup is not None:
                        self._held.add(request.session_id)
                    return answer
                why = f"was lost: its trainer worker did not answer within {self.deadline:g} s and was restarted"
            except (EOFError, OSError):
                why = "was lost: its trainer worker stopped and was restarted"
            self._replace(why)
            if request.setup is None or attempt == 2:  # only a new trainer can start afresh
                raise TrainerLost(request.session_id, why)
        raise AssertionError("unreachable")

    def _explained(self, exc: TrainerGone) -> TrainerGone:
        if exc.session_id in self._lost:
            return TrainerLost(exc.session_id, self._lost_why)
        return exc

    def _stopped(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


class LocalTrainers:
    """Trainers in the server process, served by one dispatcher thread."""

    def __init__(self) -> None:
        self._local: _Local | None = None
        self._lock = threading.Lock()

    def _dispatcher(self, session_id: str) -> _Dispatcher:
        with self._lock:  # started on first use: a store that is never used costs no thread
            if self._local is None:
                self._local = _Local()
            return self._local

    def submit(self, request: Request) -> Future:
        return self._dispatcher(request.session_id).submit(request)

    def drop(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            self._dispatcher(session_id).drop(session_id)

    def close(self) -> None:
        with self._lock:
            if self._local is not None:
                self._local.stop()
                self._local = None


class WorkerTrainers(LocalTrainers):
    """Trainers spread over ``count`` worker processes, each session always on the same one."""

    def __init__(self, count: int, deadline: float = 5.0) -> None:
        if count < 1:
            raise ValueError(f"need at least 1 worker, got {count}")
        super().__init__()
        # "spawn": a fresh interpreter, safe whatever threads the server has started.
        context = multiprocessing.get_context("spawn")
        self._workers = [_Worker(context, deadline) for _ in range(count)]

    def _dispatcher(self, session_id: str) -> _Worker:
        return self._workers[hash(session_id) % len(self._workers)]

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()


def make_trainers(workers: int, deadline: float) -> LocalTrainers:
    """Trainers in this process (``workers == 0``) or in that many worker processes."""
    return WorkerTrainers(workers, deadline) if workers else LocalTrainers()
