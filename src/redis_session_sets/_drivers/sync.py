"""``Store``: the driver for sync code (a ``redis.Redis`` or ``redis.RedisCluster``, or
valkey-py's ``valkey.Valkey`` / ``valkey.ValkeyCluster``).

All logic lives in the engine; this shell only sends what an operation asks for and feeds
the replies back (see ``base``). ``AsyncStore`` in ``async_`` is its twin, line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from itertools import chain
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
from .clients import RedisPySync, SyncClient
from .wire import pack_commands

T = TypeVar("T")


class Store(StoreBase):
    """Sessions in Redis, for sync code: a ``redis.Redis`` or ``redis.RedisCluster`` (or
    a Sentinel's ``master_for``), or valkey-py's ``valkey.Valkey`` / ``ValkeyCluster``."""

    # Whether commands go straight onto a connection of the client's pool (``_command``):
    # decided on first use.
    _direct: bool | None = None

    def __init__(
        self,
        client: SyncClient,
        *,
        references: Iterable[str] | Mapping[str, Any] = (),
        max_age: MaxAge = timedelta(days=28),
        absolute_max_age: MaxAge | None = None,
        prefix: str = "rss",
        id_bytes: int = 32,
        index_slack: MaxAge = timedelta(minutes=10),
        limits: Mapping[str, int] | None = None,
        end_reason_ttl: MaxAge = timedelta(days=7),
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
        self.client = cast("RedisPySync", client)

    # -- driving the engine ------------------------------------------------------------

    def run(self, operation: Operation[T]) -> T:
        """Runs an operation of the engine (``store.core.get(...)``...) to its result."""
        reply = None
        try:
            while True:
                reply = self._send(operation.send(reply))
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]

    def iterate(self, iteration: Iteration) -> Iterator[list[str]]:
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
                reply = self._send(request)

    def _send(self, request: Request) -> Any:
        try:
            if isinstance(request, Batch):
                return self._send_batch(request)
            if isinstance(request, Command):
                return self._command(request.args)
            script, keys, args = request.script, request.keys, request.args
            if script.sha in self._scripts_sent:
                try:
                    return self._command(("EVALSHA", script.sha, len(keys), *keys, *args))
                except self._family.no_script:
                    pass  # the server forgot it: a restart, a failover, SCRIPT FLUSH
            reply = self._command(("EVAL", script.source, len(keys), *keys, *args))
            self._scripts_sent.add(script.sha)
            return reply
        except self._family.failures as error:
            raise failure(request, error) from error

    def _command(self, args: tuple[Arg, ...]) -> Any:
        """One command, with its reply as ``client.execute_command`` returns it.

        On a plain client (not a cluster, not a single-connection one) it goes straight
        onto a connection of the client's pool, under the connection's retry policy and
        through the client's response callbacks: what ``execute_command`` does, without
        the rest of its path (its observability hooks, pool bookkeeping and argument
        packing take about half of its CPU per command; bench/NOTES.md)."""
        client: Any = self.client
        direct = self._direct
        if direct is None:
            direct = self._direct = (
                not self._cluster
                and hasattr(client, "connection_pool")
                and getattr(client, "connection", None) is None
                # client-side caching wraps the connections: its own path serves it
                and getattr(client.connection_pool, "cache", None) is None
            )
        if not direct:
            return client.execute_command(*args)
        pool = client.connection_pool
        no_name = compat.takes_no_command_name(pool)
        connection = pool.get_connection() if no_name else pool.get_connection(args[0])
        try:
            packed = pack_commands(connection, [args])  # DataError before anything is sent

            def exchange() -> Any:
                connection.send_packed_command(packed)  # connects and checks health first
                return connection.read_response()  # raises an error reply (ResponseError)

            def fail(error: BaseException) -> None:
                connection.disconnect()  # reconnected by the next attempt

            reply = connection.retry.call_with_retry(exchange, fail)
        finally:
            pool.release(connection)
        callback = client.response_callbacks.get(args[0])
        return reply if callback is None else callback(reply)

    def _pipeline(self, requests: list[Command | ScriptCall], source: bool) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            pipe.execute_command(*command_args(request, source=source))
        return pipe.execute(raise_on_error=False)

    def _send_batch(self, batch: Batch) -> list[Any]:
        replies = self._pipeline(list(batch.requests), source=False)
        unknown = unknown_scripts(replies, self._family.no_script)
        if unknown:
            again = self._pipeline([batch.requests[i] for i in unknown], source=True)
            for i, reply in zip(unknown, again, strict=True):
                replies[i] = reply
        return batch_replies(batch, replies)

    # -- the API ---------------------------------------------------------------------------

    def get(self, session_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return self.run(self.core.get(session_id, fields))

    def set(
        self, session_id: str, values: Mapping[str, Any], max_age: MaxAge | None = None
    ) -> None:
        self.run(self.core.set(session_id, values, max_age))

    def update(
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
        result = self.run(self.core.update(session_id, values, unset, max_age, incr=incr))
        return result or {}

    def unset(self, session_id: str, fields: Iterable[str], max_age: MaxAge | None = None) -> None:
        self.run(self.core.unset(session_id, fields, max_age))

    def incr(
        self, session_id: str, field: str, amount: int = 1, max_age: MaxAge | None = None
    ) -> int:
        return self.run(self.core.incr(session_id, field, amount, max_age)) or 0

    def touch(self, session_id: str, max_age: MaxAge | None = None) -> bool:
        return self.run(self.core.touch(session_id, max_age))

    def delete(self, session_id: str, *, reason: str | None = None) -> bool:
        """Deletes the session; with a ``reason`` (1-64 characters), ``end_reason`` tells
        it for ``end_reason_ttl``."""
        return self.run(self.core.delete(session_id, reason=reason))

    def regenerate(self, session_id: str) -> str:
        return self.run(self.core.regenerate(session_id))

    def end_reason(self, session_id: str) -> str | None:
        """Why the session was ended, if it was with a reason (for ``end_reason_ttl``)."""
        return self.run(self.core.end_reason(session_id))

    def exists(self, session_id: str) -> bool:
        return self.run(self.core.exists(session_id))

    def info(self, session_id: str) -> SessionInfo | None:
        return self.run(self.core.info(session_id))

    def sessions(self, field: str, value: str | int, batch_size: int = 500) -> list[str]:
        return self.run(self.core.sessions(field, value, batch_size))

    def iter_sessions(self, field: str, value: str | int, batch_size: int = 500) -> Iterator[str]:
        # The core checks the arguments now; the iterator sends nothing until iterated.
        return chain.from_iterable(self.iterate(self.core.iter_sessions(field, value, batch_size)))

    def count(self, field: str, value: str | int, batch_size: int = 500) -> int:
        return self.run(self.core.count(field, value, batch_size))

    def session_infos(
        self, field: str, value: str | int, batch_size: int = 500
    ) -> list[SessionInfo]:
        return self.run(self.core.session_infos(field, value, batch_size))

    def delete_all(
        self,
        field: str,
        value: str | int,
        *,
        keep: Iterable[str] = (),
        reason: str | None = None,
    ) -> int:
        return self.run(self.core.delete_all(field, value, keep=keep, reason=reason))
