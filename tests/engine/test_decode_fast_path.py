"""decode_value's fast path (the JSON scanner called directly) must give exactly what
json.loads gives, with the same fallback to the raw text for values that are not JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from redis_session_sets._engine.codec import decode_hash, decode_pairs, decode_value, text


def reference(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return text(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)
tricky = st.sampled_from(
    [b" 1", b"1 ", b"01", b"NaN", b"-Infinity", b'"a"b', b"[1", b"1e5", b"tru", b"", b"{}x",
     b'"\x01"', b'"\\u00e9"', "caf\u00e9".encode(), b"12345678901234567890", b"-0"]
)  # fmt: skip
raw_values = st.one_of(
    st.text(max_size=20).map(lambda s: s.encode("utf-8")),
    st.text(max_size=20),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    json_values.map(json.dumps),
    tricky,
)


@settings(max_examples=500)
@given(raw_values)
def test_decode_value_equals_json_loads_with_fallback(raw: bytes | str) -> None:
    expected, got = reference(raw), decode_value(raw)
    assert type(got) is type(expected)
    if isinstance(got, float) and math.isnan(got):
        assert math.isnan(expected)
    else:
        assert got == expected


def test_decode_pairs_decodes_values_and_skips_reserved_fields() -> None:
    reply = {b"__created": b"1", b"n": b"0", b"s": b'"x"', b"raw": b"not json", b"l": b"[1,2]"}
    assert decode_pairs(reply) == {"n": 0, "s": "x", "raw": "not json", "l": [1, 2]}


def test_decode_hash_takes_the_fields_and_touched_in_one_pass() -> None:
    # As a dict (RESP2 callbacks, RESP3) and as a flat list (scripts), bytes or str names.
    fields = {"n": 0, "name": "Ada", "caf\u00e9": [1]}
    as_bytes = {b"__created": b"5", b"__touched": b"7", b"n": b"0", b"name": b'"Ada"',
                "caf\u00e9".encode(): b"[1]"}  # fmt: skip
    as_text = {key.decode(): value.decode() for key, value in as_bytes.items()}
    assert decode_hash(as_bytes) == (fields, b"7")
    assert decode_hash(as_text) == (fields, "7")
    flat = [item for pair in as_bytes.items() for item in pair]
    assert decode_hash(flat) == (fields, b"7")
    assert decode_hash({b"n": b"1"}) == ({"n": 1}, None)
    assert decode_hash([]) == ({}, None)
