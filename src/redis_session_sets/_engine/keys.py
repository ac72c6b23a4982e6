"""The key layout's building blocks and the checks every input passes before any key is
built from it (docs/design.md, "The data model" and rule 4).

Pure functions and constants: ``StoreCore`` applies them with its prefix and references.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

REFERENCE_FIELD = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Ids are base64url without padding: 22 characters for the 128 bits of a token's digest
# (docs/design.md, "Ids are public"), up to 128 for ids an app makes itself.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,128}")
PREFIX = re.compile(r"[^\s{}]{1,64}")
MAX_FIELD_NAME = 256
MAX_REFERENCE_VALUE_BYTES = 512
MIN_ID_BYTES = 16
RESERVED = "__"
TOUCHED_FIELD = "__touched"
CREATED_FIELD = "__created"
# The device a session was last written from, where the middleware's ``track`` asks.
USER_AGENT_FIELD = "__ua"
IP_FIELD = "__ip"
# The longest life a session may be given: the browsers' cap on a cookie's Max-Age (RFC
# 6265bis), and far inside what PEXPIREAT takes (docs/design.md, rule 8).
MAX_LIFETIME = timedelta(days=400)
MAX_LIFETIME_MS = 400 * 24 * 3600 * 1000

MaxAge = timedelta | int | float


def ended_channel(prefix: str) -> str:
    """The Pub/Sub channel on which the scripts that end sessions (delete, delete_all, a
    limit, regenerate) publish the ended ids, space-separated (docs/design.md, "Ended
    means ended"); the web layer closes those sessions' open WebSockets."""
    return f"{prefix}:ended"


def duration_ms(value: MaxAge, what: str, *, zero: bool = False, limit: bool = False) -> int:
    """A timedelta or a number of seconds, as whole milliseconds (> 0; or 0 with ``zero``;
    at most 400 days with ``limit``)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{what} must be a timedelta or a number of seconds, not {value!r}")
    if zero and seconds == 0:
        return 0
    if not math.isfinite(seconds) or seconds * 1000 < 1:
        raise ValueError(f"{what} must be at least one millisecond, not {value!r}")
    ms = round(seconds * 1000)
    if limit and ms > MAX_LIFETIME_MS:
        raise ValueError(f"{what} must be at most 400 days, not {value!r}")
    return ms


def check_session_id(session_id: object) -> str:
    if not isinstance(session_id, str):
        raise TypeError(f"session id must be a str, not {type(session_id).__name__}")
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"malformed session id: {session_id[:80]!r}")
    return session_id


def check_field_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"session field names must be str, not {type(name).__name__}")
    if not name or len(name) > MAX_FIELD_NAME:
        raise ValueError(f"session field names must be 1-{MAX_FIELD_NAME} characters: {name!r}")
    if name.startswith(RESERVED):
        raise ValueError(f"session field {name!r} is reserved (names starting '__' are)")
    check_unicode(name, "session field names")
    return name


def check_unicode(value: str, what: str) -> None:
    """Text sent to Redis must encode as UTF-8. A lone surrogate (``json.loads`` of a
    visitor's ``"\\ud800"`` makes one) would fail only when the client encodes the
    command, and with auto-pipelining that failure would be the whole batch's, the
    other callers' commands with it: refused here, before anything is sent."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{what} must be valid Unicode (no lone surrogate): {value[:80]!r}"
            ) from None


def check_reference_names(references: Iterable[str] | Mapping[str, Any]) -> tuple[str, ...]:
    """The reference field names of a store, checked (a ``{name: {}}`` mapping gives its
    keys, as in the original Node package)."""
    if isinstance(references, str | bytes):
        raise TypeError("references must be an iterable of field names, not a string")
    names = tuple(references)
    for name in names:
        if not isinstance(name, str) or not REFERENCE_FIELD.fullmatch(name):
            raise ValueError(f"reference field names must match [A-Za-z0-9_.-]{{1,64}}: {name!r}")
        if name.startswith(RESERVED):
            raise ValueError(f"reference field {name!r} is reserved (starts with '__')")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate reference fields: {names!r}")
    return names


def index_value(field: str, value: object) -> str:
    """``str(value)`` for a valid reference value; the index key is built from it."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"reference field {field!r} takes a str or int, not {value!r}")
    # The plain text of the value, as JSON stores it and the scripts index it: str()
    # of a subclass may differ (a `class Role(str, Enum)` member gives "Role.ADMIN").
    indexed = str.__str__(value) if isinstance(value, str) else int.__repr__(value)
    check_unicode(indexed, f"reference field {field!r}: values")
    if len(indexed.encode("utf-8")) > MAX_REFERENCE_VALUE_BYTES:
        raise ValueError(f"reference field {field!r}: value over {MAX_REFERENCE_VALUE_BYTES} bytes")
    return indexed


MAX_REASON = 64


def check_reason(reason: object) -> str | None:
    """An end reason: None, or a str of 1-64 characters (docs/design.md, "End reasons")."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a str, not {type(reason).__name__}")
    if not 1 <= len(reason) <= MAX_REASON:
        raise ValueError(f"reason must be 1-{MAX_REASON} characters, not {len(reason)}")
    check_unicode(reason, "reason")
    return reason


def check_limits(limits: Mapping[str, int] | None, references: tuple[str, ...]) -> dict[str, int]:
    """A store's ``limits``: reference field -> the most live sessions one value may have."""
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise TypeError(f"limits must be a mapping of reference fields to ints, not {limits!r}")
    checked = {}
    for name, limit in limits.items():
        if name not in references:
            raise ValueError(f"limits: {name!r} is not a reference field of this store")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limits: the limit of {name!r} must be an int, not {limit!r}")
        if not 1 <= limit <= 1_000_000:
            raise ValueError(f"limits: the limit of {name!r} must be 1-1000000, not {limit}")
        checked[name] = limit
    return checked


def check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an int, not {batch_size!r}")
    if not 1 <= batch_size <= 100_000:
        raise ValueError(f"batch_size must be between 1 and 100000, not {batch_size}")
