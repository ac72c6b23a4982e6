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


def writes(raw: redis.Redis) -> int:
    """Calls of every command that can write a session (scripts included)."""
    counts = commands(raw)
    return sum(counts.get(name, 0) for name in WRITES)
