"""Sessions with thousands of fields work like small ones.

Regression: the scripts passed every field to one variadic command through Lua's
``unpack``, which fails past about 8000 values, so ``set`` of 4000+ fields, ``unset``
or an absolute-max-age ``get`` of 8000 names, and ``regenerate`` of a session holding
4000+ fields all raised SessionStoreError ("too many results to unpack").
"""

from __future__ import annotations

import pytest
import redis

from redis_session_sets import Store

MANY = 9_000


@pytest.mark.parametrize("absolute_max_age", [None, 3600])
def test_thousands_of_fields(raw: redis.Redis, absolute_max_age: int | None) -> None:
    store = Store(raw, references=["user_id"], absolute_max_age=absolute_max_age)
    session_id = store.create_session_id()
    values: dict[str, object] = {f"f{i}": i for i in range(MANY)}
    store.set(session_id, {**values, "user_id": 7})
    assert store.get(session_id) == {**values, "user_id": 7}
    names = [f"f{i}" for i in range(0, MANY, 2)] + ["missing", "user_id"]
    assert store.get(session_id, names) == {
        **{name: values[name] for name in names[:-2]},
        "user_id": 7,
    }

    new_id = store.regenerate(session_id)
    assert store.get(new_id) == {**values, "user_id": 7}
    assert store.sessions("user_id", 7) == [new_id]
    assert not store.exists(session_id)

    store.unset(new_id, [*values, "user_id"])
    assert store.get(new_id) == {}
    assert store.exists(new_id)
    assert store.sessions("user_id", 7) == []


def test_a_dict_session_save_of_thousands_of_keys(raw: redis.Redis) -> None:
    """The adapters' save (``update``): thousands written, thousands removed, and a
    ``replace`` that drops thousands of fields, in one atomic script each."""
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    values: dict[str, object] = {f"f{i}": i for i in range(MANY)}
    store.run(store.core.save_changes(session_id, {**values, "user_id": 7}))
    assert store.get(session_id) == {**values, "user_id": 7}
    dropped = [f"f{i}" for i in range(0, MANY, 2)]
    store.run(store.core.save_changes(session_id, {"g": 1}, dropped))
    kept = {name: value for name, value in values.items() if name not in dropped}
    assert store.get(session_id) == {**kept, "g": 1, "user_id": 7}
    store.run(store.core.save_changes(session_id, {"user_id": 8}, replace=True))
    assert store.get(session_id) == {"user_id": 8}
    assert store.sessions("user_id", 8) == [session_id]
    assert store.sessions("user_id", 7) == []
