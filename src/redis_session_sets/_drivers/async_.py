"""``AsyncStore``: the driver for asyncio (a ``redis.asyncio.Redis`` or ``RedisCluster``,
or valkey-py's ``valkey.asyncio.Valkey`` / ``ValkeyCluster``).

The twin of ``sync.Store``, line by line, differing only in ``await`` (see ``base``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar, cast

from .._engine.keys import MaxAge
from .._engine.protocol import (
    Arg,
    Batch,
    Command,
    Emit,
    Iteration,
    Operation,
    Request,
    ScriptCall,
)
from .._engine.types import SessionInfo
from . import compat
from .base import StoreBase, batch_replies, command_args, failure, unknown_scripts
from .clients import AsyncClient, RedisPyAsync
from .pipelining import AutoPipeline

T = TypeVar("T")


class AsyncStore(StoreBase):
    """Sessions in Redis, for asyncio: a ``redis.asyncio.Redis`` or ``RedisCluster`` (or
    a Sentinel's ``master_for``), or valkey-py's ``valkey.asyncio.Valkey`` /
    ``ValkeyCluster``.

    ``pipelining=True``: the operations that concurrent tasks start in the same loop
    iteration go to Redis together in one pipeline, each still atomic with its own result
    or exception (docs/design.md, "Auto-pipelining"); ``False`` sends each on its own
    pooled connection.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
        index_slack: MaxAge = timedelta(minutes=10),
        limits: Mapping[str, int] | None = None,
        end_reason_ttl: MaxAge = timedelta(days=7),
        pipelining: bool = True,
    ) -> None:
        super().__init__(
            client,
            references=references,
            max_age=max_age,
            absolute_max_age=absolute_max_age,
            prefix=prefix,
            id_bytes=id_bytes,
            index_slack=index_slack,
            limits=limits,
            end_reason_ttl=end_reason_ttl,
        )
        # A valkey-py client has redis-py's API: held under redis-py's types.
        self.client = cast("RedisPyAsync", client)
        self._loop: asyncio.AbstractEventLoop | None = None
        # pipelining: the commands that concurrent tasks start in one loop iteration go
        # out together as one pipeline, each with its own reply (see pipelining.py);
        # without it each command takes a pooled connection of its own.
        self._auto = AutoPipeline(client) if pipelining else None

    # -- driving the engine ------------------------------------------------------------

    async def run(self, operation: Operation[T]) -> T:
        """Runs an operation of the engine (``store.core.get(...)``...) to its result."""
        reply = None
        auto = None if self._cluster else self._auto
        try:
            while True:
                request = operation.send(reply)
                if (
                    auto is not None
                    and type(request) is Command
                    and self._loop is asyncio.get_running_loop()
                ):
                    # The common case, a plain command auto-pipelined on the loop of the
                    # previous call, without the coroutine of ``_send`` on the way.
                    try:
                        reply = await auto.submit(request.args)
                    except self._family.failures as error:
                        raise failure(request, error) from error
                else:
                    reply = await self._send(request)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]

    async def iterate(self, iteration: Iteration) -> AsyncIterator[list[str]]:
        """Runs an iterating operation, yielding each batch of values it emits."""
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
                reply = await self._send(request)

    async def _send(self, request: Request) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                compat.forget_connections(self.client, cluster=self._cluster)
            self._loop = loop
        try:
            if self._cluster:
                await compat.ready(self.client, cluster=True)
            if isinstance(request, Batch):
                return await self._send_batch(request)
            if isinstance(request, Command):
                return await self._execute(request.args)
            sha = request.script.sha
            if sha in self._scripts_sent:
                try:
                    return await self._execute(command_args(request))
                except self._family.no_script:
                    pass  # the server forgot it: a restart, a failover, SCRIPT FLUSH
            reply = await self._execute(command_args(request, source=True))
            self._scripts_sent.add(sha)
            return reply
        except self._family.failures as error:
            raise failure(request, error) from error

    def _execute(self, args: tuple[Arg, ...]) -> Awaitable[Any]:
        """One command: in the next auto-pipelined batch, or on its own connection.
        (Hands back the awaitable: no coroutine of its own on the way.)"""
        if self._auto is not None:
            return self._auto.submit(args)
        return cast("Awaitable[Any]", self.client.execute_command(*args))

    async def _pipeline(self, requests: list[Command | ScriptCall], source: bool) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            pipe.execute_command(*command_args(request, source=source))
        return await pipe.execute(raise_on_error=False)

    async def _send_batch(self, batch: Batch) -> list[Any]:
        replies = await self._pipeline(list(batch.requests), source=False)
        unknown = unknown_scripts(replies, self._family.no_script)
        if unknown:
            again = await self._pipeline([batch.requests[i] for i in unknown], source=True)
            for i, reply in zip(unknown, again, strict=True):
                replies[i] = reply
        return batch_replies(batch, replies)

    # -- the API ---------------------------------------------------------------------------

    async def get(self, session_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return await self.run(self.core.get(session_id, fields))

    async def set(
        self, session_id: str, values: Mapping[str, Any], max_age: MaxAge | None = None
    ) -> None:
        await self.run(self.core.set(session_id, values, max_age))

    async def update(
        self,
        session_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
        incr: Mapping[str, int] | None = None,
        max_age: MaxAge | None = None,
    ) -> dict[str, int]:
        """``set`` + ``unset`` + ``incr`` in one atomic round trip; the new value of each
        incremented field."""
        result = await self.run(self.core.update(session_id, values, unset, max_age, incr=incr))
        return result or {}

    async def unset(
        self, session_id: str, fields: Iterable[str], max_age: MaxAge | None = None
    ) -> None:
        await self.run(self.core.unset(session_id, fields, max_age))

    async def incr(
        self, session_id: str, field: str, amount: int = 1, max_age: MaxAge | None = None
    ) -> int:
        return await self.run(self.core.incr(session_id, field, amount, max_age)) or 0

    async def touch(self, session_id: str, max_age: MaxAge | None = None) -> bool:
        return await self.run(self.core.touch(session_id, max_age))

    async def delete(self, session_id: str, *, reason: str | None = None) -> bool:
        """Deletes the session; with a ``reason`` (1-64 characters), ``end_reason`` tells
        it for ``end_reason_ttl``."""
        return await self.run(self.core.delete(session_id, reason=reason))

    async def regenerate(self, session_id: str) -> str:
        return await self.run(self.core.regenerate(session_id))

    async def end_reason(self, session_id: str) -> str | None:
        """Why the session was ended, if it was with a reason (for ``end_reason_ttl``)."""
        return await self.run(self.core.end_reason(session_id))

    async def exists(self, session_id: str) -> bool:
        return await self.run(self.core.exists(session_id))

    async def info(self, session_id: str) -> SessionInfo | None:
        return await self.run(self.core.info(session_id))

    async def sessions(self, field: str, value: str | int, batch_size: int = 500) -> list[str]:
        return await self.run(self.core.sessions(field, value, batch_size))

    def iter_sessions(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> AsyncIterator[str]:
        # The core checks the arguments now; the iterator sends nothing until iterated.
        return _flatten(self.iterate(self.core.iter_sessions(field, value, batch_size)))

    async def count(self, field: str, value: str | int, batch_size: int = 500) -> int:
        return await self.run(self.core.count(field, value, batch_size))

    async def session_infos(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> list[SessionInfo]:
        return await self.run(self.core.session_infos(field, value, batch_size))

    async def delete_all(
        self,
        field: str,
        value: str | int,
        *,
        keep: Iterable[str] = (),
        reason: str | None = None,
    ) -> int:
        return await self.run(self.core.delete_all(field, value, keep=keep, reason=reason))


async def _flatten(batches: AsyncIterator[list[str]]) -> AsyncIterator[str]:
    async for batch in batches:
        for value in batch:
            yield value
