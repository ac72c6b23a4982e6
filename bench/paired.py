"""Paired runs of one route: ``python -m bench.paired ROUTE KEY[@SRC] KEY[@SRC] ...``.

Starts a redis-server and one server per contender (as ``make bench`` does), then runs
short wrk runs of the route on each in turn (the order reversed every other round), and
prints, against the first contender, the median of the per-round ratios of requests/s
and of the server processes' CPU time per request (the worker and its parent).
The CPU figure is the steadier one on a shared machine: a neighbour slows every
contender's clock alike, but a request costs what it costs (Linux: read from /proc).
``KEY@SRC`` runs a contender
with another checkout's ``src`` first on its path: the same app before and after a
change, in the same run, e.g. ``ours_asgi@/tmp/base/src ours_asgi``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from bench._contenders import BY_KEY, AppServer
from bench._http import LoadGenerator
from tests.support.servers import RedisServer


def _stat(pid: int) -> list[str]:
    # The fields after the command name (which may hold spaces), from field 3 (state) on.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def server_cpu(server: AppServer) -> float:
    """CPU seconds of the server process and its children (gunicorn's worker) so far."""
    pid = server.process.pid
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:  # field 4: the parent's pid
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    ticks = 0
    for each in pids:
        fields = _stat(each)
        ticks += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def start(name: str, redis_url: str) -> AppServer:
    key, _, src = name.partition("@")
    saved = os.environ.get("PYTHONPATH")
    if src:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, saved]))
    try:
        return AppServer(BY_KEY[key], redis_url)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def quartiles(values: list[float]) -> str:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"{q2:.3f} (quartiles {q1:.3f}-{q3:.3f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.paired", description=__doc__)
    parser.add_argument("route", choices=["/read", "/write", "/plain"])
    parser.add_argument("contenders", nargs="+", help="KEY or KEY@SRC; the first is the reference")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=1, help="per run (wrk: whole seconds)")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    redis_server = RedisServer()
    redis_server.start()
    servers: dict[str, AppServer] = {}
    try:
        for name in args.contenders:
            servers[name] = start(name, redis_server.url)
        for server in servers.values():
            server.wait_ready()
        seeded = args.route != "/plain"
        cookies = {name: server.seed() if seeded else None for name, server in servers.items()}
        generator = LoadGenerator(args.connections)
        method = "POST" if args.route == "/write" else "GET"
        for name, server in servers.items():  # warm-up
            generator.run(server.port, method, args.route, cookies[name], 1)
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        order = list(servers)
        for number in range(args.rounds):
            for name in order if number % 2 == 0 else order[::-1]:
                server = servers[name]
                before = server_cpu(server)
                load = generator.run(server.port, method, args.route, cookies[name], args.seconds)
                rates[name].append(load.requests_per_second)
                cpu[name].append((server_cpu(server) - before) * 1e6 / max(load.requests, 1))
        reference = order[0]
        print(f"{args.route}, {args.rounds} rounds of {args.seconds} s ({generator.name})")
        for name in order:
            by_rate = [a / b for a, b in zip(rates[name], rates[reference], strict=True)]
            by_cpu = [b / a for a, b in zip(cpu[name], cpu[reference], strict=True)]
            print(
                f"  {name}: {statistics.median(rates[name]):,.0f} req/s, server CPU "
                f"{statistics.median(cpu[name]):.1f} µs/req; ÷ {reference}: req/s "
                f"{quartiles(by_rate)}, by CPU {quartiles(by_cpu)}"
            )
    finally:
        for server in servers.values():
            server.stop()
        redis_server.close()


if __name__ == "__main__":
    main()
