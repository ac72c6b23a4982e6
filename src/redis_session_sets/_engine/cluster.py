"""How the core works on Redis Cluster, where one script cannot reach both a session and
its indexes (they live in different slots).

``Cluster`` is the topology the drivers choose for a cluster client (see ``topology``).
Writes: the session script runs with INLINE = false (lib.lua), touches only its hash and
returns the reference values before and after; the index half follows as one ``Batch``
of ``index_update.lua`` calls (one per index key), so a write costs at most two round
trips (``regenerate``: three, copy then delete). Indexes are therefore eventually
consistent, and every read of an index checks each member against its hash: a member
whose hash is gone or holds another value is never reported and is removed when met.

Like ``_core``, this module is sans-IO: its functions are generators of requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .codec import session_info, text
from .protocol import Arg, Batch, Command, Emit, Iteration, Operation, ScriptCall, collect
from .topology import LIMIT_SCAN, Topology
from .types import SessionInfo

if TYPE_CHECKING:
    from .core import StoreCore

INTEGER = re.compile(r"-?[0-9]+")
# (id, score) of an index member.
Member = tuple[str, float]


def _split(core: StoreCore, members: list[Member]) -> tuple[list[Member], list[Member]]:
    """Members with a well-formed id, and the others (planted by hand: stale at once)."""
    valid, invalid = [], []
    for member in members:
        try:
            core.check_session_id(member[0])
        except ValueError:
            invalid.append(member)
        else:
            valid.append(member)
    return valid, invalid


def stored_index_value(raw: Any) -> str | None:
    """The index value of a stored JSON value, exactly as lib.lua's index_value computes
    it: strings and integers are indexed, anything else (null, floats...) is not."""
    if raw is None:
        return None
    raw = text(raw)
    if raw.startswith('"'):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return None
        return decoded if isinstance(decoded, str) else None
    return raw if INTEGER.fullmatch(raw) else None


@dataclass
class IndexChanges:
    """Index updates collected from one or more session scripts, sent as one Batch."""

    core: StoreCore
    # (field, value) -> removals (id, guard) and adds (score, id)
    removals: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    adds: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)

    def remove(self, field: str, value: str, session_id: str, guard: int = 0) -> None:
        self.removals.setdefault((field, value), []).append((session_id, guard))

    def add(self, field: str, value: str, session_id: str, score: int) -> None:
        self.adds.setdefault((field, value), []).append((score, session_id))

    def reindex(
        self, old_id: str, new_id: str, reply: Sequence[Any], deleted_at: int | None = None
    ) -> None:
        """lib.lua's reindex rules, from a session script's reply: out of the indexes the
        session left (or all, when its id changed), into the ones it holds now with score
        expire_at (when the script renewed it).

        A removal of the same id is guarded by "the write's time + max age" (the score a
        later write of it would give it, or more), so that, arriving late, it never
        undoes a newer add: a renewal's expire_at, a deletion's time + the default max
        age. A new id never comes back, so its old id's removals are unconditional."""
        expire_at = int(reply[1])  # the score: exact on a cluster (no index slack)
        guard = 0
        if old_id == new_id:
            if expire_at > 0:
                guard = expire_at
            elif deleted_at is not None:
                guard = deleted_at + self.core.max_age_ms
        for name, before, after in zip(self.core.references, reply[2], reply[3], strict=True):
            old = None if before is None else text(before)
            new = None if after is None else text(after)
            if old is not None and (old != new or old_id != new_id):
                self.remove(name, old, old_id, guard)
            if new is not None and expire_at > 0:
                self.add(name, new, new_id, expire_at)

    def batch(self) -> Batch | None:
        calls = self.requests()
        return Batch(calls) if calls else None

    def indexes(self) -> list[tuple[str, str]]:
        """The (field, value) of each request of ``requests``, in the same order."""
        return list(dict.fromkeys([*self.removals, *self.adds]))

    def over_limit(self, replies: Sequence[Any]) -> list[tuple[str, str]]:
        """The indexes a session was added to whose size (index_update's reply) is over
        the field's limit: ``enforce_limit`` checks them."""
        over = []
        for (name, value), size in zip(self.indexes(), replies, strict=True):
            limit = self.core.limits.get(name)
            if limit and (name, value) in self.adds and int(size) > limit:
                over.append((name, value))
        return over

    def requests(self) -> tuple[ScriptCall, ...]:
        calls = []
        for name, value in self.indexes():
            removals = self.removals.get((name, value), [])
            args: list[Arg] = [len(removals)]
            for session_id, guard in removals:
                args += (session_id, guard)
            for score, session_id in self.adds.get((name, value), []):
                args += (score, session_id)
            calls.append(self.core.index_script("index_update", name, value, *args))
        return tuple(calls)


