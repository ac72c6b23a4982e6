"""Concurrency soak: many asyncio workers and threads hammer shared sessions at once.

Workers write distinct fields of the same sessions, flip their reference values, count
with ``incr`` and, on other sessions, regenerate, delete, touch and ``delete_all``. Then:
no field write is lost, no increment is lost, every contended field holds one of the
values written to it, and every index equals the truth computed from the hashes with raw
Redis commands (``tests.support.stress.assert_indexes_true``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter, defaultdict
from typing import Any

import redis
import redis.asyncio

from redis_session_sets import AsyncStore, Store
from tests.support.servers import RedisServer
from tests.support.stress import assert_indexes_true, budget

REFS = ("user_id", "team")
USERS = (1, 2, 3)
TEAMS = ("red", "blue")
CHAOS_TEAMS = ("green", "black")  # delete_all targets these: shared sessions never hold them
SHARED = 6  # sessions every worker writes to
CHAOS = 4  # sessions that are also regenerated and deleted
ASYNC_WORKERS = budget(24, 64)
THREADS = budget(6, 12)
OPS = budget(400, 4000)  # per worker


class Ledger:
    """What the workers wrote, to compare with what Redis holds at the end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fields: dict[str, dict[str, int]] = defaultdict(dict)
        self.hits: Counter[str] = Counter()
        self.contended: dict[str, set[Any]] = defaultdict(set)

    def wrote(self, session_id: str, name: str, value: int) -> None:
        with self.lock:
            self.fields[session_id][name] = value

    def unset(self, session_id: str, name: str) -> None:
        with self.lock:
            self.fields[session_id].pop(name, None)

    def counted(self, session_id: str, amount: int) -> None:
        with self.lock:
            self.hits[session_id] += amount

    def contend(self, session_id: str, value: Any) -> None:
        with self.lock:
            self.contended[session_id].add(value)


def plan(worker: str, shared: list[str], chaos: list[str], seed: int) -> list[tuple[Any, ...]]:
    """The operations of one worker, drawn up front so async and sync workers share it."""
    rng = random.Random(seed)
    steps: list[tuple[Any, ...]] = []
    for i in range(OPS):
        roll = rng.random()
        session_id = rng.choice(shared)
        if roll < 0.30:
            steps.append(("field", session_id, f"{worker}-{i % 7}", i))
        elif roll < 0.45:
            steps.append(("unset", session_id, f"{worker}-{i % 7}"))
        elif roll < 0.65:
            steps.append(("incr", session_id, rng.choice((1, 1, 2, -1))))
        elif roll < 0.80:
            steps.append(
                ("flip", session_id, rng.choice(USERS), rng.choice(TEAMS), f"{worker}/{i}")
            )
        else:
            target = rng.choice(chaos)
            steps.append(
                (
                    rng.choice(("chaos-set", "chaos-set", "regenerate", "delete", "touch", "all")),
                    target,
                    rng.choice(USERS),
                    rng.choice(CHAOS_TEAMS),
                )
            )
    return steps


def run_sync(store: Store, ledger: Ledger, steps: list[tuple[Any, ...]]) -> None:
    for step in steps:
        kind, session_id = step[0], step[1]
        if kind == "field":
            store.set(session_id, {step[2]: step[3]})
            ledger.wrote(session_id, step[2], step[3])
        elif kind == "unset":
            store.unset(session_id, [step[2]])
            ledger.unset(session_id, step[2])
        elif kind == "incr":
            store.incr(session_id, "hits", step[2])
            ledger.counted(session_id, step[2])
        elif kind == "flip":
            ledger.contend(session_id, step[4])
            store.set(session_id, {"user_id": step[2], "team": step[3], "last": step[4]})
        elif kind == "chaos-set":
            store.set(session_id, {"user_id": step[2], "team": step[3]})
        elif kind == "regenerate":
            store.regenerate(session_id)
        elif kind == "delete":
            store.delete(session_id)
        elif kind == "touch":
            store.touch(session_id)
        else:
            store.delete_all("team", step[3], keep=[session_id])


