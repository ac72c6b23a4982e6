"""The sans-IO core of the store: key layout, validation, encoding, which script with
which arguments, and decoding the replies.

Nothing here touches a socket. Each operation is a generator (see ``_protocol``) that the
sync and async shells in ``_store.py`` drive, so every rule lives in one place.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import _cluster
from ._protocol import Arg, Command, Emit, Iteration, Operation, ScriptCall
from ._scripts import load_script
from ._types import SessionInfo

REFERENCE_FIELD = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Ids are base64url without padding: 43 characters for 32 random bytes (or a SHA-256).
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,128}")
PREFIX = re.compile(r"[^\s{}]{1,64}")
MAX_FIELD_NAME = 256
MAX_REFERENCE_VALUE_BYTES = 512
MIN_ID_BYTES = 16
RESERVED = "__"
CSRF_FIELD = "__csrf"
TOUCHED_FIELD = "__touched"
CREATED_FIELD = "__created"
CSRF_MODES = ("read", "write", "create")

MaxAge = timedelta | int | float


def duration_ms(value: MaxAge, what: str, *, zero: bool = False) -> int:
    """A timedelta or a number of seconds, as whole milliseconds (> 0; or 0 with ``zero``)."""
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
    return round(seconds * 1000)


def text(value: Any) -> str:
    """A reply item as str, whether the client decodes responses or not. Bytes that are
    not UTF-8 (only a hand-made edit can store them) become U+FFFD, never an exception."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def encode_value(field: str, value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"session field {field!r}: value cannot be JSON-encoded: {error}"
        ) from None


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
    try:
        return json.loads(raw)  # bytes or str
    except ValueError:
        return text(raw)  # written by hand, not JSON: hand it back as it is


def decode_pairs(reply: Any) -> dict[str, Any]:
    """A hash reply (a dict, or a flat field/value list) as the user's fields."""
    items = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    fields = {}
    for name, raw in items:
        if name[:2] not in (b"__", "__"):  # bytes or str, without decoding the reserved ones
            fields[text(name)] = decode_value(raw)
    return fields


