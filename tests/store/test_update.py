"""``update``: set + unset + incr in one atomic script, through both shells (and, by
tests/store/test_update_on_cluster.py, on a cluster)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.support.monitor import CommandLog

INT64_MAX = 2**63 - 1


def state(raw: redis.Redis, store: Any, session_id: str) -> dict[str, Any]:
    """Everything the store keeps about a session and its indexes, byte for byte."""
    key = store.get_session_key(session_id)
    indexes = {}
    for name in store.references:
        for index in raw.scan_iter(match=f"rss:r:{name}:*"):
            indexes[index] = (raw.zrange(index, 0, -1, withscores=True), raw.pttl(index) > 0)
    return {"hash": raw.hgetall(key), "ttl": raw.pttl(key) > 0, "indexes": indexes}


async def test_update_sets_unsets_and_increments_at_once(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "a": 1, "b": 2, "n": 5})
    result = await store.update(
        session_id, {"user_id": 2, "c": "x"}, unset=["a"], incr={"n": 3, "fresh": -2}
    )
    assert result == {"n": 8, "fresh": -2}
    assert await store.get(session_id) == {"user_id": 2, "b": 2, "n": 8, "fresh": -2, "c": "x"}
    assert await store.sessions("user_id", 1) == []
    assert await store.sessions("user_id", 2) == [session_id]
    assert raw.pttl(store.get_session_key(session_id)) > 0


async def test_update_with_only_values_is_a_set(store: Any) -> None:
    session_id = store.create_session_id()
    assert await store.update(session_id, {"team": "red"}) == {}
    assert await store.get(session_id) == {"team": "red"}
    assert await store.sessions("team", "red") == [session_id]
    assert await store.update(session_id) == {}  # nothing: renews the TTL only
    assert await store.get(session_id) == {"team": "red"}


async def test_update_creates_a_missing_session(store: Any) -> None:
    session_id = store.create_session_id()
    assert await store.update(session_id, incr={"n": 1}) == {"n": 1}
    assert await store.get(session_id) == {"n": 1}
    assert (await store.info(session_id)) is not None


async def test_unset_of_a_reference_leaves_its_index(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 7, "team": "t"})
    await store.update(session_id, {"x": 1}, unset=["user_id"])
    assert await store.sessions("user_id", 7) == []
    assert await store.sessions("team", "t") == [session_id]


async def test_incr_of_a_reference_moves_the_session(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 41})
    assert await store.update(session_id, incr={"user_id": 1}) == {"user_id": 42}
    assert await store.sessions("user_id", 41) == []
    assert await store.sessions("user_id", 42) == [session_id]
    assert await store.incr(session_id, "user_id") == 43
    assert await store.sessions("user_id", 43) == [session_id]
    assert await store.count("user_id", 42) == 0


async def test_a_field_appears_in_one_part_only(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    for kwargs in (
        {"values": {"a": 1}, "unset": ["a"]},
        {"values": {"a": 1}, "incr": {"a": 1}},
        {"unset": ["a"], "incr": {"a": 1}},
    ):
        with pytest.raises(ValueError, match="only one of"):
            await store.update(session_id, **kwargs)
    bad: list[dict[str, Any]] = [
        {"incr": {"__created": 1}},
        {"unset": ["__touched"]},
        {"incr": {"a": 1.5}},
        {"incr": {"a": True}},
        {"incr": {"a": 2**63}},
        {"incr": ["a"]},
        {"values": {"user_id": 1.5}},
    ]
    for kwargs in bad:
        with pytest.raises((ValueError, TypeError)):
            await store.update(session_id, **kwargs)
    assert raw.dbsize() == 0


@pytest.mark.parametrize(
    ("stored", "amount"),
    [
        ('"text"', 1),  # not an integer
        ("1.5", 1),
        ("05", 1),  # digits HINCRBY refuses
        (str(INT64_MAX), 1),  # overflows by far (doubles see it)
        (str(INT64_MAX - 10), 20),  # overflows within a few ulps: HINCRBY decides, undone
        (str(-INT64_MAX), -5),
    ],
)
async def test_a_failed_increment_writes_nothing(
    store: Any, raw: redis.Redis, stored: str, amount: int
) -> None:
    session_id, other = store.create_session_id(), store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "a", "keep": 1, "n": 10})
    await store.set(other, {"user_id": 1})
    raw.hset(store.get_session_key(session_id), "bad", stored)
    raw.hset(store.get_session_key(session_id), "__csrf", "old")  # even this stays
    before = state(raw, store, session_id)
    dump = raw.dump(store.get_session_key(session_id))
    with pytest.raises(TypeError, match="bad"):
        await store.update(
            session_id,
            {"user_id": 2, "new": 1},
            unset=["team", "keep"],
            incr={"n": 1, "absent": 3, "bad": amount},
        )
    assert state(raw, store, session_id) == before
    assert raw.dump(store.get_session_key(session_id)) == dump
    assert await store.sessions("user_id", 1) in ([session_id, other], [other, session_id])


async def test_an_increment_at_the_limit_then_past_it(store: Any) -> None:
    session_id = store.create_session_id()
    assert await store.update(session_id, {"b": 1}, incr={"a": INT64_MAX}) == {"a": INT64_MAX}
    with pytest.raises(TypeError):
        await store.update(session_id, {"b": 2}, incr={"a": 1})
    assert await store.get(session_id) == {"b": 1, "a": INT64_MAX}


async def test_increments_are_exact_beyond_doubles(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"big": 2**62 + 1})
    assert await store.update(session_id, incr={"big": 2**60 + 3}) == {"big": 2**62 + 2**60 + 4}
    assert await store.incr(session_id, "big", -(2**62)) == 2**60 + 4
    assert await store.get(session_id) == {"big": 2**60 + 4}


def test_update_is_one_script_call(sync_client: redis.Redis, raw: redis.Redis) -> None:
    from redis_session_sets import Store

    store = Store(sync_client, references=["user_id"])
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1, "counter": 0})
    port = raw.connection_pool.connection_kwargs["port"]
    for expected in (["EVAL"], ["EVALSHA"]):  # the first use sends the script itself
        with CommandLog(port) as log:
            store.update(session_id, {"user_id": 42}, incr={"counter": 1})
        assert log.names == expected  # the /write route's work in one round trip
    assert store.get(session_id) == {"user_id": 42, "counter": 2}
