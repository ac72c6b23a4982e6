"""The client libraries a store can drive: redis-py, and valkey-py (its fork).

valkey-py has redis-py's API under other names: ``valkey.Valkey`` and
``valkey.asyncio.Valkey``, ``ValkeyCluster`` in both, ``valkey.sentinel.Sentinel``
(whose ``master_for`` returns a ``Valkey``), and exception classes of its own in
``valkey.exceptions`` that are no subclasses of redis-py's. So a driver asks once, when it
is built, which family its client belongs to, and catches that family's exceptions.

valkey-py is imported only when a client is one of its classes: it stays an optional
dependency (the ``valkey`` extra) and costs nothing to apps that do not use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, TypeAlias

import redis
import redis.asyncio
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

# The clients as the drivers call them: valkey-py's have redis-py's API (typed a little
# differently), so a driver holds any client under redis-py's types.
RedisPySync: TypeAlias = redis.Redis | redis.RedisCluster
RedisPyAsync: TypeAlias = redis.asyncio.Redis | redis.asyncio.RedisCluster

if TYPE_CHECKING:
    import valkey
    import valkey.asyncio

    SyncClient: TypeAlias = redis.Redis | redis.RedisCluster | valkey.Valkey | valkey.ValkeyCluster
    AsyncClient: TypeAlias = (
        redis.asyncio.Redis
        | redis.asyncio.RedisCluster
        | valkey.asyncio.Valkey
        | valkey.asyncio.ValkeyCluster
    )
else:
    SyncClient = RedisPySync
    AsyncClient = RedisPyAsync


@dataclass(frozen=True)
class ClientFamily:
    """What a driver needs to know of its client's library."""

    name: str
    # What the client raises when Redis fails (a cluster with no node for a slot raises
    # a cluster exception, which is no subclass of the library's base error).
    failures: tuple[type[BaseException], ...]
    # The NOSCRIPT error: the server does not know a script's digest.
    no_script: type[BaseException]
    clusters: tuple[type, ...]

    def is_cluster(self, client: object) -> bool:
        return isinstance(client, self.clusters)


REDIS_PY = ClientFamily(
    name="redis-py",
    failures=(RedisError, RedisClusterException, OSError),
    no_script=NoScriptError,
    clusters=(redis.RedisCluster, redis.asyncio.RedisCluster),
)


@cache
def valkey_py() -> ClientFamily:
    import valkey
    import valkey.asyncio
    from valkey import exceptions

    return ClientFamily(
        name="valkey-py",
        failures=(exceptions.ValkeyError, exceptions.ValkeyClusterException, OSError),
        no_script=exceptions.NoScriptError,
        clusters=(valkey.ValkeyCluster, valkey.asyncio.ValkeyCluster),
    )


def family_of(client: object) -> ClientFamily:
    """valkey-py for its classes (and subclasses of them), else redis-py."""
    for kind in type(client).__mro__:
        if kind.__module__.partition(".")[0] == "valkey":
            return valkey_py()
    return REDIS_PY