# Scripts whose result, when they deleted the session (status 1), is the deletion time.
DELETIONS = frozenset({"delete"})


def follow_up(
    core: StoreCore, script: str, session_id: str, reply: Sequence[Any]
) -> Operation[None]:
    """After a session script: the index half of the write (nothing when no index moved)."""
    deleted = script in DELETIONS and int(reply[0]) == 1
    changes = IndexChanges(core)
    changes.reindex(session_id, session_id, reply, int(reply[4]) if deleted else None)
    batch = changes.batch()
    if batch is not None:
        sizes = yield batch
        for name, value in changes.over_limit(sizes):
            yield from enforce_limit(core, name, value, session_id)


def enforce_limit(core: StoreCore, field_name: str, value: str, writer: str) -> Operation[None]:
    """A limit on a cluster (docs/design.md, "Limits"), after the index half of a write
    that added ``writer`` to the index of ``(field_name, value)``: the least recently
    active live sessions beyond the limit (lowest scores), never the writer, are ended
    with the reason 'limit', each checked and deleted atomically in its slot (as
    delete_all does). Members not live are removed and never count. At most LIMIT_SCAN
    members are examined per round; when the set is bigger, its live members are counted
    first (a walk of the index in pages, as ``count`` does): members not examined are
    never assumed live, which would end sessions of a value within its limit."""
    limit = core.limits[field_name]
    counted: int | None = None  # the live members of a set bigger than a page, once counted
    while True:
        now, size, flat = yield core.index_script(
            "index_members", field_name, value, "range", 0, LIMIT_SCAN - 1
        )
        members = _members(flat)
        live = yield from check(core, field_name, value, int(now), members)
        total = len(live)
        if int(size) > len(members):
            if counted is None:
                found = set(live)
                for page in (yield from collect(pages(core, field_name, value, LIMIT_SCAN))):
                    found.update(page)
                counted = len(found)
            total = counted
        others = [session_id for session_id in live if session_id != writer]
        excess = total - limit
        victims = others[: max(excess, 0)]
        if victims:
            statuses, changes = yield from delete_members(core, field_name, value, victims, "limit")
            if counted is not None:
                counted -= sum(status != 0 for status in statuses)
            batch = changes.batch()
            if batch is not None:
                yield batch
        if excess <= len(victims) or int(size) <= len(members):
            return


def regenerate(
    core: StoreCore, session_id: str, new_id: str, ttl_ms: int, device: tuple[str, ...] = ()
) -> Operation[None]:
    """Copy, then delete (the hashes are in different slots: never a RENAME). Three round
    trips, so that a failure never loses the session: read the old hash; write the copy
    and add the new id to its indexes; only then delete the old hash and remove the old
    id from its indexes."""
    old_key, new_key = core.session_key(session_id), core.session_key(new_id)
    reply = yield core.script_call("regenerate_read", (old_key,), ttl_ms)
    status, expire_at, old = int(reply[0]), int(reply[1]), reply[2]
    fields = tuple(reply[4]) if status == 1 else ()
    # A missing session becomes a new, empty one, in no index.
    new = old if status == 1 else [None] * len(old)
    adds, removals = IndexChanges(core), IndexChanges(core)
    adds.reindex(new_id, new_id, (status, expire_at, new, new))
    removals.reindex(session_id, new_id, (status, 0, old, new))
    # The device pairs after the old fields: HSET keeps the later of a field's values.
    write = core.script_call("regenerate_write", (new_key,), expire_at, *fields, *device)
    sizes = yield Batch((write, *adds.requests()))
    deletion = (core.script_call("delete", (old_key,)),) if status == 1 else ()
    if deletion or removals.requests():
        yield Batch((*deletion, *removals.requests()))
    # Limits last, once the old id has left the indexes (it must not count).
    for name, value in adds.over_limit(sizes[1:]):
        yield from enforce_limit(core, name, value, new_id)


