"""Index upkeep with few Redis calls (docs/design.md, "Lean scripts"): a join or a leave
reads the index's largest score first, a join writes the TTL only when that score
changes, and ``update`` reads its increments with the session's own HMGET. The TTL still
follows the largest score, the pruning still happens, and the results are the same."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import redis

from redis_session_sets import Store
from tests.store.test_index_slack import expiry_ms
from tests.support import commandstats


def assert_ttl_is_the_largest_score(raw: redis.Redis, index: str) -> None:
    members: list[Any] = raw.zrange(index, 0, -1, withscores=True)
    assert members, index
    top = max(float(member[1]) for member in members)
    assert abs(expiry_ms(raw, index) - top) <= 5, (index, expiry_ms(raw, index) - top)


def test_the_ttl_follows_the_largest_score_through_joins_renewals_and_leaves(
    raw: redis.Redis,
) -> None:
    store = Store(raw, references=["user_id"], index_slack=0)  # exact scores
    index, other = store.get_reference_key("user_id", 1), store.get_reference_key("user_id", 2)
    day = store.create_session_id()
    store.set(day, {"user_id": 1}, max_age=timedelta(days=1))  # a new index
    assert_ttl_is_the_largest_score(raw, index)
    two_days = store.create_session_id()
    store.set(two_days, {"user_id": 1}, max_age=timedelta(days=2))  # raises the largest
    assert_ttl_is_the_largest_score(raw, index)
    hour = store.create_session_id()
    store.set(hour, {"user_id": 1}, max_age=timedelta(hours=1))  # below it: TTL kept
    assert_ttl_is_the_largest_score(raw, index)
    assert raw.zscore(index, two_days) == pytest.approx(expiry_ms(raw, index), abs=5)
    store.touch(two_days, max_age=timedelta(hours=2))  # the largest one goes down
    assert_ttl_is_the_largest_score(raw, index)
    assert raw.zscore(index, day) == pytest.approx(expiry_ms(raw, index), abs=5)
    store.set(day, {"user_id": 2}, max_age=timedelta(days=1))  # the largest leaves, to a new index
    assert_ttl_is_the_largest_score(raw, index)
    assert_ttl_is_the_largest_score(raw, other)
    store.update(two_days, {"user_id": 2}, max_age=timedelta(days=3))  # joins above it
    assert_ttl_is_the_largest_score(raw, other)
    assert raw.zscore(other, two_days) == pytest.approx(expiry_ms(raw, other), abs=5)
    assert store.sessions("user_id", 1) == [hour]
    assert sorted(store.sessions("user_id", 2)) == sorted([day, two_days])
    store.delete(hour)  # the last member leaves: the index goes with it
    assert raw.exists(index) == 0


@pytest.mark.parametrize("slack", [0, 600])
def test_a_join_prunes_expired_members_and_heals_an_index_left_without_ttl(
    raw: redis.Redis, slack: int
) -> None:
    store = Store(raw, references=["user_id"], index_slack=slack)
    index = store.get_reference_key("user_id", 5)
    now = int(time.time() * 1000)
    # A hand-made index whose largest member expired: no TTL, nothing live.
    raw.zadd(index, {"dead-1": now - 5000, "dead-2": now - 1000})
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 5})
    assert raw.zrange(index, 0, -1) == [session_id.encode()]
    assert_ttl_is_the_largest_score(raw, index)
    # Likewise when it held a live member too: the expired ones go. (A join that leaves the
    # largest score as it was writes no TTL, so one removed by hand may stay removed.)
    raw.zadd(index, {"dead-3": now - 1000})
    raw.persist(index)
    other = store.create_session_id()
    store.set(other, {"user_id": 5})
    assert sorted(raw.zrange(index, 0, -1)) == sorted([session_id.encode(), other.encode()])
    # A leave prunes too, and puts the TTL on the largest score.
    raw.zadd(index, {"dead-4": now - 1000})
    store.set(other, {"user_id": 6})
    assert raw.zrange(index, 0, -1) == [session_id.encode()]
    assert_ttl_is_the_largest_score(raw, index)


def test_the_calls_of_a_moving_write_and_a_sign_in(raw: redis.Redis) -> None:
    """The commands each script runs (commandstats counts them): what the bench's Redis CPU
    figures are made of (bench/NOTES.md)."""
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1, "theme": "dark"})
    commandstats.reset(raw)
    store.set(session_id, {"user_id": 2})  # leaves its only index, joins a new one
    assert commandstats.commands(raw) == {
        "evalsha": 1, "time": 1, "hmget": 1, "hset": 1, "pexpireat": 2,
        "zrem": 1, "zrange": 2, "zadd": 1,
    }  # fmt: skip
    commandstats.reset(raw)
    store.set(store.create_session_id(), {"user_id": 2})  # joins, in the same window
    assert commandstats.commands(raw) == {
        "evalsha": 1, "time": 1, "hmget": 1, "exists": 1, "hset": 1, "pexpireat": 1,
        "zrange": 1, "zrangebyscore": 1, "zadd": 1,
    }  # fmt: skip
    commandstats.reset(raw)
    assert store.update(session_id, {"theme": "light"}, incr={"n": 1}) == {"n": 1}
    counts = commandstats.commands(raw)
    assert counts["hmget"] == 1 and "zadd" not in counts, counts


@pytest.mark.parametrize("increments", [1, 1000, 1001, 2500])
def test_update_reads_any_number_of_increments(raw: redis.Redis, increments: int) -> None:
    """Up to 1000 increments are read with the session's own HMGET, more in slices."""
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 3, **{f"n{i}": i for i in range(0, increments, 2)}})
    amounts = {f"n{i}": 10 for i in range(increments)}
    result = store.update(session_id, {"user_id": 4}, incr=amounts)
    expected = {f"n{i}": (i if i % 2 == 0 else 0) + 10 for i in range(increments)}
    assert result == expected
    assert store.get(session_id) == {**expected, "user_id": 4}
    assert store.sessions("user_id", 4) == [session_id]
    # A field that holds no integer fails the whole update, whichever read found it.
    store.set(session_id, {f"n{increments - 1}": "text"})
    with pytest.raises(TypeError):
        store.update(session_id, {"user_id": 5}, incr=amounts)
    assert store.get(session_id) == {**expected, f"n{increments - 1}": "text", "user_id": 4}
    assert store.sessions("user_id", 5) == []
