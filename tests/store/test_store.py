"""Every Store/AsyncStore method against a real redis-server, through both shells."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from redis_session_sets import SessionInfo
from tests.support.facade import collect

pytestmark = pytest.mark.both_clients  # the store given redis-py's and valkey-py's clients

VALUES: dict[str, Any] = {
    "int": 7,
    "big": 2**62,
    "str": 'héllo "quoted" {braces}',
    "true": True,
    "false": False,
    "none": None,
    "float": 1.5,
    "list": [1, "two", None, [3]],
    "dict": {"a": {"b": [1, 2]}, "c": "d"},
    "empty": "",
}


async def test_values_round_trip_with_their_types(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, VALUES)
    got = await store.get(session_id)
    assert got == VALUES
    for name, value in VALUES.items():
        assert type(got[name]) is type(value)


async def test_get_named_fields_omits_missing_ones(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1, "b": 2})
    assert await store.get(session_id, ["a", "missing"]) == {"a": 1}
    assert await store.get(session_id, []) == {}


async def test_unknown_session_reads_empty(store: Any) -> None:
    unknown = store.create_session_id()
    assert await store.get(unknown) == {}
    assert await store.get(unknown, ["a"]) == {}
    assert await store.exists(unknown) is False
    assert await store.info(unknown) is None
    assert await store.touch(unknown) is False
    assert await store.delete(unknown) is False


async def test_set_merges_fields_and_hides_reserved_ones(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    await store.set(session_id, {"b": 2})
    assert await store.get(session_id) == {"a": 1, "b": 2}
    stored = raw.hgetall(store.get_session_key(session_id))
    assert {b"__created", b"__touched"} <= set(stored)
    assert stored[b"a"] == b"1"  # each value JSON-encoded in its own hash field


async def test_key_layout(store: Any) -> None:
    session_id = store.create_session_id()
    assert store.get_session_key(session_id) == f"rss:s:{{{session_id}}}"
    assert store.get_reference_key("user_id", 42) == "rss:r:user_id:{42}"
    assert store.get_reference_key("user_id", "42") == "rss:r:user_id:{42}"


async def test_create_session_id_shape(make_store: Any) -> None:
    store = make_store(id_bytes=16)
    ids = {store.create_session_id() for _ in range(100)}
    assert len(ids) == 100
    for session_id in ids:
        assert len(session_id) == 22
        assert len(base64.urlsafe_b64decode(session_id + "==")) == 16
    assert len(make_store().create_session_id()) == 43


async def test_sessions_and_count_follow_reference_changes(store: Any, raw: redis.Redis) -> None:
    first, second = store.create_session_id(), store.create_session_id()
    await store.set(first, {"user_id": 42, "team": "red"})
    await store.set(second, {"user_id": "42"})
    assert sorted(await store.sessions("user_id", 42)) == sorted([first, second])
    assert await store.count("user_id", "42") == 2
    assert await store.sessions("team", "red") == [first]

    await store.set(first, {"user_id": 7})
    assert await store.sessions("user_id", 42) == [second]
    assert await store.sessions("user_id", 7) == [first]
    await store.set(second, {"user_id": 7})
    assert await store.count("user_id", 42) == 0
    assert not raw.exists(store.get_reference_key("user_id", 42))  # the old index is gone


async def test_unset_removes_fields_and_index_membership(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "blue", "keep": True})
    await store.unset(session_id, ["user_id", "absent"])
    assert await store.get(session_id) == {"team": "blue", "keep": True}
    assert await store.sessions("user_id", 1) == []
    assert not raw.exists(store.get_reference_key("user_id", 1))
    assert await store.sessions("team", "blue") == [session_id]


async def test_unset_does_not_create_a_session(store: Any) -> None:
    session_id = store.create_session_id()
    await store.unset(session_id, ["a"])
    assert await store.exists(session_id) is False


async def test_none_reference_value_is_stored_but_not_indexed(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 5})
    await store.set(session_id, {"user_id": None})
    assert await store.get(session_id) == {"user_id": None}
    assert await store.sessions("user_id", 5) == []


async def test_delete_removes_hash_and_every_index(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 3, "team": "green"})
    assert await store.delete(session_id) is True
    assert await store.exists(session_id) is False
    assert await store.sessions("user_id", 3) == []
    assert await store.sessions("team", "green") == []
    assert raw.dbsize() == 0


async def test_incr(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    assert await store.incr(session_id, "visits") == 1  # creates the session
    assert await store.incr(session_id, "visits", 10) == 11
    assert await store.incr(session_id, "visits", -12) == -1
    assert (await store.get(session_id))["visits"] == -1
    await store.set(session_id, {"name": "x", "ratio": 1.5, "flag": True})
    before = raw.hgetall(store.get_session_key(session_id))
    for field in ("name", "ratio", "flag"):
        with pytest.raises(TypeError):
            await store.incr(session_id, field)
    await store.set(session_id, {"huge": 2**63 - 1})
    with pytest.raises(TypeError):
        await store.incr(session_id, "huge")
    after = raw.hgetall(store.get_session_key(session_id))
    assert {k: v for k, v in after.items() if k not in (b"huge", b"__touched")} == {
        k: v for k, v in before.items() if k != b"__touched"
    }


async def test_incr_on_a_reference_field_moves_the_session(store: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 41})
    assert await store.incr(session_id, "user_id") == 42
    assert await store.sessions("user_id", 41) == []
    assert await store.sessions("user_id", 42) == [session_id]


async def test_touch_and_max_age_renew_ttl(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 9}, max_age=10)
    key = store.get_session_key(session_id)
    assert 9_000 < raw.pttl(key) <= 10_000
    index = store.get_reference_key("user_id", 9)
    assert 9_000 < raw.pttl(index) <= 10_000
    assert await store.touch(session_id, max_age=timedelta(hours=1)) is True
    assert 3_590_000 < raw.pttl(key) <= 3_600_000
    # The index's score and TTL follow the renewal, so the index does not drop it early.
    assert 3_590_000 < raw.pttl(index) <= 3_600_000
    score = raw.zscore(index, session_id)
    assert score is not None
    assert abs(score - (time.time() * 1000 + raw.pttl(key))) < 2_000
    await store.touch(session_id)  # default: 28 days
    assert raw.pttl(key) > 27 * 86_400_000


async def test_info(store: Any) -> None:
    session_id = store.create_session_id()
    before = datetime.now(UTC)
    await store.set(session_id, {"a": 1}, max_age=3600)
    await asyncio.sleep(0.01)
    await store.touch(session_id, max_age=7200)
    info = await store.info(session_id)
    assert isinstance(info, SessionInfo)
    assert info.id == session_id
    assert before - timedelta(seconds=1) <= info.created_at < info.touched_at
    assert info.created_at.tzinfo is not None
    expected = info.touched_at + timedelta(hours=2)
    assert abs((info.expires_at - expected).total_seconds()) < 1


async def test_regenerate_moves_data_and_indexes(store: Any, raw: redis.Redis) -> None:
    old = store.create_session_id()
    await store.set(old, {"user_id": 5, "team": "x", "cart": [1, 2]})
    raw.hset(store.get_session_key(old), "__csrf", "old-secret")
    created = (await store.info(old)).created_at
    new = await store.regenerate(old)
    assert new != old and len(new) == 43  # create_session_id: 32 random bytes
    assert await store.exists(old) is False
    assert await store.get(new) == {"user_id": 5, "team": "x", "cart": [1, 2]}
    assert await store.sessions("user_id", 5) == [new]
    assert await store.sessions("team", "x") == [new]
    assert raw.zscore(store.get_reference_key("user_id", 5), old) is None
    # An older version's CSRF secret is not carried over.
    assert raw.hget(store.get_session_key(new), "__csrf") is None
    assert (await store.info(new)).created_at == created


async def test_regenerate_of_a_missing_session_gives_a_new_empty_one(store: Any) -> None:
    new = await store.regenerate(store.create_session_id())
    assert await store.exists(new) is True
    assert await store.get(new) == {}


async def test_expired_sessions_vanish_from_indexes(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(references=["user_id"], max_age=0.5)
    short, long = store.create_session_id(), store.create_session_id()
    await store.set(short, {"user_id": 1})
    await store.set(long, {"user_id": 1}, max_age=60)
    index = store.get_reference_key("user_id", 1)
    await asyncio.sleep(0.7)
    assert await store.sessions("user_id", 1) == [long]
    assert await store.count("user_id", 1) == 1
    assert raw.zcard(index) == 1  # the dead member was pruned by score, not just hidden
    await store.delete(long)
    other = store.create_session_id()
    await store.set(other, {"user_id": 2}, max_age=0.3)
    await asyncio.sleep(0.5)
    # Nothing read or wrote the index: the key itself expired with its last session.
    assert not raw.exists(store.get_reference_key("user_id", 2))
    assert raw.dbsize() == 0


async def test_index_ttl_is_its_largest_score(store: Any, raw: redis.Redis) -> None:
    first, second = store.create_session_id(), store.create_session_id()
    await store.set(first, {"user_id": 8}, max_age=100)
    await store.set(second, {"user_id": 8}, max_age=10)
    index = store.get_reference_key("user_id", 8)
    assert 99_000 < raw.pttl(index) <= 100_000
    await store.delete(first)
    assert 9_000 < raw.pttl(index) <= 10_000


async def test_index_ttl_follows_its_largest_score_after_iteration_prunes(
    store: Any, raw: redis.Redis
) -> None:
    # iter_sessions (and `gc`, which walks with the same script) removes the stale member
    # that held the largest score: the key must then expire with the remaining session.
    short, long = store.create_session_id(), store.create_session_id()
    await store.set(short, {"user_id": 9}, max_age=10)
    await store.set(long, {"user_id": 9}, max_age=100)
    index = store.get_reference_key("user_id", 9)
    raw.delete(store.get_session_key(long))  # gone behind the library's back
    assert await collect(store, "user_id", 9) == [short]
    assert 9_000 < raw.pttl(index) <= 10_000


async def test_hash_deleted_behind_the_librarys_back_is_not_listed(
    store: Any, raw: redis.Redis
) -> None:
    gone, changed, alive = (store.create_session_id() for _ in range(3))
    for session_id in (gone, changed, alive):
        await store.set(session_id, {"user_id": 11})
    raw.delete(store.get_session_key(gone))
    raw.hset(store.get_session_key(changed), "user_id", "12")  # edited by hand
    index = store.get_reference_key("user_id", 11)
    assert await store.sessions("user_id", 11) == [alive]
    assert await store.count("user_id", 11) == 1
    assert await collect(store, "user_id", 11) == [alive]
    assert raw.zrange(index, 0, -1) == [alive.encode()]  # stale members removed when met


async def test_absolute_max_age(make_store: Any, raw: redis.Redis) -> None:
    # Two seconds of absolute life: the touches fit in it even on a loaded machine.
    store = make_store(references=["user_id"], absolute_max_age=2)
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "a": 1})
    key = store.get_session_key(session_id)
    # Redis's clock, not the client's: the first call may spend a while connecting.
    created_ms = int(raw.hget(key, "__created") or 0)
    assert raw.pttl(key) <= 2000  # the TTL never outlives the absolute limit
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert await store.touch(session_id) is True
    seconds, micros = raw.time()
    await asyncio.sleep((created_ms + 2100 - (seconds * 1000 + micros // 1000)) / 1000)
    assert await store.get(session_id) == {}
    assert await store.exists(session_id) is False
    assert await store.sessions("user_id", 1) == []


async def test_absolute_max_age_deletes_a_session_when_met(
    make_store: Any, raw: redis.Redis
) -> None:
    store = make_store(references=["user_id"], absolute_max_age=3600)
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1})
    # Created long ago (say the limit was lowered since): gone when met, index cleaned.
    raw.hset(store.get_session_key(session_id), "__created", int(time.time() * 1000) - 7_200_000)
    assert await store.sessions("user_id", 1) == []
    assert await store.exists(session_id) is False
    assert raw.dbsize() == 0
    other = store.create_session_id()
    await store.set(other, {"user_id": 2, "a": 1})
    raw.hset(store.get_session_key(other), "__created", int(time.time() * 1000) - 7_200_000)
    assert await store.get(other) == {}
    assert raw.dbsize() == 0
    assert await store.touch(other) is False
    info_store_id = store.create_session_id()
    await store.set(info_store_id, {"a": 1})
    info = await store.info(info_store_id)
    assert info.expires_at <= info.created_at + timedelta(hours=1, seconds=1)


async def test_iter_sessions_yields_each_exactly_once(store: Any, sync_client: redis.Redis) -> None:
    ids = [store.create_session_id() for _ in range(2000)]
    for session_id in ids:
        await store.set(session_id, {"user_id": "many"})
    streamed = await collect(store, "user_id", "many", batch_size=37)
    assert len(streamed) == 2000
    assert sorted(streamed) == sorted(ids)
    assert await store.count("user_id", "many") == 2000


async def test_delete_all_with_keep(store: Any, raw: redis.Redis) -> None:
    ids = [store.create_session_id() for _ in range(1200)]  # more than one batch
    for session_id in ids:
        await store.set(session_id, {"user_id": 77, "team": "t"})
    other = store.create_session_id()
    await store.set(other, {"user_id": 78, "team": "t"})
    assert await store.delete_all("user_id", 77, keep=[ids[0], ids[5]]) == 1198
    assert sorted(await store.sessions("user_id", 77)) == sorted([ids[0], ids[5]])
    assert sorted(await store.sessions("team", "t")) == sorted([ids[0], ids[5], other])
    assert await store.delete_all("user_id", 77) == 2
    assert await store.delete_all("user_id", 77) == 0
    assert await store.sessions("team", "t") == [other]
    assert set(raw.scan_iter()) == {
        store.get_session_key(other).encode(),
        store.get_reference_key("user_id", 78).encode(),
        store.get_reference_key("team", "t").encode(),
    }


async def test_references_as_mapping_and_prefix(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(references={"user_id": {}}, prefix="app1")
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1})
    assert raw.exists(f"app1:s:{{{session_id}}}")
    assert raw.exists("app1:r:user_id:{1}")


async def test_ids_derived_from_tokens_are_valid_session_ids(store: Any) -> None:
    token = store.create_session_id()
    derived = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=")
    await store.set(derived.decode(), {"a": 1})
    assert await store.get(derived.decode()) == {"a": 1}


async def test_values_written_by_hand_are_returned_not_raised(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    key = store.get_session_key(session_id)
    raw.hset(key, mapping={"plain": "not json", "binary": b"\xff\xfe{", b"\xffname": "2"})
    got = await store.get(session_id)
    assert got["a"] == 1
    assert got["plain"] == "not json"
    assert got["binary"] == "\ufffd\ufffd{"
    assert got["\ufffdname"] == 2
    assert await store.get(session_id, ["binary"]) == {"binary": "\ufffd\ufffd{"}
