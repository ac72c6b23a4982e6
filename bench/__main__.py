"""``python -m bench``: the whole suite, or ``--smoke`` for a quick run that checks it works.

Starts its own redis-server on a free port and one server per contender, measures, and
writes the figures (Markdown and JSON). See ``bench/README`` section in RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._contenders import BY_KEY, CONTENDERS, start_all
from bench._delete_all import run_delete_all
from bench._http import LoadGenerator
from bench._inprocess import run_inprocess
from bench._lost import run_lost
from bench._memory import run_memory
from bench._redis_cpu import run_redis_cpu
from bench._report import render, update_readme
from bench._store import run_store
from bench._web import run_web
from tests.support.servers import RedisServer, redis_server_binary

HERE = Path(__file__).resolve().parent


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, ~1 s per route")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per route, once")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=10_000, help="for the memory figures")
    parser.add_argument("--lost", type=int, default=50, help="concurrent requests, one session")
    parser.add_argument("--delete-sizes", default="1000,10000,100000")
    parser.add_argument("--store-concurrency", type=int, default=32, help="tasks (the bar's 32)")
    parser.add_argument("--store-duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--redis-cpu-calls", type=int, default=3000, help="per kind and round")
    parser.add_argument("--only", default="web,inprocess,store,redis_cpu,memory,lost,delete_all")
    parser.add_argument("--inprocess-requests", type=int, default=3000)
    parser.add_argument("--contenders", default=",".join(c.key for c in CONTENDERS))
    parser.add_argument(
        "--render", type=Path, metavar="JSON",
        help="measure nothing: rewrite RESULTS.md and the README from a results.json",
    )  # fmt: skip
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load generator")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--readme", default=str(HERE.parent / "README.md"),
        help="the README whose Benchmarks table is rewritten ('' = none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:
        # wrk counts whole seconds only; half a second per run keeps the smoke run in
        # CI's budget, so it uses the Python generator (wrk's parsing has its own test).
        args.rounds, args.duration, args.warmup, args.no_wrk = 1, 0.5, 0.0, True
        args.sessions, args.lost, args.delete_sizes = 100, 20, "100,1000"
        args.store_duration, args.inprocess_requests = 0.2, 50
        args.redis_cpu_calls = 100
    return args


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kib = 0
    versions = {}
    for package in ("redis", "hiredis", "starlette", "uvicorn", "uvloop", "httptools",
                    "gunicorn", "flask", "starsessions", "Flask-Session",
                    "redis-session-sets"):  # fmt: skip
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "-"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "loadavg_start": os.getloadavg(),
        "versions": versions,
    }


def write(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if args.output:
        notes = HERE / "NOTES.md"  # the hand-written analysis, kept beside the figures
        markdown = render(results, notes.read_text(encoding="utf-8") if notes.exists() else "")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown, encoding="utf-8")
    if args.json and not args.render:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if args.readme and Path(args.readme).is_file() and "web" in results:
        update_readme(Path(args.readme), results)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    if args.render:
        stored: dict[str, Any] = json.loads(args.render.read_text(encoding="utf-8"))
        write(args, stored)
        return stored
    sections = set(args.only.split(","))
    contenders = [BY_KEY[key] for key in args.contenders.split(",")]
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {"machine": machine(), "settings": {}}
    redis_server = RedisServer()
    redis_server.start()
    version = subprocess.run(
        [redis_server_binary(), "--version"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    results["machine"]["redis"] = version.split(" sha=")[0] or "redis-server"
    generator = LoadGenerator(args.connections, prefer_wrk=not args.no_wrk)
    results["settings"] = {
        "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
        "connections": args.connections, "generator": generator.name,
        "sessions": args.sessions, "lost_n": args.lost,
        "store_concurrency": args.store_concurrency, "smoke": args.smoke,
    }  # fmt: skip
    try:
        if sections & {"web", "memory", "lost"}:
            log("starting the contenders")
            # WSGI apps get a second, threaded server for the lost-update bursts (one
            # sync worker never overlaps requests); all start at once to save time.
            threaded = [c for c in contenders if c.kind == "wsgi"] if "lost" in sections else []
            servers = start_all(contenders + threaded, redis_server.url, threaded=len(threaded))
            plain, concurrent = servers[: len(contenders)], servers[: len(contenders)]
            if threaded:
                concurrent = [s for s in plain if s.contender.kind == "asgi"]
                concurrent += servers[len(contenders) :]
            try:
                if "web" in sections:
                    results["web"] = run_web(
                        plain, generator, rounds=args.rounds, duration=args.duration,
                        warmup=args.warmup, log=log,
                    )  # fmt: skip
                if "memory" in sections:
                    log(f"memory: {args.sessions} sessions per contender and case")
                    results["memory"] = run_memory(plain, redis_server.url, args.sessions)
                if "lost" in sections:
                    log(f"lost updates: {args.lost} concurrent requests on one session")
                    results["lost"] = run_lost(concurrent, args.lost)
            finally:
                for server in servers:
                    server.stop()
        if "inprocess" in sections:
            log("in-process CPU per request")
            results["inprocess"] = run_inprocess(
                contenders, redis_server.url, requests=args.inprocess_requests,
                rounds=max(1, min(args.rounds, 3)),
            )  # fmt: skip
        if "store" in sections:
            log("store level")
            results["store"] = run_store(
                redis_server.url, concurrency=args.store_concurrency,
                duration=args.store_duration, rounds=args.rounds,
            )  # fmt: skip
        if "redis_cpu" in sections:
            log("Redis CPU per write (INFO commandstats)")
            results["redis_cpu"] = run_redis_cpu(
                redis_server.url, calls=args.redis_cpu_calls, rounds=max(3, args.rounds)
            )
        if "delete_all" in sections:
            sizes = [int(size) for size in args.delete_sizes.split(",")]
            log(f"delete_all over {sizes}")
            results["delete_all"] = run_delete_all(redis_server.url, sizes)
    finally:
        redis_server.close()
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["machine"]["elapsed_s"] = round(time.monotonic() - started)
    write(args, results)
    log(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
