"""Server benchmark: what a class gets from one playground server, against the baseline server.

    python benchmarks/bench_server.py                 # readable table (about 5 minutes)
    python benchmarks/bench_server.py --json          # one JSON object with every figure
    python benchmarks/bench_server.py --seconds 6 --rounds 1 --max-players 160

It starts two servers the way ``make run`` does (``python -m app``, HOST=127.0.0.1, the default
WORKERS): this tree's, and the baseline's (commit ``--baseline``, d3789dd by default, exported
with ``git archive`` into a temporary folder, served on another port), and stops both at the end.
The load generator is this script's own process, separate from both servers.

Each simulated player is one playing page: its own session, created from its own loopback
address (127.0.x.y, as every student's laptop has its own address; the server's per-client
limits apply per address), playing the default network as the page plays it, asking for the
next frame (2 epochs, grid 50) as soon as the last one is back, over the page's path:

- this tree: the frame stream (WebSocket ``/api/sessions/{id}/stream``, binary frames,
  permessage-deflate as Chromium negotiates it);
- the baseline: ``POST /api/sessions/{id}/step`` over a bare keep-alive HTTP/1.1 connection,
  gzip, as its page did. (``json`` below: this tree's JSON step, for other clients.)

Scenarios, each after a warm-up (``--warmup``) for a fixed window (``--seconds``); only requests
that start and end inside the window count:

- ``cpu``: 30 players on each server, alternating (``--rounds`` rounds): the servers' CPU time
  per frame from /proc (the server process and its children, the trainer workers), frames/s per
  player and latency. ``server_cpu_ms_per_frame_ratio`` = baseline ÷ this tree, medians.
- ``capacity``: players added in steps on each server until a player gets under 10 frames/s or
  the p99 latency passes 150 ms; ``players_at_10fps`` is the largest class that met both, and
  the sweep shows the class's total frames/s at each size (it must never fall).

Traffic goes to loopback only; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

import machine_info  # beside this script

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "d3789dd"
STEP = {"epochs": 2, "grid": 50}  # static/js/playground.js: EPOCHS_PER_FRAME; DEFAULT_GRID
TARGET_FPS, TARGET_P99_MS = 10.0, 150.0


# -- servers and their CPU -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """``python -m app`` from ``root`` on a free port, once /healthz answers."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONPATH": str(root),
           "LOG_LEVEL": "warning", **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server in {root} exited with code {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit(f"the server in {root} did not answer /healthz within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def export_baseline(commit: str, folder: Path) -> Path:
    """The baseline's app and engine, as committed, in ``folder``."""
    archive = subprocess.run(["git", "archive", commit, "app", "engine", "templates", "static"],
                             cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (the trainer workers)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return process_cpu_seconds(pid) + sum(process_cpu_seconds(c) for c in children)


def busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# -- players ------------------------------------------------------------------------------------


def address(i: int) -> str:
    """The i-th player's own loopback address."""
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


class Http:
    """A minimal HTTP/1.1 keep-alive client from a given local address (httpx costs the load
    generator about as much CPU per request as the server spends)."""

    def __init__(self, url: str, local: str):
        parsed = httpx.URL(url)
        self.host, self.port, self.local = parsed.host, parsed.port, local
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """The status and the raw body (gzip-compressed if the server chose to)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, local_addr=(self.local, 0))
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Accept-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class Player:
    """One playing page. ``path``: "stream" (this tree's page), "json" (POST step)."""

    def __init__(self, url: str, index: int, path: str):
        self.url, self.path, self.local = url, path, address(index)
        self.http = Http(url, self.local)
        self.ws: Any = None
        self.sid = ""
        self.since = 0
        self.errors: dict[str, int] = {}

    async def join(self) -> None:
        status, body = await self.http.request("POST", "/api/sessions", b"{}")
        if status != 201:
            raise SystemExit(f"creating a session answered {status}")
        self.sid = json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)["id"]
        if self.path == "stream":
            ws_url = self.url.replace("http://", "ws://") + f"/api/sessions/{self.sid}/stream"
            # permessage-deflate offered, as Chromium offers it: the server compresses what a
            # page gets (as the baseline's gzip), and that CPU counts
            self.ws = await websockets.connect(ws_url, local_addr=(self.local, 0), compression="deflate",
                                               max_size=2**22)

    async def frame(self) -> tuple[float, float, int] | None:
        """(start, end, bytes) of one step, or None on an error. The next ``since`` is the
        last epoch plus the epochs asked for (the default network never stops early), so the
        load generator does not spend CPU reading frames."""
        body = json.dumps({**STEP, "since": self.since})
        start = time.perf_counter()
        try:
            if self.path == "stream":
                await self.ws.send(body)
                answer = await self.ws.recv()
                status = 200
                if answer[4:13] == b'{"error":':
                    status = json.loads(answer[4:4 + int.from_bytes(answer[:4], "little")])["error"]
            else:
                status, answer = await self.http.request("POST", f"/api/sessions/{self.sid}/step", body.encode())
        except (OSError, asyncio.IncompleteReadError, websockets.ConnectionClosed) as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            await asyncio.sleep(0.05)
            return None
        if status != 200:  # 404: the session was lost; 429: refused
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1
            await asyncio.sleep(0.05)
            return None
        self.since += STEP["epochs"]
        return start, time.perf_counter(), len(answer)

    async def leave(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()  # idle past the server's keep-alive: a fresh connection
        try:
            await self.http.request("DELETE", f"/api/sessions/{self.sid}")
        except (OSError, IndexError, asyncio.IncompleteReadError):
            pass
        await self.http.close()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * q // 100)) - 1]


async def play(url: str, pid: int, n: int, path: str, warmup: float, seconds: float) -> dict[str, Any]:
    """``n`` players on ``url`` for warmup + seconds; the figures of the timed window."""
    players = [Player(url, i, path) for i in range(n)]
    for i in range(0, n, 10):  # a class joins over a few seconds
        await asyncio.gather(*(p.join() for p in players[i:i + 10]))
    records: list[list[tuple[float, float, int]]] = [[] for _ in players]
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds

    async def loop(i: int) -> None:
        while time.perf_counter() < t_end:
            got = await players[i].frame()
            if got is not None and got[0] >= t_start and got[1] <= t_end:
                records[i].append(got)

    tasks = [asyncio.create_task(loop(i)) for i in range(n)]
    await asyncio.sleep(max(0.0, t_start - time.perf_counter()))
    http0 = process_cpu_seconds(pid)
    cpu0, own0, busy0, wall0 = cpu_seconds(pid), own_cpu_seconds(), busy_seconds(), time.perf_counter()
    await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
    cpu1, own1, busy1, wall = cpu_seconds(pid), own_cpu_seconds(), busy_seconds(), time.perf_counter() - wall0
    http1 = process_cpu_seconds(pid)
    await asyncio.gather(*tasks)
    await asyncio.gather(*(p.leave() for p in players))
    fps = [len(r) / seconds for r in records]
    latencies = [(end - start) * 1000 for r in records for start, end, _ in r]
    frames = len(latencies)
    server, loadgen = (cpu1 - cpu0) / wall, (own1 - own0) / wall
    return {
        "players": n, "path": path, "frames": frames,
        "frames_per_s_total": round(sum(fps), 1),
        "frames_per_s_per_player_min": round(min(fps), 1),
        "frames_per_s_per_player_median": round(statistics.median(fps), 1),
        "latency_ms_p50": round(percentile(latencies, 50) or 0, 1),
        "latency_ms_p99": round(percentile(latencies, 99) or 0, 1),
        "bytes_per_frame": int(statistics.median(b for r in records for _, _, b in r)) if frames else None,
        "errors": {k: sum(p.errors.get(k, 0) for p in players) for k in {k for p in players for k in p.errors}},
        "server_cpu_cores": round(server, 2),
        "loadgen_cpu_cores": round(loadgen, 2),
        "others_cpu_cores": round(max(0.0, (busy1 - busy0) / wall - server - loadgen), 2),
        "server_cpu_ms_per_frame": round((cpu1 - cpu0) * 1000 / frames, 3) if frames else None,
        # of which the server process itself (HTTP, WebSocket, scheduling); the rest: the workers
        "http_process_cpu_ms_per_frame": round((http1 - http0) * 1000 / frames, 3) if frames else None,
    }


def meets_target(result: dict[str, Any]) -> bool:
    return (result["frames_per_s_per_player_min"] >= TARGET_FPS and result["latency_ms_p99"] <= TARGET_P99_MS
            and not result["errors"])


async def capacity(url: str, pid: int, path: str, args: argparse.Namespace) -> tuple[int, list[dict[str, Any]]]:
    """The largest class (in steps of ``--step``) whose every player gets ≥ 10 frames/s with
    p99 ≤ 150 ms, and the sweep that found it."""
    sweep, best, n = [], 0, args.step
    while n <= args.max_players:
        result = await play(url, pid, n, path, args.warmup, args.seconds)
        sweep.append(result)
        if not meets_target(result):
            break
        best, n = n, n + args.step
    return best, sweep


# -- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, servers: dict[str, tuple[str, int]]) -> dict[str, Any]:
    paths = {"new": "stream", "baseline": "json"}
    cpu: dict[str, list[dict[str, Any]]] = {"new": [], "baseline": [], "new_json": []}
    for _ in range(args.rounds):  # alternating, so a noisy machine slows both alike
        for name in ("baseline", "new"):
            url, pid = servers[name]
            cpu[name].append(await play(url, pid, args.players, paths[name], args.warmup, args.seconds))
    url, pid = servers["new"]
    cpu["new_json"].append(await play(url, pid, args.players, "json", args.warmup, args.seconds))
    per_frame = {k: statistics.median(r["server_cpu_ms_per_frame"] for r in v) for k, v in cpu.items()}
    results: dict[str, Any] = {
        "server_cpu_ms_per_frame_ratio": round(per_frame["baseline"] / per_frame["new"], 2),
        "server_cpu_ms_per_frame": {k: round(v, 3) for k, v in per_frame.items()},
        "cpu": cpu,
    }
    if args.max_players:
        for name in ("baseline", "new"):
            url, pid = servers[name]
            best, sweep = await capacity(url, pid, paths[name], args)
            results["players_at_10fps" if name == "new" else "baseline_players_at_10fps"] = best
            results[f"capacity_{name}"] = sweep
        results["players_ratio"] = round(results["players_at_10fps"] / max(1, results["baseline_players_at_10fps"]), 2)
        totals = [r["frames_per_s_total"] for r in results["capacity_new"]]
        results["total_frames_per_s_never_falls"] = all(b >= 0.95 * a for a, b in zip(totals, totals[1:]))
    return results


def table(report: dict[str, Any]) -> str:
    lines = [f"{report['date']}  {report['machine']}", ""]
    head = f"{'server':<10}{'path':<8}{'players':>8}{'fps min/med':>14}{'total':>8}{'p50':>7}{'p99':>7}" \
           f"{'B/frame':>9}{'cpu ms/frame':>14}{'srv/gen/other cores':>21}{'errors':>8}"
    lines += [head, "-" * len(head)]
    rows = [(name, r) for name in ("baseline", "new", "new_json") for r in report["cpu"][name]]
    rows += [(name, r) for name in ("baseline", "new") for r in report.get(f"capacity_{name}", [])]
    for name, r in rows:
        lines.append(f"{name:<10}{r['path']:<8}{r['players']:>8}"
                     f"{r['frames_per_s_per_player_min']:>7} /{r['frames_per_s_per_player_median']:>5}"
                     f"{r['frames_per_s_total']:>8}{r['latency_ms_p50']:>7}{r['latency_ms_p99']:>7}"
                     f"{str(r['bytes_per_frame']):>9}{str(r['server_cpu_ms_per_frame']):>14}"
                     f"{r['server_cpu_cores']:>9}/{r['loadgen_cpu_cores']}/{r['others_cpu_cores']:<6}"
                     f"{sum(r['errors'].values()):>8}")
    lines.append("")
    for key in ("server_cpu_ms_per_frame_ratio", "players_at_10fps", "baseline_players_at_10fps", "players_ratio",
                "total_frames_per_s_never_falls"):
        if key in report:
            lines.append(f"{key}: {report[key]}")
    return "\n".join(lines)


def load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a CPU-per-frame comparison, here and in bench_scale.py."""
    parser.add_argument("--players", type=int, default=30, help="class size for the CPU figure (default 30)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the CPU figure (default 2)")
    parser.add_argument("--seconds", type=float, default=8, help="timed seconds per scenario (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per scenario (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"the baseline commit (default {BASELINE})")
    load_arguments(parser)
    parser.add_argument("--step", type=int, default=20, help="players added per capacity step (default 20)")
    parser.add_argument("--max-players", type=int, default=240, help="largest class tried; 0 = no capacity sweep")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for both servers (repeatable)")
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    started = time.perf_counter()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="baseline-") as folder:
        try:
            servers = {}
            for name, root in (("new", ROOT), ("baseline", export_baseline(args.baseline, Path(folder)))):
                proc, url = start_server(root, extra_env)
                procs.append(proc)
                servers[name] = (url, proc.pid)
            results = asyncio.run(run(args, servers))
        finally:
            for proc in procs:
                stop_server(proc)
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_info.machine(),
        "baseline": args.baseline,
        "server_env": extra_env,
        "players_for_cpu": args.players,
        "warmup_s": args.warmup,
        "seconds_per_scenario": args.seconds,
        "targets": {"server_cpu_ms_per_frame_ratio": ">= 3", "players_ratio": ">= 2.5",
                    "total_frames_per_s_never_falls": "true"},
        **results,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=1) if args.json else table(report))


if __name__ == "__main__":
    main()
