"""The stores of the Django engine, built from settings and cached until they change.

Settings (all optional):

- ``SESSION_REDIS_URL`` (default ``redis://localhost:6379/0``)
- ``SESSION_REDIS_PREFIX`` (default ``"rss"``)
- ``SESSION_REDIS_REFERENCES`` (default ``["_auth_user_id"]``)
- ``SESSION_REDIS_CLIENT``: an existing ``redis.Redis`` / ``redis.RedisCluster``, used
  instead of the URL by the sync methods.
- ``SESSION_REDIS_LIMITS`` (default none; e.g. ``{"_auth_user_id": 5}``): the most live
  sessions one value of a reference field may have. A login beyond that ends the user's
  least recently active other sessions in the same atomic write, with the end reason
  ``"limit"`` (the store's ``limits``).
- ``SESSION_REDIS_TRACK`` (default ``()``; e.g. ``("user_agent", "ip")``): the device
  facts kept with each session's writes (``user_sessions()`` shows them). Needs the
  library's ``SessionMiddleware``; the address is ``REMOTE_ADDR`` (what the server's
  proxy handling made of it) and personal data, hence off by default.
- ``SESSION_REDIS_ASYNC_CLIENT``: an existing ``redis.asyncio.Redis`` /
  ``RedisCluster`` for the ``a*`` methods.

The ``a*`` methods use ``SESSION_REDIS_ASYNC_CLIENT`` when given; else, when
``SESSION_REDIS_CLIENT`` is given, that client in a worker thread (so both halves talk to
the same server); else a client made from the URL, one per event loop (a redis.asyncio
connection belongs to the loop that opened it, and tests or ``async_to_sync`` run
several loops in one process).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, TypeVar

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import setting_changed

from .._drivers.async_ import AsyncStore
from .._drivers.connect import DEFAULT_URL
from .._drivers.sync import Store
from .._engine.protocol import Operation
from .._web.device import check_track

T = TypeVar("T")

DEFAULT_PREFIX = "rss"
DEFAULT_REFERENCES = ("_auth_user_id",)
USER_FIELD = "_auth_user_id"  # django.contrib.auth.SESSION_KEY


class Stores:
    """The sync store, and the async one of each event loop, for one configuration."""

    def __init__(self) -> None:
        self.url: str = getattr(settings, "SESSION_REDIS_URL", DEFAULT_URL)
        self.options: dict[str, Any] = {
            "prefix": getattr(settings, "SESSION_REDIS_PREFIX", DEFAULT_PREFIX),
            "references": tuple(getattr(settings, "SESSION_REDIS_REFERENCES", DEFAULT_REFERENCES)),
            "max_age": settings.SESSION_COOKIE_AGE,
            "limits": getattr(settings, "SESSION_REDIS_LIMITS", None),
        }
        self.track = check_track(getattr(settings, "SESSION_REDIS_TRACK", ()))
        client = getattr(settings, "SESSION_REDIS_CLIENT", None)
        self.given_sync = client is not None
        self.sync = Store(client or redis.Redis.from_url(self.url), **self.options)
        self.core = self.sync.core
        async_client = getattr(settings, "SESSION_REDIS_ASYNC_CLIENT", None)
        self.given_async = (
            None if async_client is None else AsyncStore(async_client, **self.options)
        )
        self.per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncStore] = (
            weakref.WeakKeyDictionary()
        )

    def run(self, operation: Operation[T]) -> T:
        return self.sync.run(operation)

    async def arun(self, operation: Operation[T]) -> T:
        store = self.given_async
        if store is None:
            if self.given_sync:
                return await sync_to_async(self.sync.run, thread_sensitive=False)(operation)
            loop = asyncio.get_running_loop()
            store = self.per_loop.get(loop)
            if store is None:
                client = redis.asyncio.Redis.from_url(self.url)
                store = self.per_loop[loop] = AsyncStore(client, **self.options)
        return await store.run(operation)


_current: Stores | None = None


def stores() -> Stores:
    global _current
    if _current is None:
        _current = Stores()
    return _current


def _forget(*, setting: str, **kwargs: Any) -> None:
    """``override_settings`` of a session setting takes effect on the next request."""
    global _current
    if setting.startswith("SESSION_"):
        _current = None


setting_changed.connect(_forget)
