"""Auto-pipelining: the commands that concurrent tasks of one event loop start in the same
loop iteration go to Redis together, as one redis-py pipeline (``transaction=False``).

Why: redis-py's asyncio client spends most of a command's cost in Python around the
socket (a pool checkout, a write, a read, a release: one connection per command in
flight). Sent together, N commands share one checkout, one write and one read loop, and
need one connection however many tasks wait; ioredis (``enableAutoPipelining``) and
StackExchange.Redis (one multiplexed connection) get their speed the same way.

How: ``execute(args)`` queues the command with a future and, once per loop iteration
(``loop.call_soon``), the queue is cut into batches of at most ``max_batch`` commands;
each batch runs as a pipeline over the caller's own client -- its pool, AUTH, TLS,
Sentinel, cluster routing and retry policy stay as configured -- in a task of its own,
so a cancelled caller never interrupts a half-read reply stream. At most
``max_in_flight`` batches (so that many connections) are out at a time; what arrives
meanwhile waits and goes in the next batch, which is what makes batches form under load.
Each caller gets its own reply, or its own exception (a WRONGTYPE, a script error, a
``NoScriptError``); a failure of the batch as a whole (the connection lost, a timeout)
goes to exactly the callers of that batch.

The exchange: on a cluster client, a redis-py cluster pipeline (split per node). On any
other client (a plain or Sentinel-managed one) the batch runs on a connection of the
client's own pool without a ``Pipeline`` object: packed and written at once, its replies
read in order and passed through the client's response callbacks, under the connection's
retry policy, as redis-py's pipeline does. One difference, which is the point: redis-py
reads each reply of a pipeline under a timer of its own (``socket_timeout``), scheduled
and cancelled once per reply, about a third of the client's CPU per pipelined command
(bench/NOTES.md); here, where redis-py can read without one (redis-py 8), the replies of
the batch are read under one deadline of ``socket_timeout`` for them all, so a batch
whose replies take longer than that in all fails with a timeout (as a single reply would).

Ordering: the commands of one batch go out in the order they were started. With
``max_in_flight=1`` (the default) batches are sent one after the other, so every command
reaches Redis in the order it was started; a task that awaits each command before it
starts the next has its order kept whatever the setting.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import importlib
import inspect
from collections import deque
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from . import compat
from .clients import AsyncClient, RedisPyAsync, family_of
from .wire import pack_commands

__all__ = ["AutoPipeline"]

Pending: TypeAlias = tuple[tuple[Any, ...], "asyncio.Future[Any]"]

# Commands that change or depend on the state of the connection they run on: in a pipeline
# over a pooled connection they would leak that state to whoever uses it next, or (CLIENT
# REPLY OFF) break the pairing of commands and replies.
STATEFUL_COMMANDS = frozenset(
    {
        "AUTH", "CLIENT", "DISCARD", "EXEC", "HELLO", "MONITOR", "MULTI", "PSUBSCRIBE",
        "PUNSUBSCRIBE", "QUIT", "RESET", "SELECT", "SSUBSCRIBE", "SUBSCRIBE", "SUNSUBSCRIBE",
        "UNSUBSCRIBE", "UNWATCH", "WATCH",
    }
)  # fmt: skip


# The commands the store sends, known not to be stateful (a set lookup, not a check).
PIPELINABLE = frozenset(
    {"EVAL", "EVALSHA", "EXISTS", "GET", "HGETALL", "HMGET", "PTTL", "ZCARD", "ZSCORE"}
)


@dataclass(frozen=True, slots=True)
class _Errors:
    """The exception classes of the client's library (redis-py's or valkey-py's: the same
    names in two modules, neither subclassing the other)."""

    base: type[Exception]  # RedisError, ValkeyError
    reply: type[BaseException]  # ResponseError: an error reply of Redis
    # Raised by the client before it sends anything: an argument it cannot encode, a
    # command it cannot route to one cluster node.
    refused: tuple[type[BaseException], ...]
    # ... except this one, which a cluster pipeline may raise after a first attempt.
    uncovered_slot: type[BaseException]
    timeout: type[Exception]  # the library's TimeoutError (a read that took too long)

    @classmethod
    def of(cls, client: object) -> _Errors:
        family = family_of(client)
        module = importlib.import_module(family.no_script.__module__)
        reply, uncovered = module.ResponseError, module.SlotNotCoveredError
        base = next(kind for kind in family.failures if issubclass(reply, kind))
        cluster = next(kind for kind in family.failures if issubclass(uncovered, kind))
        return cls(
            cast("type[Exception]", base),
            reply,
            (module.DataError, cluster),
            uncovered,
            module.TimeoutError,
        )


class _LoopState:
    """Everything that belongs to one event loop. A new loop gets a new one, so nothing
    of a dead loop (its futures, its tasks, a flush it never ran) reaches the new one;
    callbacks of the old loop, should it ever run again, only touch their own state."""

    __slots__ = ("flush_scheduled", "in_flight", "loop", "queue", "tasks")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[Pending] = deque()
        self.flush_scheduled = False
        self.in_flight = 0
        # The loop keeps only weak references to tasks: these keep the batches alive.
        self.tasks: set[asyncio.Task[None]] = set()


class AutoPipeline:
    """Sends concurrent commands together, each with its own reply or exception.

    ``await AutoPipeline(client).execute(("HGETALL", key))`` returns what
    ``await client.execute_command("HGETALL", key)`` returns (the client's response
    callbacks apply), or raises what it would raise. One object per client; it may be
    used from one event loop at a time (a new loop starts afresh).
    """

    def __init__(self, client: AsyncClient, *, max_batch: int = 256, max_in_flight: int = 1):
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        # A valkey-py client has redis-py's API: held under redis-py's types.
        self.client = cast("RedisPyAsync", client)
        family = family_of(client)
        self._errors = _Errors.of(client)
        # A cluster client routes per node through its own pipeline; any other exchanges
        # on a connection of its pool (see the module's docstring).
        self._direct = not family.is_cluster(client) and hasattr(client, "connection_pool")
        self.max_batch = max_batch
        # Never more batches out than the pool may open connections (redis-py's
        # ConnectionPool raises "Too many connections" beyond its max_connections).
        pool_limit = getattr(getattr(client, "connection_pool", None), "max_connections", None)
        if isinstance(pool_limit, int) and pool_limit > 0:
            max_in_flight = min(max_in_flight, pool_limit)
        self.max_in_flight = max_in_flight
        self._state: _LoopState | None = None

    async def execute(self, args: tuple[Any, ...]) -> Any:
        """Runs one command (its name and arguments) in the next batch."""
        return await self.submit(args)

    def submit(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Queues one command for the next batch: the future of its reply (``execute``
        without a coroutine of its own, for callers that await at once)."""
        if not args:
            raise ValueError("no command given")
        if args[0] not in PIPELINABLE:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            if name.upper() in STATEFUL_COMMANDS:
                raise ValueError(f"{name} changes the connection's state: not auto-pipelined")
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            state = self._state = _LoopState(loop)
        future: asyncio.Future[Any] = loop.create_future()
        state.queue.append((args, future))
        if not state.flush_scheduled and state.in_flight < self.max_in_flight:
            # Runs after every callback already due in this iteration: the other tasks
            # woken with this one queue their commands first.
            state.flush_scheduled = True
            loop.call_soon(self._flush, state)
        # A cancelled caller cancels only this future: the batch's task drops its reply.
        return future

    def _flush(self, state: _LoopState) -> None:
        state.flush_scheduled = False
        while state.queue and state.in_flight < self.max_in_flight:
            batch: list[Pending] = []
            while state.queue and len(batch) < self.max_batch:
                pending = state.queue.popleft()
                if not pending[1].done():  # cancelled before it was sent: not sent at all
                    batch.append(pending)
            if not batch:
                break
            state.in_flight += 1
            # A context of its own: the batch serves many callers, so it must not run in
            # (and spill into) the context variables of whichever one scheduled it.
            task = state.loop.create_task(self._send(batch), context=contextvars.Context())
            state.tasks.add(task)
            task.add_done_callback(lambda task: self._sent(state, task))

    def _sent(self, state: _LoopState, task: asyncio.Task[None]) -> None:
        state.tasks.discard(task)
        state.in_flight -= 1
        # The callers this batch answered have run already (their wake-ups were due
        # before this callback): what they queued since goes out now, together with
        # whatever waited for a free slot.
        self._flush(state)

    async def _send(self, batch: list[Pending]) -> None:
        try:
            try:
                replies = await self._pipeline([args for args, _ in batch])
            except self._errors.refused as error:
                if len(batch) == 1 or isinstance(error, self._errors.uncovered_slot):
                    raise
                # A command redis-py refused before sending anything (an argument it
                # cannot encode, a key it cannot route): find whose it is by sending each
                # on its own, so it fails alone.
                for pending in batch:
                    await self._send([pending])
                return
            if len(replies) != len(batch):
                raise self._errors.base(f"{len(replies)} replies to a pipeline of {len(batch)}")
        except BaseException as error:
            for _, future in batch:
                _fail(future, error)
            if not isinstance(error, Exception):
                raise  # CancelledError (the loop shuts down), KeyboardInterrupt
            return
        try:
            for (_, future), reply in zip(batch, replies, strict=True):
                if future.done():
                    continue  # the caller was cancelled: its reply is dropped
                if isinstance(reply, self._errors.reply):
                    future.set_exception(reply)  # its own, as the parser made it
                elif isinstance(reply, BaseException):
                    # Not a reply but redis-py's error in the command's place (a cluster
                    # pipeline does so for a node whose connection failed), which may be
                    # one object in several places: each caller gets a copy.
                    _fail(future, reply)
                else:
                    future.set_result(reply)
        finally:
            # Whatever went wrong above, no caller of this batch is left waiting forever.
            # (The error is made only for such a caller: an exception per command was
            # ~0.7 us of every reply.)
            for _, future in batch:
                if not future.done():
                    _fail(future, self._errors.base("the auto-pipeline lost this command's reply"))

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        # One connection from the client's pool for the whole batch, given back (or
        # dropped, if broken) whatever happens; error replies come back as exception
        # objects in the list, in their commands' places.
        if self._direct:
            return await self._exchange(commands)
        pipe = self.client.pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(*args)
        return await pipe.execute(raise_on_error=False)

    async def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The batch on one connection of a plain client's pool: what redis-py's
        ``Pipeline.execute(raise_on_error=False)`` does, without a timer per reply."""
        pool: Any = _any(self.client).connection_pool  # not a cluster client: see _direct
        connection = await compat.take_connection(pool)
        try:
            # Packing refuses what it cannot encode (DataError) before anything is sent.
            packed = pack_commands(connection, commands)
            # The replies read so far, kept across attempts: a retry sends only the commands
            # whose replies did not come (a command answered ran once, and redis-py's
            # execute_command would not send it again: no INCR applied twice).
            replies: list[Any] = []

            async def attempt() -> None:
                rest = commands[len(replies) :]
                again = pack_commands(connection, rest) if replies else packed
                await self._send_and_read(connection, again, rest, replies)

            async def fail(error: BaseException) -> None:
                await connection.disconnect()  # reconnected by the next attempt

            await connection.retry.call_with_retry(attempt, fail)
            return replies
        finally:
            await pool.release(connection)

    async def _send_and_read(
        self,
        connection: Any,
        packed: list[bytes],
        commands: list[tuple[Any, ...]],
        replies: list[Any],
    ) -> None:
        """Sends the commands and appends their replies to ``replies`` as they come."""
        await connection.send_packed_command(packed)  # connects and checks health first
        untimed = compat.untimed_read(connection)
        callbacks = self.client.response_callbacks
        # The client's callbacks are a case-insensitive dict (a Python-level lookup that
        # upper-cases the name): looked up once per command name and batch, so a batch of
        # one kind of command pays for one lookup, and a callback changed meanwhile
        # applies from the next batch on.
        seen: dict[Any, Any] = {}
        # A client that decodes replies gets them read as bytes and decoded here: a reply
        # that is no text in its encoding (bytes some other program stored) fails its own
        # command alone, where the parser's decoding would drop the connection with the
        # replies of the rest of the batch unread.
        encoder = connection.encoder
        raw = bool(encoder.decode_responses)
        try:
            # One deadline for all the replies, where redis-py can read without a timer
            # per reply; otherwise its own timeouts apply to each read, as they would.
            async with asyncio.timeout(connection.socket_timeout if untimed else None):
                for args in commands:
                    try:
                        if untimed:
                            reply = await connection.read_response(raw, untimed)
                        else:
                            reply = await connection.read_response(raw)
                        if raw:
                            reply = _decoded(reply, encoder.decode)
                    except self._errors.reply as error:
                        replies.append(error)  # its own, as the parser made it
                        continue
                    except UnicodeDecodeError as error:
                        replies.append(error)  # its own: the connection is in step
                        continue
                    name = args[0]
                    try:
                        callback = seen[name]
                    except KeyError:
                        callback = seen[name] = callbacks.get(name)
                    if callback is not None:
                        reply = callback(reply)
                        if type(reply) not in PLAIN_REPLIES and inspect.isawaitable(reply):
                            reply = await reply
                    replies.append(reply)
        except TimeoutError:  # the deadline (read_response dropped the connection)
            raise self._errors.timeout(
                f"Timeout reading {len(commands)} pipelined replies"
            ) from None


# What response callbacks return that is surely no awaitable (inspect.isawaitable is an
# ABC check: dearer than the callback itself).
PLAIN_REPLIES = frozenset({dict, list, bytes, str, int, bool, float, type(None)})


def _any(client: object) -> Any:
    return client


def _decoded(reply: Any, decode: Any) -> Any:
    """A reply read as bytes, decoded as the client's parser would have decoded it."""
    kind = type(reply)
    if kind is bytes:
        return decode(reply)
    if kind is list:
        return [_decoded(item, decode) for item in reply]
    if kind is dict:
        return {_decoded(k, decode): _decoded(v, decode) for k, v in reply.items()}
    if kind is set:
        return {_decoded(item, decode) for item in reply}
    return reply


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    # A closed loop: this is the garbage collector closing a batch of a dead loop.
    if future.done() or future.get_loop().is_closed():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
        return
    # Each caller raises its own copy: one exception object raised in many tasks would
    # collect all their tracebacks. The original, with the batch's traceback, is the cause.
    try:
        own = copy.copy(error)
    except Exception:
        own = error
    else:
        own.__cause__ = error
    future.set_exception(own)
