"""Fault injection on real Redis: killed connections, a restart, eviction under
``maxmemory``, and ``FLUSHDB``, each while async workers and threads keep using the
store.

Under every fault the library
- raises nothing but ``SessionStoreError`` (with the Redis error chained) — the loads
  pass only valid arguments, so a ValueError or TypeError would be a defect too;
- never reports a session that does not match: each session id belongs to one user for
  its whole life (only ever written with that ``user_id``), so any id that ``sessions``,
  ``iter_sessions`` or ``delete_all`` attributes to another user is a wrong answer, and
  once the load stops the indexes are checked against the hashes with raw commands;
- recovers by itself: the same store object works again once Redis does.

Each test starts its own throwaway redis-server (never 6379). The clients have redis-py's
retries turned off where the point is to see the raw failures reach the library.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_session_sets import AsyncStore, SessionStoreError, Store
from tests.support.servers import RedisServer
from tests.support.stress import assert_indexes_true, budget, snapshot

USERS = 5
REFS = ("user_id", "team")
RUN_SECONDS = budget(1, 20)  # load time per fault test (seconds of load, not an assertion)


def limit() -> float:
    """The latest a fault may run while waiting for the load to have done enough (a slow
    machine gets more time; a normal one never gets near it)."""
    return time.monotonic() + 30


def evicted_keys(store: Store) -> int:
    return int(store.client.info("stats")["evicted_keys"])


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


class Load:
    """Workers doing every store operation on a pool of sessions, each id owned by one
    user for life. Records failures by type and every (id, user) a read reported."""

    def __init__(self, store: Store | AsyncStore, *, payload: int = 16, grow: float = 0.1):
        self.store = store
        self.payload = payload
        self.grow = grow  # share of writes that go to a brand-new session
        self.owner: dict[str, int] = {}
        self.pool: list[str] = [self.new_id() for _ in range(30)]
        self.ops = 0
        self.failures: Counter[str] = Counter()
        self.unexpected: list[BaseException] = []
        self.reports: list[tuple[str, int]] = []

    def new_id(self) -> str:
        session_id = self.store.create_session_id()
        self.owner[session_id] = random.randrange(USERS)
        return session_id

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.store, name)
        if isinstance(self.store, AsyncStore):
            if name == "iter_sessions":
                return [session_id async for session_id in method(*args, **kwargs)]
            return await method(*args, **kwargs)
        if name == "iter_sessions":
            return await asyncio.to_thread(lambda: list(method(*args, **kwargs)))
        return await asyncio.to_thread(method, *args, **kwargs)

    async def step(self, rng: random.Random) -> None:
        session_id = rng.choice(self.pool)
        user = self.owner[session_id]
        roll = rng.random()
        if roll < 0.35:
            if rng.random() < self.grow:
                session_id = self.new_id()
                self.pool.append(session_id)
                user = self.owner[session_id]
            values = {"user_id": user, "team": f"t{user % 2}", "x": "x" * self.payload}
            await self.call("set", session_id, values)
        elif roll < 0.45:
            await self.call("get", session_id)
        elif roll < 0.52:
            await self.call("incr", session_id, "n")
        elif roll < 0.56:
            await self.call("unset", session_id, [rng.choice(("x", "user_id", "team"))])
        elif roll < 0.60:
            await self.call("touch", session_id)
        elif roll < 0.63:
            await self.call("delete", session_id)
        elif roll < 0.67:
            # The new id is chosen (and its owner recorded) before the call, as the
            # middleware does: a regenerate whose reply a fault swallowed still moved
            # the session, and readers may report the new id.
            new_id = self.new_id()
            self.owner[new_id] = user
            await self.call("run", self.store.core.regenerate(session_id, new_id))
            if session_id in self.pool:  # another worker may have regenerated it too
                self.pool.remove(session_id)
            self.pool.append(new_id)
        elif roll < 0.85:
            asked = rng.randrange(USERS)
            found: list[str] = await self.call("sessions", "user_id", asked)
            self.reports += [(found_id, asked) for found_id in found]
        elif roll < 0.90:
            asked = rng.randrange(USERS)
            found = await self.call("iter_sessions", "user_id", asked, batch_size=3)
            self.reports += [(found_id, asked) for found_id in found]
        elif roll < 0.97:
            await self.call("count", "user_id", rng.randrange(USERS))
        else:
            await self.call("delete_all", "team", f"t{user % 2}", keep=[session_id])

    async def worker(self, seed: int, stop: asyncio.Event) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                await self.step(rng)
            except SessionStoreError as error:
                self.failures[type(error.__cause__).__name__] += 1
                if error.__cause__ is None:
                    self.unexpected.append(error)  # the Redis error must be chained
                await asyncio.sleep(0.001)  # a failing worker must not starve the others
            except Exception as error:
                self.unexpected.append(error)
            self.ops += 1

    async def run(self, fault: Callable[[], Awaitable[None]], workers: int = 12) -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.worker(seed, stop)) for seed in range(workers)]
        try:
            await fault()
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert not self.unexpected, [repr(error) for error in self.unexpected[:5]]

    def assert_reports_true(self) -> None:
        wrong = [(i, user, self.owner.get(i)) for i, user in self.reports if self.owner[i] != user]
        assert not wrong, f"sessions reported for the wrong user: {wrong[:5]}"
        assert self.reports, "the load never read an index"

    async def recovers(self) -> None:
        """The same store object works again: a few failures while stale connections are
        replaced, then a run of successes."""
        session_id = self.new_id()
        deadline = time.monotonic() + 10
        successes = 0
        while successes < 20:
            try:
                await self.call("set", session_id, {"user_id": self.owner[session_id]})
                assert (await self.call("get", session_id))["user_id"] == self.owner[session_id]
                found = await self.call("sessions", "user_id", self.owner[session_id])
                assert session_id in found
                successes += 1
            except SessionStoreError:
                assert time.monotonic() < deadline, "the store did not recover"
                successes = 0
                await asyncio.sleep(0.05)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@contextlib.asynccontextmanager
async def stores(
    server: RedisServer, kind: str, **options: Any
) -> AsyncIterator[tuple[Store | AsyncStore, Store]]:
    """The store under test (sync or async) and a sync store for the final checks."""
    check = redis.Redis(port=server.port)
    if kind.startswith("async"):
        client: Any = redis.asyncio.Redis(port=server.port, **options)
        pipelining = kind != "async-unpipelined"
        store: Store | AsyncStore = AsyncStore(client, references=REFS, pipelining=pipelining)
    else:
        client = redis.Redis(port=server.port, **options)
        store = Store(client, references=REFS)
    try:
        yield store, Store(check, references=REFS)
    finally:
        if kind.startswith("async"):
            await client.aclose()
        else:
            client.close()
        check.close()


@pytest.mark.parametrize("kind", ["async", "async-unpipelined", "sync"])
@pytest.mark.parametrize("retries", ["none", "default"])
async def test_connections_killed_mid_operation(
    server: RedisServer, kind: str, retries: str
) -> None:
    options = {"retry": no_retry()} if retries == "none" else {}
    async with stores(server, kind, **options) as (store, check):
        load = Load(store)
        killer = redis.asyncio.Redis(port=server.port)
        killed = 0

        async def fault() -> None:
            nonlocal killed
            deadline, end = time.monotonic() + RUN_SECONDS, limit()
            # On a loaded machine, go on (bounded) until the load has done its share,
            # an index read that reported sessions included.
            while time.monotonic() < deadline or (
                (load.ops < 200 or not load.reports) and time.monotonic() < end
            ):
                killed += await killer.client_kill_filter(_type="normal", skipme=True)
                await asyncio.sleep(random.uniform(0, 0.01))

        try:
            await load.run(fault)
        finally:
            await killer.aclose()
        assert killed > 0 and load.ops > 100
        load.assert_reports_true()
        await load.recovers()
        assert_indexes_true(check.client, check)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["async", "async-unpipelined", "sync"])
async def test_redis_restarted_during_load(server: RedisServer, kind: str) -> None:
    async with stores(server, kind, retry=no_retry(), socket_timeout=2) as (store, check):
        load = Load(store)

        async def fault() -> None:
            for _ in range(budget(1, 10)):
                await asyncio.sleep(0.2)
                await asyncio.to_thread(server.stop)
                await asyncio.sleep(0.2)  # down: every call must fail loudly
                await asyncio.to_thread(server.start)  # empty again, no scripts loaded

        await load.run(fault)
        assert sum(load.failures.values()) > 0, "the restart went unnoticed"
        load.assert_reports_true()
        await load.recovers()
        assert_indexes_true(check.client, check)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_flushdb_during_load(server: RedisServer, kind: str) -> None:
    async with stores(server, kind) as (store, check):
        load = Load(store)
        flusher = redis.asyncio.Redis(port=server.port)
        flushes = 0

        async def fault() -> None:
            nonlocal flushes
            deadline, end = time.monotonic() + RUN_SECONDS, limit()
            while time.monotonic() < deadline or (load.ops < 200 and time.monotonic() < end):
                await asyncio.sleep(random.uniform(0, 0.05))
                await flusher.flushdb()
                flushes += 1

        try:
            await load.run(fault)
        finally:
            await flusher.aclose()
        assert flushes > 0 and load.ops > 100
        load.assert_reports_true()
        await load.recovers()
        assert_indexes_true(check.client, check)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_eviction_under_maxmemory(kind: str) -> None:
    server = RedisServer(extra_args=("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"))
    server.start()
    try:
        async with stores(server, kind) as (store, check):
            load = Load(store, payload=5000, grow=0.9)  # ~5 KB sessions, mostly new ones

            async def fault() -> None:
                # Load until Redis has evicted (a slow machine takes longer to fill it).
                deadline, end = time.monotonic() + RUN_SECONDS, limit()
                while time.monotonic() < deadline or (
                    not evicted_keys(check) and time.monotonic() < end
                ):
                    await asyncio.sleep(0.05)

            await load.run(fault)
            assert evicted_keys(check) > 0, "nothing was evicted: the test proved nothing"
            load.assert_reports_true()
            await load.recovers()
            # Evicting an index can hide live sessions (nothing can bring that index
            # back); what must hold is that nothing false is ever reported.
            snap = snapshot(check.client, "rss", REFS)  # type: ignore[arg-type]
            truth = snap.truth()
            for name, value in set(truth) | set(snap.indexes):
                listed = set(check.sessions(name, value))
                assert listed <= truth.get((name, value), set()), (name, value)
                assert check.count(name, value) == len(listed)
    finally:
        server.close()


def is_out_of_memory(error: BaseException | None) -> bool:
    """Redis's OOM error: its own class on Redis >= 7 and Valkey; Redis 6.2 passes an error
    raised inside a script on as a generic script error that quotes it."""
    if isinstance(error, redis.exceptions.OutOfMemoryError):
        return True
    return isinstance(error, redis.ResponseError) and "-OOM command not allowed" in str(error)


def test_out_of_memory_fails_loudly_and_writes_nothing() -> None:
    """Regression: under OOM a script's first write fails, and incr caught that error
    with the overflow check and raised TypeError ("does not hold an integer") — a wrong
    answer about the user's data — or, for a new session, silently returned 0."""
    server = RedisServer(extra_args=("--maxmemory-policy", "noeviction"))
    server.start()
    client = server.client()
    try:
        store = Store(client, references=["user_id"])
        session_id = store.create_session_id()
        store.set(session_id, {"n": 1, "user_id": 3})
        before = snapshot(client, "rss", ["user_id"])
        client.config_set("maxmemory", 1)  # every write is now refused
        writes: list[Callable[[], object]] = [
            lambda: store.incr(session_id, "n"),
            lambda: store.incr(store.create_session_id(), "n"),
            lambda: store.incr(session_id, "user_id"),
            lambda: store.set(session_id, {"n": 2}),
            lambda: store.set(store.create_session_id(), {"user_id": 3}),
            lambda: store.touch(session_id),
            lambda: store.regenerate(session_id),
        ]
        for write in writes:
            with pytest.raises(SessionStoreError) as caught:
                write()
            assert is_out_of_memory(caught.value.__cause__)
        # Reads still work, and nothing was half-written.
        assert store.get(session_id) == {"n": 1, "user_id": 3}
        assert store.sessions("user_id", 3) == [session_id]
        client.config_set("maxmemory", 0)
        after = snapshot(client, "rss", ["user_id"])
        assert (after.sessions, after.indexes) == (before.sessions, before.indexes)
        assert store.incr(session_id, "n") == 2  # and the same store works again
        with pytest.raises(TypeError):  # a real overflow is still the caller's error
            store.incr(session_id, "n", 2**63 - 1)
    finally:
        client.close()
        server.close()