def _members(flat: Sequence[Any]) -> list[Member]:
    return [(text(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]


def check(
    core: StoreCore, field_name: str, value: str, now: int, members: list[Member]
) -> Operation[list[str]]:
    """The members whose hash still holds the value; stale ones are removed from the
    index, sessions past the absolute max age are deleted."""
    if not members:
        return []
    valid, stale = _split(core, members)
    replies = (
        (
            yield Batch(
                tuple(
                    Command(("HMGET", core.session_key(session_id), field_name, "__created"))
                    for session_id, _ in valid
                )
            )
        )
        if valid
        else []
    )
    live, old = [], []
    for member, (raw, created) in zip(valid, replies, strict=True):
        if stored_index_value(raw) != value:
            stale.append(member)
        elif core.absolute_max_age_ms and _past(created, core.absolute_max_age_ms, now):
            old.append(member[0])
        else:
            live.append(member[0])
    yield from _clean(core, field_name, value, stale, old)
    return live


def _clean(
    core: StoreCore, field_name: str, value: str, stale: list[Member], old: list[str]
) -> Operation[None]:
    """Removes the stale members met in an index and deletes the sessions past the
    absolute max age (then their indexes follow)."""
    requests: list[Command | ScriptCall] = []
    if stale:
        # Guarded by the score seen: a concurrent write that re-adds the member raises its
        # score (ZADD GT), and that member then stays.
        args: list[Arg] = [len(stale)]
        for session_id, score in stale:
            args += (session_id, int(score) + 1)
        requests.append(core.index_script("index_update", field_name, value, *args))
    for session_id in old:
        requests.append(core.script_call("delete", (core.session_key(session_id),)))
    if requests:
        replies = yield Batch(tuple(requests))
        if old:
            changes = IndexChanges(core)
            for session_id, reply in zip(old, replies[len(replies) - len(old) :], strict=True):
                deleted_at = int(reply[4]) if int(reply[0]) == 1 else None
                changes.reindex(session_id, session_id, reply, deleted_at)
            batch = changes.batch()
            if batch is not None:
                yield batch


# What session_infos reads of each member's hash (the field first, checked as in check).
INFO_FIELDS = ("__created", "__touched", "__ua", "__ip")


def session_infos(
    core: StoreCore, field_name: str, value: str, batch_size: int
) -> Operation[list[SessionInfo]]:
    """Per batch of the index (ZSCAN): one pipeline of HMGET + PTTL per member, grouped
    per node by the client; then the clean-up of what was stale, as ``check`` does."""
    found: dict[str, SessionInfo] = {}
    cursor: Arg = "0"
    while True:
        now, cursor, flat = yield core.index_script(
            "index_members", field_name, value, "scan", cursor, batch_size + 1
        )
        cursor, now = text(cursor), int(now)
        valid, stale = _split(core, _members(flat))
        requests: list[Command] = []
        for session_id, _ in valid:
            key = core.session_key(session_id)
            requests += (Command(("HMGET", key, field_name, *INFO_FIELDS)), Command(("PTTL", key)))
        replies = (yield Batch(tuple(requests))) if requests else []
        old = []
        for n, member in enumerate(valid):
            (raw, created, touched, ua, ip), ttl = replies[2 * n], replies[2 * n + 1]
            if stored_index_value(raw) != value:
                stale.append(member)
            elif core.absolute_max_age_ms and _past(created, core.absolute_max_age_ms, now):
                old.append(member[0])
            else:
                created = now if created is None else int(text(created))
                touched = created if touched is None else int(text(touched))
                found[member[0]] = session_info(member[0], created, touched, ttl, ua, ip, now=now)
        yield from _clean(core, field_name, value, stale, old)
        if cursor == "0":
            return list(found.values())


def _past(created: Any, absolute_ms: int, now: int) -> bool:
    try:
        return int(text(created)) + absolute_ms <= now if created is not None else False
    except ValueError:
        return False


def pages(core: StoreCore, field_name: str, value: str, batch_size: int) -> Iteration:
    """A page of members per script call, then one pipeline of HMGETs to check them."""
    cursor: Arg = "0"
    while True:
        now, cursor, flat = yield core.index_script(
            "index_members", field_name, value, "scan", cursor, batch_size
        )
        cursor = text(cursor)
        live = yield from check(core, field_name, value, int(now), _members(flat))
        yield Emit(live)
        if cursor == "0":
            return


def delete_members(
    core: StoreCore, field_name: str, value: str, ids: list[str], reason: str
) -> Operation[tuple[list[int], IndexChanges]]:
    """Deletes the sessions ``ids`` met in the index of ``(field_name, value)``, each only
    if it still holds the value (delete_member.lua: checked and deleted atomically in its
    slot), leaving ``reason`` ('' = none). Returns each one's status (1 deleted, 2 deleted
    as past the absolute max age, 0 stale: nothing deleted) and the index updates that
    follow the deletions, for the caller to send."""
    changes = IndexChanges(core)
    if not ids:
        return [], changes
    requests = tuple(
        core.script_call("delete_member", (core.session_key(i),), field_name, value, reason)
        for i in ids
    )
    replies = yield Batch(requests)
    statuses = [int(reply[0]) for reply in replies]
    for session_id, status, reply in zip(ids, statuses, replies, strict=True):
        if status != 0:
            changes.reindex(session_id, session_id, reply, int(reply[4]))
    return statuses, changes


def delete_all(
    core: StoreCore,
    field_name: str,
    value: str,
    kept: Iterable[str],
    batch_size: int,
    reason: str = "",
) -> Operation[int]:
    """Per batch: read the first members, delete those that still hold the value (each
    checked and deleted atomically in its slot), then update the indexes they were in."""
    keep = set(kept)
    total = 0
    while True:
        _, _, flat = yield core.index_script(
            "index_members", field_name, value, "range", 0, batch_size + len(keep) - 1
        )
        members = [member for member in _members(flat) if member[0] not in keep]
        if not members:
            return total
        valid, stale = _split(core, members)
        ids = [session_id for session_id, _ in valid]
        statuses, changes = yield from delete_members(core, field_name, value, ids, reason)
        total += statuses.count(1)
        stale += [member for member, status in zip(valid, statuses, strict=True) if status == 0]
        for session_id, score in stale:
            changes.remove(field_name, value, session_id, int(score) + 1)
        batch = changes.batch()
        if batch is not None:
            yield batch


class Cluster(Topology):
    """Redis Cluster: session scripts leave the indexes to the follow-ups above."""

    indexes_inline = False

    def after_session_script(
        self, core: StoreCore, script: str, session_id: str, reply: Sequence[Any]
    ) -> Operation[None]:
        return follow_up(core, script, session_id, reply)

    def regenerate(
        self,
        core: StoreCore,
        session_id: str,
        new_id: str,
        ttl_ms: int,
        device: tuple[str, ...] = (),
    ) -> Operation[None]:
        return regenerate(core, session_id, new_id, ttl_ms, device)

    def pages(self, core: StoreCore, field: str, value: str, batch_size: int) -> Iteration:
        return pages(core, field, value, batch_size)

    def session_infos(
        self, core: StoreCore, field: str, value: str, batch_size: int
    ) -> Operation[list[SessionInfo]]:
        return session_infos(core, field, value, batch_size)

    def delete_all(
        self,
        core: StoreCore,
        field: str,
        value: str,
        kept: tuple[str, ...],
        batch_size: int,
        reason: str = "",
    ) -> Operation[int]:
        return delete_all(core, field, value, kept, batch_size, reason)
