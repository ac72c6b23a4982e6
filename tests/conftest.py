from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio
from hypothesis import settings

from tests.servers import RedisServer

# Property tests talk to a real Redis: no per-example deadline. `make soak` selects the
# soak profile; the stress tests scale their own budgets with tests.stress.budget().
settings.register_profile("default", deadline=None, print_blob=True)
settings.register_profile("soak", deadline=None, print_blob=True, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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


@pytest.fixture
def sync_client(raw: redis.Redis, redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
async def async_client(
    raw: redis.Redis, redis_server: RedisServer
) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis(port=redis_server.port)
    yield client
    await client.aclose()
