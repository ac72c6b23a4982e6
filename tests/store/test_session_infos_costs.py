"""What ``session_infos`` costs: round trips counted with MONITOR (single server) and with a
counting store (cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from redis_session_sets import Store
from redis_session_sets._engine.protocol import Request
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer
from tests.support.topologies import ClusterServers


@pytest.fixture
def store(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Store]:
    client = redis.Redis(port=redis_server.port)
    yield Store(client, references=["user_id"])
    client.close()


def sign_in(store: Store, user: int, times: int) -> set[str]:
    ids = {store.create_session_id() for _ in range(times)}
    for session_id in ids:
        store.set(session_id, {"user_id": user})
    return ids


@pytest.mark.parametrize("sessions", [0, 1, 5, 128, 129, 500])
def test_up_to_batch_size_sessions_is_one_round_trip(
    store: Store, redis_server: RedisServer, sessions: int
) -> None:
    ids = sign_in(store, 1, sessions)
    store.session_infos("user_id", 1)  # warm up: the script's first use is an EVAL
    with CommandLog(redis_server.port) as log:
        infos = store.session_infos("user_id", 1, batch_size=500)
    assert {info.id for info in infos} == ids
    assert log.names == ["EVALSHA"], log.commands


def test_a_thousand_sessions_take_at_most_three_bounded_round_trips(
    store: Store, redis_server: RedisServer
) -> None:
    ids = sign_in(store, 2, 1000)
    store.session_infos("user_id", 2)
    with CommandLog(redis_server.port) as log:
        infos = store.session_infos("user_id", 2, batch_size=500)
    assert {info.id for info in infos} == ids
    assert len(infos) == 1000
    assert log.names in (["EVALSHA"] * 2, ["EVALSHA"] * 3), log.names
    # Each member read once (one HMGET), in whichever batch met it.
    hmgets = [args for args in log.all_commands if args[0].upper() == b"HMGET"]
    assert len(hmgets) == 1000


class CountingStore(Store):
    sent: list[Request]

    def _send(self, request: Request) -> Any:
        self.sent.append(request)
        return super()._send(request)


def test_on_a_cluster_each_batch_is_one_pipeline_of_reads(cluster: ClusterServers) -> None:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        store = CountingStore(client, references=["user_id"])
        store.sent = []
        ids = {store.create_session_id() for _ in range(40)}
        for session_id in ids:
            store.set(session_id, {"user_id": 3})
        store.sent = []
        infos = store.session_infos("user_id", 3)
        assert {info.id for info in infos} == ids
        # The index's members, then one pipeline (split per node by the client) of reads.
        assert len(store.sent) == 2
    finally:
        client.close()
