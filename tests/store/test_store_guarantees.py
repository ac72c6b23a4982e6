"""The store's promises: no lost updates, true indexes, one round trip, loud failures."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from redis_session_sets import AsyncStore, SessionStoreError, Store
from tests.support import clients
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer

pytestmark = pytest.mark.both_clients  # the store given redis-py's and valkey-py's clients


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def index_truth(raw: redis.Redis, field: str) -> dict[str, set[str]]:
    """Each index value of `field` and the ids whose hash holds it, read from the hashes."""
    truth: dict[str, set[str]] = {}
    for key in raw.scan_iter(match="rss:s:*"):
        value = raw.hget(key, field)
        if value is not None:
            session_id = as_text(key)[len("rss:s:{") : -1]
            truth.setdefault(as_text(value).strip('"'), set()).add(session_id)
    return truth


def index_contents(raw: redis.Redis, field: str) -> dict[str, set[str]]:
    contents: dict[str, set[str]] = {}
    for key in raw.scan_iter(match=f"rss:r:{field}:*"):
        value = as_text(key)[len(f"rss:r:{field}:{{") : -1]
        members = {as_text(member) for member in raw.zrange(key, 0, -1)}
        if members:
            contents[value] = members
    return contents


async def test_concurrent_sets_of_distinct_fields_all_survive(
    async_client: redis.asyncio.Redis,
) -> None:
    store = AsyncStore(async_client, references=["user_id"])
    session_id = store.create_session_id()
    await asyncio.gather(*(store.set(session_id, {f"field{n}": n}) for n in range(50)))
    assert await store.get(session_id) == {f"field{n}": n for n in range(50)}


def test_concurrent_sets_from_threads_all_survive(sync_client: redis.Redis) -> None:
    store = Store(sync_client)
    session_id = store.create_session_id()
    threads = [
        threading.Thread(target=store.set, args=(session_id, {f"field{n}": n})) for n in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get(session_id) == {f"field{n}": n for n in range(50)}


async def test_concurrent_increments_lose_nothing(async_client: redis.asyncio.Redis) -> None:
    store = AsyncStore(async_client)
    session_id = store.create_session_id()
    await asyncio.gather(*(store.incr(session_id, "hits") for _ in range(100)))
    assert (await store.get(session_id))["hits"] == 100


async def test_concurrent_reference_flips_keep_indexes_true(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    store = AsyncStore(async_client, references=["user_id"])
    sessions = [store.create_session_id() for _ in range(5)]
    rng = random.Random(7)

    async def flipper() -> None:
        for _ in range(30):
            session_id = rng.choice(sessions)
            action = rng.random()
            if action < 0.7:
                await store.set(session_id, {"user_id": rng.choice([1, 2, 3, "x"])})
            elif action < 0.8:
                await store.unset(session_id, ["user_id"])
            elif action < 0.9:
                await store.incr(session_id, "n")
            else:
                await store.delete(session_id)

    await asyncio.gather(*(flipper() for _ in range(20)))
    truth = index_truth(raw, "user_id")
    assert index_contents(raw, "user_id") == truth
    for value in ("1", "2", "3", "x"):
        assert set(await store.sessions("user_id", value)) == truth.get(value, set())


# -- one round trip per operation -------------------------------------------------


@pytest.fixture
def counted(redis_server: RedisServer, raw: redis.Redis, client_library: str) -> Iterator[Store]:
    client = clients.sync_client(client_library, port=redis_server.port)
    yield Store(client, references=["user_id"])
    client.close()


def test_each_operation_is_one_round_trip(counted: Store, redis_server: RedisServer) -> None:
    store = counted
    session_id, other = store.create_session_id(), store.create_session_id()
    store.set(other, {"user_id": 1})
    operations: list[tuple[str, Any]] = [
        ("set", lambda: store.set(session_id, {"user_id": 1, "a": 1})),
        ("set moving index", lambda: store.set(session_id, {"user_id": 2})),
        ("get", lambda: store.get(session_id)),
        ("get fields", lambda: store.get(session_id, ["a"])),
        ("unset", lambda: store.unset(session_id, ["a"])),
        ("incr", lambda: store.incr(session_id, "n")),
        ("update", lambda: store.update(session_id, {"user_id": 3}, unset=["a"], incr={"n": 1})),
        ("touch", lambda: store.touch(session_id)),
        ("exists", lambda: store.exists(session_id)),
        ("info", lambda: store.info(session_id)),
        ("sessions", lambda: store.sessions("user_id", 1)),
        ("count", lambda: store.count("user_id", 1)),
        ("session_infos", lambda: store.session_infos("user_id", 1)),
        ("iter_sessions", lambda: list(store.iter_sessions("user_id", 1))),
        ("regenerate", lambda: store.regenerate(store.create_session_id())),
        ("delete", lambda: store.delete(session_id)),
    ]
    for _, operation in operations:
        operation()  # warm up: the first EVALSHA of a script may meet NOSCRIPT
    store.set(session_id, {"user_id": 1, "a": 1})
    for name, operation in operations:
        with CommandLog(redis_server.port) as log:
            operation()
        assert len(log.commands) == 1, (name, log.commands)
        assert log.names[0] in {"EVALSHA", "HGETALL", "HMGET", "EXISTS"}, (name, log.commands)


def test_delete_all_sends_one_script_per_batch(counted: Store, redis_server: RedisServer) -> None:
    store = counted
    for _ in range(3):
        store.set(store.create_session_id(), {"user_id": 5})
    store.delete_all("user_id", 99)  # warm up
    with CommandLog(redis_server.port) as log:
        assert store.delete_all("user_id", 5) == 3
    assert log.names == ["EVALSHA", "EVALSHA"]  # one batch, then the one that finds it empty


def test_first_use_of_a_script_is_one_round_trip(
    counted: Store, raw: redis.Redis, redis_server: RedisServer
) -> None:
    raw.script_flush()  # a fresh server knows none of the scripts
    counted.client.ping()  # connected before counting: the handshake is not ours
    session_id = counted.create_session_id()
    with CommandLog(redis_server.port) as log:
        counted.set(session_id, {"user_id": 1})
    assert log.names == ["EVAL"]  # runs and caches the script: no NOSCRIPT detour
    with CommandLog(redis_server.port) as log:
        counted.set(session_id, {"user_id": 2})
        counted.sessions("user_id", 2)
    assert log.names == ["EVALSHA", "EVAL"]
    assert counted.sessions("user_id", 2) == [session_id]


def test_noscript_falls_back_to_eval(counted: Store, raw: redis.Redis) -> None:
    session_id = counted.create_session_id()
    counted.set(session_id, {"a": 1})
    raw.script_flush()
    counted.set(session_id, {"b": 2})  # EVALSHA fails with NOSCRIPT, EVAL loads the script
    assert counted.get(session_id) == {"a": 1, "b": 2}
    counted.set(session_id, {"c": 3})
    assert counted.get(session_id) == {"a": 1, "b": 2, "c": 3}


# -- Redis going away ------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def quick_sync(library: str, port: int) -> Any:
    retry = clients.retry(library, 1)
    return clients.sync_client(library, port=port, socket_connect_timeout=0.5, retry=retry)


def test_sync_store_fails_loudly_then_recovers(
    own_server: RedisServer, client_library: str
) -> None:
    store = Store(quick_sync(client_library, own_server.port), references=["user_id"])
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1})
    own_server.stop()
    for call in (
        lambda: store.get(session_id),
        lambda: store.set(session_id, {"a": 1}),
        lambda: store.sessions("user_id", 1),
        lambda: list(store.iter_sessions("user_id", 1)),
    ):
        with pytest.raises(SessionStoreError) as raised:
            call()
        assert isinstance(raised.value, RuntimeError)
        assert isinstance(raised.value.__cause__, clients.base_error(client_library))
    own_server.start()  # same port, empty (no persistence): the same store object works
    store.set(session_id, {"user_id": 2})
    assert store.get(session_id) == {"user_id": 2}
    assert store.sessions("user_id", 2) == [session_id]


async def test_async_store_fails_loudly_then_recovers(
    own_server: RedisServer, client_library: str
) -> None:
    client = clients.async_client(
        client_library,
        port=own_server.port,
        socket_connect_timeout=0.5,
        retry=clients.async_retry(client_library, 1),
    )
    store = AsyncStore(client, references=["user_id"])
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1})
    own_server.stop()
    with pytest.raises(SessionStoreError):
        await store.get(session_id)
    with pytest.raises(SessionStoreError):
        await store.incr(session_id, "n")
    with pytest.raises(SessionStoreError):
        [item async for item in store.iter_sessions("user_id", 1)]
    own_server.start()
    await store.set(session_id, {"user_id": 3})
    assert await store.sessions("user_id", 3) == [session_id]
    await client.aclose()


async def test_client_with_decoded_responses(
    redis_server: RedisServer, raw: redis.Redis, client_library: str
) -> None:
    client = clients.async_client(client_library, port=redis_server.port, decode_responses=True)
    store = AsyncStore(client, references=["user_id"])
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": "é", "n": [1]})
    assert await store.get(session_id) == {"user_id": "é", "n": [1]}
    assert await store.sessions("user_id", "é") == [session_id]
    assert [s async for s in store.iter_sessions("user_id", "é")] == [session_id]
    assert (await store.info(session_id)) is not None
    await client.aclose()