def test_a_retried_regenerate_keeps_the_index_true(raw: redis.Redis) -> None:
    """Regression: redis-py resends a command whose reply a killed connection lost. A
    regenerate run twice found the old id gone, so it treated the new id as a brand-new
    session: it reset ``__created`` and renewed the hash's TTL but not its index scores,
    so the session left ``sessions()`` before it expired (found by the CLIENT KILL
    load). The second run must renew the moved session like any other."""
    store = Store(raw, references=["user_id"], absolute_max_age=3600)
    old_id, new_id = store.create_session_id(), store.create_session_id()
    store.set(old_id, {"user_id": 1})
    created = store.info(old_id).created_at  # type: ignore[union-attr]
    store.run(store.core.regenerate(old_id, new_id))
    time.sleep(0.02)  # the retry comes later: its renewal must reach the index too
    store.run(store.core.regenerate(old_id, new_id))
    assert store.get(new_id) == {"user_id": 1}
    assert store.info(new_id).created_at == created  # type: ignore[union-attr]
    assert store.sessions("user_id", 1) == [new_id]
    assert_indexes_true(raw, store)


async def test_cancelled_calls_never_hand_a_reply_to_the_wrong_caller(
    raw: redis.Redis, redis_server: RedisServer
) -> None:
    """A client that goes away cancels its request's task mid-call. The cancelled call's
    reply must never reach the next caller on that connection (redis-py's CVE-2023-28858
    class of bug): every call that completes gets its own session's data, and the writes
    that were cut short leave the indexes true."""
    client = redis.asyncio.Redis(port=redis_server.port, max_connections=8)
    store = AsyncStore(client, references=["user_id"])
    owner = {store.create_session_id(): n % USERS for n in range(40)}
    for session_id, user in owner.items():
        await store.set(session_id, {"me": session_id, "user_id": user})
    cancelled = completed = 0

    async def caller(seed: int) -> None:
        nonlocal cancelled, completed
        rng = random.Random(seed)
        for i in range(budget(150, 3000)):
            session_id = rng.choice(list(owner))
            user = owner[session_id]
            kind = rng.random()
            try:
                async with asyncio.timeout(rng.uniform(0, 0.003)):
                    if kind < 0.4:
                        got = await store.get(session_id)
                        assert got["me"] == session_id and got["user_id"] == user, got
                    elif kind < 0.7:
                        found = await store.sessions("user_id", user)
                        assert all(owner[other] == user for other in found), found
                    else:
                        await store.set(session_id, {"me": session_id, "user_id": user, "i": i})
                completed += 1
            except TimeoutError:
                cancelled += 1

    try:
        # As many callers as connections: a connection leaked by a cancelled call would
        # soon show as "Too many connections".
        await asyncio.gather(*(caller(seed) for seed in range(8)))
        assert cancelled > 0 and completed > 0
        for session_id, user in owner.items():  # the pool still answers each call rightly
            got = await store.get(session_id, ["me", "user_id"])
            assert got == {"me": session_id, "user_id": user}
        assert_indexes_true(raw, Store(raw, references=["user_id"]))
    finally:
        await client.aclose()
