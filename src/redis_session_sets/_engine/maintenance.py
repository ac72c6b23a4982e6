"""Sans-IO operations for operators: walk a prefix's keys, summarise them, prune indexes.

These are not per-request operations (they walk the whole keyspace with SCAN, so they
are for a single server, not a cluster); the command line drives them. Like the store's
own operations they only yield requests, so any shell can run them and show progress
between replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .codec import text
from .core import StoreCore
from .keys import REFERENCE_FIELD, check_batch_size
from .protocol import Command, Emit, Iteration, Operation, ScriptCall

SESSIONS = "s"
INDEXES = "r"


@dataclass(frozen=True, slots=True)
class KeyStats:
    """What one kind of key under a prefix adds up to."""

    keys: int = 0
    bytes: int = 0
    members: int = 0  # members of sorted sets (index entries); 0 for hashes

    def __add__(self, other: KeyStats) -> KeyStats:
        return KeyStats(
            self.keys + other.keys, self.bytes + other.bytes, self.members + other.members
        )


@dataclass(frozen=True, slots=True)
class Pruned:
    """One index after pruning: members removed (dead or stale) and members still live."""

    removed: int
    live: int


def glob_escape(literal: str) -> str:
    """A string as a SCAN MATCH pattern that matches only itself."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", literal)


class Maintenance:
    """Keyspace-wide operations over the keys of one store's prefix."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def pattern(self, kind: str) -> str:
        if kind not in (SESSIONS, INDEXES):
            raise ValueError(f"key kind must be {SESSIONS!r} or {INDEXES!r}, not {kind!r}")
        return f"{glob_escape(self.core.prefix)}:{kind}:*"

    def parse_reference_key(self, key: str) -> tuple[str, str] | None:
        """``(field, value)`` of an index key ``P:r:<field>:{<value>}``; None for others."""
        head = f"{self.core.prefix}:r:"
        if not key.startswith(head) or not key.endswith("}"):
            return None
        field, brace, value = key[len(head) : -1].partition(":{")
        if not brace or not REFERENCE_FIELD.fullmatch(field):
            return None
        return field, value

    def keys(self, kind: str, count: int = 1000) -> Iteration:
        """Every key of one kind ('s' sessions, 'r' indexes), in SCAN batches."""
        check_batch_size(count)
        pattern = self.pattern(kind)

        def run() -> Iteration:
            cursor = "0"
            while True:
                reply = yield Command(("SCAN", cursor, "MATCH", pattern, "COUNT", count))
                cursor = text(reply[0])
                yield Emit([text(key) for key in reply[1]])
                if cursor == "0":
                    return

        return run()

    def stats(self, kind: str, count: int = 1000) -> Operation[KeyStats]:
        """Number, memory and sorted-set members of one kind of key; one call per batch."""
        check_batch_size(count)
        pattern = self.pattern(kind)
        script = self.core.script("keyspace_stats")

        def run() -> Operation[KeyStats]:
            total, cursor = KeyStats(), "0"
            while True:
                reply = yield ScriptCall(script, (), (cursor, pattern, count))
                cursor = text(reply[0])
                total += KeyStats(int(reply[1]), int(reply[2]), int(reply[3]))
                if cursor == "0":
                    return total

        return run()

    def prune_index(self, key: str, batch_size: int = 500) -> Operation[Pruned]:
        """Removes an index's expired members and those whose session no longer holds its
        value, batch by batch with the store's own ``index_scan`` script."""
        check_batch_size(batch_size)
        parsed = self.parse_reference_key(key)
        if parsed is None:
            raise ValueError(f"not an index key of prefix {self.core.prefix!r}: {key[:120]!r}")
        field, value = parsed
        script = self.core.script("index_scan")

        def run() -> Operation[Pruned]:
            before = int((yield Command(("ZCARD", key))))
            cursor = "0"
            while True:
                args = (field, value, cursor, batch_size)
                reply = yield ScriptCall(script, (key,), args)
                cursor = text(reply[0])
                if cursor == "0":
                    break
            after = int((yield Command(("ZCARD", key))))
            return Pruned(max(before - after, 0), after)

        return run()

    def session_references(self, session_id: str) -> Operation[list[tuple[str, str]]]:
        """The indexes the session is a member of, found from its fields."""
        key = self.core.session_key(session_id)
        script = self.core.script("session_references")

        def run() -> Operation[list[tuple[str, str]]]:
            flat = yield ScriptCall(script, (key,), ())
            items = [text(item) for item in flat]
            return list(zip(items[::2], items[1::2], strict=True))

        return run()
