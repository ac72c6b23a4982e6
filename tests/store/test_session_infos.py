"""``session_infos``: a "your devices" page in one read, through both shells (and again on
a cluster: test_session_infos_on_cluster.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from redis_session_sets import SessionInfo


def device(raw: Any, store: Any, session_id: str, ua: str, ip: str) -> None:
    """Keeps a device on the session as the middleware's ``track`` does (JSON strings)."""
    raw.hset(
        store.get_session_key(session_id), mapping={"__ua": json.dumps(ua), "__ip": json.dumps(ip)}
    )


async def test_the_live_sessions_with_times_and_devices_most_recent_first(
    store: Any, raw: Any
) -> None:
    ids = [store.create_session_id() for _ in range(3)]
    for session_id in ids:
        await store.set(session_id, {"user_id": 7})
        await asyncio.sleep(0.01)  # distinct __touched: the order is by last activity
    await store.set(store.create_session_id(), {"user_id": 8})
    device(raw, store, ids[1], "Mozilla/5.0 (X11; Linux) Firefox/140.0", "203.0.113.9")
    await store.touch(ids[0])  # the oldest becomes the most recently active
    infos = await store.session_infos("user_id", 7)
    assert [info.id for info in infos] == [ids[0], ids[2], ids[1]]
    for info in infos:
        alone = await store.info(info.id)
        assert alone is not None
        # The expiry is now + PTTL, to the millisecond either way (and on a cluster "now"
        # is the index node's, read a moment before the hash's PTTL).
        assert abs(info.expires_at - alone.expires_at) < timedelta(seconds=1)
        assert dataclasses.replace(info, expires_at=alone.expires_at) == alone
        assert info.created_at <= info.touched_at < info.expires_at
        assert info.expires_at - info.touched_at <= timedelta(days=28)
    assert (infos[2].user_agent, infos[2].ip) == (
        "Mozilla/5.0 (X11; Linux) Firefox/140.0",
        "203.0.113.9",
    )
    assert (infos[0].user_agent, infos[0].ip) == (None, None)  # not tracked
    assert await store.session_infos("user_id", 404) == []
    again = await store.session_infos("user_id", "7")  # 7 and "7": one index
    assert [(i.id, i.touched_at) for i in again] == [(i.id, i.touched_at) for i in infos]


async def test_info_reports_the_device(store: Any, raw: Any) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"a": 1})
    info = await store.info(session_id)
    assert isinstance(info, SessionInfo) and (info.user_agent, info.ip) == (None, None)
    device(raw, store, session_id, "curl/8.5", "::1")
    info = await store.info(session_id)
    assert info is not None and (info.user_agent, info.ip) == ("curl/8.5", "::1")
    # Not a JSON string (written by hand, or junk): not a device.
    raw.hset(store.get_session_key(session_id), mapping={"__ua": "17", "__ip": "[1]"})
    info = await store.info(session_id)
    assert info is not None and (info.user_agent, info.ip) == (None, None)


async def test_index_truth_as_sessions(store: Any, raw: Any) -> None:
    """A member whose hash is gone or holds another value is never reported, and is
    removed from the index when met, as by ``sessions()``."""
    live, gone, moved = (store.create_session_id() for _ in range(3))
    for session_id in (live, gone, moved):
        await store.set(session_id, {"user_id": 3})
    raw.delete(store.get_session_key(gone))
    raw.hset(store.get_session_key(moved), "user_id", "4")  # a hand edit
    index = store.get_reference_key("user_id", 3)
    raw.zadd(index, {"not a session id!": 2**50})  # planted by hand
    assert [info.id for info in await store.session_infos("user_id", 3)] == [live]
    members = {m.decode() for m in raw.zrange(index, 0, -1)}
    assert members <= {live, "not a session id!"}  # stale ones removed when met
    assert live in members
    assert await store.sessions("user_id", 3) == [live]


async def test_sessions_past_the_absolute_max_age_are_not_reported(
    make_store: Any, raw: Any
) -> None:
    store = make_store(references=["user_id"], absolute_max_age=60)
    old, young = store.create_session_id(), store.create_session_id()
    await store.set(old, {"user_id": 1})
    await store.set(young, {"user_id": 1})
    long_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    raw.hset(store.get_session_key(old), "__created", long_ago)
    assert [info.id for info in await store.session_infos("user_id", 1)] == [young]
    assert await store.exists(old) is False


async def test_many_sessions_in_several_batches(store: Any) -> None:
    ids = {store.create_session_id() for _ in range(300)}
    for session_id in ids:
        await store.set(session_id, {"team": "big"})
    infos = await store.session_infos("team", "big", batch_size=50)
    assert {info.id for info in infos} == ids
    assert len(infos) == len(ids)  # each once, however the batches fell
    assert [info.touched_at for info in infos] == sorted(
        (info.touched_at for info in infos), reverse=True
    )


async def test_bad_arguments_raise_before_anything_is_sent(store: Any) -> None:
    with pytest.raises(ValueError):
        await store.session_infos("not_a_reference", 1)
    with pytest.raises(TypeError):
        await store.session_infos("user_id", 1.5)
    with pytest.raises(TypeError):
        await store.session_infos("user_id", True)
    for bad in (0, 100_001):
        with pytest.raises(ValueError):
            await store.session_infos("user_id", 1, batch_size=bad)
    with pytest.raises(TypeError):
        await store.session_infos("user_id", 1, batch_size="10")


def test_session_info_defaults_keep_old_constructions_working() -> None:
    moment = datetime.now(UTC)
    info = SessionInfo("x" * 22, moment, moment, moment)
    assert (info.user_agent, info.ip) == (None, None)


async def test_every_write_can_carry_the_device(store: Any, raw: Any) -> None:
    """What ``track`` sends: the device pairs ride with set, update, touch, regenerate (on
    a cluster too, where regenerate copies the hash)."""
    core = store.core
    session_id = store.create_session_id()
    await store.run(
        core.set(session_id, {"user_id": 5}, device=core.device_fields("UA/1", "192.0.2.9"))
    )
    assert await device_pair(store, session_id) == ("UA/1", "192.0.2.9")
    moved = await store.run(core.regenerate(session_id, device=core.device_fields("UA/2", None)))
    assert await device_pair(store, moved) == ("UA/2", "192.0.2.9")  # the address kept
    await store.run(core.touch(moved, device=core.device_fields("UA/3", "::1")))
    await store.run(
        core.update(moved, {"a": 1}, incr={"n": 1}, device=core.device_fields("UA/4", None))
    )
    [info] = await store.session_infos("user_id", 5)
    assert (info.id, info.user_agent, info.ip) == (moved, "UA/4", "::1")
    assert await store.get(moved) == {"user_id": 5, "a": 1, "n": 1}  # no reserved field shows
    # A regenerate of a missing session makes a new one: with its creation time and device.
    fresh = await store.run(
        core.regenerate(store.create_session_id(), device=core.device_fields("UA/5", None))
    )
    fresh_info = await store.info(fresh)
    assert fresh_info is not None and fresh_info.user_agent == "UA/5"
    assert raw.hget(store.get_session_key(fresh), "__created") is not None


async def device_pair(store: Any, session_id: str) -> tuple[str | None, str | None]:
    info = await store.info(session_id)
    assert info is not None
    return info.user_agent, info.ip
