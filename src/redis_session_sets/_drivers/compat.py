"""Work-arounds for redis-py's asyncio clients, in one place (each says which behaviour
it works around, so it can go when redis-py changes). valkey-py's asyncio clients, a fork
of redis-py's, have the same internals and get the same treatment.

They touch the clients' internals (``node._connections``, ``pool._lock``): kept here so
no other module does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
from collections.abc import AsyncIterator
from typing import Any

from .clients import RedisPyAsync


def forget_connections(client: RedisPyAsync, *, cluster: bool) -> None:
    """Drops the client's pooled connections, without closing them.

    redis.asyncio connections belong to the event loop that opened them. A store used
    from a new loop (Starlette's and FastAPI's ``TestClient`` without ``with`` runs each
    request in a loop of its own; so do repeated ``asyncio.run`` calls) would otherwise
    hand it connections of a closed loop and fail with "Event loop is closed". Their old
    loop is gone, so they cannot be closed; new ones open on demand.
    """
    if cluster:
        for node in _any(client).get_nodes():
            node._connections.clear()
            node._free.clear()
        return
    pool = _any(client).connection_pool
    pool.reset()
    # The pool's asyncio primitives may be bound to the old loop too.
    if hasattr(pool, "_lock"):
        pool._lock = asyncio.Lock()
    if hasattr(pool, "_condition"):
        pool._condition = asyncio.Condition()


async def ready(client: RedisPyAsync, *, cluster: bool) -> None:
    """Waits until a cluster client has discovered the nodes: redis-py's asyncio
    RedisCluster breaks connections when commands run concurrently before that. Under
    the client's own lock, and a no-op once done; nothing to wait for on other clients."""
    if cluster:
        await _any(client).initialize()


async def take_connection(pool: Any) -> Any:
    """A connected connection of a client's pool, to be given back with ``release``.

    redis-py 5.3 made ``get_connection``'s command name optional (and warns when one is
    given); valkey-py and older redis-py still require it."""
    if takes_no_command_name(pool):
        return await pool.get_connection()
    return await pool.get_connection("PING")


_no_name_cache: dict[Any, bool] = {}


def takes_no_command_name(pool: Any) -> bool:
    """Whether ``pool.get_connection()`` is to be called without a command name (sync
    and asyncio pools alike)."""
    pool_class = type(pool)
    known = _no_name_cache.get(pool_class)
    if known is None:
        try:
            parameter = inspect.signature(pool_class.get_connection).parameters.get("command_name")
            known = parameter is None or parameter.default is not inspect.Parameter.empty
        except (TypeError, ValueError):
            known = False
        _no_name_cache[pool_class] = known
    return known


_untimed_cache: dict[type, float | None] = {}


def untimed_read(connection: Any) -> float | None:
    """The ``timeout`` that makes ``connection.read_response`` read without arming a
    timer of its own (the caller bounds the reads itself), or None where none does.

    redis-py arms one asyncio timeout per reply read (``socket_timeout``): a timer
    scheduled and cancelled for every reply, about a third of what a pipelined command
    costs the client. redis-py 8 reads with no timer of its own when given
    ``timeout=math.inf``; earlier versions, and valkey-py, would arm a timer at infinity
    instead, so they keep their own timeouts (None)."""
    kind = type(connection)
    if kind not in _untimed_cache:
        try:
            source = inspect.getsource(kind.read_response)
        except (OSError, TypeError):
            source = ""
        _untimed_cache[kind] = math.inf if "timeout == math.inf" in source else None
    return _untimed_cache[kind]


def _any(client: RedisPyAsync) -> Any:
    """The client, untyped: whether it is a cluster client is told by ``cluster`` (the
    store knows it), not by its type, since valkey-py's classes are no redis-py ones."""
    return client


@contextlib.asynccontextmanager
async def pubsub(client: RedisPyAsync, *, cluster: bool, valkey_py: bool) -> AsyncIterator[Any]:
    """A Pub/Sub connection to the client's server (a ``PubSub``), closed on exit.

    On a cluster, what is published with PUBLISH (not Redis 7's sharded SPUBLISH) reaches
    every node's subscribers, so a subscription on one primary hears the whole cluster.
    redis-py's asyncio ``RedisCluster`` has no ``pubsub()`` before 6.x, so a plain client
    of the same library (valkey-py's with ``valkey_py``) on one of its nodes subscribes.
    """
    pool: Any = None
    single: Any = client
    if cluster:
        nodes = _any(client)
        node = nodes.get_default_node() or nodes.get_nodes()[0]
        if valkey_py:
            import valkey.asyncio

            pool = valkey.asyncio.ConnectionPool(**node.connection_kwargs)
            single = valkey.asyncio.Valkey(connection_pool=pool)
        else:
            import redis.asyncio

            pool = redis.asyncio.ConnectionPool(**node.connection_kwargs)
            single = redis.asyncio.Redis(connection_pool=pool)
    subscription = single.pubsub()
    try:
        yield subscription
    finally:
        try:
            close = getattr(subscription, "aclose", None) or subscription.reset  # redis 5.0.0
            await close()
        finally:
            if pool is not None:
                await pool.disconnect()
