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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import keys
from .codec import decode_hash, decode_pairs, decode_value, encode_value, session_info, text
from .keys import (
    CREATED_FIELD,
    TOUCHED_FIELD,
    MaxAge,
    check_batch_size,
    duration_ms,
)
from .protocol import Arg, Command, Iteration, Operation, ScriptCall, collect
from .scripts import Script, Scripts
from .topology import LIMIT_SCAN, OVER_LIMIT, SingleServer, Topology
from .types import SessionInfo

# At most this many expired members are pruned from an index by one script call.
PRUNE = 100
# The most index members one script call examines (a page of sessions/count/iter_sessions)
# or deletes (a batch of delete_all), whatever batch_size asks: each costs a command or
# three inside the script, and no call may block Redis for more than a few ms
# (docs/design.md, "Bounded work").
READ_PAGE = 250
DELETE_PAGE = 100
# A page of session_infos: each member costs two commands (HMGET, PTTL), about what a
# read page's members cost; 500 keeps a user with 1,000 sessions at two or three calls.
INFO_PAGE = 500
# Within one call, TIME and the clock PTTL counts from may differ by a little: an expiry
# read back from a TTL is trusted to this many ms (lib.lua, covered).
JITTER_MS = 1000
INT64 = 2**63


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
        index_slack: MaxAge = timedelta(minutes=10),
        limits: Mapping[str, int] | None = None,
        end_reason_ttl: MaxAge = timedelta(days=7),
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
        self.max_age_ms = duration_ms(max_age, "max_age", limit=True)
        self.absolute_max_age_ms = (
            0
            if absolute_max_age is None
            else duration_ms(absolute_max_age, "absolute_max_age", limit=True)
        )
        self.index_slack_ms = duration_ms(index_slack, "index_slack", zero=True, limit=True)
        self.limits = keys.check_limits(limits, names)
        self.end_reason_ttl_ms = duration_ms(end_reason_ttl, "end_reason_ttl", limit=True)
        self.topology = SingleServer() if topology is None else topology
        # On a cluster the index updates follow the session script, in an order nobody
        # guarantees: exact scores keep their guards exact (docs/design.md, "Index slack").
        slack = self.index_slack_ms if self.topology.indexes_inline else 0
        # How much later than its session's expiry an index score may be.
        self.score_slack_ms = slack
        # The store's configuration, baked into its scripts (lua/lib.lua).
        self.scripts = Scripts(
            {
                "PREFIX": prefix,
                "REFS": names,
                "INLINE": self.topology.indexes_inline,
                "ABSOLUTE": self.absolute_max_age_ms,
                "SLACK": slack,
                "JITTER": min(JITTER_MS, slack // 8),
                "PRUNE": PRUNE,
                "SLICE": 1000,
                "ENDTTL": self.end_reason_ttl_ms,
                # On a cluster the limits are enforced by the index half (cluster.py).
                "LIMITED": bool(self.limits) and self.topology.indexes_inline,
                "LIMITS": tuple(self.limits.get(name, 0) for name in names),
                "LIMIT_SCAN": LIMIT_SCAN,
                "LIMIT_ENDS": DELETE_PAGE,
            }
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

    def device_fields(self, user_agent: str | None, ip: str | None) -> tuple[str, ...]:
        """The reserved field/value pairs that keep a session's device (``__ua``, ``__ip``,
        JSON strings, as every value), for the ``device`` argument of the writes."""
        pairs: tuple[str, ...] = ()
        if user_agent is not None:
            pairs += (keys.USER_AGENT_FIELD, encode_value(keys.USER_AGENT_FIELD, user_agent))
        if ip is not None:
            pairs += (keys.IP_FIELD, encode_value(keys.IP_FIELD, ip))
        return pairs

    def ttl_ms(self, max_age: MaxAge | None) -> int:
        return self.max_age_ms if max_age is None else duration_ms(max_age, "max_age", limit=True)

    # -- the scripts --------------------------------------------------------------

    def script(self, name: str) -> Script:
        """The script ``lua/<name>.lua`` as this store's configuration composes it."""
        return self.scripts[name]

    def script_call(self, name: str, script_keys: tuple[str, ...], *args: Arg) -> ScriptCall:
        """A script of ``lua/`` (a session script takes the session's id from KEYS[1])."""
        return ScriptCall(self.scripts[name], script_keys, args)

    def index_script(self, name: str, field: str, value: str | int, *extra: Arg) -> ScriptCall:
        """An index script of ``lua/`` on the index of ``(field, value)``, which takes
        the field and the index value as its first arguments."""
        key = self.reference_key(field, value)
        args = (field, self.index_value(field, value), *extra)
        return ScriptCall(self.scripts[name], (key,), args)

    def _session_script(
        self, name: str, script_keys: tuple[str, ...], session_id: str, extra: tuple[Arg, ...]
    ) -> Operation[tuple[int, Any]]:
        """Runs a session script, then what the topology adds (on a cluster, the index
        half of the write); returns the script's status and result."""
        reply = yield self.script_call(name, script_keys, *extra)
        yield from self.topology.after_session_script(self, name, session_id, reply)
        if isinstance(reply, int):
            status, result = reply, None  # the status alone (lib.lua, session_reply)
        else:
            status, result = int(reply[0]), reply[-1]  # or the cluster's longer reply
        if status == OVER_LIMIT:
            yield from self.finish_limits(script_keys[0])
            status = 1
        return status, result

    def finish_limits(self, session_key: str) -> Operation[None]:
        """Runs limit.lua until the indexes of the session in ``session_key`` are within
        their limits (each call examines at most LIMIT_SCAN members of each and returns
        where its walks go on, which the next call takes)."""
        walks: tuple[Arg, ...] = ()
        while True:
            walks = tuple((yield self.script_call("limit", (session_key,), *walks)))
            if not walks:
                return

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
        device: Sequence[str] = (),
    ) -> Operation[bool]:
        """Writes fields; False when the session was missing and ``create`` is off.
        ``device``: pairs of ``device_fields``, written with them (every write takes it)."""
        key = self.session_key(session_id)
        flat = self.encode_values(values)
        extra = (self.ttl_ms(max_age), "1" if create else "0", *flat, *device)
        # A write of no reference field cannot move the session: the lean script.
        script = "set" if any(name in self.references for name in values) else "set_plain"

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script(script, (key,), session_id, extra)
            return status == 1

        return run()

    def update(
        self,
        session_id: str,
        values: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        max_age: MaxAge | None = None,
        *,
        incr: Mapping[str, int] | None = None,
        create: bool = True,
        replace: bool = False,
        device: Sequence[str] = (),
    ) -> Operation[dict[str, int] | None]:
        """``set`` + ``unset`` + ``incr`` in one atomic script (lua/update.lua): returns
        the new value of each incremented field; None when the session was missing and
        ``create`` is off. With ``replace``, every user field neither written nor
        incremented is removed (``unset`` must be empty). A field may appear in one of
        ``values``, ``unset`` and ``incr`` only. TypeError, with nothing written, when an
        incremented field holds no integer or would leave the 64-bit range."""
        key = self.session_key(session_id)
        values = {} if values is None else values
        flat = self.encode_values(values)
        names = self.field_names(unset)
        amounts = self.increments(incr)
        if replace and names:
            raise ValueError("update: replace removes fields itself; unset must be empty")
        unset_names = set(names)
        overlap = (values.keys() & unset_names) | (values.keys() & amounts.keys())
        overlap |= unset_names & amounts.keys()
        if overlap:
            raise ValueError(
                f"update: field {sorted(overlap)[0]!r} may appear in only one of values, "
                "unset and incr"
            )
        extra: tuple[Arg, ...] = (
            self.ttl_ms(max_age),
            "1" if create else "0",
            "1" if replace else "0",
            len(names),
            *names,
            len(amounts),
            *(item for pair in amounts.items() for item in pair),
            *flat,
            *device,
        )

        def run() -> Operation[dict[str, int] | None]:
            status, result = yield from self._session_script("update", (key,), session_id, extra)
            if status == -1:
                field = text(result)
                raise TypeError(f"session field {field!r} does not hold an integer (or overflows)")
            if status != 1:
                return None
            items = [text(item) for item in result]
            return {name: int(digits) for name, digits in zip(items[::2], items[1::2], strict=True)}

        return run()

    def increments(self, incr: Mapping[str, int] | None) -> dict[str, int]:
        """Checks an ``incr`` mapping {field: amount} (amounts are 64-bit integers)."""
        if incr is None:
            return {}
        if not isinstance(incr, Mapping):
            raise TypeError(f"incr must be a mapping of field names to amounts, not {incr!r}")
        amounts = {}
        for name, amount in incr.items():
            self.check_field_name(name)
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise TypeError(f"incr amount must be an int, not {amount!r}")
            if not -INT64 <= amount < INT64:
                raise ValueError(f"incr amount out of the 64-bit range: {amount}")
            amounts[name] = int(amount)
        return amounts

    def save_changes(
        self,
        session_id: str,
        values: Mapping[str, Any],
        removed: Iterable[str] = (),
        max_age: MaxAge | None = None,
        *,
        create: bool = True,
        replace: bool = False,
        device: Sequence[str] = (),
    ) -> Operation[bool]:
        """The save of a dict session: writes ``values`` and removes ``removed`` (or, with
        ``replace``, every user field not in ``values``) atomically, renewing the TTL.
        False when the session was missing and ``create`` is off."""
        update = self.update(
            session_id, values, removed, max_age, create=create, replace=replace, device=device
        )

        def run() -> Operation[bool]:
            return (yield from update) is not None

        return run()

    def unset(
        self,
        session_id: str,
        fields: Iterable[str],
        max_age: MaxAge | None = None,
        *,
        device: Sequence[str] = (),
    ) -> Operation[bool]:
        """Removes fields; False (nothing written) when there is no such session."""
        update = self.update(session_id, None, fields, max_age, create=False, device=device)

        def run() -> Operation[bool]:
            return (yield from update) is not None

        return run()

    def incr(
        self,
        session_id: str,
        field: str,
        amount: int = 1,
        max_age: MaxAge | None = None,
        *,
        create: bool = True,
        device: Sequence[str] = (),
    ) -> Operation[int | None]:
        """The new value; None when the session was missing and ``create`` is off."""
        update = self.update(
            session_id, None, (), max_age, incr={field: amount}, create=create, device=device
        )

        def run() -> Operation[int | None]:
            result = yield from update
            return None if result is None else result[field]

        return run()

    def touch(
        self, session_id: str, max_age: MaxAge | None = None, *, device: Sequence[str] = ()
    ) -> Operation[bool]:
        key = self.session_key(session_id)
        extra: tuple[Arg, ...] = (self.ttl_ms(max_age), "0", *device)

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("set_plain", (key,), session_id, extra)
            return status == 1

        return run()

    def delete(self, session_id: str, *, reason: str | None = None) -> Operation[bool]:
        """Deletes the session; with a ``reason``, keeps it at ``P:e:{id}`` for
        ``end_reason_ttl`` (only when there was a session to end)."""
        key = self.session_key(session_id)
        checked = keys.check_reason(reason)
        extra: tuple[Arg, ...] = () if checked is None else (checked,)

        def run() -> Operation[bool]:
            status, _ = yield from self._session_script("delete", (key,), session_id, extra)
            return status == 1

        return run()

    def regenerate(
        self,
        session_id: str,
        new_id: str | None = None,
        max_age: MaxAge | None = None,
        *,
        device: Sequence[str] = (),
    ) -> Operation[str]:
        """Moves the session to ``new_id`` (a fresh one by default); returns the new id."""
        self.check_session_id(session_id)
        new_id = self.create_session_id() if new_id is None else self.check_session_id(new_id)
        ttl = self.ttl_ms(max_age)

        def run() -> Operation[str]:
            yield from self.topology.regenerate(self, session_id, new_id, ttl, tuple(device))
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
                got = yield Command(("HMGET", key, *meta))
                raw = {n: v for n, v in zip(meta, got, strict=True) if v is not None}
            values, touched = decode_hash(raw)
            return SessionRead(
                exists=bool(raw),
                values=values,
                touched_ms=int(touched) if touched is not None else None,
            )

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

    # Each walks the index in pages of at most batch_size members, one script call per
    # page, so that no call blocks Redis long whatever the index holds (docs/design.md,
    # "Bounded work"); a small index is one page, one round trip.

    def sessions(self, field: str, value: str | int, batch_size: int = 500) -> Operation[list[str]]:
        check_batch_size(batch_size)
        indexed = self.indexed(field, value)

        def run() -> Operation[list[str]]:
            # A rehash during the walk may show a member twice: each id once, in order.
            found: dict[str, None] = {}
            pages = self.topology.pages(self, field, indexed, min(batch_size, READ_PAGE))
            for page in (yield from collect(pages)):
                found.update(dict.fromkeys(page))
            return list(found)

        return run()

    def count(self, field: str, value: str | int, batch_size: int = 500) -> Operation[int]:
        sessions = self.sessions(field, value, batch_size)

        def run() -> Operation[int]:
            return len((yield from sessions))

        return run()

    def session_infos(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> Operation[list[SessionInfo]]:
        """The live sessions of the pair with their times and device, most recently active
        first: one round trip on a single server for up to ``batch_size`` members, more
        of bounded work beyond (docs/design.md, rule 8)."""
        check_batch_size(batch_size)
        indexed = self.indexed(field, value)
        infos = self.topology.session_infos(self, field, indexed, min(batch_size, INFO_PAGE))

        def run() -> Operation[list[SessionInfo]]:
            found = yield from infos
            return sorted(found, key=lambda info: (info.touched_at, info.id), reverse=True)

        return run()

    def iter_sessions(self, field: str, value: str | int, batch_size: int = 500) -> Iteration:
        check_batch_size(batch_size)
        indexed = self.indexed(field, value)
        return self.topology.pages(self, field, indexed, min(batch_size, READ_PAGE))

    def delete_all(
        self,
        field: str,
        value: str | int,
        *,
        keep: Iterable[str] = (),
        reason: str | None = None,
        batch_size: int = 500,
    ) -> Operation[int]:
        check_batch_size(batch_size)
        reason = keys.check_reason(reason)
        if isinstance(keep, str):
            keep = (keep,)  # a single id is what the caller meant
        kept = tuple(self.check_session_id(session_id) for session_id in keep)
        indexed = self.indexed(field, value)
        page = min(batch_size, DELETE_PAGE)
        return self.topology.delete_all(self, field, indexed, kept, page, reason or "")
