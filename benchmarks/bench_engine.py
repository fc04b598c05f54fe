"""Engine benchmark: training speed against PyTorch, the cost of one drawn frame, trainer memory.

    python benchmarks/bench_engine.py           # a readable table
    python benchmarks/bench_engine.py --json    # one JSON object, one key per figure

Two networks, the page's: the playground's defaults ("circle", 500 points, half of them for
training, so 250 training points and 250 test points) with

- default: features x1, x2 -> hidden [4, 2] tanh -> 1 sigmoid; cross-entropy, SGD lr 0.03, batch 10;
- big: seven features (TensorFlow Playground's: x1, x2, x1², x2², x1x2, sin x1, sin x2) -> six
  hidden layers of 8 tanh -> 1 sigmoid; the same.

A frame is what the server computes for one picture: ``step(1)`` + ``snapshot(100)``. It is timed
for this engine and for the baseline commit's (d3789dd unless ``--baseline`` says otherwise,
extracted with ``git archive`` into a temporary folder), each in a subprocess of its own, in
alternating rounds, so that both meet the same machine load; the speed-up is the median of the
rounds' ratios.

A step is one mini-batch forward + backward + update. The engine is timed through the public
``Trainer.step(epochs)``, so its figure includes everything an epoch does: the shuffle, the
mini-batches, the evaluation of loss and accuracy on the train and test sets, and the bookkeeping
for the divergence rollback. PyTorch does the same work idiomatically on the same arrays, from the
same initial weights: nn.Sequential of Linear + Tanh, BCEWithLogitsLoss, torch.optim.SGD,
zero_grad / backward / step over a torch.randperm shuffle, then loss and accuracy of both sets
under no_grad. Torch runs in float64 (the engine's dtype) with torch.set_num_threads(1); its
float32 and default-thread-count figures are reported too. Engine and torch are timed in
alternating rounds and the median round is kept, so a noisy shared machine slows both alike.

One thread each: unless OPENBLAS_NUM_THREADS is already set, it is set to 1 before NumPy loads,
matching torch.set_num_threads(1). It is also how a server should run the engine (see
docs/benchmarks.md): a threaded product on a machine whose other cores are busy can stall for a
scheduler time slice. OPENBLAS_CORETYPE and the rest of the environment are left as they are.

Torch is imported only here; without it the torch figures are null.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine_info  # noqa: E402  (beside this script)
from engine.datasets import FEATURES  # noqa: E402
from engine.trainer import Setup, Trainer  # noqa: E402

try:
    import torch
except ImportError:  # the figures that need it become null
    torch = None
TORCH_DEFAULT_THREADS = None if torch is None else torch.get_num_threads()  # before any change

SEVEN_FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
NETWORK_CHANGES: dict[str, dict[str, Any]] = {  # Setup fields that differ from the defaults
    "default": {},
    "big": {"features": SEVEN_FEATURES, "hidden": (8,) * 6},
}
NETWORKS = {name: Setup(**changes) for name, changes in NETWORK_CHANGES.items()}
BASELINE = "d3789dd"
MEMORY_SETUP = Setup(dataset="circle", n_samples=1200, train_fraction=0.5, features=tuple(FEATURES),
                     hidden=(8,) * 6, batch_size=30)
GRID = 100
TARGETS = {  # figure -> (comparison, bound), per network
    "default": {"speedup_vs_torch": (">=", 3.0), "frame_ms": ("<=", 1.0), "frame_speedup_vs_baseline": (">=", 3.0)},
    "big": {"speedup_vs_torch": (">=", 3.0), "frame_ms": ("<=", 5.0), "frame_speedup_vs_baseline": (">=", 2.0),
            "trainer_bytes": ("<=", 1_000_000)},
}


# -- engine ------------------------------------------------------------------------------------


def engine_steps(trainer: Trainer, epochs: int) -> tuple[int, float]:
    """Steps run and seconds taken by ``trainer.step(epochs)``."""
    before = trainer.iteration
    start = time.perf_counter()
    trainer.step(epochs)
    seconds = time.perf_counter() - start
    if trainer.divergence is not None:
        raise RuntimeError(f"the benchmark network diverged: {trainer.divergence.reason}")
    return trainer.iteration - before, seconds


# Run in a subprocess as ``python -c FRAME_WORKER ROOT``: imports the engine found under ROOT, then
# answers each request line {"network", "changes", "frames"} with the seconds of each frame's
# step(1) and snapshot(GRID), as [[epoch, snapshot], ...]. A network's trainer is built (and
# warmed up: Numba compiles or loads its code, the grid is cached) at its first request and goes
# on training across requests. Seconds are the thread's CPU time (all of a frame's work runs on it,
# OpenBLAS having one thread): on a shared machine, time spent waiting for a core is not counted.
FRAME_WORKER = f"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from engine.trainer import Setup, Trainer
trainers = {{}}
for line in sys.stdin:
    request = json.loads(line)
    trainer = trainers.get(request["network"])
    if trainer is None:
        trainer = trainers[request["network"]] = Trainer(Setup(**request["changes"]))
        for _ in range(5):
            trainer.step(1)
            trainer.snapshot({GRID})
    times = []
    for _ in range(request["frames"]):
        t0 = time.thread_time()
        trainer.step(1)
        t1 = time.thread_time()
        trainer.snapshot({GRID})
        times.append((t1 - t0, time.thread_time() - t1))
    print(json.dumps(times), flush=True)
"""


