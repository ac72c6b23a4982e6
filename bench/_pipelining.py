"""``python -m bench._pipelining``: what auto-pipelining saves, at the redis-py level.

32 concurrent tasks on one event loop each call HGETALL on their own small hash, as fast
as they can. Measured per variant: operations per second and the process's CPU time per
operation (``time.process_time``: this process only, not redis-server's). Variants:

- ``raw``: ``client.hgetall(key)`` on a default ``redis.asyncio.Redis`` pool (one pooled
  connection per command in flight);
- ``auto``: the same command through ``AutoPipeline`` (one redis-py pipeline per loop
  iteration, ``max_in_flight`` batches out at a time);
- ``mux``: a PROTOTYPE, not the library's code: one redis-py ``Connection`` that writes
  each iteration's commands and a reader task that reads the replies in order (what
  ioredis and StackExchange.Redis do). It shows what a lower-level path would gain; it
  has none of the robustness the library needs (no reconnect, no timeouts handling, no
  cancellation handling beyond dropping a reply).

each with hiredis and with redis-py's pure-Python RESP2 parser. The variants alternate
within each round, and the report gives medians over the rounds; compare ratios within
one run (the machine is shared and noisy).
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

from redis_session_sets._drivers.pipelining import AutoPipeline
from tests.servers import RedisServer

Call = Callable[[int], Awaitable[Any]]  # task number -> awaitable
PARSERS: dict[str, type[Any]] = {"hiredis": _AsyncHiredisParser, "python": _AsyncRESP2Parser}
FIELDS: dict[str, str] = {
    "user_id": '"42"',
    "theme": '"dark"',
    "n": "7",
    "cart": '["a","b"]',
    "lang": '"en"',
}


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


async def _run(port: int, concurrency: int, duration: float, rounds: int) -> dict[str, Any]:
    keys = [f"bench:pipelining:{task}" for task in range(concurrency)]
    setup = redis.asyncio.Redis(port=port)
    for key in keys:
        await setup.hset(key, items=[item for pair in FIELDS.items() for item in pair])
    await setup.aclose()

    variants: dict[str, Call] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    for parser_name, parser in PARSERS.items():
        # A default pool (max_connections 100), as an application would have it.
        raw_client = redis.asyncio.Redis(
            connection_pool=redis.asyncio.ConnectionPool(port=port, parser_class=parser)
        )
        closers.append(raw_client.aclose)
        variants[f"raw/{parser_name}"] = _raw(raw_client, keys)
        for in_flight in (1, 2):
            auto = AutoPipeline(raw_client, max_in_flight=in_flight)
            variants[f"auto{in_flight}/{parser_name}"] = _via(auto.execute, keys)
        mux = Multiplexed(raw_client)
        await mux.start()
        closers.append(mux.close)
        variants[f"mux/{parser_name}"] = _via(mux.execute, keys)

    expected = {key.encode(): value.encode() for key, value in FIELDS.items()}
    for name, call in variants.items():  # warm-up, and a check that each returns the hash
        if await call(0) != expected:
            raise RuntimeError(f"{name} returned {await call(0)!r}")
        await _measure(call, concurrency, min(duration, 0.5))

    samples: dict[str, dict[str, list[float]]] = {name: {"ops": [], "cpu": []} for name in variants}
    order = list(variants)
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
        raw = results["raw/" + name.split("/")[1]]
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
    args = parser.parse_args(argv)
    server = RedisServer()
    server.start()
    try:
        work = _run(server.port, args.concurrency, args.duration, args.rounds)
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
