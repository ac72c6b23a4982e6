"""Index scores and slack (docs/design.md, "Index slack"): a member's score is never
earlier than its session's expiry and at most ``index_slack`` later, so a write that keeps
the reference values and whose expiry the score covers sends no index command at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from redis_session_sets import Store
from tests.support.monitor import CommandLog

SLACK_MS = 10 * 60 * 1000


def expiry_ms(raw: redis.Redis, key: str) -> int:
    """A key's absolute expiry in ms (TIME + PTTL: exact to a millisecond or two)."""
    pipe = raw.pipeline(transaction=False)
    pipe.time()
    pipe.pttl(key)
    clock, ttl = pipe.execute()
    return int(clock[0]) * 1000 + int(clock[1]) // 1000 + int(ttl)


def assert_scores_within_slack(raw: redis.Redis, store: Any, session_id: str, slack: int) -> None:
    expires = expiry_ms(raw, store.get_session_key(session_id))
    for name, value in (("user_id", 1), ("team", "red")):
        index = store.get_reference_key(name, value)
        score = raw.zscore(index, session_id)
        assert score is not None, (name, value)
        assert expires - 5 <= score <= expires + slack + 5, (name, score - expires)
        members: list[Any] = raw.zrange(index, 0, -1, withscores=True)
        top = max(float(member[1]) for member in members)
        assert abs(expiry_ms(raw, index) - top) <= 5  # the index lives as its last member


async def test_scores_cover_the_expiry_by_at_most_the_slack(
    make_store: Any, raw: redis.Redis
) -> None:
    store = make_store(references=["user_id", "team"], max_age=timedelta(days=1))
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "red"})
    assert_scores_within_slack(raw, store, session_id, SLACK_MS)
    writes: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.set(session_id, {"a": 1}),
        lambda: store.touch(session_id),
        lambda: store.update(session_id, unset=["a"], incr={"n": 1}),
        lambda: store.set(session_id, {"x": 1}, max_age=timedelta(days=3)),  # longer
        lambda: store.touch(session_id, max_age=timedelta(hours=2)),  # shorter
        lambda: store.incr(session_id, "n"),
    ]
    for write in writes:
        await write()
        assert_scores_within_slack(raw, store, session_id, SLACK_MS)
    new_id = await store.regenerate(session_id)
    assert_scores_within_slack(raw, store, new_id, SLACK_MS)


async def test_slack_is_at_most_a_tenth_of_the_max_age(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(references=["user_id", "team"], max_age=60)  # under 10 slacks
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "red"})
    assert_scores_within_slack(raw, store, session_id, 6000)
    await store.set(session_id, {"a": 1}, max_age=1)
    assert_scores_within_slack(raw, store, session_id, 100)


async def test_no_slack(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(references=["user_id", "team"], index_slack=0)
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "red"})
    assert_scores_within_slack(raw, store, session_id, 0)
    await store.touch(session_id)
    assert_scores_within_slack(raw, store, session_id, 0)


def mid_window_max_age(slack_ms: int = SLACK_MS) -> timedelta:
    """A max age of about a day whose expiry falls in the middle of a slack window now, so
    that the writes of a test (well under a minute) all fall in that window."""
    now = time.time() * 1000
    window_end = (int(now + 86_400_000) // slack_ms + 1) * slack_ms
    return timedelta(milliseconds=window_end - slack_ms // 2 - now)


def index_commands(log: CommandLog, index_keys: set[bytes]) -> list[list[bytes]]:
    return [args for args in log.all_commands if set(args[1:2]) & index_keys]


def test_a_covered_write_sends_no_index_command(sync_client: redis.Redis, raw: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id", "team"], max_age=mid_window_max_age())
    port = raw.connection_pool.connection_kwargs["port"]
    session_id = store.create_session_id()
    indexes = {store.get_reference_key(n, v).encode() for n, v in (("user_id", 1), ("team", "red"))}
    with CommandLog(port) as log:
        store.set(session_id, {"user_id": 1, "team": "red"})  # joins both indexes
    assert {args[1] for args in index_commands(log, indexes)} == indexes
    for write in (
        lambda: store.set(session_id, {"user_id": 1, "a": 1}),  # same value again
        lambda: store.set(session_id, {"b": 2}),
        lambda: store.touch(session_id),
        lambda: store.update(session_id, {"c": 3}, unset=["a"], incr={"n": 1}),
        lambda: store.incr(session_id, "n"),
        lambda: store.unset(session_id, ["b"]),
    ):
        with CommandLog(port) as log:
            write()
        scripts = [args[0].upper() for args in log.all_commands]
        assert index_commands(log, indexes) == [], log.all_commands
        assert not any(name.startswith(b"Z") for name in scripts), scripts
    # A write that moves the session touches the indexes it leaves and joins, only.
    with CommandLog(port) as log:
        store.set(session_id, {"team": "blue"})
    touched = {args[1] for args in log.all_commands if args[0].upper().startswith(b"Z")}
    assert touched == {b"rss:r:team:{red}", b"rss:r:team:{blue}"}
    assert store.sessions("team", "blue") == [session_id]
    assert store.sessions("user_id", 1) == [session_id]


async def test_a_write_past_the_window_renews_the_scores(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(references=["user_id", "team"], index_slack=0.2, max_age=60)
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "red"})
    first = raw.zscore(store.get_reference_key("user_id", 1), session_id)
    await asyncio.sleep(0.45)  # past the slack window of the first write
    await store.touch(session_id)
    second = raw.zscore(store.get_reference_key("user_id", 1), session_id)
    assert first is not None and second is not None and second > first
    assert_scores_within_slack(raw, store, session_id, 200)


async def test_a_moved_session_joins_with_the_shared_score(
    make_store: Any, raw: redis.Redis
) -> None:
    store = make_store(references=["user_id", "team"])
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1, "team": "blue"})
    await store.set(session_id, {"team": "red"})  # user_id's membership was covered
    user = raw.zscore(store.get_reference_key("user_id", 1), session_id)
    assert user == raw.zscore(store.get_reference_key("team", "red"), session_id)
    assert_scores_within_slack(raw, store, session_id, SLACK_MS)


async def test_index_slack_is_checked(make_store: Any) -> None:
    for bad in (-1, timedelta(days=401), float("nan")):
        with pytest.raises(ValueError):
            make_store(index_slack=bad)
    with pytest.raises(TypeError):
        make_store(index_slack="10")
    assert make_store(index_slack=timedelta(seconds=30)).core.index_slack_ms == 30_000


def test_an_expired_session_leaves_its_index_within_the_slack(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    store = Store(sync_client, references=["user_id"], max_age=2, index_slack=0.1)
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1})
    score = raw.zscore(store.get_reference_key("user_id", 1), session_id)
    assert score is not None and score - time.time() * 1000 <= 2000 + 100 + 50
    assert store.sessions("user_id", 1) == [session_id]
