"""The store on a Sentinel-managed primary: a failover (SENTINEL FAILOVER) in the middle of
a run of writes, sync and async at once. The store object is kept throughout; once the
client reconnects to the new primary, writes succeed again, and no acknowledged write
is lost."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import redis.asyncio

from redis_session_sets import AsyncStore, SessionStoreError, Store
from tests.support import clients
from tests.support.topologies import SENTINEL_MASTER, SentinelServers

ACKED_AFTER_FAILOVER = 20
# The store's clients fail fast rather than retry: an error is an error, and the writer
# goes on with its next write.
FAST: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
# What a writer may meet during the failover: the store's error, or the client library's
# (from the writer's own WAIT and replica reads).
WRITE_ERRORS: tuple[type[Exception], ...] = (SessionStoreError, *clients.base_errors())


@dataclass
class Writer:
    """Writes increasing counters. A write counts as acknowledged once the replica that
    the failover promotes has it: a write the old primary accepted alone is lost in any
    Redis failover (replication is asynchronous), whatever the client."""

    name: str
    ids: list[str]
    acked: dict[str, int] = field(default_factory=dict)
    acked_at: list[float] = field(default_factory=list)
    errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def values(self, i: int) -> dict[str, Any]:
        return {"n": i, "user_id": f"{self.name}-{i % 3}"}

    def record(self, session_id: str, i: int, on_replica: Any) -> None:
        if on_replica == str(i).encode():
            self.acked[session_id] = i
            self.acked_at.append(time.monotonic())

    def acked_since(self, moment: float) -> int:
        return sum(1 for at in self.acked_at if at > moment)


def sync_writes(store: Store, client: redis.Redis, replica: redis.Redis, writer: Writer) -> None:
    i = 0
    while not writer.stop.is_set():
        i += 1
        session_id = writer.ids[i % len(writer.ids)]
        try:
            store.set(session_id, writer.values(i))
            client.execute_command("WAIT", 1, 200)  # type: ignore[no-untyped-call]
            writer.record(session_id, i, replica.hget(store.get_session_key(session_id), "n"))
        except WRITE_ERRORS:
            writer.errors += 1
            time.sleep(0.02)


async def async_writes(
    store: AsyncStore, client: redis.asyncio.Redis, replica: redis.asyncio.Redis, writer: Writer
) -> None:
    i = 0
    while not writer.stop.is_set():
        i += 1
        session_id = writer.ids[i % len(writer.ids)]
        try:
            await store.set(session_id, writer.values(i))
            await client.execute_command("WAIT", 1, 200)  # type: ignore[no-untyped-call]
            on_replica = await replica.hget(store.get_session_key(session_id), "n")
            writer.record(session_id, i, on_replica)
        except WRITE_ERRORS:
            writer.errors += 1
            await asyncio.sleep(0.02)


@pytest.fixture
def sentinel_servers() -> Iterator[SentinelServers]:
    servers = SentinelServers()
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


async def maybe_await(result: Any) -> Any:
    return await result if asyncio.iscoroutine(result) else result


async def wait_until(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.both_clients  # the store given redis-py's and valkey-py's Sentinel clients
async def test_failover_during_writes(
    sentinel_servers: SentinelServers, client_library: str
) -> None:
    sentinels = [("127.0.0.1", sentinel_servers.sentinel_port)]
    sync_client = clients.sentinel(client_library, sentinels, **FAST).master_for(
        SENTINEL_MASTER, retry=clients.retry(client_library, 0), **FAST
    )
    async_client = clients.async_sentinel(client_library, sentinels, **FAST).master_for(
        SENTINEL_MASTER, retry=clients.async_retry(client_library, 0), **FAST
    )
    # The server the failover promotes, watched directly by the test.
    replica = sentinel_servers.replica.client()
    async_replica = redis.asyncio.Redis(port=sentinel_servers.replica.port)
    sync_store = Store(sync_client, references=["user_id"])
    async_store = AsyncStore(async_client, references=["user_id"])
    sync_writer = Writer("sync", [sync_store.create_session_id() for _ in range(10)])
    async_writer = Writer("async", [async_store.create_session_id() for _ in range(10)])
    writers = (sync_writer, async_writer)

    thread = threading.Thread(
        target=sync_writes, args=(sync_store, sync_client, replica, sync_writer)
    )
    thread.start()
    task = asyncio.create_task(async_writes(async_store, async_client, async_replica, async_writer))
    try:
        await wait_until(lambda: all(len(w.acked_at) >= 20 for w in writers), "first writes")
        with redis.Redis(port=sentinel_servers.sentinel_port) as sentinel:
            assert sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)

            def switched() -> bool:
                address = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
                return int(address[1]) == sentinel_servers.replica.port

            await wait_until(switched, "the sentinel to switch to the new primary")
        switched_at = time.monotonic()
        await wait_until(
            lambda: all(w.acked_since(switched_at) >= ACKED_AFTER_FAILOVER for w in writers),
            "acknowledged writes on the new primary",
        )
    finally:
        for writer in writers:
            writer.stop.set()
        thread.join()
        await task

    # The same stores, now on the new primary: every acknowledged write is there.
    with sentinel_servers.replica.client() as new_primary:
        assert new_primary.info("replication")["role"] == "master"
    for store, writer in ((sync_store, sync_writer), (async_store, async_writer)):
        for session_id, n in writer.acked.items():
            stored = await maybe_await(store.get(session_id))
            assert stored["n"] >= n, f"{writer.name}: acknowledged write {n} lost"
            # The index moved with the value, on the same primary, atomically.
            assert session_id in await maybe_await(store.sessions("user_id", stored["user_id"]))
    for client in (sync_client, replica):
        client.close()
    for async_client_ in (async_client, async_replica):
        await async_client_.aclose()
