"""Topologies: what differs between a single Redis server and a Cluster, chosen once
when the store is built (docs/design.md, "Consistency by topology").

On a single server (and under Sentinel) a session script updates the hash and its
indexes together, and an index is read one page (one script call) at a time. On a
Cluster the indexes live in other slots than the hashes: ``cluster.Cluster`` does the
index half itself.

Like the core, a topology is sans-IO: its methods return operations (generators).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .codec import session_info, text
from .protocol import Arg, Emit, Iteration, Operation, done
from .types import SessionInfo

# A session script's status when the write is done but an index may still be over its
# limit (more members than one call examines, or more to end than one call ends):
# limit.lua continues until done.
OVER_LIMIT = 2
# The most index members one limit check examines per call (lib.lua, enforce_limit; and
# cluster.enforce_limit per round).
LIMIT_SCAN = 250

if TYPE_CHECKING:
    from .core import StoreCore


class Topology:
    """The seam between the core and where the indexes live. ``indexes_inline`` tells
    the scripts whether they update the indexes themselves (INLINE in lua/lib.lua)."""

    indexes_inline = True

    def after_session_script(
        self, core: StoreCore, script: str, session_id: str, reply: Sequence[Any]
    ) -> Operation[None]:
        """What follows a session script (nothing, where the script did everything)."""
        raise NotImplementedError

    def regenerate(
        self,
        core: StoreCore,
        session_id: str,
        new_id: str,
        ttl_ms: int,
        device: tuple[str, ...] = (),
    ) -> Operation[None]:
        """Moves the session to ``new_id``, writing the ``device`` pairs with it."""
        raise NotImplementedError

    def pages(self, core: StoreCore, field: str, value: str, batch_size: int) -> Iteration:
        """The live sessions of an index, emitted page by page (at most about
        ``batch_size`` members examined per script call)."""
        raise NotImplementedError

    def session_infos(
        self, core: StoreCore, field: str, value: str, batch_size: int
    ) -> Operation[list[SessionInfo]]:
        """The live sessions of the pair with their infos, in no particular order."""
        raise NotImplementedError

    def delete_all(
        self,
        core: StoreCore,
        field: str,
        value: str,
        kept: tuple[str, ...],
        batch_size: int,
        reason: str = "",
    ) -> Operation[int]:
        """Deletes the pair's sessions but ``kept``, leaving ``reason`` ('' = none)."""
        raise NotImplementedError


class SingleServer(Topology):
    """One server (or a Sentinel-managed primary): every operation is one script."""

    indexes_inline = True

    def after_session_script(
        self, core: StoreCore, script: str, session_id: str, reply: Sequence[Any]
    ) -> Operation[None]:
        return done(None)  # the script moved the indexes itself

    def regenerate(
        self,
        core: StoreCore,
        session_id: str,
        new_id: str,
        ttl_ms: int,
        device: tuple[str, ...] = (),
    ) -> Operation[None]:
        script_keys = (core.session_key(session_id), core.session_key(new_id))
        reply = yield core.script_call("regenerate", script_keys, ttl_ms, *device)
        if reply == OVER_LIMIT:
            yield from core.finish_limits(script_keys[1])

    def pages(self, core: StoreCore, field: str, value: str, batch_size: int) -> Iteration:
        cursor: Arg = "0"
        while True:
            reply = yield core.index_script("index_scan", field, value, cursor, batch_size)
            cursor = text(reply[0])
            yield Emit([text(member) for member in reply[1]])
            if cursor == "0":
                return

    def session_infos(
        self, core: StoreCore, field: str, value: str, batch_size: int
    ) -> Operation[list[SessionInfo]]:
        # ZSCAN may return a member twice (while the set's table grows): one entry per id.
        found: dict[str, SessionInfo] = {}
        cursor: Arg = "0"
        while True:
            # COUNT one more than the batch: a set of up to batch_size members is one call.
            reply = yield core.index_script("index_infos", field, value, cursor, batch_size + 1)
            cursor, now, flat = text(reply[0]), reply[1], reply[2]
            for i in range(0, len(flat), 6):
                session_id = text(flat[i])
                created, touched, ttl, ua, ip = flat[i + 1 : i + 6]
                found[session_id] = session_info(session_id, created, touched, ttl, ua, ip, now=now)
            if cursor == "0":
                return list(found.values())

    def delete_all(
        self,
        core: StoreCore,
        field: str,
        value: str,
        kept: tuple[str, ...],
        batch_size: int,
        reason: str = "",
    ) -> Operation[int]:
        call = core.index_script("index_delete", field, value, batch_size, reason, *kept)
        total = 0
        while True:
            deleted, processed = yield call
            total += int(deleted)
            if not int(processed):
                return total
