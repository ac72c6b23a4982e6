"""The server matrix (``pytest --server=...``, tests/support/server_matrix.py): the servers
the fixtures start are the binary chosen for the run, so a run "on Redis 6.2" or "on
Valkey 9" cannot silently have run on another server."""

from __future__ import annotations

import redis

from redis_session_sets.demo._redis import redis_server_binary
from tests.support.server_matrix import ServerVersion, version_of
from tests.support.topologies import ClusterServers


def running(client: redis.Redis) -> ServerVersion:
    """What a running server says it is (Valkey also answers redis_version: 7.2.4)."""
    info = client.info("server")
    name = str(info.get("server_name") or "redis")
    return ServerVersion(name, str(info.get(f"{name}_version") or info["redis_version"]))


def test_the_single_server_is_the_chosen_binary(raw: redis.Redis) -> None:
    assert running(raw) == version_of(redis_server_binary())


def test_the_cluster_nodes_are_the_chosen_binary(cluster: ClusterServers) -> None:
    chosen = version_of(redis_server_binary())
    for node in cluster.nodes:
        with node.client() as client:
            assert running(client) == chosen
