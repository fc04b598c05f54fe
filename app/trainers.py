"""Where the trainers live: in the server process, or spread over worker processes.

Training a tiny network is Python-bound, so one process uses one core however many threads serve
it. With ``WORKERS=n`` each session's trainer lives in one of n worker processes (chosen from its
id), and the server process only speaks HTTP and forwards each operation through a pipe; a
two-core laptop then trains on both cores. ``WORKERS=0`` keeps the trainers in the server process,
which the tests use. Both run the very same operations (``OPERATIONS``) on a ``Trainers`` table;
only the transport differs.

A worker that dies takes its trainers with it: its sessions then answer as expired, and every
page rebuilds its session from its URL, as after a server restart.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable

from app.csv_data import split_csv
from app.export_py import python_script
from app.frames import build_frame, data_points, flags, metrics
from app.model_file import load_state
from app.own_data import reconfigure
from engine.datasets import Dataset
from engine.trainer import Setup, Trainer


GZIP_LEVEL = 6  # as good as 9 on frames, for less CPU


class TrainerGone(LookupError):
    """The trainer is not there (dropped, or its worker process died)."""


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
        "n_outputs": trainer.network.sizes[-1],
    }


def _step(trainer: Trainer, epochs: int, since: int, grid: int) -> dict[str, Any]:
    trainer.step(epochs)
    return build_frame(trainer, since, grid)


def _encoded(operation: Callable[..., Any]) -> Callable[..., bytes]:
    """``operation``'s answer as JSON bytes, gzip-compressed when ``compress``: the play loop's
    frames are encoded where they are made, so the server process, which serves every student,
    only passes bytes on."""

    def run(trainer: Trainer, compress: bool, **arguments: Any) -> bytes:
        body = json.dumps(operation(trainer, **arguments), separators=(",", ":"), allow_nan=False).encode()
        return gzip.compress(body, compresslevel=GZIP_LEVEL) if compress else body

    return run


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
    "step": _step,
    "step_json": _encoded(_step),
    "frame": build_frame,
    "frame_json": _encoded(build_frame),
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


class Trainers:
    """A table of trainers by session id, in this process."""

    def __init__(self) -> None:
        self._trainers: dict[str, Trainer] = {}

    def create(self, session_id: str, setup: Setup, data: Dataset | None = None) -> None:
        self._trainers[session_id] = Trainer(setup, data)

    def call(self, session_id: str, operation: str, arguments: dict[str, Any]) -> Any:
        trainer = self._trainers.get(session_id)
        if trainer is None:
            raise TrainerGone(session_id)
        return OPERATIONS[operation](trainer, **arguments)

    def drop(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            self._trainers.pop(session_id, None)

    def close(self) -> None:
        self._trainers.clear()


def _serve(connection: Connection) -> None:
    """A worker process: run each request on its own Trainers table until told to stop."""
    trainers = Trainers()
    while True:
        message = connection.recv()
        if message is None:
            return
        dropped, session_id, operation, arguments = message
        trainers.drop(dropped)
        try:
            if operation == "create":
                answer: tuple[str, Any] = ("ok", trainers.create(session_id, **arguments))
            else:
                answer = ("ok", trainers.call(session_id, operation, arguments))
        except TrainerGone:
            answer = ("gone", session_id)
        except ValueError as exc:
            answer = ("invalid", str(exc))
        except Exception:  # a bug in one request must not take half the class's sessions with it
            answer = ("failed", traceback.format_exc())
        connection.send(answer)


class _Worker:
    """One worker process and the pipe to it; one request at a time goes through the pipe."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.lock = threading.Lock()
        self._dropped: list[str] = []  # sent along with the next request: dropping never waits
        self._dropped_lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        self.connection, theirs = self._context.Pipe()
        self.process = self._context.Process(target=_serve, args=(theirs,), daemon=True, name="trainer-worker")
        self.process.start()
        theirs.close()

    def request(self, session_id: str, operation: str, arguments: dict[str, Any]) -> Any:
        with self.lock:
            with self._dropped_lock:
                dropped, self._dropped = self._dropped, []
            try:
                self.connection.send((dropped, session_id, operation, arguments))
                status, value = self.connection.recv()
            except (EOFError, OSError):  # the worker died: start a fresh one, its trainers are gone
                self.process.join(timeout=1)
                self._start()
                raise TrainerGone(session_id) from None
        if status == "gone":
            raise TrainerGone(session_id)
        if status == "invalid":
            raise ValueError(value)
        if status == "failed":
            raise RuntimeError(f"{operation} failed in a trainer worker:\n{value}")
        return value

    def drop(self, session_id: str) -> None:
        with self._dropped_lock:
            self._dropped.append(session_id)

    def stop(self) -> None:
        with self.lock:
            try:
                self.connection.send(None)
            except OSError:
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


class WorkerTrainers:
    """Trainers spread over ``count`` worker processes, each session always on the same one."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"need at least 1 worker, got {count}")
        # "spawn": a fresh interpreter, safe whatever threads the server has started.
        context = multiprocessing.get_context("spawn")
        self._workers = [_Worker(context) for _ in range(count)]

    def _worker(self, session_id: str) -> _Worker:
        return self._workers[hash(session_id) % len(self._workers)]

    def create(self, session_id: str, setup: Setup, data: Dataset | None = None) -> None:
        self._worker(session_id).request(session_id, "create", {"setup": setup, "data": data})

    def call(self, session_id: str, operation: str, arguments: dict[str, Any]) -> Any:
        return self._worker(session_id).request(session_id, operation, arguments)

    def drop(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            self._worker(session_id).drop(session_id)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()


def make_trainers(workers: int) -> Trainers | WorkerTrainers:
    """Trainers in this process (``workers == 0``) or in that many worker processes."""
    return WorkerTrainers(workers) if workers else Trainers()
