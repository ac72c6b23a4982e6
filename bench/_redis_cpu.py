"""Redis CPU per write: INFO commandstats ``usec_per_call`` of each kind of write, against
the minimal atomic write (one EVALSHA of ``HSET`` + ``PEXPIRE`` on a hash).

Each kind runs alone between two ``CONFIG RESETSTAT`` (commandstats sums every script
under EVALSHA), in rounds that interleave the kinds, on the same 5-field session with one
reference (the workload of the web routes). The figure of a kind is the median of its
rounds; ratios are taken within a round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis

from bench.apps._common import seed_values
from redis_session_sets import Store

MINIMAL = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\nredis.call('PEXPIRE', KEYS[1], ARGV[3])"
BARS = {"set_same_reference": 2.0, "set_moving_reference": 3.0}
# The bench's own commands, not the scripts'.
IGNORED = ("cmdstat_config", "cmdstat_info")


def _usec_per_call(client: redis.Redis, command: str) -> tuple[float, dict[str, float]]:
    """The command's ``usec_per_call``, and per call of it, how many of each other command
    ran: the commands a script called (commandstats counts them too), its profile."""
    stats: dict[str, Any] = client.info("commandstats")
    own = stats.get(f"cmdstat_{command}", {})
    calls = int(own.get("calls", 0))
    inner = {
        name.removeprefix("cmdstat_"): int(entry["calls"]) / calls
        for name, entry in stats.items()
        if calls and name != f"cmdstat_{command}" and not name.startswith(IGNORED)
    }
    return float(own.get("usec_per_call", 0.0)), inner


def _batched(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_session_infos_cost(url: str, sessions: int = 1000, calls: int = 50) -> dict[str, Any]:
    """``session_infos`` of a user with ``sessions`` sessions: script calls (round trips)
    per read, Redis µs per read (commandstats), and the client's wall time per read."""
    client = redis.Redis.from_url(url)
    store = Store(client, references=["user_id"], prefix="bench-infos")
    for _ in range(sessions):
        store.set(store.create_session_id(), {"user_id": 1})
    try:
        assert len(store.session_infos("user_id", 1)) == sessions
        client.config_resetstat()
        started = time.perf_counter()
        for _ in range(calls):
            store.session_infos("user_id", 1)
        elapsed = time.perf_counter() - started
        stats: dict[str, Any] = client.info("commandstats").get("cmdstat_evalsha", {})
        script_calls = int(stats.get("calls", 0)) / calls
        usec = float(stats.get("usec", 0)) / calls
    finally:
        for batch in _batched(client.scan_iter("bench-infos:*", count=1000), 1000):
            client.delete(*batch)
        client.close()
    return {
        "sessions": sessions,
        "round_trips": script_calls,
        "redis_usec_per_read": usec,
        "ms_per_read": elapsed / calls * 1000,
    }


def run_redis_cpu(url: str, calls: int = 2000, rounds: int = 5) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    store = Store(client, references=["user_id"])
    # Sign-ins (a new session of user 7): into an index that grows, and under a limit of 3
    # (each sign-in ends the least recently active of the user's sessions, with its reason).
    growing = Store(client, references=["user_id"], prefix="bench-grow")
    limited = Store(client, references=["user_id"], prefix="bench-limit", limits={"user_id": 3})
    session_id = store.create_session_id()
    store.set(session_id, seed_values("42"))
    key = store.get_session_key(session_id)
    minimal = client.script_load(MINIMAL)
    ttl = store.core.max_age_ms
    kinds: dict[str, tuple[str, Callable[[int], Any]]] = {
        "hset": ("hset", lambda i: client.hset(key, "theme", '"dark"' if i % 2 else '"light"')),
        "minimal_script": (
            "evalsha",
            lambda i: client.evalsha(minimal, 1, key, "theme", '"dark"', ttl),
        ),
        "set_same_reference": (
            "evalsha",
            lambda i: store.set(session_id, {"theme": "dark" if i % 2 else "light"}),
        ),
        "set_reference_again": (
            "evalsha",
            lambda i: store.set(session_id, {"user_id": "42", "theme": "dark"}),
        ),
        "set_moving_reference": (
            "evalsha",
            lambda i: store.set(session_id, {"user_id": "43" if i % 2 else "42"}),
        ),
        "update_write_route": (
            "evalsha",
            lambda i: store.update(session_id, {"user_id": "42"}, incr={"counter": 1}),
        ),
        "sign_in": (
            "evalsha",
            lambda i: growing.set(growing.create_session_id(), seed_values("7")),
        ),
        "sign_in_limited": (
            "evalsha",
            lambda i: limited.set(limited.create_session_id(), seed_values("7")),
        ),
    }
    for _, call in kinds.values():
        call(0)  # every script loaded (EVAL) before the counting starts
    per_round: dict[str, list[float]] = {name: [] for name in kinds}
    commands: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            for name, (command, call) in kinds.items():
                client.config_resetstat()
                for i in range(calls):
                    call(i)
                spent, commands[name] = _usec_per_call(client, command)
                per_round[name].append(spent)
    finally:
        client.delete(
            key, store.get_reference_key("user_id", 42), store.get_reference_key("user_id", 43)
        )
        for prefix in ("bench-grow", "bench-limit"):
            for batch in _batched(client.scan_iter(f"{prefix}:*", count=1000), 1000):
                client.delete(*batch)
        client.close()
    usec = {name: statistics.median(values) for name, values in per_round.items()}
    base = per_round["minimal_script"]
    ratios = {
        name: statistics.median(v / b for v, b in zip(per_round[name], base, strict=True) if b)
        for name in kinds
    }
    infos = run_session_infos_cost(url)
    return {
        "calls": calls,
        "rounds": rounds,
        "usec_per_call": usec,
        "ratio_to_minimal": ratios,
        # Per script call (last round): the Redis commands it ran, e.g. {"zadd": 1.0, ...}.
        "commands_per_call": {
            name: dict(sorted(counts.items())) for name, counts in commands.items()
        },
        "session_infos": infos,
    }