@dataclass(frozen=True, slots=True)
class SessionRead:
    """What ``StoreCore.read`` learns: existence, the user fields, the last write/touch."""

    exists: bool
    values: dict[str, Any]
    touched_ms: int | None


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class StoreCore:
    """Everything a store does except sending the commands."""

    def __init__(
        self,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
        cluster: bool = False,
    ) -> None:
        if isinstance(references, str | bytes):
            raise TypeError("references must be an iterable of field names, not a string")
        names = tuple(references)  # a {name: {}} mapping gives its keys, as in the original
        for name in names:
            if not isinstance(name, str) or not REFERENCE_FIELD.fullmatch(name):
                raise ValueError(
                    f"reference field names must match [A-Za-z0-9_.-]{{1,64}}: {name!r}"
                )
            if name.startswith(RESERVED):
                raise ValueError(f"reference field {name!r} is reserved (starts with '__')")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate reference fields: {names!r}")
        if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix must be 1-64 characters without spaces or braces: {prefix!r}")
        if isinstance(id_bytes, bool) or not isinstance(id_bytes, int):
            raise TypeError(f"id_bytes must be an int, not {id_bytes!r}")
        if not MIN_ID_BYTES <= id_bytes <= 96:
            raise ValueError(f"id_bytes must be between {MIN_ID_BYTES} and 96, not {id_bytes}")
        self.references = names
        self.prefix = prefix
        self.id_bytes = id_bytes
        self.max_age_ms = duration_ms(max_age, "max_age")
        self.absolute_max_age_ms = (
            0 if absolute_max_age is None else duration_ms(absolute_max_age, "absolute_max_age")
        )
        # On a cluster the scripts leave the indexes (other slots) to _cluster.py.
        self.cluster = cluster
        # The leading ARGV of every script (see lua/lib.lua).
        self._script_args: tuple[Arg, ...] = (
            prefix,
            " ".join(names),
            "0" if cluster else "1",
            self.absolute_max_age_ms,
        )

    # -- key layout and validation -------------------------------------------------

    def create_session_id(self) -> str:
        return secrets.token_urlsafe(self.id_bytes)

    def check_session_id(self, session_id: object) -> str:
        if not isinstance(session_id, str):
            raise TypeError(f"session id must be a str, not {type(session_id).__name__}")
        if not SESSION_ID.fullmatch(session_id):
            raise ValueError(f"malformed session id: {session_id[:80]!r}")
        return session_id

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{{{self.check_session_id(session_id)}}}"

    def reference_key(self, field: str, value: str | int) -> str:
        self.check_reference_field(field)
        return f"{self.prefix}:r:{field}:{{{self.index_value(field, value)}}}"

    def check_field_name(self, name: object) -> str:
        if not isinstance(name, str):
            raise TypeError(f"session field names must be str, not {type(name).__name__}")
        if not name or len(name) > MAX_FIELD_NAME:
            raise ValueError(f"session field names must be 1-{MAX_FIELD_NAME} characters: {name!r}")
        if name.startswith(RESERVED):
            raise ValueError(f"session field {name!r} is reserved (names starting '__' are)")
        return name

    def check_reference_field(self, field: object) -> str:
        if field not in self.references:
            raise ValueError(f"{field!r} is not a reference field of this store {self.references}")
        return str(field)

    def index_value(self, field: str, value: object) -> str:
        """``str(value)`` for a valid reference value; the index key is built from it."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"reference field {field!r} takes a str or int, not {value!r}")
        # The plain text of the value, as JSON stores it and the scripts index it: str()
        # of a subclass may differ (a `class Role(str, Enum)` member gives "Role.ADMIN").
        indexed = str.__str__(value) if isinstance(value, str) else int.__repr__(value)
        if len(indexed.encode("utf-8")) > MAX_REFERENCE_VALUE_BYTES:
            raise ValueError(
                f"reference field {field!r}: value over {MAX_REFERENCE_VALUE_BYTES} bytes"
            )
        return indexed

    def field_names(self, fields: Iterable[str]) -> list[str]:
        if isinstance(fields, str | bytes):
            raise TypeError("fields must be an iterable of field names, not a string")
        return [self.check_field_name(name) for name in fields]

    def encode_values(self, values: Mapping[str, Any]) -> list[str]:
        """Checks and JSON-encodes a mapping into flat field/value arguments."""
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping, not {type(values).__name__}")
        flat: list[str] = []
        for name, value in values.items():
            self.check_field_name(name)
            if name in self.references and value is not None:
                self.index_value(name, value)  # None is allowed: stored as null, unindexed
            flat += (name, encode_value(name, value))
        return flat

    def ttl_ms(self, max_age: MaxAge | None) -> int:
        return self.max_age_ms if max_age is None else duration_ms(max_age, "max_age")

    # -- the scripts --------------------------------------------------------------

    def _script_call(
        self, name: str, keys: tuple[str, ...], session_id: str, *extra: Arg
    ) -> ScriptCall:
        return ScriptCall(load_script(name), keys, (*self._script_args, session_id, *extra))

    def _session_script(
        self, name: str, keys: tuple[str, ...], session_id: str, extra: tuple[Arg, ...]
    ) -> Operation[tuple[int, Any]]:
        """Runs a session script; returns its status and result."""
        reply = yield self._script_call(name, keys, session_id, *extra)
        if self.cluster:  # the index half of the write follows
            yield from _cluster.follow_up(self, name, session_id, reply)
        return int(reply[0]), reply[4]

    def _index_script(self, name: str, field: str, value: str | int, *extra: Arg) -> ScriptCall:
        key = self.reference_key(field, value)
        args = (*self._script_args, field, self.index_value(field, value), *extra)
        return ScriptCall(load_script(name), (key,), args)

    # -- operations: each validates eagerly, then returns its generator -----------

    def get(
        self, session_id: str, fields: Iterable[str] | None = None
    ) -> Operation[dict[str, Any]]:
        key = self.session_key(session_id)
        names = None if fields is None else self.field_names(fields)

        def run() -> Operation[dict[str, Any]]:
            if names == []:
                return {}
            if self.absolute_max_age_ms:
                _, flat = yield from self._session_script(
                    "get", (key,), session_id, tuple(names or ())
                )
                return decode_pairs(flat)
            if names is None:
                return decode_pairs((yield Command(("HGETALL", key))))
            raw = yield Command(("HMGET", key, *names))
            return {n: decode_value(v) for n, v in zip(names, raw, strict=True) if v is not None}

        return run()

    def set(
        self,
        session_id: str,
        values: Mapping[str, Any],
        max_age: MaxAge | None = None,
        *,
        create: bool = True,
    ) -> Operation[bool]:
        """Writes fields; False when the session was missing and ``create`` is off."""
        key = self.session_key(session_id)
        flat = self.encode_values(values)
        extra = (self.ttl_ms(max_age), "1" if create else "0", *flat)

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("set", (key,), session_id, extra)
            return status == 1

        return run()

    def unset(
        self, session_id: str, fields: Iterable[str], max_age: MaxAge | None = None
    ) -> Operation[bool]:
        key = self.session_key(session_id)
        extra: tuple[Arg, ...] = (self.ttl_ms(max_age), *self.field_names(fields))

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("unset", (key,), session_id, extra)
            return status == 1

        return run()

    def update(
        self,
        session_id: str,
        values: Mapping[str, Any],
        removed: Iterable[str] = (),
        max_age: MaxAge | None = None,
        *,
        create: bool = True,
        replace: bool = False,
    ) -> Operation[bool]:
        """The save of a dict session: writes ``values`` and removes ``removed`` (or, with
        ``replace``, every user field not in ``values``) atomically, renewing the TTL.
        False when the session was missing and ``create`` is off."""
        key = self.session_key(session_id)
        names = self.field_names(removed)
        flat = self.encode_values(values)
        extra = (
            self.ttl_ms(max_age),
            "1" if create else "0",
            "1" if replace else "0",
            len(names),
            *names,
            *flat,
        )

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("update", (key,), session_id, extra)
            return status == 1

        return run()

    def incr(
        self,
        session_id: str,
        field: str,
        amount: int = 1,
        max_age: MaxAge | None = None,
        *,
        create: bool = True,
    ) -> Operation[int | None]:
        """The new value; None when the session was missing and ``create`` is off."""
        key = self.session_key(session_id)
        self.check_field_name(field)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"incr amount must be an int, not {amount!r}")
        if not -(2**63) <= amount < 2**63:
            raise ValueError(f"incr amount out of the 64-bit range: {amount}")
        extra = (self.ttl_ms(max_age), "1" if create else "0", field, amount)

        def run() -> Operation[int | None]:
            status, value = yield from self._session_script("incr", (key,), session_id, extra)
            if status == -1:
                raise TypeError(f"session field {field!r} does not hold an integer (or overflows)")
            return int(value) if status == 1 else None

        return run()

    def touch(self, session_id: str, max_age: MaxAge | None = None) -> Operation[bool]:
        key = self.session_key(session_id)
        extra = (self.ttl_ms(max_age),)

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("touch", (key,), session_id, extra)
            return status == 1

        return run()

    def delete(self, session_id: str) -> Operation[bool]:
        key = self.session_key(session_id)

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("delete", (key,), session_id, ())
            return status == 1

        return run()

    def regenerate(
        self, session_id: str, new_id: str | None = None, max_age: MaxAge | None = None
    ) -> Operation[str]:
        """Moves the session to ``new_id`` (a fresh one by default); returns the new id."""
        key = self.session_key(session_id)
        new_id = self.create_session_id() if new_id is None else new_id
        keys = (key, self.session_key(new_id))
        extra = (self.ttl_ms(max_age), new_id, secrets.token_urlsafe(32))

        def run() -> Operation[str]:
            if self.cluster:
                ttl, _, csrf_secret = extra
                yield from _cluster.regenerate(self, session_id, new_id, ttl, csrf_secret)
            else:
                yield from self._session_script("regenerate", keys, session_id, extra)
            return new_id

        return run()

    def read(self, session_id: str, fields: Iterable[str] | None = None) -> Operation[SessionRead]:
        """Like ``get``, for the per-request session: also tells whether the session
        exists and when it was last written or touched, in the same round trip."""
        key = self.session_key(session_id)
        names = None if fields is None else self.field_names(fields)
        if names == []:
            raise ValueError("read needs at least one field name, or None for all")

        def run() -> Operation[SessionRead]:
            # The reserved fields ride along, so existence and __touched cost no extra trip.
            meta = () if names is None else (*names, TOUCHED_FIELD, CREATED_FIELD)
            if self.absolute_max_age_ms:
                status, flat = yield from self._session_script("get", (key,), session_id, meta)
                raw = flat if status == 1 else []
            elif names is None:
                raw = yield Command(("HGETALL", key))
            else:
                values = yield Command(("HMGET", key, *meta))
                raw = {n: v for n, v in zip(meta, values, strict=True) if v is not None}
            items = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2], strict=True)
            pairs = {text(name): value for name, value in items}
            touched = pairs.get(TOUCHED_FIELD)
            return SessionRead(
                exists=bool(pairs),
                values=decode_pairs(pairs),
                touched_ms=int(text(touched)) if touched is not None else None,
            )

        return run()

    def csrf_secret(
        self, session_id: str, mode: str, max_age: MaxAge | None = None
    ) -> Operation[tuple[int, str | None]]:
        """The session's CSRF secret (see lua/csrf.lua for ``mode`` and the status)."""
        key = self.session_key(session_id)
        if mode not in CSRF_MODES:
            raise ValueError(f"mode must be one of {CSRF_MODES}, not {mode!r}")
        extra = (self.ttl_ms(max_age), mode, secrets.token_urlsafe(32))

        def run() -> Operation[tuple[int, str | None]]:
            status, secret = yield from self._session_script("csrf", (key,), session_id, extra)
            return status, (text(secret) if secret else None)

        return run()

    def exists(self, session_id: str) -> Operation[bool]:
        key = self.session_key(session_id)

        def run() -> Operation[bool]:
            if self.absolute_max_age_ms:
                status, _ = yield from self._session_script("get", (key,), session_id, ())
                return status == 1
            return bool((yield Command(("EXISTS", key))))

        return run()

    def info(self, session_id: str) -> Operation[SessionInfo | None]:
        key = self.session_key(session_id)

        def run() -> Operation[SessionInfo | None]:
            status, times = yield from self._session_script("info", (key,), session_id, ())
            if status != 1:
                return None
            created, touched, now, ttl = (int(t) for t in times)
            expires = now + ttl if ttl >= 0 else now
            return SessionInfo(session_id, from_ms(created), from_ms(touched), from_ms(expires))

        return run()

    # -- index operations ----------------------------------------------------------

    def sessions(self, field: str, value: str | int) -> Operation[list[str]]:
        call = self._index_script("index_read", field, value, "ids")

        def run() -> Operation[list[str]]:
            if self.cluster:
                return (yield from _cluster.sessions(self, field, self.index_value(field, value)))
            return [text(member) for member in (yield call)]

        return run()

    def count(self, field: str, value: str | int) -> Operation[int]:
        call = self._index_script("index_read", field, value, "count")

        def run() -> Operation[int]:
            if self.cluster:
                live = yield from _cluster.sessions(self, field, self.index_value(field, value))
                return len(live)
            return int((yield call))

        return run()

    def iter_sessions(self, field: str, value: str | int, batch_size: int = 500) -> Iteration:
        check_batch_size(batch_size)
        self.reference_key(field, value)

        def run() -> Iteration:
            if self.cluster:
                indexed = self.index_value(field, value)
                yield from _cluster.iter_sessions(self, field, indexed, batch_size)
                return
            cursor: Arg = "0"
            while True:
                reply = yield self._index_script("index_scan", field, value, cursor, batch_size)
                cursor = text(reply[0])
                yield Emit([text(member) for member in reply[1]])
                if cursor == "0":
                    return

        return run()

    def delete_all(
        self, field: str, value: str | int, *, keep: Iterable[str] = (), batch_size: int = 500
    ) -> Operation[int]:
        check_batch_size(batch_size)
        if isinstance(keep, str):
            keep = (keep,)  # a single id is what the caller meant
        kept = tuple(self.check_session_id(session_id) for session_id in keep)
        call = self._index_script("index_delete", field, value, batch_size, *kept)

        def run() -> Operation[int]:
            if self.cluster:
                indexed = self.index_value(field, value)
                return (yield from _cluster.delete_all(self, field, indexed, kept, batch_size))
            total = 0
            while True:
                deleted, processed = yield call
                total += int(deleted)
                if not int(processed):
                    return total

        return run()


def check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an int, not {batch_size!r}")
    if not 1 <= batch_size <= 100_000:
        raise ValueError(f"batch_size must be between 1 and 100000, not {batch_size}")