class FrameWorker:
    """A subprocess timing frames of the engine under ``root`` (see FRAME_WORKER)."""

    def __init__(self, root: Path):
        self.process = subprocess.Popen([sys.executable, "-c", FRAME_WORKER, str(root)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def frames(self, network: str, frames: int) -> list[tuple[float, float]]:
        request = {"network": network, "changes": NETWORK_CHANGES[network], "frames": frames}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the frame worker for {network!r} stopped")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def baseline_tree(commit: str, into: Path) -> Path:
    """The baseline commit's ``engine/`` extracted under ``into`` (git archive): a folder to import it from."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "engine"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def frame_comparison(baseline: str, rounds: int, frames: int = 21) -> dict[str, dict[str, float]]:
    """Frame times of this engine and of ``baseline``'s, in alternating rounds of ``frames``
    frames per network; medians over all frames, and the median of the rounds' ratios."""
    with tempfile.TemporaryDirectory() as folder:
        workers = {"new": FrameWorker(ROOT), "baseline": FrameWorker(baseline_tree(baseline, Path(folder)))}
        try:
            samples = {(side, name): [] for side in workers for name in NETWORKS}
            ratios: dict[str, list[float]] = {name: [] for name in NETWORKS}
            for round_ in range(rounds + 1):  # round 0 is a warm-up
                for name in NETWORKS:
                    medians = {}
                    for side, worker in workers.items():
                        times = worker.frames(name, frames)
                        medians[side] = statistics.median(e + s for e, s in times)
                        if round_:
                            samples[side, name] += times
                    if round_:
                        ratios[name].append(medians["baseline"] / medians["new"])
        finally:
            for worker in workers.values():
                worker.close()
    figures = {}
    for name in NETWORKS:
        new, old = samples["new", name], samples["baseline", name]
        figures[name] = {
            "frame_ms": 1e3 * statistics.median(e + s for e, s in new),
            "epoch_ms": 1e3 * statistics.median(e for e, _ in new),
            "snapshot_ms": 1e3 * statistics.median(s for _, s in new),
            "baseline_frame_ms": 1e3 * statistics.median(e + s for e, s in old),
            "baseline_epoch_ms": 1e3 * statistics.median(e for e, _ in old),
            "baseline_snapshot_ms": 1e3 * statistics.median(s for _, s in old),
            "frame_speedup_vs_baseline": statistics.median(ratios[name]),
        }
    return figures


def trainer_memory(setup: Setup) -> dict[str, int]:
    """Bytes a trainer keeps, by tracemalloc (NumPy reports its buffers to it): the traced memory
    still allocated after building the trainer, training 5 epochs and drawing one snapshot (then
    dropped), minus what was allocated before. It counts every array and Python object the trainer
    holds: the data and its splits, feature matrices, network, optimizer, step buffers, history,
    and the cached drawing grid. Peak is the most held at once during that, temporaries included."""
    Trainer(setup).snapshot(GRID)  # a first run, so one-off lazy allocations are not counted
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    trainer = Trainer(setup)
    trainer.step(5)
    trainer.snapshot(GRID)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del trainer
    return {"trainer_bytes": current - base, "trainer_peak_bytes": peak - base}


# -- torch -------------------------------------------------------------------------------------


class TorchRun:
    """The same network, data and initial weights as ``trainer``, trained the idiomatic torch way."""

    def __init__(self, trainer: Trainer, dtype: Any):
        net = trainer.network
        layers: list[Any] = []
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            linear = torch.nn.Linear(*w.shape, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w.T.copy()))
                linear.bias.copy_(torch.from_numpy(b.copy()))
            layers.append(linear)
            if i < net.n_layers - 1:
                layers.append(torch.nn.Tanh())
        self.model = torch.nn.Sequential(*layers)
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=trainer.setup.learning_rate)
        self.batch = trainer.setup.batch_size
        self.x_train, self.y_train, self.x_test, self.y_test = (
            torch.from_numpy(a).to(dtype) for a in (trainer.x_train, trainer.y_train, trainer.x_test, trainer.y_test)
        )

    def epoch(self, order: Any = None) -> int:
        """One epoch: shuffled mini-batches, then loss and accuracy on both sets, like Trainer."""
        n = len(self.x_train)
        order = torch.randperm(n) if order is None else order
        xs, ys = self.x_train[order], self.y_train[order]
        steps = 0
        for start in range(0, n, self.batch):
            self.optimizer.zero_grad()
            self.loss(self.model(xs[start : start + self.batch]), ys[start : start + self.batch]).backward()
            self.optimizer.step()
            steps += 1
        with torch.no_grad():
            for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
                logits = self.model(x)
                self.loss(logits, y).item()
                ((logits >= 0) == (y >= 0.5)).to(x.dtype).mean().item()
        return steps

    def steps(self, epochs: int) -> tuple[int, float]:
        start = time.perf_counter()
        steps = sum(self.epoch() for _ in range(epochs))
        return steps, time.perf_counter() - start

    def flat_params(self) -> np.ndarray:
        linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        weights = [m.weight.detach().numpy().T.ravel() for m in linears]
        return np.concatenate(weights + [m.bias.detach().numpy() for m in linears])


