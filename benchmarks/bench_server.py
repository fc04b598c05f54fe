"""Server benchmark: what a classroom gets from one playground server, over HTTP like the page.

    python benchmarks/bench_server.py                       # starts a server itself, readable table
    python benchmarks/bench_server.py --json                # one JSON object with every figure
    python benchmarks/bench_server.py --students 30,60 --seconds 10
    python benchmarks/bench_server.py --url http://127.0.0.1:18080 --pid 12345   # a running server

Without ``--url`` it starts the server the way ``make run`` does (``python -m app`` with
HOST=127.0.0.1 and a free PORT, so ``app/__main__.py`` sets OPENBLAS_NUM_THREADS=1), waits for
/healthz, and stops it at the end. ``--server-env NAME=VALUE`` (repeatable) adds environment
variables to that server, to try a hypothesis (e.g. ``LOG_LEVEL=warning``).

Scenarios, each after a warm-up and for a fixed duration (``--seconds``, default 15):

- ``single``: one session with the default configuration, played like static/js/playground.js
  plays it: POST /api/sessions/{id}/step {epochs: 2, since: <last epoch>, grid: 50}, the next
  request only after the answer. Frames per second, latency, and bytes per frame on the wire:
  the response body as received with ``Accept-Encoding: gzip`` (its Content-Length, before
  decompression; headers not included) and its decoded size.
- ``students_N``: N sessions playing at once, each its own session and its own request loop
  (asyncio). Each student's step requests go over its own bare keep-alive HTTP/1.1 connection
  (``Connection``, a few lines on asyncio streams: httpx cost the load generator about as much CPU
  per request as the server spends); httpx only creates and deletes the sessions. Frames per
  second of each student (min, median, max over students) and request latency percentiles over
  every request that completed inside the timed window.
- ``idle_500``: server memory (VmRSS from /proc/<pid>/status) before and after creating
  ``--idle`` (default 500 = the default MAX_SESSIONS) sessions that then sit idle:
  ``server_rss_*`` of the server process alone, ``total_rss_*`` with its child processes (with
  ``WORKERS`` > 0 the trainers live in the worker processes).

The load generator runs on the same machine as the server (about 0.1 of a core for 30 students):
its own CPU share, the server's (from /proc, the server process together with its child
processes, i.e. the trainer workers) and everything else's are reported for every scenario.
``--nice N`` lowers the load generator's priority (the server is started before the renice, so
it keeps its own). Traffic goes only to the given URL (127.0.0.1 by default); every loop is
bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import gzip
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import machine_info  # beside this script

ROOT = Path(__file__).resolve().parents[1]

EPOCHS_PER_FRAME = 2  # static/js/playground.js: EPOCHS_PER_FRAME
GRID = 50  # app/config.py: DEFAULT_GRID, which the page uses
TARGETS = {
    "single.frames_per_s": (">=", 30),
    "single.bytes_per_frame_gzip": ("<=", 20_000),
    "students_30.frames_per_s_per_student_min": (">=", 10),
    "students_30.latency_ms_p99": ("<=", 100),
}
HEADERS = {"Accept-Encoding": "gzip", "Content-Type": "application/json"}


# -- the machine and the server process ---------------------------------------------------------


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        **machine_info.machine(),
        "httpx": httpx.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
    }


def proc_status(pid: int | None, key: str) -> float | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM) in MB, or None."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def proc_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process, its threads and its live child processes (the
    trainer workers), from /proc/<pid>/stat and its children's."""
    if pid is None:
        return None
    try:
        return _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in _children(pid))
    except (OSError, ValueError, IndexError):
        return None


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy (not idle or iowait) since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU share (1.0 = one core busy) of this process, of the server, and of everything else on
    the machine over a window: on a shared machine, ``others_cpu_cores`` says how noisy it was."""

    def __init__(self, pid: int | None):
        self.pid = pid

    def __enter__(self) -> "CpuMeter":
        self.t0, self.own0, self.srv0 = time.perf_counter(), own_cpu_seconds(), proc_cpu_seconds(self.pid)
        self.all0 = machine_busy_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        own, srv, everything = own_cpu_seconds(), proc_cpu_seconds(self.pid), machine_busy_seconds()
        self.loadgen_cpu = round((own - self.own0) / wall, 2)
        self.server_cpu = None if srv is None or self.srv0 is None else round((srv - self.srv0) / wall, 2)
        self.others_cpu = None
        if everything is not None and self.all0 is not None and self.server_cpu is not None:
            self.others_cpu = round(max(0.0, (everything - self.all0) / wall - self.loadgen_cpu - self.server_cpu), 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode} before answering /healthz")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("the server did not answer /healthz within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- statistics ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


# -- the scenarios ------------------------------------------------------------------------------


class Connection:
    """A minimal HTTP/1.1 keep-alive client for POSTs with a JSON body and a gzip answer."""

    def __init__(self, url: str):
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """The status and the raw (still compressed) body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Accept-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise ValueError("the answer has no Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class Student:
    """One playing page: a session and its step loop, as static/js/playground.js does it."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.connection = Connection(str(client.base_url))
        self.sid: str | None = None
        self.since = -1
        self.errors = 0
        self.error_kinds: dict[str, int] = {}

    def _error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    async def join(self) -> None:
        answer = await self.client.post("/api/sessions", headers=HEADERS, content=b"{}")
        answer.raise_for_status()
        payload = answer.json()
        self.sid, self.since = payload["id"], payload["frame"]["epoch"]

    async def frame(self) -> tuple[float, float, int, int] | None:
        """One step request: (start, end, bytes on the wire, decoded bytes), None on an error.

        Steps go over a bare keep-alive HTTP/1.1 connection of the student's own: httpx costs
        the load generator about as much CPU per request as the server spends, and on a 2-core
        machine that would measure the client, not the server."""
        body = json.dumps({"epochs": EPOCHS_PER_FRAME, "since": self.since, "grid": GRID}).encode()
        start = time.perf_counter()
        try:
            status, raw = await self.connection.post(f"/api/sessions/{self.sid}/step", body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self._error(type(exc).__name__)
            await self.connection.close()
            return None
        end = time.perf_counter()
        if status != 200:
            self._error(f"HTTP {status}")
            return None
        decoded = gzip.decompress(raw)
        self.since = json.loads(decoded)["epoch"]  # what the page keeps: its last epoch
        return start, end, len(raw), len(decoded)

    async def leave(self) -> None:
        await self.connection.close()
        if self.sid:
            try:
                await self.client.delete(f"/api/sessions/{self.sid}")
            except httpx.HTTPError:
                pass


async def play(students: list[Student], warmup: float, seconds: float, pid: int | None) -> dict[str, Any]:
    """Every student plays for warmup + seconds; only requests that start and end inside the timed
    window count (a request straddling an edge counts for neither frames nor latency)."""
    records: list[list[tuple[float, float, int, int]]] = [[] for _ in students]
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds

    async def loop(i: int, student: Student) -> None:
        while time.perf_counter() < t_end:
            got = await student.frame()
            if got is not None and got[0] >= t_start and got[1] <= t_end:
                records[i].append(got)
            if got is None:
                await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(loop(i, s)) for i, s in enumerate(students)]
    await asyncio.sleep(max(0.0, t_start - time.perf_counter()))
    with CpuMeter(pid) as cpu:
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        await asyncio.gather(*tasks)
    fps = [len(rec) / seconds for rec in records]
    latencies = [(end - start) * 1000 for rec in records for start, end, _, _ in rec]
    wire = [b for rec in records for _, _, b, _ in rec]
    decoded = [d for rec in records for _, _, _, d in rec]
    return {
        "students": len(students),
        "seconds": seconds,
        "frames": sum(len(rec) for rec in records),
        "frames_per_s_total": r(sum(fps)),
        "frames_per_s_per_student_min": r(min(fps)),
        "frames_per_s_per_student_median": r(statistics.median(fps)),
        "frames_per_s_per_student_max": r(max(fps)),
        "latency_ms_p50": r(percentile(latencies, 50)),
        "latency_ms_p90": r(percentile(latencies, 90)),
        "latency_ms_p99": r(percentile(latencies, 99)),
        "latency_ms_max": r(max(latencies) if latencies else None),
        "bytes_per_frame_gzip": int(statistics.median(wire)) if wire else None,
        "bytes_per_frame_gzip_max": max(wire) if wire else None,
        "bytes_per_frame_decoded": int(statistics.median(decoded)) if decoded else None,
        "errors": sum(s.errors for s in students),
        "error_kinds": {k: sum(s.error_kinds.get(k, 0) for s in students)
                        for k in sorted({k for s in students for k in s.error_kinds})},
        "loadgen_cpu_cores": cpu.loadgen_cpu,
        "server_cpu_cores": cpu.server_cpu,
        "others_cpu_cores": cpu.others_cpu,
        # what one frame costs the server, whoever else is busy: the figure to compare across runs
        "server_cpu_ms_per_frame": None if cpu.server_cpu is None or not latencies
        else round(cpu.server_cpu * seconds * 1000 / len(latencies), 2),
        "server_rss_mb": proc_status(pid, "VmRSS"),
    }


def client_for(url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(30.0))


async def scenario_students(url: str, n: int, warmup: float, seconds: float, pid: int | None) -> dict[str, Any]:
    async with client_for(url, n + 2) as client:
        students = [Student(client) for _ in range(n)]
        for i in range(0, n, 10):  # join ten at a time, as a class does over a few seconds
            await asyncio.gather(*(s.join() for s in students[i:i + 10]))
        try:
            result = await play(students, warmup, seconds, pid)
        finally:
            await asyncio.gather(*(s.leave() for s in students))
    if n == 1:
        result = {k: v for k, v in result.items() if not k.startswith("frames_per_s_per_student")}
        result["frames_per_s"] = result.pop("frames_per_s_total")
    return result


def total_rss_mb(pid: int | None) -> float | None:
    """RSS of the server and its child processes (the trainer workers hold the sessions)."""
    if pid is None:
        return None
    try:
        processes = [pid, *_children(pid)]
    except OSError:
        return None
    sizes = [proc_status(p, "VmRSS") for p in processes]
    return None if None in sizes else round(sum(sizes), 1)


async def scenario_idle(url: str, count: int, pid: int | None) -> dict[str, Any]:
    """RSS before and after creating ``count`` default sessions that then sit idle."""
    before = proc_status(pid, "VmRSS")
    total_before = total_rss_mb(pid)
    ids: list[str] = []
    t0 = time.perf_counter()
    async with client_for(url, 4) as client:
        async def create() -> None:
            answer = await client.post("/api/sessions", headers=HEADERS, content=b"{}")
            answer.raise_for_status()
            ids.append(answer.json()["id"])

        for i in range(0, count, 4):  # four at a time
            await asyncio.gather(*(create() for _ in range(min(4, count - i))))
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        after = proc_status(pid, "VmRSS")
        total_after = total_rss_mb(pid)
        # the server's cap drops the least recently used beyond MAX_SESSIONS: check who is still there
        alive = 0
        for sid in ids[:5] + ids[-5:]:
            alive += (await client.get(f"/api/sessions/{sid}")).status_code == 200
        for i in range(0, len(ids), 8):
            await asyncio.gather(*(client.delete(f"/api/sessions/{sid}") for sid in ids[i:i + 8]))
    return {
        "sessions": count,
        "create_ms_mean": r(elapsed / count * 1000, 2),
        "server_rss_mb_before": before,
        "server_rss_mb": after,
        "server_rss_kb_per_session": None if before is None or after is None else round((after - before) * 1024 / count, 1),
        "total_rss_mb_before": total_before,
        "total_rss_mb": total_after,
        "total_rss_kb_per_session": None if total_before is None or total_after is None
        else round((total_after - total_before) * 1024 / count, 1),
        "first_and_last_5_still_alive": alive,
    }


# -- the run ------------------------------------------------------------------------------------


def lookup(results: dict[str, Any], key: str) -> Any:
    section, name = key.split(".", 1)
    return results.get(section, {}).get(name)


def check_targets(results: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, (op, limit) in TARGETS.items():
        value = lookup(results, key)
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out[key] = {"target": f"{op} {limit}", "value": value, "met": met}
    return out


async def run(args: argparse.Namespace, url: str, pid: int | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:  # touch the app once
        (await client.post("/api/sessions", headers=HEADERS, content=b"{}")).raise_for_status()
    results["server_rss_mb_at_start"] = proc_status(pid, "VmRSS")
    if args.idle:  # first, on a server that has not grown from the other scenarios
        results[f"idle_{args.idle}"] = await scenario_idle(url, args.idle, pid)
    if not args.skip_single:
        results["single"] = await scenario_students(url, 1, args.warmup, args.seconds, pid)
    for n in args.students:
        results[f"students_{n}"] = await scenario_students(url, n, args.warmup, args.seconds, pid)
    results["server_rss_mb_peak"] = proc_status(pid, "VmHWM")
    return results


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"{report['date']}  {m['cpu']}, nproc {m['nproc']}, Python {m['python']}, "
             f"load {m['loadavg_at_start']}",
             f"server: {report['server']['url']} (started here: {report['server']['started_here']}, "
             f"pid {report['server']['pid']}, env {report['server']['env']}), loadgen nice {report['loadgen_nice']}",
             f"warm-up {report['warmup_s']} s, timed {report['seconds_per_scenario']} s per scenario", ""]
    head = f"{'scenario':<13}{'fps/student min/med':>21}{'fps total':>11}{'p50 ms':>8}{'p99 ms':>8}" \
           f"{'max ms':>8}{'B gzip':>8}{'B raw':>8}{'err':>5}{'cpu srv/gen/other':>19}{'RSS MB':>8}"
    lines += [head, "-" * len(head)]
    scenarios = {k: v for k, v in report.items() if k == "single" or k.startswith(("students_", "idle_"))}
    for name, s in scenarios.items():
        if "latency_ms_p50" not in s:
            continue
        if name == "single":
            per = f"{s['frames_per_s']:.1f}"
            tot = f"{s['frames_per_s']:.1f}"
        else:
            per = f"{s['frames_per_s_per_student_min']:.1f} / {s['frames_per_s_per_student_median']:.1f}"
            tot = f"{s['frames_per_s_total']:.1f}"
        cpu = f"{s['server_cpu_cores']} / {s['loadgen_cpu_cores']} / {s['others_cpu_cores']}"
        lines.append(f"{name:<13}{per:>21}{tot:>11}{s['latency_ms_p50']:>8}{s['latency_ms_p99']:>8}"
                     f"{s['latency_ms_max']:>8}{s['bytes_per_frame_gzip']:>8}{s['bytes_per_frame_decoded']:>8}"
                     f"{s['errors']:>5}{cpu:>19}"
                     f"{str(s['server_rss_mb']):>8}")
    for name, s in scenarios.items():
        if name.startswith("idle_"):
            lines.append(f"\n{name}: RSS {s['server_rss_mb_before']} MB -> {s['server_rss_mb']} MB with "
                         f"{s['sessions']} idle sessions ({s['server_rss_kb_per_session']} kB each), "
                         f"{s['create_ms_mean']} ms per POST /api/sessions")
    lines.append(f"server RSS peak (VmHWM): {report.get('server_rss_mb_peak')} MB\n")
    for key, t in report["targets"].items():
        met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"{key:<45} {str(t['value']):>9}  target {t['target']:<9} {met}")
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (only 127.0.0.1 / localhost); default: start one")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for RSS and CPU")
    parser.add_argument("--students", default="30", help="class sizes, comma-separated (default 30)")
    parser.add_argument("--seconds", type=float, default=15, help="timed seconds per scenario (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per scenario (default 3)")
    parser.add_argument("--idle", type=int, default=500, help="idle sessions for the memory figure; 0 = skip")
    parser.add_argument("--skip-single", action="store_true", help="skip the one-session scenario")
    parser.add_argument("--nice", type=int, default=0, help="lower the load generator's priority by N")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the server this script starts (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    args.students = [int(n) for n in args.students.split(",") if n.strip()]
    if args.url and httpx.URL(args.url).host not in ("127.0.0.1", "localhost"):
        parser.error("--url must point at 127.0.0.1 or localhost (loopback only)")
    extra_env = dict(item.split("=", 1) for item in args.server_env)

    proc = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        proc, url = start_server(extra_env)
        pid = proc.pid
    if args.nice:
        os.nice(args.nice)  # after the server started, so it keeps the normal priority
    started = time.perf_counter()
    host = machine()
    try:
        results = asyncio.run(run(args, url, pid))
    finally:
        if proc is not None:
            stop_server(proc)
    notes = [
        "the load generator runs on the same machine and competes with the server for the CPU: "
        "see loadgen_cpu_cores, server_cpu_cores and others_cpu_cores (everything else on the machine; "
        "1.0 = one core busy) of each scenario",
        "bytes_per_frame_gzip: the response body as received with Accept-Encoding: gzip (headers not counted)",
        "server_cpu_cores includes the server's child processes (trainer workers); server_rss_mb "
        "and idle_*.server_rss_mb are the server process only, without its workers",
    ]
    if pid is None:
        notes.append("no --pid: server RSS and CPU are null")
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": host,
        "server": {"url": url, "started_here": proc is not None, "pid": pid,
                   "env": extra_env if proc is not None else None},
        "loadgen_nice": args.nice,
        "warmup_s": args.warmup,
        "seconds_per_scenario": args.seconds,
        "wall_s": round(time.perf_counter() - started, 1),
        **results,
        "targets": check_targets(results),
        "notes": notes,
    }
    report["targets_met"] = all(t["met"] for t in report["targets"].values() if t["met"] is not None)
    print(json.dumps(report, indent=1) if args.json else table(report))


if __name__ == "__main__":
    main()
