"""The sans-IO core of the store: which script with which arguments, and decoding the
replies, for every operation.

Nothing here touches a socket. Each operation is a generator (see ``protocol``) that the
sync and async drivers in ``_drivers/`` run, so every rule lives in one place. Key checks
live in ``keys``, value encoding in ``codec``; what differs between a single server and a
Cluster (where the indexes are updated and how they are read) is the ``topology`` the
driver chose at construction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import keys
from .codec import decode_pairs, decode_value, encode_value, session_info, text
from .keys import CREATED_FIELD, TOUCHED_FIELD, MaxAge, check_batch_size, duration_ms
from .protocol import Arg, Command, Iteration, Operation, ScriptCall
from .scripts import load_script
from .topology import SingleServer, Topology
from .types import SessionInfo

CSRF_MODES = ("read", "write", "create")


@dataclass(frozen=True, slots=True)
class SessionRead:
    """What ``StoreCore.read`` learns: existence, the user fields, the last write/touch."""

    exists: bool
    values: dict[str, Any]
    touched_ms: int | None


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
        topology: Topology | None = None,
    ) -> None:
        names = keys.check_reference_names(references)
        if not isinstance(prefix, str) or not keys.PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix must be 1-64 characters without spaces or braces: {prefix!r}")
        if isinstance(id_bytes, bool) or not isinstance(id_bytes, int):
            raise TypeError(f"id_bytes must be an int, not {id_bytes!r}")
        if not keys.MIN_ID_BYTES <= id_bytes <= 96:
            raise ValueError(f"id_bytes must be between {keys.MIN_ID_BYTES} and 96, not {id_bytes}")
        self.references = names
        self.prefix = prefix
        self.id_bytes = id_bytes
        self.max_age_ms = duration_ms(max_age, "max_age")
        self.absolute_max_age_ms = (
            0 if absolute_max_age is None else duration_ms(absolute_max_age, "absolute_max_age")
        )
        self.topology = SingleServer() if topology is None else topology
        # The leading ARGV of every script (see lua/lib.lua).
        self.script_args: tuple[Arg, ...] = (
            prefix,
            " ".join(names),
            "1" if self.topology.indexes_inline else "0",
            self.absolute_max_age_ms,
        )

    # -- key layout and validation -------------------------------------------------

    def create_session_id(self) -> str:
        return secrets.token_urlsafe(self.id_bytes)

    def check_session_id(self, session_id: object) -> str:
        return keys.check_session_id(session_id)

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{{{self.check_session_id(session_id)}}}"

    def end_reason_key(self, session_id: str) -> str:
        """The key that tells why the session ``session_id`` was ended, when a reason was
        given (its hash's slot on a cluster)."""
        return f"{self.prefix}:e:{{{self.check_session_id(session_id)}}}"

    def reference_key(self, field: str, value: str | int) -> str:
        self.check_reference_field(field)
        return f"{self.prefix}:r:{field}:{{{self.index_value(field, value)}}}"

    def check_field_name(self, name: object) -> str:
        return keys.check_field_name(name)

    def check_reference_field(self, field: object) -> str:
        if field not in self.references:
            raise ValueError(f"{field!r} is not a reference field of this store {self.references}")
        return str(field)

    def index_value(self, field: str, value: object) -> str:
        """``str(value)`` for a valid reference value; the index key is built from it."""
        return keys.index_value(field, value)

    def indexed(self, field: str, value: object) -> str:
        """The index value of ``(field, value)``, the field checked to be a reference."""
        self.check_reference_field(field)
        return self.index_value(field, value)

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

    def script_call(
        self, name: str, script_keys: tuple[str, ...], session_id: str, *extra: Arg
    ) -> ScriptCall:
        """A session script of ``lua/``, with the store's leading arguments."""
        args = (*self.script_args, session_id, *extra)
        return ScriptCall(load_script(name), script_keys, args)

    def index_script(self, name: str, field: str, value: str | int, *extra: Arg) -> ScriptCall:
        """An index script of ``lua/`` on the index of ``(field, value)``."""
        key = self.reference_key(field, value)
        args = (*self.script_args, field, self.index_value(field, value), *extra)
        return ScriptCall(load_script(name), (key,), args)

    def _session_script(
        self, name: str, script_keys: tuple[str, ...], session_id: str, extra: tuple[Arg, ...]
    ) -> Operation[tuple[int, Any]]:
        """Runs a session script, then what the topology adds (on a cluster, the index
        half of the write); returns the script's status and result."""
        reply = yield self.script_call(name, script_keys, session_id, *extra)
        yield from self.topology.after_session_script(self, name, session_id, reply)
        return int(reply[0]), reply[4]

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
        self.check_session_id(session_id)
        new_id = self.create_session_id() if new_id is None else self.check_session_id(new_id)
        extra = (self.ttl_ms(max_age), secrets.token_urlsafe(32))

        def run() -> Operation[str]:
            yield from self.topology.regenerate(self, session_id, new_id, *extra)
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
            status, found = yield from self._session_script("info", (key,), session_id, ())
            if status != 1:
                return None
            created, touched, now, ttl, ua, ip = found
            return session_info(session_id, created, touched, ttl, ua, ip, now=now)

        return run()

    def end_reason(self, session_id: str) -> Operation[str | None]:
        """Why the session was ended, if it was with a reason (one GET)."""
        key = self.end_reason_key(session_id)

        def run() -> Operation[str | None]:
            reason = yield Command(("GET", key))
            return None if reason is None else text(reason)

        return run()

    # -- index operations ----------------------------------------------------------

    def sessions(self, field: str, value: str | int) -> Operation[list[str]]:
        indexed = self.indexed(field, value)
        return self.topology.sessions(self, field, indexed)

    def count(self, field: str, value: str | int) -> Operation[int]:
        indexed = self.indexed(field, value)
        return self.topology.count(self, field, indexed)

    def session_infos(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> Operation[list[SessionInfo]]:
        """The live sessions of the pair with their times and device, most recently active
        first: one round trip on a single server for up to ``batch_size`` members, more
        of bounded work beyond (docs/design.md, rule 8)."""
        check_batch_size(batch_size)
        indexed = self.indexed(field, value)
        infos = self.topology.session_infos(self, field, indexed, batch_size)

        def run() -> Operation[list[SessionInfo]]:
            found = yield from infos
            return sorted(found, key=lambda info: (info.touched_at, info.id), reverse=True)

        return run()

    def iter_sessions(self, field: str, value: str | int, batch_size: int = 500) -> Iteration:
        check_batch_size(batch_size)
        indexed = self.indexed(field, value)
        return self.topology.iter_sessions(self, field, indexed, batch_size)

    def delete_all(
        self, field: str, value: str | int, *, keep: Iterable[str] = (), batch_size: int = 500
    ) -> Operation[int]:
        check_batch_size(batch_size)
        if isinstance(keep, str):
            keep = (keep,)  # a single id is what the caller meant
        kept = tuple(self.check_session_id(session_id) for session_id in keep)
        indexed = self.indexed(field, value)
        return self.topology.delete_all(self, field, indexed, kept, batch_size)
