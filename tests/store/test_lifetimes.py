"""Bounded lifetimes (docs/design.md, rule 8): max ages of at most 400 days, checked at
construction and per call before anything is sent, and no write ever leaves a hash
without a TTL (every script checks what can fail before its first write)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from redis_session_sets import SessionStoreError, Store
from tests.support.monitor import CommandLog

LIMIT = timedelta(days=400)


async def test_max_ages_over_400_days_are_refused_at_construction(make_store: Any) -> None:
    for bad in (1e14, LIMIT + timedelta(milliseconds=1), float("inf")):
        with pytest.raises(ValueError):
            make_store(max_age=bad)
        with pytest.raises(ValueError):
            make_store(absolute_max_age=bad)
    assert make_store(max_age=LIMIT, absolute_max_age=LIMIT).max_age == LIMIT


async def test_max_ages_over_400_days_are_refused_per_call(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    port = raw.connection_pool.connection_kwargs["port"]
    calls: list[Callable[[float], Awaitable[Any]]] = [
        lambda age: store.set(session_id, {"a": 1}, max_age=age),
        lambda age: store.update(session_id, {"a": 1}, max_age=age),
        lambda age: store.incr(session_id, "n", max_age=age),
        lambda age: store.unset(session_id, ["a"], max_age=age),
        lambda age: store.touch(session_id, max_age=age),
    ]
    with CommandLog(port) as log:
        for call in calls:
            with pytest.raises(ValueError, match="400 days"):
                await call(1e14)
    assert log.commands == [] and raw.dbsize() == 0  # nothing sent, nothing written
    await store.set(session_id, {"a": 1}, max_age=LIMIT)
    assert raw.pttl(store.get_session_key(session_id)) > (LIMIT - timedelta(minutes=1)) / timedelta(
        milliseconds=1
    )


async def test_every_write_leaves_a_ttl(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    key = store.get_session_key(session_id)
    raw.hset(key, mapping={"user_id": "1", "hand": "1"})  # written by hand: no TTL at all
    writes: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.set(session_id, {"a": 1}),
        lambda: store.update(session_id, {"b": 1}, unset=["a"], incr={"n": 1}),
        lambda: store.incr(session_id, "n"),
        lambda: store.unset(session_id, ["b"]),
        lambda: store.touch(session_id),
    ]
    for write in writes:
        raw.persist(key)
        await write()
        assert raw.pttl(key) > 0
    new_id = await store.regenerate(session_id)
    assert raw.pttl(store.get_session_key(new_id)) > 0


def test_a_write_refused_by_redis_leaves_nothing_half_done(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    """Redis refuses a script's first write when out of memory (maxmemory, noeviction):
    the call fails loudly and nothing is left behind, least of all a hash without a TTL
    (a write whose first command frees memory, HDEL, goes through whole)."""
    store = Store(sync_client, references=["user_id"])
    old = store.create_session_id()
    store.set(old, {"user_id": 1, "n": 1})
    new = store.create_session_id()
    used = int(raw.info("memory")["used_memory"])
    raw.config_set("maxmemory-policy", "noeviction")
    raw.config_set("maxmemory", max(used - 1_000_000, 1))
    refused = 0
    try:
        writes: list[Callable[[], Any]] = [
            lambda: store.set(new, {"user_id": 1}),
            lambda: store.update(new, incr={"n": 1}),
            lambda: store.update(old, {"user_id": 2}, incr={"n": 1}),
            lambda: store.set(old, {"user_id": 3}),
            lambda: store.regenerate(old),
        ]
        for write in writes:
            try:
                write()
            except SessionStoreError:
                refused += 1
    finally:
        raw.config_set("maxmemory", 0)
    assert refused == len(writes)
    assert raw.exists(store.get_session_key(new)) == 0
    assert store.get(old) == {"user_id": 1, "n": 1}
    assert raw.pttl(store.get_session_key(old)) > 0
    assert store.sessions("user_id", 1) == [old]


async def test_an_old_csrf_field_is_hidden_and_removed_by_the_next_write(
    store: Any, raw: redis.Redis
) -> None:
    writes: list[Callable[[str], Awaitable[Any]]] = [
        lambda sid: store.set(sid, {"a": 2}),
        lambda sid: store.update(sid, incr={"n": 1}),
        lambda sid: store.unset(sid, ["a"]),
        lambda sid: store.touch(sid),
    ]
    for write in writes:
        session_id = store.create_session_id()
        await store.set(session_id, {"a": 1})
        raw.hset(store.get_session_key(session_id), "__csrf", "an older version's secret")
        assert await store.get(session_id) == {"a": 1}
        await write(session_id)
        assert raw.hexists(store.get_session_key(session_id), "__csrf") == 0
    with pytest.raises(ValueError):
        await store.get(session_id, ["__csrf"])  # a reserved name, like every '__' field
