"""``Store`` and ``AsyncStore``: thin shells that send what the core asks for.

All logic lives in ``_core.StoreCore``; a shell only turns a request into a redis-py
call (EVALSHA, with EVAL when the server answers NOSCRIPT; a ``Batch`` as one pipeline,
which a cluster client splits per node), wraps Redis failures into
``SessionStoreError`` and feeds the reply back. The two shells mirror each other line by
line and differ only in ``await``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import redis
import redis.asyncio
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from ._core import MaxAge, StoreCore
from ._errors import SessionStoreError
from ._protocol import Arg, Batch, Command, Emit, Iteration, Operation, Request, ScriptCall
from ._types import SessionInfo

T = TypeVar("T")

SyncClient = redis.Redis | redis.RedisCluster
AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster


# What redis-py raises when Redis fails (a cluster with no node for a slot raises a
# RedisClusterException, which is no RedisError).
FAILURES = (RedisError, RedisClusterException, OSError)


def _failure(request: Request, error: BaseException) -> SessionStoreError:
    what: Arg = "a pipeline"
    if isinstance(request, Command):
        what = request.args[0]
    elif isinstance(request, ScriptCall):
        what = request.script.name
    what = what.decode() if isinstance(what, bytes) else str(what)
    return SessionStoreError(f"Redis failed on {what}: {error}")


def _command(request: Command | ScriptCall, *, source: bool = False) -> tuple[Arg, ...]:
    """A request as command arguments, for a pipeline: EVALSHA, or EVAL with ``source``."""
    if isinstance(request, Command):
        return request.args
    script, keys = request.script, request.keys
    head = ("EVAL", script.source) if source else ("EVALSHA", script.sha)
    return (*head, len(keys), *keys, *request.args)


def _unknown_scripts(replies: list[Any]) -> list[int]:
    """Positions whose script the server did not know (a restart, a failover, a new node):
    sent again with EVAL, which also caches them. Index updates are idempotent."""
    return [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]


def _batch_replies(batch: Batch, replies: list[Any]) -> list[Any]:
    for request, reply in zip(batch.requests, replies, strict=True):
        if isinstance(reply, Exception):
            raise _failure(request, reply) from reply
    return replies


class _StoreBase:
    """What both shells share: the core and the methods that need no Redis."""

    _core: StoreCore

    def __init__(
        self,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
        cluster: bool = False,
    ) -> None:
        self._core = StoreCore(
            references=references,
            max_age=max_age,
            absolute_max_age=absolute_max_age,
            prefix=prefix,
            id_bytes=id_bytes,
            cluster=cluster,
        )
        # Scripts this store has sent with EVAL, which runs a script and caches it in one
        # round trip; afterwards EVALSHA sends only its digest. So even the first use of
        # an operation is one round trip (EVALSHA first would meet NOSCRIPT, then EVAL).
        self._scripts_sent: set[str] = set()

    @property
    def references(self) -> tuple[str, ...]:
        return self._core.references

    @property
    def max_age(self) -> timedelta:
        return timedelta(milliseconds=self._core.max_age_ms)

    def create_session_id(self) -> str:
        return self._core.create_session_id()

    def get_session_key(self, session_id: str) -> str:
        return self._core.session_key(session_id)

    def get_reference_key(self, field: str, value: str | int) -> str:
        return self._core.reference_key(field, value)


class Store(_StoreBase):
    """Sessions in Redis, for sync code (a ``redis.Redis`` or ``redis.RedisCluster``)."""

    def __init__(
        self,
        client: SyncClient,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
    ) -> None:
        super().__init__(
            references=references,
            max_age=max_age,
            absolute_max_age=absolute_max_age,
            prefix=prefix,
            id_bytes=id_bytes,
            cluster=isinstance(client, redis.RedisCluster),
        )
        self.client = client

    def _send(self, request: Request) -> Any:
        try:
            if isinstance(request, Batch):
                return self._send_batch(request)
            if isinstance(request, Command):
                return self.client.execute_command(*request.args)  # type: ignore[no-untyped-call]
            script, keys, args = request.script, request.keys, request.args
            if script.sha in self._scripts_sent:
                try:
                    return self.client.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:
                    pass  # the server forgot it: a restart, a failover, SCRIPT FLUSH
            reply = self.client.eval(script.source, len(keys), *keys, *args)
            self._scripts_sent.add(script.sha)
            return reply
        except FAILURES as error:
            raise _failure(request, error) from error

    def _pipeline(self, requests: list[Command | ScriptCall], source: bool) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            pipe.execute_command(*_command(request, source=source))
        return pipe.execute(raise_on_error=False)

    def _send_batch(self, batch: Batch) -> list[Any]:
        replies = self._pipeline(list(batch.requests), source=False)
        unknown = _unknown_scripts(replies)
        if unknown:
            again = self._pipeline([batch.requests[i] for i in unknown], source=True)
            for i, reply in zip(unknown, again, strict=True):
                replies[i] = reply
        return _batch_replies(batch, replies)

    def _run(self, operation: Operation[T]) -> T:
        reply = None
        try:
            while True:
                reply = self._send(operation.send(reply))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _batches(self, iteration: Iteration) -> Iterator[list[str]]:
        """The batches of values an iterating operation emits."""
        reply = None
        while True:
            try:
                request = iteration.send(reply)
            except StopIteration:
                return
            if isinstance(request, Emit):
                reply = None
                yield request.values
            else:
                reply = self._send(request)

    def _iterate(self, iteration: Iteration) -> Iterator[str]:
        for batch in self._batches(iteration):
            yield from batch

    def get(self, session_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return self._run(self._core.get(session_id, fields))

    def set(
        self, session_id: str, values: Mapping[str, Any], max_age: MaxAge | None = None
    ) -> None:
        self._run(self._core.set(session_id, values, max_age))

    def unset(self, session_id: str, fields: Iterable[str], max_age: MaxAge | None = None) -> None:
        self._run(self._core.unset(session_id, fields, max_age))

    def incr(
        self, session_id: str, field: str, amount: int = 1, max_age: MaxAge | None = None
    ) -> int:
        return self._run(self._core.incr(session_id, field, amount, max_age)) or 0

    def touch(self, session_id: str, max_age: MaxAge | None = None) -> bool:
        return self._run(self._core.touch(session_id, max_age))

    def delete(self, session_id: str) -> bool:
        return self._run(self._core.delete(session_id))

    def regenerate(self, session_id: str) -> str:
        return self._run(self._core.regenerate(session_id))

    def exists(self, session_id: str) -> bool:
        return self._run(self._core.exists(session_id))

    def info(self, session_id: str) -> SessionInfo | None:
        return self._run(self._core.info(session_id))

    def sessions(self, field: str, value: str | int) -> list[str]:
        return self._run(self._core.sessions(field, value))

    def iter_sessions(self, field: str, value: str | int, batch_size: int = 500) -> Iterator[str]:
        return self._iterate(self._core.iter_sessions(field, value, batch_size))

    def count(self, field: str, value: str | int) -> int:
        return self._run(self._core.count(field, value))

    def delete_all(self, field: str, value: str | int, *, keep: Iterable[str] = ()) -> int:
        return self._run(self._core.delete_all(field, value, keep=keep))


def _forget_connections(client: AsyncClient) -> None:
    """Drops the client's pooled connections, without closing them.

    redis.asyncio connections belong to the event loop that opened them. A store used
    from a new loop (Starlette's and FastAPI's ``TestClient`` without ``with`` runs each
    request in a loop of its own; so do repeated ``asyncio.run`` calls) would otherwise
    hand it connections of a closed loop and fail with "Event loop is closed". Their old
    loop is gone, so they cannot be closed; new ones open on demand.
    """
    if isinstance(client, redis.asyncio.RedisCluster):
        for node in client.get_nodes():
            node._connections.clear()
            node._free.clear()
        return
    pool = client.connection_pool
    pool.reset()  # type: ignore[no-untyped-call]
    # The pool's asyncio primitives may be bound to the old loop too.
    if hasattr(pool, "_lock"):
        pool._lock = asyncio.Lock()
    if hasattr(pool, "_condition"):
        pool._condition = asyncio.Condition()


class AsyncStore(_StoreBase):
    """Sessions in Redis, for asyncio (a ``redis.asyncio.Redis`` or ``RedisCluster``)."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
    ) -> None:
        super().__init__(
            references=references,
            max_age=max_age,
            absolute_max_age=absolute_max_age,
            prefix=prefix,
            id_bytes=id_bytes,
            cluster=isinstance(client, redis.asyncio.RedisCluster),
        )
        self.client = client
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _send(self, request: Request) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                _forget_connections(self.client)
            self._loop = loop
        try:
            if self._core.cluster:
                # redis-py's asyncio RedisCluster breaks connections when commands run
                # concurrently before it has discovered the nodes; this waits for that
                # discovery (under the client's lock) and is a no-op afterwards.
                await self.client.initialize()
            if isinstance(request, Batch):
                return await self._send_batch(request)
            if isinstance(request, Command):
                return await self.client.execute_command(*request.args)
            script, keys, args = request.script, request.keys, request.args
            if script.sha in self._scripts_sent:
                try:
                    return await self.client.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:
                    pass  # the server forgot it: a restart, a failover, SCRIPT FLUSH
            reply = await self.client.eval(script.source, len(keys), *keys, *args)
            self._scripts_sent.add(script.sha)
            return reply
        except FAILURES as error:
            raise _failure(request, error) from error

    async def _pipeline(self, requests: list[Command | ScriptCall], source: bool) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            pipe.execute_command(*_command(request, source=source))
        return await pipe.execute(raise_on_error=False)

    async def _send_batch(self, batch: Batch) -> list[Any]:
        replies = await self._pipeline(list(batch.requests), source=False)
        unknown = _unknown_scripts(replies)
        if unknown:
            again = await self._pipeline([batch.requests[i] for i in unknown], source=True)
            for i, reply in zip(unknown, again, strict=True):
                replies[i] = reply
        return _batch_replies(batch, replies)

    async def _run(self, operation: Operation[T]) -> T:
        reply = None
        try:
            while True:
                reply = await self._send(operation.send(reply))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _iterate(self, iteration: Iteration) -> AsyncIterator[str]:
        reply = None
        while True:
            try:
                request = iteration.send(reply)
            except StopIteration:
                return
            if isinstance(request, Emit):
                reply = None
                for value in request.values:
                    yield value
            else:
                reply = await self._send(request)

    async def get(self, session_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return await self._run(self._core.get(session_id, fields))

    async def set(
        self, session_id: str, values: Mapping[str, Any], max_age: MaxAge | None = None
    ) -> None:
        await self._run(self._core.set(session_id, values, max_age))

    async def unset(
        self, session_id: str, fields: Iterable[str], max_age: MaxAge | None = None
    ) -> None:
        await self._run(self._core.unset(session_id, fields, max_age))

    async def incr(
        self, session_id: str, field: str, amount: int = 1, max_age: MaxAge | None = None
    ) -> int:
        return await self._run(self._core.incr(session_id, field, amount, max_age)) or 0

    async def touch(self, session_id: str, max_age: MaxAge | None = None) -> bool:
        return await self._run(self._core.touch(session_id, max_age))

    async def delete(self, session_id: str) -> bool:
        return await self._run(self._core.delete(session_id))

    async def regenerate(self, session_id: str) -> str:
        return await self._run(self._core.regenerate(session_id))

    async def exists(self, session_id: str) -> bool:
        return await self._run(self._core.exists(session_id))

    async def info(self, session_id: str) -> SessionInfo | None:
        return await self._run(self._core.info(session_id))

    async def sessions(self, field: str, value: str | int) -> list[str]:
        return await self._run(self._core.sessions(field, value))

    def iter_sessions(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> AsyncIterator[str]:
        return self._iterate(self._core.iter_sessions(field, value, batch_size))

    async def count(self, field: str, value: str | int) -> int:
        return await self._run(self._core.count(field, value))

    async def delete_all(self, field: str, value: str | int, *, keep: Iterable[str] = ()) -> int:
        return await self._run(self._core.delete_all(field, value, keep=keep))