async def run_async(store: AsyncStore, ledger: Ledger, steps: list[tuple[Any, ...]]) -> None:
    for step in steps:
        kind, session_id = step[0], step[1]
        if kind == "field":
            await store.set(session_id, {step[2]: step[3]})
            ledger.wrote(session_id, step[2], step[3])
        elif kind == "unset":
            await store.unset(session_id, [step[2]])
            ledger.unset(session_id, step[2])
        elif kind == "incr":
            await store.incr(session_id, "hits", step[2])
            ledger.counted(session_id, step[2])
        elif kind == "flip":
            ledger.contend(session_id, step[4])
            await store.set(session_id, {"user_id": step[2], "team": step[3], "last": step[4]})
        elif kind == "chaos-set":
            await store.set(session_id, {"user_id": step[2], "team": step[3]})
        elif kind == "regenerate":
            await store.regenerate(session_id)
        elif kind == "delete":
            await store.delete(session_id)
        elif kind == "touch":
            await store.touch(session_id)
        else:
            await store.delete_all("team", step[3], keep=[session_id])


async def test_workers_and_threads_lose_nothing_and_indexes_stay_true(
    raw: redis.Redis, redis_server: RedisServer
) -> None:
    sync_client = redis.Redis(port=redis_server.port, max_connections=THREADS + 2)
    async_client = redis.asyncio.Redis(port=redis_server.port)
    try:
        sync_store = Store(sync_client, references=REFS)
        async_store = AsyncStore(async_client, references=REFS)
        shared = [sync_store.create_session_id() for _ in range(SHARED)]
        chaos = [sync_store.create_session_id() for _ in range(CHAOS)]
        for session_id in shared:
            sync_store.set(session_id, {"hits": 0})
        ledger = Ledger()
        # Each worker writes only its own field names, so the ledger's last write of a
        # field is the worker's own last write; interleavings differ run to run.
        async_plans = [plan(f"a{n}", shared, chaos, seed=n) for n in range(ASYNC_WORKERS)]
        thread_plans = [plan(f"t{n}", shared, chaos, seed=1000 + n) for n in range(THREADS)]
        await asyncio.gather(
            *(run_async(async_store, ledger, steps) for steps in async_plans),
            *(asyncio.to_thread(run_sync, sync_store, ledger, steps) for steps in thread_plans),
        )

        for session_id in shared:
            stored = sync_store.get(session_id)
            assert stored["hits"] == ledger.hits[session_id], "lost increments"
            for name, value in ledger.fields[session_id].items():
                assert stored.get(name) == value, f"lost write of {name}"
            written = {name for name in stored if name[0] in "at" and "-" in name}
            assert written == set(ledger.fields[session_id]), "an unset field came back"
            if ledger.contended[session_id]:
                assert stored["last"] in ledger.contended[session_id]
        assert_indexes_true(raw, sync_store)
    finally:
        sync_client.close()
        await async_client.aclose()


async def test_concurrent_increments_of_one_field_are_all_counted(
    raw: redis.Redis, redis_server: RedisServer
) -> None:
    """Every writer on one counter at once, half of them on a reference field: the total
    is exact and the session ends in exactly the index of its final value."""
    sync_client = redis.Redis(port=redis_server.port)
    async_client = redis.asyncio.Redis(port=redis_server.port)
    try:
        sync_store = Store(sync_client, references=["level"])
        async_store = AsyncStore(async_client, references=["level"])
        session_id = sync_store.create_session_id()
        rounds = budget(200, 5000)

        async def bump(name: str) -> None:
            for _ in range(rounds):
                await async_store.incr(session_id, name)

        def bump_sync(name: str) -> None:
            for _ in range(rounds):
                sync_store.incr(session_id, name, 2)

        await asyncio.gather(
            *(bump(name) for name in ("n", "level") for _ in range(8)),
            *(asyncio.to_thread(bump_sync, name) for name in ("n", "level") for _ in range(2)),
        )
        total = 8 * rounds + 2 * 2 * rounds
        assert sync_store.get(session_id) == {"n": total, "level": total}
        assert sync_store.sessions("level", total) == [session_id]
        assert_indexes_true(raw, sync_store)
    finally:
        sync_client.close()
        await async_client.aclose()
