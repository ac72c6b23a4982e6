"""The model-based test of tests/store/test_stateful.py on a real 3-primary Redis Cluster, where
a write is a single-slot script followed by index updates grouped per slot, and every
index read checks its members against their hashes: after each call, the same truth."""

from __future__ import annotations

from redis.cluster import RedisCluster

from tests.store.test_stateful import AbsoluteMachine, StoreMachine, run
from tests.support.topologies import ClusterServers


class ClusterMachine(StoreMachine):
    margin = 0.15  # a step is up to three round trips, over several nodes
    exact_scores = False  # ZADD GT: a shortened TTL leaves the later score until a read


class ClusterAbsoluteMachine(AbsoluteMachine):
    margin = 0.15
    exact_scores = False


def test_store_on_cluster_agrees_with_model(cluster: ClusterServers) -> None:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        run(ClusterMachine, client, examples=5)
    finally:
        client.close()


def test_store_on_cluster_with_absolute_max_age_agrees_with_model(cluster: ClusterServers) -> None:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        run(ClusterAbsoluteMachine, client, examples=5)
    finally:
        client.close()
