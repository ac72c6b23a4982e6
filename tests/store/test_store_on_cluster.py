"""The whole store suite of tests/store/test_store.py again, on a real 3-primary Redis Cluster:
the same behaviour, whatever the topology. Only the clients change (``raw`` included, so
the tests' own checks of keys and TTLs go through the cluster too)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio
import redis.asyncio.cluster
from redis.cluster import RedisCluster

from tests.store.test_store import *  # noqa: F403
from tests.support import clients
from tests.support.topologies import ClusterServers


@pytest.fixture
def raw(cluster: ClusterServers) -> Iterator[RedisCluster]:
    cluster.flush()
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    yield client
    client.close()


@pytest.fixture
def sync_client(
    raw: RedisCluster, cluster: ClusterServers, client_library: str
) -> Iterator[RedisCluster]:
    client = clients.sync_cluster(client_library, cluster.addresses)
    yield client
    client.close()


@pytest.fixture
async def async_client(
    raw: RedisCluster, cluster: ClusterServers, client_library: str
) -> AsyncIterator[redis.asyncio.RedisCluster]:
    client = clients.async_cluster(client_library, cluster.addresses)
    yield client
    await client.aclose()
