"""Limits (docs/design.md, "Limits"): with ``limits={"user_id": N}`` a write that would
give one value more than N live sessions ends the least recently active others with the
reason "limit", never the writer; when the write returns, ``count <= N``. Through both
shells, and again on a cluster (test_limits_on_cluster.py), where the index half of the
write does it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis

from redis_session_sets import AsyncStore, Store
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer


def limited(make_store: Callable[..., Any], limit: int = 3, **options: Any) -> Any:
    # Exact scores: "least recently active" without the ties of a slack window.
    options.setdefault("index_slack", 0)
    return make_store(references=["user_id", "team"], limits={"user_id": limit}, **options)


async def sign_in(store: Any, user: int | str | None, **values: Any) -> str:
    session_id: str = store.create_session_id()
    await store.set(session_id, {"user_id": user, **values})
    await asyncio.sleep(0.002)  # distinct expiry times: an order of activity
    return session_id


async def test_the_least_recently_active_are_ended_never_the_writer(
    make_store: Callable[..., Any],
) -> None:
    store = limited(make_store)
    first, second, third = [await sign_in(store, 42) for _ in range(3)]
    await store.touch(first)  # now the most recently active of the three
    await asyncio.sleep(0.002)
    other_user = await sign_in(store, 7)
    fourth = await sign_in(store, 42)
    assert set(await store.sessions("user_id", 42)) == {first, third, fourth}
    assert await store.count("user_id", 42) == 3
    assert not await store.exists(second)
    assert await store.end_reason(second) == "limit"
    for survivor in (first, third, fourth, other_user):
        assert await store.exists(survivor)
        assert await store.end_reason(survivor) is None
    fifth = await sign_in(store, 42)
    assert set(await store.sessions("user_id", 42)) == {first, fourth, fifth}
    assert await store.end_reason(third) == "limit"


async def test_with_index_slack_still_never_the_writer_and_never_over(
    make_store: Callable[..., Any],
) -> None:
    store = limited(make_store, 2, index_slack=600)  # all scores in one window: ties
    writers = [await sign_in(store, 1) for _ in range(6)]
    live = await store.sessions("user_id", 1)
    assert len(live) == 2 and writers[-1] in live
    ended = [w for w in writers if w not in live]
    assert [await store.end_reason(w) for w in ended] == ["limit"] * 4


async def test_every_write_that_adds_a_session_to_an_index_is_limited(
    make_store: Callable[..., Any],
) -> None:
    store = limited(make_store, 2)
    olds = [await sign_in(store, 5) for _ in range(2)]
    # update (and the dict adapters' saves, which use it) of a new session
    by_update = store.create_session_id()
    await store.update(by_update, {"user_id": 5}, incr={"visits": 1})
    assert await store.end_reason(olds[0]) == "limit"
    # a value change of an existing session (it joins the index of 5)
    mover = await sign_in(store, 6)
    await store.set(mover, {"user_id": 5})
    assert await store.end_reason(olds[1]) == "limit"
    assert set(await store.sessions("user_id", 5)) == {by_update, mover}
    # incr on a reference field: the session joins the index of the new value
    counters = [store.create_session_id() for _ in range(3)]
    for session_id in counters:
        await store.set(session_id, {"user_id": 0})
        assert await store.incr(session_id, "user_id") == 1
        await asyncio.sleep(0.002)
    assert set(await store.sessions("user_id", 1)) == set(counters[1:])
    assert await store.end_reason(counters[0]) == "limit"
    # writes that keep the value add nobody: nothing ended
    await store.set(mover, {"theme": "dark"})
    await store.touch(by_update)
    assert set(await store.sessions("user_id", 5)) == {by_update, mover}


async def test_regenerate_moves_a_session_without_ending_another(
    make_store: Callable[..., Any],
) -> None:
    store = limited(make_store, 2)
    a, b = await sign_in(store, 3), await sign_in(store, 3)
    new_a = await store.regenerate(a)
    assert set(await store.sessions("user_id", 3)) == {new_a, b}
    assert await store.end_reason(b) is None and await store.exists(b)
    c = await sign_in(store, 3)
    new_c = await store.regenerate(c)  # c joined (ending the least recent: b), then moved
    assert set(await store.sessions("user_id", 3)) == {new_a, new_c}
    assert await store.end_reason(b) == "limit"


async def test_dead_members_never_count(make_store: Callable[..., Any], raw: Any) -> None:
    """Ending a session never ends another by mistake: members whose session is gone
    (deleted by hand, expired, holding another value) are removed, not counted."""
    store = limited(make_store, 3)
    a, gone, moved = [await sign_in(store, 8) for _ in range(3)]
    short = store.create_session_id()
    await store.set(short, {"user_id": 8}, max_age=0.05)  # ends `a`: 4 live
    assert await store.end_reason(a) == "limit"
    index = store.get_reference_key("user_id", 8)
    raw.delete(store.get_session_key(gone))  # by hand: its member stays
    raw.hset(store.get_session_key(moved), "user_id", "9")  # likewise
    await asyncio.sleep(0.1)  # `short` expires
    b = await sign_in(store, 8)
    c = await sign_in(store, 8)
    assert raw.zcard(index) >= 2
    assert set(await store.sessions("user_id", 8)) == {b, c}  # 2 live: nobody ended
    for session_id in (b, c):
        assert await store.end_reason(session_id) is None
    assert {m.decode() for m in raw.zrange(index, 0, -1)} <= {b, c}
    d, e = await sign_in(store, 8), await sign_in(store, 8)
    assert set(await store.sessions("user_id", 8)) == {c, d, e}
    assert await store.end_reason(b) == "limit"


async def test_concurrent_logins_never_leave_more_than_the_limit(
    make_store: Callable[..., Any],
) -> None:
    store = limited(make_store, 3, index_slack=600)
    ids = [store.create_session_id() for _ in range(40)]
    await asyncio.gather(*(store.set(session_id, {"user_id": 77}) for session_id in ids))
    live = await store.sessions("user_id", 77)
    truth = [session_id for session_id in ids if await store.exists(session_id)]
    assert sorted(truth) == sorted(live)
    reasons = [await store.end_reason(session_id) for session_id in ids]
    assert reasons.count("limit") == 40 - len(live) and reasons.count(None) == len(live)
    if store.core.topology.indexes_inline:
        assert len(live) == 3  # one atomic step per write: exactly the limit
    else:
        # On a cluster each writer's follow-up ends the excess it sees: never over the
        # limit, but concurrent follow-ups may end one session more than needed.
        assert 1 <= len(live) <= 3


def test_concurrent_logins_from_threads_never_leave_more_than_the_limit(
    redis_server: RedisServer,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = redis.Redis(port=redis_server.port)
    store = Store(client, references=["user_id"], limits={"user_id": 4}, prefix="threads")
    ids = [store.create_session_id() for _ in range(60)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda session_id: store.set(session_id, {"user_id": 1}), ids))
    assert store.count("user_id", 1) == 4
    assert sum(store.exists(session_id) for session_id in ids) == 4
    client.close()


async def test_a_limit_lowered_below_a_big_index_is_met_when_the_write_returns(
    make_store: Callable[..., Any],
) -> None:
    """More members than one call examines (a limit introduced or lowered since they
    signed in): the write continues in bounded steps until the index is within it."""
    unlimited = make_store(references=["user_id", "team"], index_slack=0)
    ids = [unlimited.create_session_id() for _ in range(600)]
    for start in range(0, 600, 50):
        chunk = ids[start : start + 50]
        await asyncio.gather(*(unlimited.set(s, {"user_id": 2}) for s in chunk))
    store = limited(make_store, 5)
    writer = await sign_in(store, 2)
    live = await store.sessions("user_id", 2)
    assert len(live) == 5 and writer in live
    assert set(live) - {writer} <= set(ids[-50:])  # the most recently active stay


async def test_other_fields_and_values_are_not_limited(make_store: Callable[..., Any]) -> None:
    store = limited(make_store, 1)
    ids = [await sign_in(store, None, team="blue") for _ in range(4)]
    assert len(await store.sessions("team", "blue")) == 4
    a, b = await sign_in(store, "x"), await sign_in(store, "y")
    assert await store.exists(a) and await store.exists(b)
    assert all([await store.exists(session_id) for session_id in ids])


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ({"nope": 3}, ValueError),
        ({"user_id": 0}, ValueError),
        ({"user_id": -1}, ValueError),
        ({"user_id": True}, TypeError),
        ({"user_id": "3"}, TypeError),
        ({"user_id": 2.0}, TypeError),
        ([("user_id", 3)], TypeError),
    ],
)
def test_limits_are_checked_when_the_store_is_built(limits: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Store(redis.Redis(port=1), references=["user_id"], limits=limits)
    with pytest.raises(error):
        AsyncStore(redis.asyncio.Redis(port=1), references=["user_id"], limits=limits)


def test_single_server_a_limited_login_is_one_round_trip(redis_server: RedisServer) -> None:
    client = redis.Redis(port=redis_server.port)
    store = Store(client, references=["user_id"], limits={"user_id": 2}, prefix="trips")
    for _ in range(2):
        store.set(store.create_session_id(), {"user_id": 1})
    newcomer = store.create_session_id()
    store.set(newcomer, {"user_id": 1})  # the scripts are cached now
    with CommandLog(redis_server.port) as log:
        store.set(store.create_session_id(), {"user_id": 1})
    assert [name for name in log.names] == ["EVALSHA"]
    inside = [args[0].upper() for ran, args in log.entries if ran]
    assert b"SET" in inside and b"PUBLISH" in inside  # the reason, the ended id
    assert store.count("user_id", 1) == 2
    client.close()


async def test_ended_ids_are_published(make_store: Callable[..., Any], raw: Any) -> None:
    store = limited(make_store, 1)
    first = await sign_in(store, 4)
    pubsub = raw.pubsub()
    pubsub.subscribe("rss:ended")
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    await sign_in(store, 4)
    messages = []
    for _ in range(20):
        message = pubsub.get_message(timeout=0.25)
        if message is not None and message["type"] == "message":
            messages.append(message["data"].decode())
            break
    pubsub.close()
    assert messages == [first]
