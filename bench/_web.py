"""Requests/s and p99 per route and contender: warm-up, then interleaved rounds.

Every round runs each route on every contender back to back (the order rotates between
rounds), so that a noisy neighbour on the machine hits every contender alike; ratios
are taken between runs of the same round and their median reported.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import httpx

from bench._contenders import CEILING, PEERS, AppServer
from bench._http import Load, LoadGenerator

ROUTES = (("GET", "/read"), ("POST", "/write"), ("GET", "/plain"))


def check_workload(server: AppServer, cookie: str | None) -> None:
    """Fails loudly if a contender does not serve the workload (so no figure is bogus)."""
    response = httpx.get(f"{server.url}/read", headers={"cookie": cookie or ""}, timeout=10)
    response.raise_for_status()
    body = json.loads(response.content)
    if body.get("name") != "Ada Lovelace" or str(body.get("user_id")) != "42":
        raise RuntimeError(f"{server.contender.key}: /read did not return the seeded session")
    response = httpx.post(f"{server.url}/write", headers={"cookie": cookie or ""}, timeout=10)
    response.raise_for_status()


def run_web(
    servers: list[AppServer],
    generator: LoadGenerator,
    *,
    rounds: int,
    duration: float,
    warmup: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    cookies = {}
    for server in servers:
        cookies[server.contender.key] = cookie = server.seed()
        check_workload(server, cookie)
    if warmup > 0:
        log(f"warm-up: {warmup:g} s per route and contender")
        for server in servers:
            for method, path in ROUTES:
                generator.run(server.port, method, path, cookies[server.contender.key], warmup)
    runs: dict[str, dict[str, list[Load]]] = {
        s.contender.key: {path: [] for _, path in ROUTES} for s in servers
    }
    for number in range(rounds):
        order = servers[number % len(servers) :] + servers[: number % len(servers)]
        for method, path in ROUTES:
            for server in order:
                key = server.contender.key
                load = generator.run(server.port, method, path, cookies[key], duration)
                runs[key][path].append(load)
            figures = (f"{key} {runs[key][path][-1].requests_per_second:.0f}" for key in runs)
            log(f"round {number + 1}/{rounds} {path}: " + ", ".join(figures))
    return summarize(runs)


def summarize(runs: dict[str, dict[str, list[Load]]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, routes in runs.items():
        table[key] = {
            path: {
                "rps": statistics.median(load.requests_per_second for load in loads),
                "p99_ms": statistics.median(load.p99_ms for load in loads),
                "errors": sum(load.errors for load in loads),
                "rounds": [asdict(load) for load in loads],
            }
            for path, loads in routes.items()
        }
    ratios: dict[str, Any] = {}
    for ours, peers in PEERS.items():
        if ours not in runs:
            continue
        for peer in peers:
            if peer not in runs:
                continue
            ratios.setdefault(ours, {})[peer] = {
                path: paired_ratio(runs[ours][path], runs[peer][path]) for path in runs[ours]
            }
    bars = {}
    for ours, ceiling in CEILING.items():
        if ours in ratios and ceiling in ratios[ours]:
            bars[f"{ours} /plain vs {ceiling}"] = (ratios[ours][ceiling]["/plain"], 0.95)
    # The bars on /read and /write: ASGI 3x starsessions, WSGI 1.5x Flask-Session.
    peer_bars = (("ours_asgi", "starsessions", 3.0), ("ours_wsgi", "flask_session", 1.5))
    for ours, peer, bar in peer_bars:
        if ours in ratios and peer in ratios[ours]:
            for path in ("/read", "/write"):
                bars[f"{ours} {path} vs {peer}"] = (ratios[ours][peer][path], bar)
    return {"table": table, "ratios": ratios, "bars": bars}


def paired_ratio(ours: list[Load], peer: list[Load]) -> float:
    """Median over rounds of ours/peer, each ratio taken within one round."""
    return statistics.median(
        a.requests_per_second / b.requests_per_second
        for a, b in zip(ours, peer, strict=True)
        if b.requests_per_second > 0
    )
