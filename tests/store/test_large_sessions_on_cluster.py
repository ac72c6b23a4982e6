"""tests/store/test_large_sessions.py again on a real 3-primary Redis Cluster, whose regenerate
copies the session with its own scripts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster

from tests.store.test_large_sessions import *  # noqa: F403
from tests.support.topologies import ClusterServers


@pytest.fixture
def raw(cluster: ClusterServers) -> Iterator[RedisCluster]:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    yield client
    client.close()
