"""Bad arguments raise ValueError/TypeError before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from redis_session_sets import AsyncStore, Store


def snapshot(raw: redis.Redis) -> dict[bytes, Any]:
    """Every key with its type, value and TTL bucket: what 'unchanged' means."""
    state: dict[bytes, Any] = {}
    for key in raw.scan_iter():
        kind = raw.type(key)
        if kind == b"hash":
            value: Any = raw.hgetall(key)
        else:
            value = raw.zrange(key, 0, -1, withscores=True)
        state[key] = (kind, value)
    return state


GOOD = "A" * 43
BAD_CALLS: list[tuple[str, Callable[[Any], Any], type[Exception]]] = [
    ("short id", lambda s: s.get("abc"), ValueError),
    ("id with bad characters", lambda s: s.set("A" * 42 + "}", {"a": 1}), ValueError),
    ("id with a brace", lambda s: s.set("{" + "A" * 42, {"a": 1}), ValueError),
    ("id too long", lambda s: s.touch("A" * 200), ValueError),
    ("id not a str", lambda s: s.delete(12345), TypeError),
    ("id bytes", lambda s: s.get(GOOD.encode()), TypeError),
    ("reserved field in set", lambda s: s.set(GOOD, {"a": 1, "__csrf": "x"}), ValueError),
    ("reserved field in get", lambda s: s.get(GOOD, ["__created"]), ValueError),
    ("reserved field in unset", lambda s: s.unset(GOOD, ["__touched"]), ValueError),
    ("reserved field in incr", lambda s: s.incr(GOOD, "__created"), ValueError),
    ("empty field name", lambda s: s.set(GOOD, {"": 1}), ValueError),
    ("field name not a str", lambda s: s.set(GOOD, {1: 1}), TypeError),
    ("fields given as a string", lambda s: s.get(GOOD, "abc"), TypeError),
    ("unset fields as a string", lambda s: s.unset(GOOD, "abc"), TypeError),
    ("values not a mapping", lambda s: s.set(GOOD, [("a", 1)]), TypeError),
    ("unencodable value", lambda s: s.set(GOOD, {"a": 1, "b": object()}), TypeError),
    ("set value", lambda s: s.set(GOOD, {"a": 1, "b": {1, 2}}), TypeError),
    ("NaN", lambda s: s.set(GOOD, {"a": 1, "b": float("nan")}), ValueError),
    ("bytes value", lambda s: s.set(GOOD, {"b": b"raw"}), TypeError),
    ("bool reference value", lambda s: s.set(GOOD, {"a": 1, "user_id": True}), TypeError),
    ("float reference value", lambda s: s.set(GOOD, {"a": 1, "user_id": 1.5}), TypeError),
    ("list reference value", lambda s: s.set(GOOD, {"user_id": [1]}), TypeError),
    ("oversize reference", lambda s: s.set(GOOD, {"a": 1, "user_id": "x" * 513}), ValueError),
    ("oversize multibyte", lambda s: s.set(GOOD, {"user_id": "é" * 257}), ValueError),
    ("non-reference index", lambda s: s.sessions("name", 1), ValueError),
    ("non-reference count", lambda s: s.count("name", 1), ValueError),
    ("non-reference session_infos", lambda s: s.session_infos("name", 1), ValueError),
    ("session_infos batch 0", lambda s: s.session_infos("user_id", 1, batch_size=0), ValueError),
    ("non-reference delete_all", lambda s: s.delete_all("name", 1), ValueError),
    ("non-reference key", lambda s: s.get_reference_key("name", 1), ValueError),
    ("reserved index field", lambda s: s.sessions("__csrf", 1), ValueError),
    ("bool index value", lambda s: s.sessions("user_id", True), TypeError),
    ("None index value", lambda s: s.count("user_id", None), TypeError),
    ("float index value", lambda s: s.delete_all("user_id", 1.0), TypeError),
    ("oversize index value", lambda s: s.sessions("user_id", "x" * 600), ValueError),
    ("bad keep id", lambda s: s.delete_all("user_id", 1, keep=["nope"]), ValueError),
    ("incr amount float", lambda s: s.incr(GOOD, "n", 1.5), TypeError),
    ("incr amount bool", lambda s: s.incr(GOOD, "n", True), TypeError),
    ("incr amount huge", lambda s: s.incr(GOOD, "n", 2**64), ValueError),
    ("max_age zero", lambda s: s.set(GOOD, {"a": 1}, max_age=0), ValueError),
    ("max_age negative", lambda s: s.touch(GOOD, max_age=timedelta(seconds=-1)), ValueError),
    ("max_age string", lambda s: s.set(GOOD, {"a": 1}, max_age="60"), TypeError),
    ("max_age infinite", lambda s: s.unset(GOOD, ["a"], max_age=float("inf")), ValueError),
]


@pytest.mark.parametrize(("case", "call", "error"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_raise_and_write_nothing(
    case: str, call: Callable[[Any], Any], error: type[Exception], sync_client: redis.Redis,
    raw: redis.Redis,
) -> None:  # fmt: skip
    store = Store(sync_client, references=["user_id"])
    store.set(GOOD, {"user_id": 1, "name": "kept", "n": 1})
    before = snapshot(raw)
    with pytest.raises(error):
        call(store)
    assert snapshot(raw) == before, case


@pytest.mark.parametrize(("case", "call", "error"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
async def test_async_bad_arguments_raise_before_any_await(
    case: str, call: Callable[[Any], Any], error: type[Exception], async_client: Any,
    raw: redis.Redis,
) -> None:  # fmt: skip
    store = AsyncStore(async_client, references=["user_id"])
    await store.set(GOOD, {"user_id": 1, "name": "kept", "n": 1})
    before = snapshot(raw)
    with pytest.raises(error):
        result = call(store)
        if hasattr(result, "__await__"):
            await result
    assert snapshot(raw) == before, case


def test_iter_sessions_checks_arguments_when_called(sync_client: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id"])
    with pytest.raises(ValueError):
        store.iter_sessions("name", 1)
    with pytest.raises(ValueError):
        store.iter_sessions("user_id", 1, batch_size=0)
    with pytest.raises(TypeError):
        store.iter_sessions("user_id", 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"references": "user_id"}, TypeError),
        ({"references": ["user id"]}, ValueError),
        ({"references": ["x" * 65]}, ValueError),
        ({"references": ["__user"]}, ValueError),
        ({"references": ["a", "a"]}, ValueError),
        ({"references": [1]}, ValueError),
        ({"max_age": -5}, ValueError),
        ({"max_age": "1d"}, TypeError),
        ({"absolute_max_age": 0}, ValueError),
        ({"prefix": ""}, ValueError),
        ({"prefix": "a{b}"}, ValueError),
        ({"prefix": "a b"}, ValueError),
        ({"id_bytes": 8}, ValueError),
        ({"id_bytes": 16.0}, TypeError),
    ],
)
def test_bad_store_options(options: dict[str, Any], error: type[Exception]) -> None:
    client = redis.Redis(port=1)  # never contacted: options are checked when the store is built
    with pytest.raises(error):
        Store(client, **options)
