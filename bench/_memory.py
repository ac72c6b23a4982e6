"""Redis memory per session, for each Redis-backed contender, through its own app.

The sessions are created by POSTing /seed without a cookie (each makes a new session
with the five fields), so each contender stores exactly what it stores in production.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from bench._contenders import AppServer
from bench._http import request_bytes, send_all


def _used_memory(client: redis.Redis) -> int:
    time.sleep(0.1)  # let the server settle its client buffers
    return int(client.info("memory")["used_memory"])


def measure(
    server: AppServer, client: redis.Redis, sessions: int, one_user: bool
) -> dict[str, Any]:
    # Warm-up: the app opens its pool of Redis connections (each costs the server a
    # client structure) and loads its scripts before the "before" figure is taken.
    warm = [request_bytes("POST", "/seed", server.port) for _ in range(min(64, sessions // 4))]
    asyncio.run(send_all(server.port, warm, concurrency=16))
    client.flushall()
    keys_before = client.dbsize()
    before = _used_memory(client)
    requests = [
        request_bytes("POST", f"/seed?user={42 if one_user else 1000 + n}", server.port)
        for n in range(sessions)
    ]
    answers = asyncio.run(send_all(server.port, requests, concurrency=16))
    failed = sum(answer.status >= 400 for answer in answers)
    if failed or len(answers) != sessions:
        raise RuntimeError(f"{server.contender.key}: {failed} of {sessions} seeds failed")
    after = _used_memory(client)
    return {
        "bytes_per_session": (after - before) / sessions,
        "keys": client.dbsize() - keys_before,
        "sample": sample_keys(client),
    }


def sample_keys(client: redis.Redis) -> list[dict[str, Any]]:
    """MEMORY USAGE and encoding of one key of each type (for the analysis)."""
    seen: dict[str, dict[str, Any]] = {}
    for raw in client.scan_iter(count=1000):
        kind = text(client.type(raw))
        size = client.memory_usage(raw, samples=0) or 0
        if kind in seen and seen[kind]["memory_usage"] >= size:
            continue
        seen[kind] = {
            "key": text(raw),
            "type": kind,
            "encoding": text(client.object("encoding", raw)),
            "memory_usage": size,
            "length": client.hlen(raw)
            if kind == "hash"
            else client.zcard(raw)
            if kind == "zset"
            else client.strlen(raw),
        }
        if len(seen) >= 3:
            break
    return list(seen.values())


def text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def run_memory(servers: list[AppServer], url: str, sessions: int) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    results: dict[str, Any] = {}
    for server in servers:
        if not server.contender.uses_redis:
            continue
        results[server.contender.key] = {
            "own_user": measure(server, client, sessions, one_user=False),
            "one_user": measure(server, client, sessions, one_user=True),
        }
    client.flushall()
    client.close()
    return results
