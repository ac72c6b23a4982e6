"""Work-arounds for redis-py's asyncio clients, in one place (each says which behaviour
it works around, so it can go when redis-py changes).

They touch redis-py internals (``node._connections``, ``pool._lock``): kept here so no
other module does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis.asyncio
import redis.asyncio.client

AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster


def forget_connections(client: AsyncClient) -> None:
    """Drops the client's pooled connections, without closing them.

    redis.asyncio connections belong to the event loop that opened them. A store used
    from a new loop (Starlette's and FastAPI's ``TestClient`` without ``with`` runs each
    request in a loop of its own; so do repeated ``asyncio.run`` calls) would otherwise
    hand it connections of a closed loop and fail with "Event loop is closed". Their old
    loop is gone, so they cannot be closed; new ones open on demand.
    """
    if isinstance(client, redis.asyncio.RedisCluster):
        for node in client.get_nodes():
            node._connections.clear()
            node._free.clear()
        return
    pool = client.connection_pool
    pool.reset()  # type: ignore[no-untyped-call]
    # The pool's asyncio primitives may be bound to the old loop too.
    if hasattr(pool, "_lock"):
        pool._lock = asyncio.Lock()
    if hasattr(pool, "_condition"):
        pool._condition = asyncio.Condition()


async def ready(client: AsyncClient) -> None:
    """Waits until a cluster client has discovered the nodes: redis-py's asyncio
    RedisCluster breaks connections when commands run concurrently before that. Under
    the client's own lock, and a no-op once done; nothing to wait for on other clients."""
    if isinstance(client, redis.asyncio.RedisCluster):
        await client.initialize()


@contextlib.asynccontextmanager
async def pubsub(client: AsyncClient) -> AsyncIterator[redis.asyncio.client.PubSub]:
    """A Pub/Sub connection to the client's server, closed on exit.

    On a cluster, what is published with PUBLISH (not Redis 7's sharded SPUBLISH) reaches
    every node's subscribers, so a subscription on one primary hears the whole cluster.
    redis-py's asyncio ``RedisCluster`` has no ``pubsub()`` before 6.x, so a plain client
    on one of its nodes subscribes.
    """
    if isinstance(client, redis.asyncio.RedisCluster):
        node = client.get_default_node() or client.get_nodes()[0]
        pool = redis.asyncio.ConnectionPool(**node.connection_kwargs)
        single = redis.asyncio.Redis(connection_pool=pool)
    else:
        single, pool = client, None
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