def parity(setup: Setup) -> float:
    """Largest parameter difference after one epoch in the same batch order from the same
    weights: evidence that the two sides do the same arithmetic."""
    trainer = Trainer(setup)
    run = TorchRun(trainer, torch.float64)
    order = np.random.default_rng()
    order.bit_generator.state = trainer.rng.bit_generator.state  # the trainer's next shuffle
    run.epoch(torch.from_numpy(order.permutation(len(trainer.x_train))))
    trainer.step(1)
    return float(np.abs(run.flat_params() - trainer.network.params).max())


# -- measuring ---------------------------------------------------------------------------------


def rate(samples: list[tuple[int, float]]) -> float:
    """Steps per second of the median round."""
    return statistics.median(steps / seconds for steps, seconds in samples)


def measure_network(name: str, setup: Setup, rounds: int) -> dict[str, Any]:
    trainer = Trainer(setup)
    engine_epochs = 400 if name == "default" else 100  # ~50 ms a round each side
    torch_epochs = 16
    contenders: dict[str, tuple[Callable[[], tuple[int, float]], int | None]] = {
        "steps_per_s": (lambda: engine_steps(trainer, engine_epochs), None),
    }
    if torch is not None:
        torch.manual_seed(0)
        run64, run32 = TorchRun(trainer, torch.float64), TorchRun(trainer, torch.float32)
        contenders |= {
            "torch_steps_per_s": (lambda: run64.steps(torch_epochs), 1),
            "torch_float32_steps_per_s": (lambda: run32.steps(torch_epochs), 1),
            "torch_default_threads_steps_per_s": (lambda: run64.steps(torch_epochs), TORCH_DEFAULT_THREADS),
        }
    samples: dict[str, list[tuple[int, float]]] = {key: [] for key in contenders}
    for round_ in range(rounds + 1):  # round 0 is a warm-up
        for key, (measure, threads) in contenders.items():
            if threads is not None:
                torch.set_num_threads(threads)
            result = measure()
            if round_:
                samples[key].append(result)
    if torch is not None:
        torch.set_num_threads(1)
    figures: dict[str, Any] = {
        "train_points": len(trainer.x_train),
        "batch_size": setup.batch_size,
        "layer_sizes": list(trainer.network.sizes),
        "n_params": int(trainer.network.params.size),
    }
    figures |= {key: rate(values) for key, values in samples.items()}
    for key in ("torch_steps_per_s", "torch_float32_steps_per_s", "torch_default_threads_steps_per_s"):
        figures.setdefault(key, None)
    figures["speedup_vs_torch"] = (
        None if figures["torch_steps_per_s"] is None else figures["steps_per_s"] / figures["torch_steps_per_s"]
    )
    figures["torch_parity_max_abs_diff"] = None if torch is None else parity(setup)
    return figures


def machine() -> dict[str, Any]:
    return {
        **machine_info.machine(),
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "torch_default_threads": TORCH_DEFAULT_THREADS,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }


def check_targets(results: dict[str, Any]) -> dict[str, bool | None]:
    met: dict[str, bool | None] = {}
    for network, targets in TARGETS.items():
        for figure, (op, bound) in targets.items():
            value = results[network].get(figure)
            ok = None if value is None else (value >= bound if op == ">=" else value <= bound)
            met[f"{network}.{figure} {op} {bound:g}"] = ok
    return met


