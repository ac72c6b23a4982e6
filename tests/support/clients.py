"""The client libraries the store-level tests drive the store with: redis-py, and
valkey-py (its fork: the same API under ``valkey.*`` names, with exception classes of its
own).

Test modules marked ``pytest.mark.both_clients`` run once per library: the conftest
parametrizes the ``client_library`` fixture, and the client fixtures (``sync_client``,
``async_client``, the cluster and Sentinel clients) build their clients with the helpers
here. The tests' own inspection client (``raw``) stays redis-py's. valkey-py is used where
it is installed (the ``valkey`` extra; the ``test`` extra has it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel

REDIS_PY = "redis-py"
VALKEY_PY = "valkey-py"
LIBRARIES = [REDIS_PY] + ([VALKEY_PY] if importlib.util.find_spec("valkey") else [])

Address = tuple[str, int]


def client_libraries(config: pytest.Config) -> list[str]:
    """The libraries ``--clients`` names (tests/support/server_matrix.py checks them)."""
    return [name.strip() for name in str(config.getoption("--clients")).split(",") if name]


def sync_client(library: str, **options: Any) -> Any:
    """``redis.Redis(**options)`` or ``valkey.Valkey(**options)``."""
    if library == VALKEY_PY:
        import valkey

        return valkey.Valkey(**options)
    return redis.Redis(**options)


def async_client(library: str, **options: Any) -> Any:
    """``redis.asyncio.Redis(**options)`` or ``valkey.asyncio.Valkey(**options)``."""
    if library == VALKEY_PY:
        import valkey.asyncio

        return valkey.asyncio.Valkey(**options)
    return redis.asyncio.Redis(**options)


def sync_cluster(library: str, nodes: Iterable[Address], **options: Any) -> Any:
    """A sync cluster client over the given startup nodes."""
    if library == VALKEY_PY:
        import valkey.cluster

        startup = [
            valkey.cluster.ClusterNode(host, port)  # type: ignore[no-untyped-call,unused-ignore]
            for host, port in nodes
        ]
        return valkey.cluster.ValkeyCluster(startup_nodes=startup, **options)
    redis_nodes = [redis.cluster.ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call]
    return redis.cluster.RedisCluster(startup_nodes=redis_nodes, **options)


def async_cluster(library: str, nodes: Iterable[Address], **options: Any) -> Any:
    """An asyncio cluster client over the given startup nodes."""
    if library == VALKEY_PY:
        import valkey.asyncio.cluster

        startup = [valkey.asyncio.cluster.ClusterNode(host, port) for host, port in nodes]
        return valkey.asyncio.cluster.ValkeyCluster(startup_nodes=startup, **options)
    redis_nodes = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in nodes]
    return redis.asyncio.cluster.RedisCluster(startup_nodes=redis_nodes, **options)


def sentinel(library: str, sentinels: list[Address], **options: Any) -> Any:
    """A sync Sentinel (``master_for(name)`` gives the primary's client)."""
    if library == VALKEY_PY:
        import valkey.sentinel

        return valkey.sentinel.Sentinel(sentinels, **options)  # type: ignore[no-untyped-call,unused-ignore]
    return redis.sentinel.Sentinel(sentinels, **options)  # type: ignore[no-untyped-call]


def async_sentinel(library: str, sentinels: list[Address], **options: Any) -> Any:
    """An asyncio Sentinel."""
    if library == VALKEY_PY:
        import valkey.asyncio.sentinel

        return valkey.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
            sentinels, **options
        )
    return redis.asyncio.sentinel.Sentinel(sentinels, **options)  # type: ignore[no-untyped-call]


def retry(library: str, retries: int) -> Any:
    """A sync ``Retry(NoBackoff(), retries)`` of the library."""
    if library == VALKEY_PY:
        from valkey.backoff import NoBackoff as ValkeyNoBackoff
        from valkey.retry import Retry as ValkeyRetry

        return ValkeyRetry(ValkeyNoBackoff(), retries)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), retries)


def async_retry(library: str, retries: int) -> Any:
    """An asyncio ``Retry(NoBackoff(), retries)`` of the library."""
    if library == VALKEY_PY:
        from valkey.asyncio.retry import Retry as ValkeyRetry
        from valkey.backoff import NoBackoff as ValkeyNoBackoff

        return ValkeyRetry(ValkeyNoBackoff(), retries)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Retry(NoBackoff(), retries)


def base_error(library: str) -> type[Exception]:
    """The base class of the library's errors: ``redis.RedisError`` / ``valkey.ValkeyError``."""
    if library == VALKEY_PY:
        import valkey.exceptions

        return valkey.exceptions.ValkeyError
    return redis.RedisError


def base_errors() -> tuple[type[Exception], ...]:
    """Every library's base error class: what a test's own call through the client under
    test may raise."""
    return tuple(base_error(library) for library in LIBRARIES)
