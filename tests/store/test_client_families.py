"""The driver tells redis-py's clients from valkey-py's by their classes, subclasses
included, and catches each library's own exceptions (valkey-py's are no subclasses of
redis-py's). The store's behaviour with either library is tests/store/test_store.py and
the other modules marked ``both_clients``."""

from __future__ import annotations

import pytest
import redis
import valkey

from redis_session_sets import SessionStoreError, Store
from tests.support import clients
from tests.support.servers import free_port


class AppValkey(valkey.Valkey):
    """An app's own subclass of valkey-py's client."""


class AppRedis(redis.Redis):
    """An app's own subclass of redis-py's client."""


@pytest.mark.parametrize(
    ("client_class", "library"),
    [(AppValkey, clients.VALKEY_PY), (AppRedis, clients.REDIS_PY)],
    ids=["valkey-subclass", "redis-subclass"],
)
def test_a_subclass_is_driven_as_its_library(client_class: type, library: str) -> None:
    nothing_there = client_class(port=free_port(), retry=clients.retry(library, 0))
    store = Store(nothing_there)
    assert store._family.name == library
    with pytest.raises(SessionStoreError) as raised:
        store.get(store.create_session_id())
    assert isinstance(raised.value.__cause__, clients.base_error(library))