def run(rounds: int, baseline: str) -> dict[str, Any]:
    if torch is not None:
        torch.set_num_threads(1)
    results: dict[str, Any] = {"date": datetime.date.today().isoformat(), "machine": machine(),
                               "baseline": baseline}
    frames = frame_comparison(baseline, rounds)
    for name, setup in NETWORKS.items():
        results[name] = measure_network(name, setup, rounds) | frames[name]
    results["big"] |= trainer_memory(MEMORY_SETUP)
    results["big"]["memory_setup"] = "big network, circle, n_samples=1200, train_fraction=0.5"
    results["targets_met"] = check_targets(results)
    results["notes"] = [
        "steps: Trainer.step(epochs) over 250 training points, per-epoch evaluation included; "
        "torch does the same work (shuffle, mini-batches, loss and accuracy of both sets)",
        "torch: float64, torch.set_num_threads(1) unless the key says otherwise; same data and initial weights",
        "frame_ms: median CPU time of trainer.step(1) + trainer.snapshot(100), in a subprocess, alternating "
        "with the baseline commit's engine; frame_speedup_vs_baseline: median of the rounds' ratios",
        "trainer_bytes: tracemalloc, memory still held after construction + 5 epochs + snapshot(100)",
    ]
    if torch is None:
        results["notes"].append("PyTorch is not installed: torch figures are null (pip install '.[parity]')")
    return results


def table(results: dict[str, Any]) -> str:
    def fmt(value: Any, unit: str = "") -> str:
        if value is None:
            return "n/a"
        if unit == "x":
            return f"{value:.1f}×"
        if unit == "ms":
            return f"{value:.3f} ms"
        if unit == "B":
            return f"{value / 1e3:,.0f} kB"
        if unit == "e":
            return f"{value:.1e}"
        return f"{value:,.0f}"

    d, b, m = results["default"], results["big"], results["machine"]
    rows = [
        ("training steps/s, engine", fmt(d["steps_per_s"]), fmt(b["steps_per_s"]), ""),
        ("training steps/s, torch f64 1 thread", fmt(d["torch_steps_per_s"]), fmt(b["torch_steps_per_s"]), ""),
        ("training steps/s, torch f32 1 thread", fmt(d["torch_float32_steps_per_s"]),
         fmt(b["torch_float32_steps_per_s"]), ""),
        ("training steps/s, torch f64 default threads", fmt(d["torch_default_threads_steps_per_s"]),
         fmt(b["torch_default_threads_steps_per_s"]), ""),
        ("speed-up vs torch (f64, 1 thread)", fmt(d["speedup_vs_torch"], "x"), fmt(b["speedup_vs_torch"], "x"),
         "≥ 3× both"),
        ("frame: 1 epoch + snapshot(100)", fmt(d["frame_ms"], "ms"), fmt(b["frame_ms"], "ms"), "≤ 1 / ≤ 5 ms"),
        ("  of which the epoch", fmt(d["epoch_ms"], "ms"), fmt(b["epoch_ms"], "ms"), ""),
        ("  of which snapshot(100)", fmt(d["snapshot_ms"], "ms"), fmt(b["snapshot_ms"], "ms"), ""),
        (f"frame, baseline {results['baseline']}", fmt(d["baseline_frame_ms"], "ms"),
         fmt(b["baseline_frame_ms"], "ms"), ""),
        ("  of which the epoch", fmt(d["baseline_epoch_ms"], "ms"), fmt(b["baseline_epoch_ms"], "ms"), ""),
        ("  of which snapshot(100)", fmt(d["baseline_snapshot_ms"], "ms"), fmt(b["baseline_snapshot_ms"], "ms"), ""),
        ("frame speed-up vs baseline", fmt(d["frame_speedup_vs_baseline"], "x"),
         fmt(b["frame_speedup_vs_baseline"], "x"), "≥ 3× / ≥ 2×"),
        ("trainer memory, 1200 points", "", fmt(b["trainer_bytes"], "B"), "≤ 1 MB"),
        ("params after 1 epoch, |engine − torch|", fmt(d["torch_parity_max_abs_diff"], "e"),
         fmt(b["torch_parity_max_abs_diff"], "e"), ""),
    ]
    lines = [
        f"Engine benchmark {results['date']}: {m['cpu']}, nproc {m['nproc']}, Python {m['python']}, "
        f"NumPy {m['numpy']}, torch {m['torch'] or 'not installed'}",
        f"{'figure':45} {'default':>12} {'big':>12}   target",
    ]
    lines += [f"{label:45} {x:>12} {y:>12}   {target}" for label, x, y, target in rows]
    lines.append("targets met: " + ", ".join(f"{k}: {'yes' if v else 'n/a' if v is None else 'NO'}"
                                             for k, v in results["targets_met"].items()))
    lines += [f"note: {note}" for note in results["notes"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per figure (median kept)")
    parser.add_argument("--baseline", default=BASELINE, help=f"commit whose engine frames are compared (default {BASELINE})")
    args = parser.parse_args()
    results = run(max(1, args.rounds), args.baseline)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
