"""Abuse benchmark: what one hostile client costs a class of well-behaved players.

    python benchmarks/bench_abuse.py               # readable table (about 2 minutes)
    python benchmarks/bench_abuse.py --json        # one JSON object
    python benchmarks/bench_abuse.py --players 30 --seconds 10

It starts this tree's server as ``make run`` does (``python -m app``, 127.0.0.1, default
WORKERS). A class of ``--players`` players (bench_server.py's players: each its own session from
its own loopback address, playing the default network over the frame stream as the page does)
plays without a pause through every phase; this script's process is their load generator. In
each phase but the first, one abusive client, a separate process at nice 19 from an address of
its own (so that it measures what its requests do to the server, not what its own CPU takes
from a 2-core machine), does one of issue 8's abuses for the whole phase:

- ``huge_bodies``: ``POST /api/sessions`` with a 10 MB body of 800,000 unknown keys, one after
  the other (bounded by the server's body limit once it has one; without it, each costs the
  server seconds of CPU and gigabytes of memory);
- ``expensive_steps``: as many sessions as the server lets one client hold, on the most
  expensive allowed configuration (plane, 90 % training points, six layers of 8, all nine
  features, batch 1; random search and SGD alternately), each with two loops of
  ``POST .../step {"epochs": 100}``, and 60 concurrent ``GET /api/sessions/{id}`` on one of them;
- ``evict``: 500 ``POST /api/sessions`` and 500 ``GET /`` as fast as four connections go.

For each phase: the players' frames/s (min and median), p99 step latency, how many lost their
session (a 404), the abuser's answers by status, and the server CPU the abuser cost
(``abuser_cpu_cores``: the phase's server CPU less what the players' frames cost in the quiet
phase; unlike latencies, it holds on a busy machine). Target: p99 at most 2× the quiet phase's,
no lost session. Traffic goes to loopback only; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

import bench_server  # beside this script
import machine_info
from engine.datasets import FEATURES

ABUSES = ("huge_bodies", "expensive_steps", "evict")
ABUSER_ADDRESS = "127.0.9.9"
HEAVY = {"dataset": "plane", "train": 90, "layers": [8] * 6, "batch": 1, "features": list(FEATURES)}


# -- the abuser (its own process) -----------------------------------------------------------------


async def abuse(kind: str, url: str, seconds: float) -> dict[str, int]:
    """Get ready (the body, the sessions), say so on stdout, then do ``kind`` against ``url`` for
    ``seconds``; the answers' statuses, counted."""
    ends = time.monotonic() + 3600
    statuses: dict[str, int] = {}

    def ready() -> None:
        nonlocal ends
        ends = time.monotonic() + seconds
        print("ready", flush=True)

    transport = httpx.AsyncHTTPTransport(local_address=ABUSER_ADDRESS)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=httpx.Timeout(seconds + 5),
                                 limits=httpx.Limits(max_connections=100)) as client:

        async def send(method: str, path: str, **kwargs: Any) -> httpx.Response | None:
            try:
                async with client.stream(method, path, **kwargs) as answer:
                    async for _ in answer.aiter_raw():  # read and drop (a 422 may be huge)
                        pass
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                return None
            statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
            return answer

        async def loop(method: str, path: str, limit: int, **kwargs: Any) -> None:
            for _ in range(limit):
                if time.monotonic() >= ends:
                    return
                await send(method, path, **kwargs)

        if kind == "huge_bodies":
            body = json.dumps({f"k{i}": 1 for i in range(800_000)}).encode()
            ready()
            await loop("POST", "/api/sessions", 1000, content=body, headers={"content-type": "application/json"})
        elif kind == "expensive_steps":
            sids = []
            for i in range(20):
                answer = await client.post("/api/sessions", json={
                    **HEAVY, "optimizer": "random_search" if i % 2 == 0 else "sgd"})
                if answer.status_code == 201:
                    sids.append(answer.json()["id"])
            ready()
            loops = [loop("POST", f"/api/sessions/{sid}/step", 100_000, json={"epochs": 100})
                     for sid in sids for _ in range(2)]
            loops += [loop("GET", f"/api/sessions/{sids[0]}", 100_000) for _ in range(60)] if sids else []
            await asyncio.gather(*loops)
        else:
            ready()
            await asyncio.gather(*[loop("POST", "/api/sessions", 125, json={}) for _ in range(4)],
                                 *[loop("GET", f"/?seed={k}", 125) for k in range(4)])
    return statuses


