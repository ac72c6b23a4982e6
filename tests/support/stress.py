"""Shared helpers of the stress tests: the soak switch and the index-truth check.

``make test`` runs the stress tests with small budgets; ``make soak`` sets
``HYPOTHESIS_PROFILE=soak`` and they run many times longer. The index check reads Redis
with raw commands (SCAN, HMGET, ZRANGE), never through the library, so a bug in the
library's reading code cannot hide a bug in its writing code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"


def budget(default: int, soak: int) -> int:
    """How much of something to do: a little in ``make test``, a lot in ``make soak``."""
    return soak if SOAK else default


def index_value(raw: bytes | None) -> str | None:
    """The index value of a stored field, as the spec defines it: str(value) for a str or
    an int (not a bool), None for anything else (null, floats, other JSON, non-JSON)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


@dataclass
class Snapshot:
    """What Redis holds, read with raw commands."""

    now_ms: int
    exact: bool = True  # expiries read with PEXPIRETIME (else TIME + PTTL, approximate)
    # session id -> {field: index value} for the reference fields it holds
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    # session id -> absolute expiry in ms (None: no TTL)
    expiry: dict[str, int | None] = field(default_factory=dict)
    # (field, value) -> {member: score}
    indexes: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    # (field, value) -> absolute expiry of the index key in ms (None: no TTL)
    index_expiry: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def truth(self) -> dict[tuple[str, str], set[str]]:
        """(field, value) -> the ids of the sessions whose hash holds that value."""
        out: dict[tuple[str, str], set[str]] = {}
        for session_id, refs in self.sessions.items():
            for name, value in refs.items():
                out.setdefault((name, value), set()).add(session_id)
        return out


def _scan(raw: redis.Redis, pattern: str) -> list[bytes]:
    return list(raw.scan_iter(match=pattern, count=1000))


def _braced(key: str, start: int) -> str:
    """The text between the '{' at ``start`` and the key's final '}'."""
    assert key[start] == "{" and key.endswith("}"), key
    return key[start + 1 : -1]


def pipe_expiry_exact(pipe: Any, key: str) -> None:
    pipe.execute_command("PEXPIRETIME", key)


def pipe_expiry_relative(pipe: Any, key: str) -> None:
    pipe.pttl(key)


def snapshot(raw: redis.Redis, prefix: str, references: Iterable[str]) -> Snapshot:
    """Reads every session and index in one MULTI/EXEC, so all of it is one instant."""
    refs = list(references)
    session_keys = [key.decode() for key in _scan(raw, f"{prefix}:s:*")]
    index_keys = [key.decode() for key in _scan(raw, f"{prefix}:r:*")]
    # PEXPIRETIME (Redis 7) gives each expiry exactly; on 6.2, TIME + PTTL is off by the
    # time the transaction takes to run, hence the tolerance of the checks.
    exact = int(str(raw.info("server")["redis_version"]).split(".")[0]) >= 7
    expiry_of = pipe_expiry_exact if exact else pipe_expiry_relative
    pipe = raw.pipeline(transaction=True)
    pipe.time()
    for key in session_keys:
        pipe.hmget(key, refs or ["-"])
        expiry_of(pipe, key)
    for key in index_keys:
        pipe.zrange(key, 0, -1, withscores=True)
        expiry_of(pipe, key)
    replies = iter(pipe.execute())
    seconds, micros = next(replies)
    snap = Snapshot(now_ms=int(seconds) * 1000 + int(micros) // 1000, exact=exact)

    def expiry(reply: Any) -> int | None:
        """The key's absolute expiry in ms; None without a TTL; -2 when it is gone."""
        value = int(reply)
        if value < 0:
            return None if value == -1 else -2
        return value if exact else snap.now_ms + value

    session_head = f"{prefix}:s:"
    for key in session_keys:
        values, expires = next(replies), expiry(next(replies))
        if expires == -2:
            continue  # expired between SCAN and now
        session_id = _braced(key, len(session_head))
        snap.sessions[session_id] = {
            name: value
            for name, value in zip(refs, (index_value(v) for v in values), strict=False)
            if value is not None
        }
        snap.expiry[session_id] = expires
    index_head = f"{prefix}:r:"
    for key in index_keys:
        members, expires = next(replies), expiry(next(replies))
        if expires == -2:
            continue
        name, _, rest = key[len(index_head) :].partition(":")
        pair = (name, _braced(rest, 0))
        snap.indexes[pair] = {member.decode(): float(score) for member, score in members}
        snap.index_expiry[pair] = expires
    return snap


def assert_indexes_true(
    raw: redis.Redis,
    store: Any,
    *,
    prefix: str = "rss",
) -> Snapshot:
    """The index invariant, checked against raw Redis (call it when nothing expires and
    nothing writes): ``store.sessions`` and ``store.count`` equal the truth computed from
    the hashes; after those reads prune, every index holds exactly the truth, each member
    scored with its session's expiry or up to the index slack later, each index key
    expiring with its last member."""
    references = store.references
    before = snapshot(raw, prefix, references)
    truth = before.truth()
    pairs = set(truth) | set(before.indexes)
    for name, value in sorted(pairs):
        expected = truth.get((name, value), set())
        listed = store.sessions(name, value)
        assert len(listed) == len(set(listed)), f"duplicates in sessions({name}, {value})"
        assert set(listed) == expected, (name, value, set(listed) ^ expected)
        assert store.count(name, value) == len(expected)
    after = snapshot(raw, prefix, references)
    tolerance_ms = 0 if after.exact else 50
    slack_ms = store.core.score_slack_ms
    assert after.truth() == truth, "hashes changed while the invariant was checked"
    assert {pair: set(members) for pair, members in after.indexes.items()} == truth
    for pair, members in after.indexes.items():
        for member, score in members.items():
            expiry = after.expiry[member]
            assert expiry is not None, f"session {member} has no TTL"
            assert -tolerance_ms <= score - expiry <= slack_ms + tolerance_ms, (
                pair,
                member,
                score,
                expiry,
            )
        top = max(members.values())
        index_expiry = after.index_expiry[pair]
        assert index_expiry is not None, f"index {pair} has no TTL"
        assert abs(index_expiry - top) <= tolerance_ms, (pair, index_expiry, top)
    return after
