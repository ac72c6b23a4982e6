from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from hypothesis import settings

from redis_session_sets import AsyncStore, Store
from tests.support import clients
from tests.support.facade import SyncStoreAsAsync
from tests.support.servers import RedisServer
from tests.support.topologies import ClusterServers

# Property tests talk to a real Redis: no per-example deadline. `make soak` selects the
# soak profile; the stress tests scale their own budgets with tests.support.stress.budget().
settings.register_profile("default", deadline=None, print_blob=True)
settings.register_profile("soak", deadline=None, print_blob=True, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# `pytest --server=redis-6.2` (or valkey-9, redis-7, a path): the server the fixtures start.
pytest_plugins = ["tests.support.server_matrix"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client on the throwaway server; the database is emptied before each test."""
    client = redis_server.client()
    client.flushdb()
    yield client
    client.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_clients`` run with redis-py's and with valkey-py's clients (those
    ``--clients`` names)."""
    if "client_library" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_clients"
    ):
        libraries = clients.client_libraries(metafunc.config)
        metafunc.parametrize("client_library", libraries, indirect=True)


@pytest.fixture
def client_library(request: pytest.FixtureRequest) -> str:
    """The library of the clients the store is given: redis-py, unless parametrized."""
    return str(getattr(request, "param", clients.REDIS_PY))


@pytest.fixture
def sync_client(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> Iterator[redis.Redis]:
    client = clients.sync_client(client_library, port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
async def async_client(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> AsyncIterator[redis.asyncio.Redis]:
    client = clients.async_client(client_library, port=redis_server.port)
    yield client
    await client.aclose()


@pytest.fixture(params=["sync", "async", "async-unpipelined"])
def make_store(
    request: pytest.FixtureRequest,
    sync_client: redis.Redis,
    async_client: redis.asyncio.Redis,
) -> Callable[..., Any]:
    """Builds a store on the throwaway server: the sync one (behind an async facade, so
    one test body covers both shells), the async one (auto-pipelined, the default), or
    the async one with ``pipelining=False`` (each command on its own connection)."""

    def make(**options: Any) -> Any:
        if request.param == "sync":
            return SyncStoreAsAsync(Store(sync_client, **options))
        if request.param == "async-unpipelined":
            options.setdefault("pipelining", False)
        return AsyncStore(async_client, **options)

    return make


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    return make_store(references=["user_id", "team"])


@pytest.fixture(scope="session")
def django_project() -> Iterator[None]:
    """The test project of tests/adapters/django_project, with its sqlite database in memory."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.adapters.django_project.settings")
    import django
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    django.setup()
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    yield
    teardown_test_environment()


@pytest.fixture
def django_redis(
    django_project: None, raw: redis.Redis, redis_server: RedisServer
) -> Iterator[redis.Redis]:
    """The Django engine pointed at the throwaway server (emptied); yields a raw client."""
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    with override_settings(SESSION_REDIS_URL=redis_server.url):
        yield raw
    get_user_model().objects.all().delete()


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterServers]:
    """A real 3-primary Redis Cluster on free loopback ports, shared by the cluster tests."""
    servers = ClusterServers()
    try:
        servers.start()
        yield servers
    finally:
        servers.close()
