"""``python -m bench._pipelining``: what auto-pipelining saves, at the redis-py level.

32 concurrent tasks on one event loop each read their own session (5 small fields, made
by the store), as fast as they can. Measured per variant: operations per second and the
process's CPU time per operation (``time.process_time``: this process only, not
redis-server's). Variants:

- ``raw``: ``client.hgetall(key)`` on a default ``redis.asyncio.Redis`` (a pool of at most
  100 connections, one per command in flight; 5 s socket timeout);
- ``auto1``, ``auto2``: the same command through ``AutoPipeline`` (one redis-py pipeline
  per loop iteration, at most 1 or 2 batches out at a time);
- ``mux``: a PROTOTYPE, not the library's code: one redis-py ``Connection`` that writes
  each iteration's commands and a reader task that reads the replies in order (what
  ioredis and StackExchange.Redis do). It shows what a lower-level path would gain; it
  has none of the robustness the library needs (no reconnect, no timeouts, no retries,
  no cluster routing);
- ``store``: ``AsyncStore.get`` as it is today (each HGETALL on its own pooled
  connection); ``store+auto1``: the same store whose client's ``execute_command`` goes
  through an ``AutoPipeline`` (a shim in this probe, standing in for the integration):
  the figure of the "get >= 2x raw at <= 1/3 of its CPU" bar; ``store+mux``: the same
  through the prototype;

each with hiredis and with redis-py's pure-Python parser (RESP3, the protocol redis-py
negotiates by default). The variants alternate within each round, and the report gives
medians over the rounds; compare ratios within one run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

from bench.apps._common import seed_values
from redis_session_sets import AsyncStore
from redis_session_sets._drivers.pipelining import AutoPipeline
from tests.support.servers import RedisServer

Call = Callable[[int], Awaitable[Any]]  # task number -> awaitable
PARSERS: dict[str, type[Any]] = {"hiredis": _AsyncHiredisParser, "python": _AsyncRESP2Parser}


class Multiplexed:
    """PROTOTYPE: every command on one connection; replies matched to callers in order."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.connection: Connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        self.outgoing: list[tuple[Any, ...]] = []
        self.waiting: deque[tuple[str, asyncio.Future[Any]]] = deque()
        self.write_scheduled = False
        self.has_waiters = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.connection.connect()  # type: ignore[no-untyped-call]
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        await self.connection.disconnect()

    async def execute(self, args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.outgoing.append(args)
        self.waiting.append((str(args[0]), future))
        self.has_waiters.set()
        if not self.write_scheduled:
            self.write_scheduled = True
            loop.call_soon(self._write)
        return await future

    def _write(self) -> None:
        self.write_scheduled = False
        commands, self.outgoing = self.outgoing, []
        # Straight onto the transport: writes never wait for replies.
        self.connection._writer.writelines(self.connection.pack_commands(commands))  # type: ignore[union-attr]

    async def _read(self) -> None:
        callbacks = self.client.response_callbacks
        while True:
            if not self.waiting:
                self.has_waiters.clear()
                await self.has_waiters.wait()
                continue
            try:
                reply: Any = await self.connection._parser.read_response()  # type: ignore[attr-defined]
            except ResponseError as error:
                reply = error
            name, future = self.waiting.popleft()
            if future.done():
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                callback = callbacks.get(name)
                future.set_result(callback(reply) if callback else reply)


async def _measure(call: Call, concurrency: int, duration: float) -> tuple[float, float]:
    """(operations per second, CPU seconds per operation) over one run."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker(task: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(task)
            done += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(task) for task in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return done / wall, cpu / max(done, 1)


def _raw(client: redis.asyncio.Redis, keys: list[str]) -> Call:
    async def call(task: int) -> Any:
        return await client.hgetall(keys[task])

    return call


def _via(execute: Callable[[tuple[Any, ...]], Awaitable[Any]], keys: list[str]) -> Call:
    async def call(task: int) -> Any:
        return await execute(("HGETALL", keys[task]))

    return call


class _Through:
    """PROBE SHIM, not the integration: the client an ``AsyncStore`` sees, whose
    ``execute_command`` (what the store's ``get`` sends: one HGETALL) goes through an
    ``AutoPipeline`` (or the prototype); everything else is the real client's."""

    def __init__(
        self, client: redis.asyncio.Redis, execute: Callable[[tuple[Any, ...]], Awaitable[Any]]
    ) -> None:
        self._client = client
        self._execute = execute

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def execute_command(self, *args: Any) -> Any:
        return await self._execute(args)


def _store_get(store: AsyncStore, ids: list[str]) -> Call:
    async def call(task: int) -> Any:
        return await store.get(ids[task])

    return call


async def _run(
    port: int, concurrency: int, duration: float, rounds: int, only: set[str]
) -> dict[str, Any]:
    variants: dict[str, Call] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    ids: list[str] = []
    keys: list[str] = []
    for parser_name, parser in PARSERS.items():
        # A default client (pool of at most 100 connections, 5 s socket timeout), as an
        # application would have it, with the parser chosen.
        client = redis.asyncio.Redis(port=port)
        client.connection_pool.connection_kwargs["parser_class"] = parser
        closers.append(client.aclose)
        store = AsyncStore(client, references=["user_id"])
        if not ids:  # the sessions of the workload, made by the store itself
            ids = [store.create_session_id() for _ in range(concurrency)]
            keys = [store.get_session_key(session_id) for session_id in ids]
            for session_id in ids:
                await store.set(session_id, seed_values("42"))
        variants[f"raw/{parser_name}"] = _raw(client, keys)
        for in_flight in (1, 2):
            auto = AutoPipeline(client, max_in_flight=in_flight)
            variants[f"auto{in_flight}/{parser_name}"] = _via(auto.execute, keys)
        mux = Multiplexed(client)
        await mux.start()
        closers.append(mux.close)
        variants[f"mux/{parser_name}"] = _via(mux.execute, keys)
        variants[f"store/{parser_name}"] = _store_get(store, ids)
        for through, execute in (("auto1", AutoPipeline(client).execute), ("mux", mux.execute)):
            piped = AsyncStore(client, references=["user_id"])
            piped.client = _Through(client, execute)  # type: ignore[assignment]
            variants[f"store+{through}/{parser_name}"] = _store_get(piped, ids)

    order = [name for name in variants if not only or name in only]
    for name in order:  # warm-up, and a check that each returns what raw redis-py does
        call = variants[name]
        kind, parser_name = name.split("/")
        expected = await variants[("store/" if "store" in kind else "raw/") + parser_name](0)
        if await call(0) != expected:
            raise RuntimeError(f"{name} returned {await call(0)!r}, not {expected!r}")
        await _measure(call, concurrency, min(duration, 0.5))

    samples: dict[str, dict[str, list[float]]] = {name: {"ops": [], "cpu": []} for name in order}
    for number in range(rounds):
        for name in order if number % 2 == 0 else reversed(order):
            ops, cpu = await _measure(variants[name], concurrency, duration)
            samples[name]["ops"].append(ops)
            samples[name]["cpu"].append(cpu)
    for close in closers:
        await close()
    results: dict[str, Any] = {}
    for name, sample in samples.items():
        results[name] = {
            "ops_per_s": statistics.median(sample["ops"]),
            "cpu_us_per_op": statistics.median(sample["cpu"]) * 1e6,
        }
    for name, result in results.items():
        raw = results.get("raw/" + name.split("/")[1], result)
        result["ops_vs_raw"] = result["ops_per_s"] / raw["ops_per_s"]
        result["cpu_vs_raw"] = result["cpu_us_per_op"] / raw["cpu_us_per_op"]
    return results


def render(results: dict[str, Any]) -> str:
    lines = [
        "| variant | ops/s | CPU µs/op | ops ÷ raw | CPU ÷ raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['ops_per_s']:,.0f} | {r['cpu_us_per_op']:.1f} "
            f"| {r['ops_vs_raw']:.2f}x | {r['cpu_vs_raw']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench._pipelining", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--only", default="", help="comma-separated variants, e.g. auto1/hiredis")
    args = parser.parse_args(argv)
    server = RedisServer()
    server.start()
    try:
        only = {name for name in args.only.split(",") if name}
        work = _run(server.port, args.concurrency, args.duration, args.rounds, only)
        if args.uvloop:
            import uvloop

            results = uvloop.run(work)
        else:
            results = asyncio.run(work)
    finally:
        server.close()
    print(render(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
