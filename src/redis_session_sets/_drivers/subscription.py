"""A Pub/Sub subscription of an ``AsyncStore``'s server, for the web layer (closing the
WebSockets of ended sessions: ``_web/revocation.py``).

What the client raises when Redis fails becomes a ``SessionStoreError``, as for every
store operation, so the caller handles one exception whatever the client's library.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from .._engine.codec import text
from .._engine.errors import SessionStoreError
from . import compat
from .async_ import AsyncStore


class Subscription:
    """One channel's subscription: ``await get(timeout)`` the next event, ``ping()``."""

    def __init__(self, pubsub: Any, failures: tuple[type[BaseException], ...]) -> None:
        self._pubsub = pubsub
        self._failures = failures

    async def get(self, timeout: float) -> tuple[str, str] | None:
        """The next event as (kind, data): ``("subscribe", channel)`` each time the
        subscription is (re)established (redis-py resubscribes by itself after a lost
        connection), ``("message", data)``, ``("pong", ...)``; None after ``timeout``
        seconds without one."""
        try:
            message = await self._pubsub.get_message(timeout=timeout)
        except self._failures as error:
            raise SessionStoreError(f"Redis failed on the subscription: {error}") from error
        if message is None:
            return None
        return text(message["type"]), text(message["data"])

    async def ping(self) -> None:
        try:
            await self._pubsub.ping()
        except self._failures as error:
            raise SessionStoreError(f"Redis failed on the subscription: {error}") from error


@contextlib.asynccontextmanager
async def subscribe(store: AsyncStore, channel: str) -> AsyncIterator[Subscription]:
    """A subscription to ``channel`` on the store's server (a node of a cluster), closed
    on exit; SessionStoreError when Redis fails."""
    failures = store._family.failures
    try:
        async with compat.pubsub(
            store.client, cluster=store._cluster, valkey_py=store._family.name == "valkey-py"
        ) as pubsub:
            await pubsub.subscribe(channel)
            yield Subscription(pubsub, failures)
    except failures as error:
        raise SessionStoreError(f"Redis failed on the subscription: {error}") from error
