"""Run one test body against both shells: the sync Store seen through an async facade."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis_session_sets import AsyncStore, Store


class SyncStoreAsAsync:
    """Wraps a sync Store so the same ``await store.x(...)`` test code drives it."""

    def __init__(self, store: Store) -> None:
        self.sync = store

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.sync, name)
        if not callable(attribute) or name in {
            "create_session_id",
            "get_session_key",
            "get_reference_key",
        }:
            return attribute
        if name == "iter_sessions":
            return _async_iter(attribute)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return attribute(*args, **kwargs)

        return call


def _async_iter(function: Callable[..., Any]) -> Callable[..., Any]:
    async def iterate(*args: Any, **kwargs: Any) -> Any:
        for item in function(*args, **kwargs):
            yield item

    return iterate


AnyStore = AsyncStore | SyncStoreAsAsync


async def collect(store: Any, field: str, value: str | int, batch_size: int = 500) -> list[str]:
    return [session_id async for session_id in store.iter_sessions(field, value, batch_size)]
