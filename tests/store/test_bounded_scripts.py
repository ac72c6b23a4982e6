"""Bounded work per script (docs/design.md, "Bounded work"): ``sessions``, ``count``,
``iter_sessions`` and ``delete_all`` walk a big index in pages of at most ``batch_size``
members, one script call each, so that no call blocks Redis long whatever the index holds.

The check that runs in ``make test`` counts the commands each script call runs (MONITOR
shows them), at 20,000 members; the slow one (``pytest -m slow``) reads SLOWLOG at 100,000.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from redis_session_sets import Store
from tests.support.monitor import CommandLog
from tests.support.topologies import ClusterServers

SCRIPT_CALLS = {b"EVAL", b"EVALSHA"}


def fill(client: Any, store: Store, size: int, value: int = 1) -> list[str]:
    """``size`` sessions of user ``value``, written straight into Redis (fast)."""
    ids = [secrets.token_urlsafe(16) for _ in range(size)]
    now = int(time.time() * 1000)
    index = store.get_reference_key("user_id", value)
    for start in range(0, size, 2000):
        pipe = client.pipeline(transaction=False)
        chunk = ids[start : start + 2000]
        for session_id in chunk:
            key = store.get_session_key(session_id)
            pipe.hset(key, mapping={"user_id": value, "__created": now, "__touched": now})
            pipe.pexpire(key, 3_600_000)
        pipe.zadd(index, {session_id: now + 3_600_000 for session_id in chunk})
        pipe.execute()
    client.pexpire(index, 3_600_000)
    return ids


def script_sizes(log: CommandLog) -> list[int]:
    """How many commands each script call ran: the script's commands form one run between
    two commands of clients, whichever side of its EVALSHA line MONITOR puts them."""
    sizes, current = [], 0
    for from_script, args in log.entries:
        if from_script:
            current += 1
        elif args[0].upper() in SCRIPT_CALLS or current:
            sizes.append(current)
            current = 0
    return [*sizes, current]


@pytest.fixture
def big(sync_client: redis.Redis, raw: redis.Redis) -> tuple[Store, list[str]]:
    store = Store(sync_client, references=["user_id"])
    return store, fill(raw, store, 20_000)


def test_index_reads_walk_a_big_index_in_bounded_pages(
    big: tuple[Store, list[str]], raw: redis.Redis
) -> None:
    store, ids = big
    raw.hset(store.get_session_key(ids[0]), "user_id", "2")  # stale: moved by hand
    raw.delete(store.get_session_key(ids[1]))  # gone: evicted, say
    live = set(ids[2:])
    port = raw.connection_pool.connection_kwargs["port"]
    with CommandLog(port) as log:
        assert store.count("user_id", 1) == len(live)  # exact: each member checked
    calls = [args for from_script, args in log.entries if not from_script]
    assert len(calls) >= 20_000 // 250  # many round trips, each a page
    assert max(script_sizes(log)) <= 2 * 250 + 10, max(script_sizes(log))
    assert raw.zscore(store.get_reference_key("user_id", 1), ids[0]) is None  # removed
    with CommandLog(port) as log:
        assert set(store.sessions("user_id", 1)) == live
        assert set(store.iter_sessions("user_id", 1, batch_size=200)) == live
    assert max(script_sizes(log)) <= 2 * 250 + 10
    with CommandLog(port) as log:
        assert store.count("user_id", 1, batch_size=100) == len(live)
    assert max(script_sizes(log)) <= 2 * 100 + 10


def test_delete_all_of_a_big_index_is_bounded_per_call(
    big: tuple[Store, list[str]], raw: redis.Redis
) -> None:
    store, ids = big
    port = raw.connection_pool.connection_kwargs["port"]
    with CommandLog(port) as log:
        assert store.delete_all("user_id", 1, keep=[ids[5]]) == len(ids) - 1
    assert max(script_sizes(log)) <= 3 * 100 + 10, max(script_sizes(log))
    assert raw.zrange(store.get_reference_key("user_id", 1), 0, -1) == [ids[5].encode()]
    assert raw.dbsize() == 2  # the kept session and its index


def test_many_expired_members_are_pruned_a_bounded_number_at_a_time(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    store = Store(sync_client, references=["user_id"])
    index = store.get_reference_key("user_id", 1)
    raw.zadd(index, {f"dead{n:020d}": 1000 + n for n in range(5000)})  # long expired
    session_id = store.create_session_id()
    port = raw.connection_pool.connection_kwargs["port"]
    with CommandLog(port) as log:
        store.set(session_id, {"user_id": 1})
    removed = [args for args in log.all_commands if args[0].upper() == b"ZREM"]
    assert len(removed) == 1 and len(removed[0]) - 2 <= 100  # at most PRUNE per write
    assert store.sessions("user_id", 1) == [session_id]
    assert raw.zcard(index) == 1  # the read removed every dead member it met


def test_a_limit_lowered_below_a_big_index_is_bounded_per_call(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    """A limit of 5 met by 20,000 sessions: the sign-in's calls examine at most 250
    members and end at most 100 sessions each (an ending costs a few commands: without
    that bound one call ran ~1,750 commands, 8-20 ms in SLOWLOG)."""
    unlimited = Store(sync_client, references=["user_id"])
    fill(raw, unlimited, 20_000)
    store = Store(sync_client, references=["user_id"], limits={"user_id": 5})
    writer = store.create_session_id()
    port = raw.connection_pool.connection_kwargs["port"]
    with CommandLog(port) as log:
        store.set(writer, {"user_id": 1})
    assert max(script_sizes(log)) <= 250 + 100 * 7 + 20, max(script_sizes(log))
    live = store.sessions("user_id", 1)
    assert len(live) == 5 and writer in live


# -- on a cluster ------------------------------------------------------------------------


@pytest.fixture
def cluster_client(cluster: ClusterServers) -> Iterator[RedisCluster]:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    yield client
    client.close()


def test_cluster_index_reads_are_bounded_per_call(cluster_client: RedisCluster) -> None:
    store = Store(cluster_client, references=["user_id"])
    ids = fill(cluster_client, store, 3000)
    index = store.get_reference_key("user_id", 1)
    port = cluster_client.get_node_from_key(index).port  # type: ignore[no-untyped-call]
    with CommandLog(port) as log:
        assert store.count("user_id", 1, batch_size=200) == 3000
        assert set(store.sessions("user_id", 1, batch_size=200)) == set(ids)
        assert store.delete_all("user_id", 1) == 3000
    # Pages of members (the hashes are checked by plain commands), and index updates of a
    # batch of removals (a guarded ZREM each).
    sizes = [size for size in script_sizes(log) if size]
    assert sizes and max(sizes) <= 2 * 200 + 10, max(sizes)
    pages = [args for args in log.commands if args.startswith(("EVALSHA", "EVAL "))]
    assert len(pages) >= 3000 // 200
    assert cluster_client.exists(index) == 0


# -- SLOWLOG at 100,000 members (pytest -m slow) -------------------------------------------


@pytest.mark.slow
def test_no_script_runs_5_ms_at_100000_members(sync_client: redis.Redis, raw: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id"])
    ids = fill(raw, store, 100_000)
    raw.config_set("slowlog-max-len", 10_000)
    # Over 0.5 ms: the longest calls (logging every command would slow them all down).
    raw.config_set("slowlog-log-slower-than", 500)
    try:
        raw.slowlog_reset()
        assert store.count("user_id", 1) == len(ids)
        assert len(store.sessions("user_id", 1)) == len(ids)
        assert sum(1 for _ in store.iter_sessions("user_id", 1)) >= len(ids)
        assert store.delete_all("user_id", 1) == len(ids)
        entries = raw.slowlog_get(10_000)
    finally:
        raw.config_set("slowlog-log-slower-than", 10_000)
        raw.config_set("slowlog-max-len", 128)
    scripts = [e for e in entries if e["command"].split(b" ")[0].upper() in SCRIPT_CALLS]
    longest = max((entry["duration"] for entry in scripts), default=0)
    print(f"longest script at 100,000 members: {longest} µs; {len(scripts)} over 0.5 ms")
    by_script: dict[bytes, list[int]] = {}
    for entry in scripts:
        by_script.setdefault(entry["command"].split(b" ")[1][:8], []).append(entry["duration"])
    for sha, durations in by_script.items():
        durations.sort()
        print(sha, len(durations), durations[len(durations) // 2], durations[-5:])
    assert longest < 5000, longest
