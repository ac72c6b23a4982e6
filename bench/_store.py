"""Store level: AsyncStore calls against raw redis-py sending the one equivalent command,
on the same client (so the same connection pool) and the same concurrency: operations/s
and the client's CPU time per operation (``time.process_time``: this process only, so the
Redis server's own work is not in it)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio

from bench.apps._common import seed_values
from redis_session_sets import AsyncStore

Call = Callable[[int, int], Awaitable[Any]]  # (task number, iteration) -> awaitable


async def _ops_per_second(call: Call, concurrency: int, duration: float) -> tuple[float, float]:
    """Operations/s, and CPU µs of this process per operation."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker(task: int) -> None:
        nonlocal done
        iteration = 0
        while time.perf_counter() < deadline:
            await call(task, iteration)
            iteration += 1
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(task) for task in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return done / elapsed, cpu * 1e6 / max(done, 1)


async def _run(url: str, concurrency: int, duration: float, rounds: int) -> dict[str, Any]:
    client = redis.asyncio.Redis.from_url(url, max_connections=concurrency)
    store = AsyncStore(client, references=["user_id"])
    ids = [store.create_session_id() for _ in range(concurrency)]
    keys = [store.get_session_key(session_id) for session_id in ids]
    for session_id in ids:
        await store.set(session_id, seed_values("42"))

    pairs: dict[str, tuple[str, Call, str, Call]] = {
        "get": (
            "AsyncStore.get(id)",
            lambda t, i: store.get(ids[t]),
            "HGETALL",
            lambda t, i: client.hgetall(keys[t]),
        ),
        "set": (
            'AsyncStore.set(id, {"theme": ...})',
            lambda t, i: store.set(ids[t], {"theme": "dark" if i % 2 else "light"}),
            "HSET",
            lambda t, i: client.hset(keys[t], "theme", '"dark"' if i % 2 else '"light"'),
        ),
        "set_reference": (
            'AsyncStore.set(id, {"user_id": <changes>})',
            lambda t, i: store.set(ids[t], {"user_id": str(i % 2)}),
            "HSET",
            lambda t, i: client.hset(keys[t], "user_id", f'"{i % 2}"'),
        ),
    }
    samples: dict[str, dict[str, list[float]]] = {
        n: {"ours": [], "raw": [], "ours_cpu": [], "raw_cpu": []} for n in pairs
    }
    for _, ours, _, raw in pairs.values():  # warm-up: loads the scripts, fills the pool
        await _ops_per_second(ours, concurrency, min(duration, 0.5) / 2)
        await _ops_per_second(raw, concurrency, min(duration, 0.5) / 2)
    for number in range(rounds):
        for name, (_, ours, _, raw) in pairs.items():
            first, second = (ours, raw) if number % 2 == 0 else (raw, ours)
            a = await _ops_per_second(first, concurrency, duration)
            b = await _ops_per_second(second, concurrency, duration)
            (ours_ops, ours_cpu), (raw_ops, raw_cpu) = (a, b) if number % 2 == 0 else (b, a)
            samples[name]["ours"].append(ours_ops)
            samples[name]["raw"].append(raw_ops)
            samples[name]["ours_cpu"].append(ours_cpu)
            samples[name]["raw_cpu"].append(raw_cpu)
    await client.aclose()
    return {
        name: {
            "ours": pairs[name][0],
            "raw": pairs[name][2],
            "ours_ops": statistics.median(samples[name]["ours"]),
            "raw_ops": statistics.median(samples[name]["raw"]),
            "ratio": statistics.median(
                o / r for o, r in zip(samples[name]["ours"], samples[name]["raw"], strict=True)
            ),
            "ours_cpu_us": statistics.median(samples[name]["ours_cpu"]),
            "raw_cpu_us": statistics.median(samples[name]["raw_cpu"]),
            "cpu_ratio": statistics.median(
                o / r
                for o, r in zip(samples[name]["ours_cpu"], samples[name]["raw_cpu"], strict=True)
            ),
            "rounds": samples[name],
        }
        for name in pairs
    }


def run_store(url: str, *, concurrency: int, duration: float, rounds: int) -> dict[str, Any]:
    return asyncio.run(_run(url, concurrency, duration, rounds))
