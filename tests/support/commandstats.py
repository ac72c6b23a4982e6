"""Counting the commands a server ran, from INFO commandstats (no mocks, no MONITOR)."""

from __future__ import annotations

from typing import Any

import redis

WRITES = ("evalsha", "eval", "hset", "hdel", "del", "expire", "pexpire", "pexpireat")


def reset(raw: redis.Redis) -> None:
    raw.config_resetstat()


def commands(raw: redis.Redis) -> dict[str, int]:
    """Calls per command since the last reset, without the counting's own CONFIG/INFO."""
    stats: dict[str, Any] = raw.info("commandstats")
    counts: dict[str, int] = {}
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_").split("|")[0]
        if command not in ("config", "info"):
            counts[command] = counts.get(command, 0) + int(values["calls"])
    return counts


def scripts(raw: redis.Redis) -> int:
    """Script calls: each is one round trip (the commands a script runs count apart)."""
    counts = commands(raw)
    return counts.get("evalsha", 0) + counts.get("eval", 0)


def writes(raw: redis.Redis) -> int:
    """Calls of the commands that can write a session, sent or run by a script."""
    counts = commands(raw)
    return sum(counts.get(name, 0) for name in WRITES)
