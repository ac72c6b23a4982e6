"""How values travel: JSON in the session hash, and replies decoded the same way whatever
the client (``decode_responses`` on or off).

One decoder for the whole engine: ``text`` turns a reply item into ``str``; bytes that are
not UTF-8 (only a hand-made edit can store them) become U+FFFD, never an exception.

Nesting: a value nested too deeply for Python's JSON encoder (about a thousand levels,
the interpreter's recursion limit) is refused with ValueError before anything is written;
a stored value too deep to decode (only a hand-made edit can store one) is handed back as
its text, like any other stored value that is not JSON, never as a RecursionError.
"""

from __future__ import annotations

import json
import json.scanner
from datetime import UTC, datetime
from typing import Any

from .keys import TOUCHED_FIELD as TOUCHED
from .keys import check_unicode
from .types import SessionInfo

TOUCHED_BYTES = TOUCHED.encode()


def text(value: Any) -> str:
    """A reply item as str, whether the client decodes responses or not."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def encode_value(field: str, value: Any) -> str:
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"session field {field!r}: value cannot be JSON-encoded: {error}"
        ) from None
    except RecursionError:
        # The encoder's own recursion check: a RecursionError escaping here would look
        # like a bug of the caller's, and the next call might fail elsewhere.
        raise ValueError(
            f"session field {field!r}: value cannot be JSON-encoded: nested too deeply"
        ) from None
    # JSON keeps a lone surrogate ("\ud800") as it is, and it is no UTF-8: refused as in
    # field names, before the client would fail to encode it (keys.check_unicode).
    check_unicode(encoded, f"session field {field!r}: values")
    return encoded


# json.loads(s) is the decoder's scanner(s, 0) plus checks for surrounding whitespace
# and trailing data; calling the C scanner directly is ~5x faster on the small values of
# a session, and anything it does not take whole goes the full way (same result).
_scan_once = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def decode_value(raw: Any) -> Any:
    try:
        string = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value, end = _scan_once(string, 0)
        if end == len(string):
            return value
    except (StopIteration, ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        pass
    except RecursionError:
        return text(raw)  # nested too deeply to decode (a hand edit): its text
    try:
        return json.loads(raw)  # bytes or str
    except (ValueError, RecursionError):
        return text(raw)  # written by hand, not JSON (or too deep): hand it back as it is


def decode_pairs(reply: Any) -> dict[str, Any]:
    """A hash reply (a dict, or a flat field/value list) as the user's fields."""
    return decode_hash(reply)[0]


def decode_hash(reply: Any) -> tuple[dict[str, Any], Any]:
    """A hash reply (a dict, or a flat field/value list) as the user's fields and the
    raw ``__touched`` (None when absent), in one pass: the read of every request that
    uses its session goes through here."""
    items = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    fields = {}
    touched = None
    for name, raw in items:
        if name[:2] in (b"__", "__"):  # bytes or str, without decoding the reserved ones
            if name in (TOUCHED, TOUCHED_BYTES):
                touched = raw
        elif type(name) is bytes:
            fields[name.decode("utf-8", "replace")] = decode_value(raw)
        else:
            fields[text(name)] = decode_value(raw)
    return fields, touched


def from_ms(ms: int) -> datetime:
    """Unix milliseconds (Redis's clock) as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def session_info(
    session_id: str, created: Any, touched: Any, ttl: Any, ua: Any, ip: Any, *, now: Any
) -> SessionInfo:
    """A ``SessionInfo`` from what the scripts read: times in Unix ms, the TTL in ms (PTTL:
    negative for a hash without one, written by hand: expiring now, as far as we know),
    and ``__ua`` / ``__ip`` as stored (JSON strings; None or anything else: not kept)."""
    now_ms, ttl_ms = int(now), int(ttl)
    user_agent, address = (decode_value(raw) if raw else None for raw in (ua, ip))
    return SessionInfo(
        session_id,
        from_ms(int(created)),
        from_ms(int(touched)),
        from_ms(now_ms + ttl_ms if ttl_ms >= 0 else now_ms),
        user_agent if isinstance(user_agent, str) else None,
        address if isinstance(address, str) else None,
    )
