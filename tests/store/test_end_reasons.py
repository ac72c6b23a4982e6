"""End reasons (docs/design.md, "Ended means ended"): ``delete(..., reason=)`` and
``delete_all(..., reason=)`` leave why a session ended at ``P:e:{id}`` for
``end_reason_ttl``, only when a session ended and a reason was given; ``end_reason``
reads it. Through both shells, and again on a cluster (test_end_reasons_on_cluster.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from redis_session_sets import AsyncStore, Store


def reason_key(store: Any, session_id: str) -> str:
    return f"rss:e:{{{session_id}}}"


async def test_delete_with_a_reason_leaves_it_for_the_ttl(
    make_store: Callable[..., Any], raw: Any
) -> None:
    store = make_store(references=["user_id"], end_reason_ttl=timedelta(minutes=1))
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1})
    assert await store.end_reason(session_id) is None
    assert await store.delete(session_id, reason="password reset") is True
    assert not await store.exists(session_id)
    assert await store.end_reason(session_id) == "password reset"
    assert 50_000 < raw.pttl(reason_key(store, session_id)) <= 60_000
    assert await store.sessions("user_id", 1) == []


async def test_no_reason_key_without_a_reason_or_without_a_session(store: Any, raw: Any) -> None:
    plain, missing = store.create_session_id(), store.create_session_id()
    await store.set(plain, {"user_id": 1})
    assert await store.delete(plain) is True
    assert await store.delete(missing, reason="revoked") is False  # nothing ended
    for session_id in (plain, missing):
        assert not raw.exists(reason_key(store, session_id))
        assert await store.end_reason(session_id) is None


@pytest.mark.parametrize(
    ("reason", "error"),
    [("", ValueError), ("x" * 65, ValueError), (5, TypeError), (b"revoked", TypeError)],
)
async def test_a_bad_reason_is_refused_before_anything_is_written(
    store: Any, raw: Any, reason: Any, error: type[Exception]
) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 1})
    with pytest.raises(error):
        await store.delete(session_id, reason=reason)
    with pytest.raises(error):
        await store.delete_all("user_id", 1, reason=reason)
    assert await store.exists(session_id)
    assert await store.sessions("user_id", 1) == [session_id]


async def test_reasons_of_64_characters_and_any_text_round_trip(store: Any) -> None:
    for reason in ("x" * 64, "signed in elsewhere: 'Firefox' \"on Linux\"", "Passwort geändert ✓"):
        session_id = store.create_session_id()
        await store.set(session_id, {"a": 1})
        await store.delete(session_id, reason=reason)
        assert await store.end_reason(session_id) == reason


async def test_delete_all_leaves_the_reason_on_each_ended_session_only(
    store: Any, raw: Any
) -> None:
    ended = [store.create_session_id() for _ in range(5)]
    kept, other_user, moved = (store.create_session_id() for _ in range(3))
    for session_id in (*ended, kept, moved):
        await store.set(session_id, {"user_id": 9})
    await store.set(other_user, {"user_id": 10})
    # A stale member: its hash now holds another value (a hand edit): not ended.
    raw.hset(store.get_session_key(moved), "user_id", "11")
    assert await store.delete_all("user_id", 9, keep=[kept], reason="signed out everywhere") == 5
    for session_id in ended:
        assert await store.end_reason(session_id) == "signed out everywhere"
    for session_id in (kept, other_user, moved):
        assert await store.exists(session_id)
        assert await store.end_reason(session_id) is None
    assert await store.sessions("user_id", 9) == [kept]
    # Without a reason, delete_all leaves none.
    assert await store.delete_all("user_id", 10) == 1
    assert await store.end_reason(other_user) is None


async def test_delete_all_with_a_reason_in_several_batches(store: Any) -> None:
    ids = [store.create_session_id() for _ in range(230)]
    for start in range(0, len(ids), 50):  # (an unpipelined pool holds 100 connections)
        chunk = ids[start : start + 50]
        await asyncio.gather(*(store.set(session_id, {"user_id": 5}) for session_id in chunk))
    assert await store.delete_all("user_id", 5, reason="revoked") == 230
    assert {await store.end_reason(session_id) for session_id in ids} == {"revoked"}


async def test_the_reason_expires_after_end_reason_ttl(
    make_store: Callable[..., Any], raw: Any
) -> None:
    store = make_store(end_reason_ttl=0.3)
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    await store.delete(session_id, reason="revoked")
    assert 0 < raw.pttl(reason_key(store, session_id)) <= 300
    for _ in range(100):  # bounded wait: Redis expires it on access after 0.3 s
        if await store.end_reason(session_id) is None:
            break
        await asyncio.sleep(0.05)
    assert await store.end_reason(session_id) is None


async def test_a_new_session_of_the_same_id_does_not_hide_or_clear_the_reason(
    store: Any,
) -> None:
    """Ended means ended: an app that writes the id again (the store API takes ids) makes
    a new session; the reason stays for the device that asks about the old one."""
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    await store.delete(session_id, reason="revoked")
    await store.set(session_id, {"b": 2})
    assert await store.get(session_id) == {"b": 2}
    assert await store.end_reason(session_id) == "revoked"


@pytest.mark.parametrize("ttl", [0, -1, timedelta(days=401), "7d", True])
def test_end_reason_ttl_is_checked_when_the_store_is_built(ttl: Any) -> None:
    import redis

    client = redis.Redis(port=1)  # never connected: the check comes first
    with pytest.raises((ValueError, TypeError)):
        Store(client, end_reason_ttl=ttl)
    with pytest.raises((ValueError, TypeError)):
        AsyncStore(redis.asyncio.Redis(port=1), end_reason_ttl=ttl)
