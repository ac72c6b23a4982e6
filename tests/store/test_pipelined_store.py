"""``AsyncStore`` with auto-pipelining (the default) under bursts, on real Redis: each
operation still atomic with its own result or exception, indexes true, failures only as
``SessionStoreError``, nothing hanging, recovery by itself. (The pipeline itself is tested
in ``test_autopipeline.py``; these drive it through the store.)"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from redis_session_sets import AsyncStore, SessionStoreError, Store
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer
from tests.support.stress import assert_indexes_true
from tests.support.topologies import ClusterServers

REFS = ["user_id", "team"]


@pytest.fixture
async def client(raw: redis.Redis, redis_server: RedisServer) -> AsyncIterator[Any]:
    client = redis.asyncio.Redis(port=redis_server.port)  # a default pool: 100 connections
    yield client
    await client.aclose()


def check_store(redis_server: RedisServer) -> Store:
    return Store(redis.Redis(port=redis_server.port), references=REFS)


async def test_a_burst_of_mixed_operations_keeps_every_result_and_the_indexes_true(
    client: Any, raw: redis.Redis, redis_server: RedisServer
) -> None:
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(50)]
    owner = {session_id: i % 7 for i, session_id in enumerate(ids)}
    await asyncio.gather(*(store.set(i, {"user_id": owner[i], "n": 0}) for i in ids))
    rng = random.Random(12)
    expected_increments = dict.fromkeys(ids, 0)

    async def one(k: int) -> None:
        session_id = rng.choice(ids)
        roll = k % 5
        if roll == 0:
            expected_increments[session_id] += 1
            await store.incr(session_id, "n")
        elif roll == 1:
            assert (await store.get(session_id, ["user_id"])) == {"user_id": owner[session_id]}
        elif roll == 2:
            await store.set(session_id, {f"f{k}": k})
        elif roll == 3:
            listed = await store.sessions("user_id", owner[session_id])
            assert session_id in listed
            assert all(owner[i] == owner[session_id] for i in listed)
        else:
            await store.update(session_id, {"team": f"t{k % 3}"}, incr={"n": 1})
            expected_increments[session_id] += 1

    await asyncio.gather(*(one(k) for k in range(500)))
    for session_id in ids:
        assert (await store.get(session_id, ["n"]))["n"] == expected_increments[session_id]
    assert_indexes_true(raw, check_store(redis_server))


async def test_more_concurrent_calls_than_the_pool_has_connections(client: Any) -> None:
    """redis-py's default pool stops at 100 connections: without pipelining, 200
    concurrent calls failed with "Too many connections"."""
    store = AsyncStore(client, references=REFS)
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    results = await asyncio.gather(*(store.get(session_id) for _ in range(500)))
    assert results == [{"a": 1}] * 500
    assert len(client.connection_pool._in_use_connections) == 0
    assert len(client.connection_pool._available_connections) <= 2


async def test_concurrent_calls_share_round_trips(client: Any, raw: redis.Redis) -> None:
    """The commands of one loop iteration travel together: far fewer connections than
    operations are ever used, and each operation is still one command."""
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(40)]
    await store.set(store.create_session_id(), {"user_id": 1})  # connected, script cached
    with CommandLog(raw.connection_pool.connection_kwargs["port"]) as log:
        await asyncio.gather(*(store.set(i, {"user_id": 1}) for i in ids))
    assert log.names == ["EVALSHA"] * 40  # one command per set, nothing else
    assert len(client.connection_pool._available_connections) <= 2


async def test_failing_operations_fail_alone_in_a_batch(client: Any, raw: redis.Redis) -> None:
    store = AsyncStore(client, references=REFS)
    good, bad = store.create_session_id(), store.create_session_id()
    await store.set(good, {"n": 1})
    await store.set(bad, {"n": "text"})
    raw.set("rss:s:{" + "w" * 22 + "}", "a string, not a hash")  # a wrong-type key
    before = raw.hgetall(f"rss:s:{{{bad}}}")
    results = await asyncio.gather(
        store.incr(good, "n"),
        store.incr(bad, "n"),  # TypeError: not an integer
        store.get("w" * 22),  # WRONGTYPE from Redis
        store.incr(good, "n"),
        store.set(good, {"x": 1}),
        return_exceptions=True,
    )
    assert results[0] == 2 and results[3] == 3 and results[4] is None
    assert isinstance(results[1], TypeError)
    assert isinstance(results[2], SessionStoreError)
    assert raw.hgetall(f"rss:s:{{{bad}}}") == before
    assert await store.get(good) == {"n": 3, "x": 1}


async def test_text_that_is_no_unicode_fails_alone_in_a_batch(
    client: Any, raw: redis.Redis
) -> None:
    """A lone surrogate (``json.loads('"\\ud800"')`` makes one from a visitor's JSON) in
    a reason, a field name, a value or a reference value is a ValueError before anything
    is sent. Raised in the client while it encoded the batch, it failed every other call
    sent in the same loop iteration."""
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(4)]
    await asyncio.gather(*(store.set(s, {"user_id": 1}) for s in ids))
    before = {key: raw.dump(key) for key in raw.keys("*")}
    bad_calls = [
        store.delete(ids[0], reason="\ud800"),
        store.set(ids[0], {"bad \udc80 name": 1}),
        store.set(ids[0], {"text": "lone \ud800 surrogate"}),
        store.set(ids[0], {"nested": {"\udfff": ["\ud83d"]}}),
        store.set(ids[0], {"user_id": "\udfff"}),
        store.update(ids[0], unset=["\ud800"]),
        store.get(ids[0], ["\ud800"]),
        store.delete_all("user_id", "\ud800"),
    ]
    results = await asyncio.gather(
        *bad_calls,
        store.delete(ids[1], reason="ok"),
        store.get(ids[2]),
        store.set(ids[3], {"a": "é"}),
        return_exceptions=True,
    )
    bad, good = results[: len(bad_calls)], results[len(bad_calls) :]
    assert all(isinstance(result, ValueError) for result in bad), bad
    assert good == [True, {"user_id": 1}, None]
    assert await store.end_reason(ids[1]) == "ok"
    assert await store.get(ids[0]) == {"user_id": 1}
    assert raw.dump(f"rss:s:{{{ids[0]}}}") == before[f"rss:s:{{{ids[0]}}}".encode()]
    assert set(await store.sessions("user_id", 1)) == {ids[0], ids[2], ids[3]}


async def test_script_flush_before_a_burst(client: Any, raw: redis.Redis) -> None:
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(30)]
    await asyncio.gather(*(store.set(i, {"user_id": 1}) for i in ids))
    raw.script_flush()
    counts = await asyncio.gather(*(store.incr(i, "n") for i in ids))
    assert counts == [1] * 30
    assert sorted(await store.sessions("user_id", 1)) == sorted(ids)


async def test_a_cancellation_storm_leaves_every_other_call_right(
    client: Any, raw: redis.Redis, redis_server: RedisServer
) -> None:
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(20)]
    await asyncio.gather(*(store.set(i, {"user_id": k % 3, "n": 0}) for k, i in enumerate(ids)))
    rng = random.Random(3)
    for _ in range(20):
        tasks = [asyncio.create_task(store.incr(rng.choice(ids), "n")) for _ in range(30)]
        await asyncio.sleep(0)
        for task in rng.sample(tasks, 15):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Whatever was cancelled, the connection is in step: every reply reaches its caller.
    for k, session_id in enumerate(ids):
        read = await store.get(session_id, ["user_id"])
        assert read == {"user_id": k % 3}
    total = sum([(await store.get(i, ["n"]))["n"] for i in ids])
    assert 0 <= total <= 20 * 30
    assert_indexes_true(raw, check_store(redis_server))


@pytest.mark.parametrize("fault", ["client kill", "restart"])
async def test_a_fault_during_a_burst_fails_only_with_session_store_error(
    redis_server: RedisServer, raw: redis.Redis, fault: str
) -> None:
    client = redis.asyncio.Redis(
        port=redis_server.port, retry=Retry(NoBackoff(), 0), socket_timeout=5
    )
    store = AsyncStore(client, references=REFS)
    ids = [store.create_session_id() for _ in range(20)]
    try:
        await asyncio.gather(*(store.set(i, {"user_id": 1}) for i in ids))

        async def burst() -> list[Any]:
            return await asyncio.gather(
                *(store.incr(i, "n") for i in ids for _ in range(5)), return_exceptions=True
            )

        running = asyncio.create_task(burst())
        await asyncio.sleep(0)
        if fault == "client kill":
            raw.client_kill_filter(_type="normal", skipme=True)
        else:
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)
        results = await asyncio.wait_for(running, timeout=30)  # nothing hangs
        unexpected = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, SessionStoreError) for r in unexpected), unexpected[:3]
        # Recovery, without a restart of the store: without retries, a pooled connection
        # that the fault closed fails once when next used; then calls work again.
        session_id = store.create_session_id()
        for _ in range(5):
            try:
                await store.set(session_id, {"user_id": 2})
                break
            except SessionStoreError:
                continue
        assert await store.sessions("user_id", 2) == [session_id]
    finally:
        await client.aclose()


async def test_a_burst_on_a_cluster(cluster: ClusterServers) -> None:
    nodes = [redis.asyncio.cluster.ClusterNode("127.0.0.1", node.port) for node in cluster.nodes]
    client = redis.asyncio.RedisCluster(startup_nodes=nodes)
    sync_client = redis.RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        store = AsyncStore(client, references=REFS, prefix="burst")
        ids = [store.create_session_id() for _ in range(60)]
        await asyncio.gather(*(store.set(i, {"user_id": k % 4}) for k, i in enumerate(ids)))
        counts = await asyncio.gather(*(store.incr(i, "n") for i in ids for _ in range(3)))
        assert sorted(counts) == sorted([1, 2, 3] * 60)
        for user in range(4):
            expected = {i for k, i in enumerate(ids) if k % 4 == user}
            assert set(await store.sessions("user_id", user)) == expected
        check = Store(sync_client, references=REFS, prefix="burst")
        assert sum(check.count("user_id", user) for user in range(4)) == 60
        assert await store.delete_all("user_id", 0) == 15
    finally:
        await client.aclose()
        sync_client.close()
