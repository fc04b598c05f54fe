"""Scale-out benchmark: the Redis session store against the embedded one, and more app processes.

    python benchmarks/bench_scale.py            # readable table (about 4 minutes)
    python benchmarks/bench_scale.py --json     # one JSON object with every figure

It starts its own redis-server (a temporary folder, a free port, append-only file as in
compose.yaml) and app servers the way ``make run`` does (``python -m app``), and reuses the load
generator of bench_server.py: each player is one playing page on the frame stream, from its own
loopback address. Scenarios:

- ``cpu``: ``--players`` players on the embedded store (default WORKERS: one worker process a
  core) and on the Redis store with as many app processes (``WORKERS`` the same), alternating
  (``--rounds``): CPU time per frame of the app (its process and children) and of the app plus
  redis-server. ``redis_cpu_ratio`` = Redis ÷ embedded, medians. Same cores on both sides: one
  app process serving every player alone spends much of its CPU on its threads' contention for
  the interpreter lock (2.3 ms a frame for 30 players against 0.9 ms for one), which says how many
  processes to run, not what the shared store costs.
- ``processes``: 60 players on the Redis store with 1 and with 2 app processes
  (``WORKERS=2`` with ``REDIS_URL``: uvicorn's workers share the port): frames/s in all.
- ``per_frame``: one player, ``--frames`` steps over the stream: Redis commands, bytes in and
  out, round trips and redis-server CPU per frame (INFO deltas), and the memory a session takes
  in Redis.

Traffic goes to loopback only; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

import bench_server  # beside this script: servers, players, CPU from /proc
from app.settings import default_workers
import machine_info

ROOT = bench_server.ROOT
CPU_GROUPS: dict[int, list[int]] = {}  # a key given to bench_server.play -> the pids it measures


def _cpu_of_group(key: int) -> float:
    return sum(_process_cpu(pid) for pid in CPU_GROUPS[key])


_process_cpu = bench_server.cpu_seconds
bench_server.cpu_seconds = _cpu_of_group  # play() measures the app, or the app and redis-server


def start_redis(folder: Path) -> tuple[subprocess.Popen, int]:
    port = bench_server.free_port()
    server = shutil.which("redis-server", path="/usr/sbin:/usr/bin") or "redis-server"
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--appendonly", "yes", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def group(*pids: int) -> int:
    key = len(CPU_GROUPS) + 1
    CPU_GROUPS[key] = list(pids)
    return key


async def per_frame(url: str, redis_port: int, frames: int) -> dict[str, Any]:
    """Redis's work for one player's frames (the stream's steps), from INFO before and after."""
    client = redis.Redis(port=redis_port)
    player = bench_server.Player(url, 0, "stream")
    await player.join()
    await player.frame()  # the trainer starts: not a steady frame
    before = client.info("all")
    for _ in range(frames):
        await player.frame()
    after = client.info("all")
    history_key = f"pg:{{{player.sid}}}:h"
    memory = (client.memory_usage(f"pg:{{{player.sid}}}") or 0) + (client.memory_usage(history_key) or 0)
    epochs = player.since
    await player.leave()

    def delta(name: str) -> float:
        return (after[name] - before[name]) / frames

    calls = {k.removeprefix("cmdstat_"): (after[k]["calls"] - before.get(k, {"calls": 0})["calls"]) / frames
             for k in after if k.startswith("cmdstat_")}
    return {
        "commands_per_frame": round(delta("total_commands_processed"), 2),
        "calls_per_frame": {k: round(v, 2) for k, v in calls.items() if v},
        "bytes_in_per_frame": round(delta("total_net_input_bytes")),
        "bytes_out_per_frame": round(delta("total_net_output_bytes")),
        "redis_cpu_ms_per_frame": round((delta("used_cpu_user") + delta("used_cpu_sys")) * 1000, 3),
        "session_bytes_in_redis": memory,
        "session_epochs": epochs,
    }


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    redis_proc, redis_port = start_redis(folder)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    servers: list[subprocess.Popen] = []
    try:
        embedded, embedded_url = bench_server.start_server(ROOT, {})
        shared, shared_url = bench_server.start_server(ROOT, {"REDIS_URL": redis_url, "WORKERS": str(default_workers())})
        servers += [embedded, shared]
        keys = {"embedded": group(embedded.pid), "redis_app": group(shared.pid),
                "redis_app_and_redis": group(shared.pid, redis_proc.pid)}
        cpu: dict[str, list[dict[str, Any]]] = {"embedded": [], "redis": []}
        for _ in range(args.rounds):  # alternating, so a noisy machine slows both alike
            cpu["embedded"].append(await bench_server.play(embedded_url, keys["embedded"], args.players, "stream",
                                                           args.warmup, args.seconds))
            result = await bench_server.play(shared_url, keys["redis_app_and_redis"], args.players, "stream",
                                             args.warmup, args.seconds)
            cpu["redis"].append(result)
        frames = await per_frame(shared_url, redis_port, args.frames)
        for proc in servers:
            bench_server.stop_server(proc)
        servers = []
        processes: dict[str, dict[str, Any]] = {}
        for count in (1, 2):
            proc, url = bench_server.start_server(ROOT, {"REDIS_URL": redis_url, "WORKERS": str(count)})
            servers.append(proc)
            processes[str(count)] = await bench_server.play(url, group(proc.pid, redis_proc.pid), args.class_size,
                                                            "stream", args.warmup, args.seconds)
            bench_server.stop_server(proc)
            servers.remove(proc)
    finally:
        for proc in servers:
            bench_server.stop_server(proc)
        redis_proc.terminate()
        redis_proc.wait(10)
    embedded_ms = statistics.median(r["server_cpu_ms_per_frame"] for r in cpu["embedded"])
    redis_ms = statistics.median(r["server_cpu_ms_per_frame"] for r in cpu["redis"])
    return {
        "machine": machine_info.machine(),
        "cpu_ms_per_frame": {"embedded": round(embedded_ms, 3), "redis_app_and_redis": round(redis_ms, 3)},
        "redis_cpu_ratio": round(redis_ms / embedded_ms, 2),
        "cpu": cpu,
        "processes": processes,
        "frames_per_s_2_vs_1_process": round(processes["2"]["frames_per_s_total"]
                                             / processes["1"]["frames_per_s_total"], 2),
        "per_frame": frames,
    }


def table(report: dict[str, Any]) -> str:
    cpu, frames = report["cpu_ms_per_frame"], report["per_frame"]
    lines = [
        f"CPU per frame: embedded {cpu['embedded']} ms, Redis store (app + redis-server) "
        f"{cpu['redis_app_and_redis']} ms: ratio {report['redis_cpu_ratio']}",
        *(f"{n} app process(es), {r['players']} players: {r['frames_per_s_total']} frames/s in all, "
          f"min {r['frames_per_s_per_player_min']}/s a player, p99 {r['latency_ms_p99']} ms, errors {r['errors']}"
          for n, r in report["processes"].items()),
        f"Redis per frame: {frames['commands_per_frame']} commands {frames['calls_per_frame']}, "
        f"{frames['bytes_in_per_frame']} B in, {frames['bytes_out_per_frame']} B out, "
        f"{frames['redis_cpu_ms_per_frame']} ms of redis-server CPU",
        f"a session after {frames['session_epochs']} epochs: {frames['session_bytes_in_redis']} B in Redis",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_server.load_arguments(parser)
    parser.add_argument("--class-size", type=int, default=60, help="class size for 1 and 2 processes (default 60)")
    parser.add_argument("--frames", type=int, default=200, help="frames of the per-frame figure (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        report = asyncio.run(run(args, Path(folder)))
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