def start_abuser(kind: str, url: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(["nice", "-n", "19", sys.executable, __file__, "--abuser", kind, "--url", url,
                             "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)


# -- the class -------------------------------------------------------------------------------------


def window(records: list[list[tuple[float, float, int]]], t0: float, t1: float) -> dict[str, Any]:
    inside = [[r for r in rec if r[0] >= t0 and r[1] <= t1] for rec in records]
    fps = [len(r) / (t1 - t0) for r in inside]
    latencies = [(end - start) * 1000 for r in inside for start, end, _ in r]
    return {
        "frames_per_s_per_player_min": round(min(fps), 1),
        "frames_per_s_per_player_median": round(statistics.median(fps), 1),
        "frames_per_s_total": round(sum(fps), 1),
        "latency_ms_p50": round(bench_server.percentile(latencies, 50) or 0, 1),
        "latency_ms_p99": round(bench_server.percentile(latencies, 99) or 0, 1),
    }


async def run(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    players = [bench_server.Player(url, i, "stream") for i in range(args.players)]
    for i in range(0, len(players), 10):
        await asyncio.gather(*(p.join() for p in players[i:i + 10]))
    records: list[list[tuple[float, float, int]]] = [[] for _ in players]
    playing = True

    async def loop(i: int) -> None:
        while playing:
            got = await players[i].frame()
            if got is not None:
                records[i].append(got)

    tasks = [asyncio.create_task(loop(i)) for i in range(len(players))]
    phases: dict[str, Any] = {}
    for kind in ("quiet", *args.abuses):
        abuser = None if kind == "quiet" else start_abuser(kind, url, args.warmup + args.seconds)
        if abuser is not None:  # its preparations (a body, sessions) are not the abuse
            await asyncio.to_thread(abuser.stdout.readline)
        await asyncio.sleep(args.warmup)
        lost_before = [p.errors.get("404", 0) for p in players]
        cpu0, t0 = bench_server.cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(args.seconds)
        cpu1, t1 = bench_server.cpu_seconds(pid), time.perf_counter()
        phase = window(records, t0, t1)
        phase["server_cpu_cores"] = round((cpu1 - cpu0) / (t1 - t0), 2)
        phase["players_who_lost_their_session"] = sum(p.errors.get("404", 0) > before
                                                      for p, before in zip(players, lost_before))
        if abuser is not None:
            try:
                out, _ = await asyncio.to_thread(abuser.communicate, timeout=60)
                phase["abuser_answers"] = json.loads(out or "{}")
            except subprocess.TimeoutExpired:
                abuser.kill()
                phase["abuser_answers"] = "did not finish"
        phases[kind] = phase
        await asyncio.sleep(1)  # let the server settle between phases
    playing = False
    await asyncio.gather(*tasks)
    await asyncio.gather(*(p.leave() for p in players))
    quiet = phases["quiet"]
    per_frame = quiet["server_cpu_cores"] / quiet["frames_per_s_total"] if quiet["frames_per_s_total"] else 0.0
    for kind in args.abuses:
        phase = phases[kind]
        phase["p99_ratio_to_quiet"] = round(phase["latency_ms_p99"] / quiet["latency_ms_p99"], 2) \
            if quiet["latency_ms_p99"] else None
        # the server's CPU beyond what the players' frames cost in the quiet phase: the abuser's
        # share, a figure that holds on a busy machine, where the latencies do not
        phase["abuser_cpu_cores"] = round(max(0.0, phase["server_cpu_cores"] - phase["frames_per_s_total"] * per_frame), 2)
    return phases


def table(report: dict[str, Any]) -> str:
    lines = [f"{report['date']}  {report['machine']}  {report['players']} players", ""]
    head = f"{'phase':<17}{'fps min/med':>14}{'total':>8}{'p50':>7}{'p99':>8}{'p99 ×':>7}{'lost':>6}{'srv cores':>10}" \
           f"{'abuser':>8}  abuser's answers"
    lines += [head, "-" * len(head)]
    for kind, p in report["phases"].items():
        lines.append(f"{kind:<17}{p['frames_per_s_per_player_min']:>7} /{p['frames_per_s_per_player_median']:>5}"
                     f"{p['frames_per_s_total']:>8}{p['latency_ms_p50']:>7}{p['latency_ms_p99']:>8}"
                     f"{str(p.get('p99_ratio_to_quiet', '')):>7}{p['players_who_lost_their_session']:>6}"
                     f"{p['server_cpu_cores']:>10}{str(p.get('abuser_cpu_cores', '')):>8}  {p.get('abuser_answers', '')}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=30, help="well-behaved players (default 30)")
    parser.add_argument("--seconds", type=float, default=10, help="timed seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each phase's window (default 2)")
    parser.add_argument("--abuses", default=",".join(ABUSES), help=f"comma-separated, from {', '.join(ABUSES)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--abuser", choices=ABUSES, help=argparse.SUPPRESS)  # the abuser's own process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.abuser:
        print(json.dumps(asyncio.run(abuse(args.abuser, args.url, args.seconds))))
        return
    args.abuses = [a for a in args.abuses.split(",") if a]
    proc, url = bench_server.start_server(bench_server.ROOT, {})
    started = time.perf_counter()
    try:
        phases = asyncio.run(run(url, proc.pid, args))
    finally:
        bench_server.stop_server(proc)
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_info.machine(),
        "players": args.players,
        "warmup_s": args.warmup,
        "seconds_per_phase": args.seconds,
        "phases": phases,
        "target": "p99_ratio_to_quiet <= 2 and players_who_lost_their_session == 0 in every phase",
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=1) if args.json else table(report))


if __name__ == "__main__":
    main()
