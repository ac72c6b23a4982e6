"""Attacks on limits and end reasons (docs/design.md, "Limits", "End reasons"): the
corners the feature's own tests leave out. Through both shells, and again on a cluster
(test_limits_attack_on_cluster.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.store.test_limits import sign_in


async def fill(store: Any, user: int, count: int, chunk: int = 50) -> list[str]:
    """``count`` sessions of ``user`` written by ``store`` (in order of activity)."""
    ids = [store.create_session_id() for _ in range(count)]
    for start in range(0, count, chunk):
        part = ids[start : start + chunk]
        await asyncio.gather(*(store.set(s, {"user_id": user}) for s in part))
        await asyncio.sleep(0.002)
    return ids


async def test_stale_members_beyond_the_page_never_end_live_sessions(
    make_store: Callable[..., Any], raw: Any
) -> None:
    """Rule 10: an index bigger than one limit call examines, whose most recent members
    are stale (their hashes evicted, deleted by hand): the user is within the limit, so
    the next sign-in ends nobody. Counting the members beyond the page as live ended
    sessions of a user who had fewer than the limit."""
    unlimited = make_store(references=["user_id"], index_slack=0)
    old = await fill(unlimited, 2, 260)
    recent = await fill(unlimited, 2, 100)
    for session_id in recent:  # evicted: their members stay, with the highest scores
        raw.delete(unlimited.get_session_key(session_id))
    store = make_store(references=["user_id"], index_slack=0, limits={"user_id": 300})
    writer = await sign_in(store, 2)
    live = set(await store.sessions("user_id", 2))
    assert live == {*old, writer}  # 261 live <= 300: nobody ended
    assert [s for s in old if await store.end_reason(s) == "limit"] == []


async def test_stale_members_beyond_the_page_keep_the_most_recent_live_ones(
    make_store: Callable[..., Any], raw: Any
) -> None:
    """The same with a small limit: the N most recently active live sessions stay (the
    writer among them), not fewer."""
    unlimited = make_store(references=["user_id"], index_slack=0)
    await fill(unlimited, 3, 300)
    recent = await fill(unlimited, 3, 300)
    for session_id in recent:
        raw.delete(unlimited.get_session_key(session_id))
    store = make_store(references=["user_id"], index_slack=0, limits={"user_id": 5})
    writer = await sign_in(store, 3)
    live = await store.sessions("user_id", 3)
    assert writer in live
    assert len(live) == 5  # the limit, not fewer: live sessions were ended by mistake


async def test_two_limited_fields_in_one_write(make_store: Callable[..., Any]) -> None:
    store = make_store(
        references=["user_id", "org"], index_slack=0, limits={"user_id": 2, "org": 3}
    )
    a = await sign_in(store, 1, org="acme")
    b = await sign_in(store, 1, org="acme")
    c = await sign_in(store, 2, org="acme")
    d = await sign_in(store, 1, org="acme")  # over both: user 1 ends a, then org is 3
    assert set(await store.sessions("user_id", 1)) == {b, d}
    assert set(await store.sessions("org", "acme")) == {b, c, d}
    assert await store.end_reason(a) == "limit"
    e = await sign_in(store, 3, org="acme")  # org over: b (least recent) ends
    assert set(await store.sessions("org", "acme")) == {c, d, e}
    assert await store.end_reason(b) == "limit"
    assert set(await store.sessions("user_id", 1)) == {d}
    for survivor in (c, d, e):
        assert await store.end_reason(survivor) is None


async def test_a_limit_of_one_with_regenerate_and_moves(make_store: Callable[..., Any]) -> None:
    store = make_store(references=["user_id"], index_slack=0, limits={"user_id": 1})
    a = await sign_in(store, 1)
    new_a = await store.regenerate(a)  # the only session moves: nobody ended
    assert await store.sessions("user_id", 1) == [new_a]
    assert await store.end_reason(a) is None
    b = await sign_in(store, 2)
    await store.set(b, {"user_id": 1})  # b moves into 1: new_a ends, b leaves 2
    assert await store.sessions("user_id", 1) == [b]
    assert await store.sessions("user_id", 2) == []
    assert await store.end_reason(new_a) == "limit"
    new_b = await store.regenerate(b)
    assert await store.sessions("user_id", 1) == [new_b]
    assert await store.end_reason(b) is None
    await store.update(new_b, incr={"user_id": 1})  # moves to 2, alone there
    assert await store.sessions("user_id", 2) == [new_b]
    assert await store.sessions("user_id", 1) == []


async def test_absolute_max_age_with_limits(make_store: Callable[..., Any]) -> None:
    """A session past the absolute max age never counts and is never "ended" by a limit
    (it is gone, no reason is left for it)."""
    store = make_store(
        references=["user_id"], index_slack=0, limits={"user_id": 2}, absolute_max_age=0.3
    )
    old = await sign_in(store, 1)
    await asyncio.sleep(0.35)
    a, b = await sign_in(store, 1), await sign_in(store, 1)
    assert set(await store.sessions("user_id", 1)) == {a, b}
    assert await store.end_reason(old) is None
    assert await store.end_reason(a) is None


async def test_concurrent_logins_over_a_big_index_end_at_the_limit(
    make_store: Callable[..., Any],
) -> None:
    unlimited = make_store(references=["user_id"], index_slack=0)
    await fill(unlimited, 9, 400)
    store = make_store(references=["user_id"], index_slack=0, limits={"user_id": 3})
    writers = [store.create_session_id() for _ in range(20)]
    await asyncio.gather(*(store.set(s, {"user_id": 9}) for s in writers))
    live = await store.sessions("user_id", 9)
    if store.core.topology.indexes_inline:
        assert len(live) == 3
    else:
        assert 1 <= len(live) <= 3
    assert set(live) <= set(writers)


@pytest.mark.parametrize(
    "reason",
    [
        "é" * 64,
        "🔒" * 64,
        "line\nbreak\r\n\t and \x00 nul",
        "quotes ' \" ` \\ backslash ]] --[[ lua",
        " ",
    ],
)
async def test_odd_reasons_round_trip_through_delete_and_delete_all(
    make_store: Callable[..., Any], reason: str
) -> None:
    store = make_store(references=["user_id"])
    a, b = store.create_session_id(), store.create_session_id()
    await store.set(a, {"user_id": 1})
    await store.set(b, {"user_id": 2})
    assert await store.delete(a, reason=reason)
    assert await store.delete_all("user_id", 2, reason=reason) == 1
    assert await store.end_reason(a) == reason
    assert await store.end_reason(b) == reason


@pytest.mark.parametrize("reason", ["\ud800", "ok \udfff"])
async def test_a_reason_that_cannot_be_encoded_is_refused_before_anything_is_sent(
    make_store: Callable[..., Any], reason: str
) -> None:
    """A lone surrogate is a str of 1-64 characters, but no UTF-8: a ValueError before
    anything is written (spec §3), and other calls of the same store are unaffected."""
    store = make_store(references=["user_id"])
    a = store.create_session_id()
    await store.set(a, {"user_id": 1})
    with pytest.raises(ValueError):
        await store.delete(a, reason=reason)
    with pytest.raises(ValueError):
        await store.delete_all("user_id", 1, reason=reason)
    assert await store.exists(a)
    assert await store.sessions("user_id", 1) == [a]


async def test_no_reason_for_a_missing_or_stale_session(
    make_store: Callable[..., Any], raw: Any
) -> None:
    store = make_store(references=["user_id"], absolute_max_age=0.2)
    missing, old, moved, keep = (store.create_session_id() for _ in range(4))
    await store.set(old, {"user_id": 1})
    await store.set(moved, {"user_id": 1})
    await store.set(keep, {"user_id": 1})
    raw.hset(store.get_session_key(moved), "user_id", "2")  # stale member of 1
    await asyncio.sleep(0.25)
    await store.set(keep, {"x": 1})  # keep is past the absolute max age too: gone
    fresh = store.create_session_id()
    await store.set(fresh, {"user_id": 1})
    assert not await store.delete(missing, reason="r")
    assert not await store.delete(old, reason="r")  # past the absolute max age
    assert await store.delete_all("user_id", 1, keep=[fresh], reason="r") == 0
    for session_id in (missing, old, moved, keep, fresh):
        assert await store.end_reason(session_id) is None
    assert await store.sessions("user_id", 1) == [fresh]
    assert await store.delete_all("user_id", 1, reason="r") == 1
    assert await store.end_reason(fresh) == "r"


async def test_a_limit_above_one_page_keeps_the_most_recent_across_calls(
    make_store: Callable[..., Any],
) -> None:
    """A limit bigger than what one call examines: the walk keeps its count from call to
    call (limit.lua) and ends exactly the excess, the least recently active."""
    unlimited = make_store(references=["user_id"], index_slack=0)
    ids = await fill(unlimited, 4, 600)
    store = make_store(references=["user_id"], index_slack=0, limits={"user_id": 260})
    writer = await sign_in(store, 4)
    live = set(await store.sessions("user_id", 4))
    assert len(live) == 260 and writer in live
    # fill() writes in chunks of 50 (no order within one): the last 259 lie in the last 6.
    assert live - {writer} <= set(ids[-300:])
    assert set(ids[:300]).isdisjoint(live)
    ended = [s for s in ids if s not in live]
    assert {await store.end_reason(s) for s in ended} == {"limit"}
