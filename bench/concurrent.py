"""CPU per request in process, under concurrency: ``python -m bench.concurrent ROUTE KEY...``.

Where ``bench._inprocess`` calls an app one request after another, this starts 16 tasks
that call an ASGI contender's app directly (``await app(scope, receive, send)``, on uvloop,
with a real redis-server), so auto-pipelined batches form as they do under wrk, and divides
the process's CPU time by the requests. No HTTP, no load generator and no second process
share the CPU, so it resolves a few µs where wrk on a shared machine resolves ~15 %.
Each contender runs in a process of its own (``KEY@SRC``: with another checkout's ``src``
first on its path, as in ``bench.paired``), the processes alternating, and the median of
their per-process minimums is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def _measure(module: str, route: str, tasks: int, requests: int, rounds: int) -> float:
    from bench._contenders import cookie_header
    from bench._inprocess import _asgi_call

    app = importlib.import_module(f"bench.apps.{module}").app
    cookie = cookie_header(await _asgi_call(app, "POST", "/seed", None))
    method = "POST" if route == "/write" else "GET"

    async def worker(count: int) -> None:
        for _ in range(count):
            await _asgi_call(app, method, route, cookie)

    await asyncio.gather(*(worker(requests // 4) for _ in range(tasks)))  # warm-up
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        await asyncio.gather(*(worker(requests) for _ in range(tasks)))
        best = min(best, (time.process_time() - started) / (tasks * requests) * 1e6)
    return best


def child(module: str, route: str, tasks: int, requests: int, rounds: int) -> None:
    """One contender in this process: prints its best CPU per request, in µs."""
    import uvloop

    from bench.apps import _common
    from tests.support.servers import RedisServer

    redis_server = RedisServer()
    redis_server.start()
    try:
        os.environ["BENCH_REDIS_URL"] = _common.REDIS_URL = redis_server.url
        print(uvloop.run(_measure(module, route, tasks, requests, rounds)))
    finally:
        redis_server.close()


def main(argv: list[str] | None = None) -> None:
    from bench._contenders import BY_KEY

    parser = argparse.ArgumentParser(prog="python -m bench.concurrent", description=__doc__)
    parser.add_argument("route", choices=["/read", "/write", "/plain"])
    parser.add_argument("contenders", nargs="+", help="KEY or KEY@SRC (ASGI contenders)")
    parser.add_argument("--processes", type=int, default=3, help="per contender")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--requests", type=int, default=500, help="per task and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.route, args.tasks, args.requests, args.rounds)
        return
    results: dict[str, list[float]] = {name: [] for name in args.contenders}
    for _ in range(args.processes):
        for name in args.contenders:
            key, _, src = name.partition("@")
            if BY_KEY[key].kind != "asgi":
                parser.error(f"{key} is no ASGI contender")
            path = os.pathsep.join(filter(None, [src, str(ROOT), os.environ.get("PYTHONPATH")]))
            env: dict[str, Any] = {**os.environ, "PYTHONPATH": path}
            command = [
                sys.executable, "-m", "bench.concurrent", args.route, name,
                "--child", BY_KEY[key].module, "--tasks", str(args.tasks),
                "--requests", str(args.requests), "--rounds", str(args.rounds),
            ]  # fmt: skip
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
            results[name].append(float(done.stdout.split()[-1]))
    print(f"{args.route}, {args.tasks} tasks, CPU per request in process (µs)")
    for name, values in results.items():
        each = ", ".join(f"{value:.1f}" for value in values)
        print(f"  {name}: median {statistics.median(values):.1f} ({each})")


if __name__ == "__main__":
    main()
