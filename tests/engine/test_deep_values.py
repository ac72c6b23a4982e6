"""Deeply nested values: ValueError before anything is written (never RecursionError), and
a hand-written value too deep to decode reads back as its text, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from redis_session_sets._engine.codec import decode_value, encode_value

DEPTH = 100_000  # far beyond any recursion limit


def nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("make", [nested_list, nested_dict])
def test_encoding_a_deep_value_is_a_value_error(make: Callable[[int], Any]) -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        encode_value("cart", make(DEPTH))
    shallow = make(100)
    assert decode_value(encode_value("cart", shallow)) == shallow


def test_decoding_a_deep_text_hands_back_the_text() -> None:
    for raw in ("[" * DEPTH + "]" * DEPTH, b'{"k":' * DEPTH + b"1" + b"}" * DEPTH):
        value = decode_value(raw)
        assert isinstance(value, str) and len(value) == len(raw)


@pytest.mark.parametrize("make", [nested_list, nested_dict])
async def test_a_deep_value_is_refused_before_anything_is_written(
    store: Any, raw: redis.Redis, make: Callable[[int], Any]
) -> None:
    session_id = store.create_session_id()
    deep = make(DEPTH)
    writes: list[Callable[[], Any]] = [
        lambda: store.set(session_id, {"a": 1, "cart": deep}),
        lambda: store.update(session_id, {"cart": deep}, incr={"n": 1}),
        lambda: store.run(store.core.save_changes(session_id, {"cart": deep})),  # dict sessions
    ]
    for write in writes:
        with pytest.raises(ValueError, match="nested too deeply"):
            await write()
    assert raw.dbsize() == 0
    await store.set(session_id, {"cart": make(50)})  # moderate nesting is fine
    assert await store.get(session_id) == {"cart": make(50)}


async def test_a_hand_written_deep_value_reads_back_as_text(store: Any, raw: redis.Redis) -> None:
    session_id = store.create_session_id()
    await store.set(session_id, {"name": "ada"})
    deep = "[" * DEPTH + "]" * DEPTH
    raw.hset(store.get_session_key(session_id), "cart", deep)
    assert await store.get(session_id) == {"name": "ada", "cart": deep}
    assert await store.get(session_id, ["cart"]) == {"cart": deep}
