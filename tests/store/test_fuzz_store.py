"""Fuzzing the store's arguments: whatever an app passes through (often straight from a
request), the store either round-trips it exactly or refuses it with ValueError/TypeError
before anything is written, and the only keys in Redis are the ones the spec names."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_session_sets import SessionStoreError, Store
from redis_session_sets._engine.keys import SESSION_ID
from tests.support.stress import budget

FUZZ = settings(
    max_examples=budget(60, 2000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text of every kind: control characters, braces, colons, '*' and '?', non-ASCII.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
reference_values = st.one_of(
    any_text,
    st.sampled_from(["", "}", "{", "{}", "a}b{c", "*", "x:y", "\x00", "\u2028", "é" * 256]),
    st.integers(-(2**70), 2**70),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=8,
)
field_names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40).filter(
    lambda name: not name.startswith("__")
)


def keys(raw: redis.Redis) -> set[bytes]:
    return set(raw.scan_iter(count=1000))


@FUZZ
@given(value=reference_values, extra=st.dictionaries(field_names, json_values, max_size=5))
def test_any_reference_value_indexes_under_its_own_key(
    raw: redis.Redis, value: str | int, extra: dict[str, Any]
) -> None:
    raw.flushdb()
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    values = {**extra, "user_id": value}
    if len(str(value).encode()) > 512:
        with pytest.raises(ValueError):
            store.set(session_id, values)
        assert keys(raw) == set()
        return
    store.set(session_id, values)
    assert store.get(session_id) == json.loads(json.dumps(values))
    assert store.sessions("user_id", value) == [session_id]
    assert store.sessions("user_id", str(value)) == [session_id]
    assert store.count("user_id", value) == 1
    # Exactly the two keys the spec names, built from the validated value.
    expected = {
        f"rss:s:{{{session_id}}}".encode(),
        f"rss:r:user_id:{{{value}}}".encode(),
    }
    assert keys(raw) == expected
    assert store.delete_all("user_id", value) == 1
    assert keys(raw) == set()


@FUZZ
@given(session_id=any_text | st.binary(max_size=60) | st.integers() | st.none())
def test_a_malformed_session_id_is_refused_before_any_write(
    raw: redis.Redis, session_id: Any
) -> None:
    raw.flushdb()
    store = Store(raw, references=["user_id"])
    valid = isinstance(session_id, str) and SESSION_ID.fullmatch(session_id) is not None
    operations: list[Callable[[], object]] = [
        lambda: store.set(session_id, {"user_id": 1}),
        lambda: store.get(session_id),
        lambda: store.unset(session_id, ["a"]),
        lambda: store.incr(session_id, "n"),
        lambda: store.touch(session_id),
        lambda: store.delete(session_id),
        lambda: store.regenerate(session_id),
        lambda: store.exists(session_id),
        lambda: store.info(session_id),
        lambda: store.get_session_key(session_id),
        lambda: store.delete_all("user_id", 1, keep=[session_id]),
    ]
    for operation in operations:
        if valid:
            operation()
        else:
            with pytest.raises((ValueError, TypeError)):
                operation()
    if not valid:
        assert keys(raw) == set()


class Role(str, enum.Enum):  # noqa: UP042 (the mixin is the case under test)
    ADMIN = "admin"


class Level(enum.IntEnum):
    ONE = 1


def test_enum_reference_values_index_under_their_value(raw: redis.Redis) -> None:
    """Regression: a str-mixin Enum member was indexed (by the script, from its JSON) under
    "admin" but looked up under str() = "Role.ADMIN", so sessions() and delete_all()
    silently missed it — a revocation that revoked nothing."""
    store = Store(raw, references=["role", "level"])
    session_id = store.create_session_id()
    store.set(session_id, {"role": Role.ADMIN, "level": Level.ONE})
    assert store.get_reference_key("role", Role.ADMIN) == "rss:r:role:{admin}"
    assert store.sessions("role", Role.ADMIN) == [session_id]
    assert store.sessions("level", Level.ONE) == [session_id]
    assert store.delete_all("role", Role.ADMIN) == 1
    assert not store.exists(session_id)


def test_a_huge_integer_is_refused_cleanly(raw: redis.Redis) -> None:
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    for value in (10**600, 10**5000):
        with pytest.raises(ValueError):
            store.set(session_id, {"user_id": value})
        with pytest.raises(ValueError):
            store.sessions("user_id", value)
    with pytest.raises(ValueError):
        store.set(session_id, {"x": 10**5000})  # beyond Python's int-to-text limit
    assert keys(raw) == set()


def test_unencodable_text_is_refused_before_any_write(raw: redis.Redis) -> None:
    store = Store(raw, references=["user_id"])
    session_id = store.create_session_id()
    for values in ({"x": "\ud800"}, {"\ud800": 1}, {"user_id": "\udfff"}):
        with pytest.raises(ValueError):
            store.set(session_id, values)
    assert keys(raw) == set()
    with pytest.raises((ValueError, SessionStoreError)):
        store.get(session_id, ["\ud800"])
