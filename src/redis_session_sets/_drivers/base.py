"""What the sync and async drivers share: the engine's core, the methods that need no
Redis, and how a request becomes client arguments and a failure a ``SessionStoreError``.

A driver is a thin shell: ``run(operation)`` sends each request an operation of the
engine yields (EVALSHA, with EVAL when the server answers NOSCRIPT; a ``Batch`` as one
pipeline, which a cluster client splits per node) and feeds the reply back. The public
methods (``get``, ``set``...) are one line each over ``run``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from .._engine.cluster import Cluster
from .._engine.core import StoreCore
from .._engine.errors import SessionStoreError
from .._engine.keys import MaxAge
from .._engine.protocol import Arg, Batch, Command, Request, ScriptCall
from .._engine.topology import SingleServer, Topology
from .clients import ClientFamily, family_of


def failure(request: Request, error: BaseException) -> SessionStoreError:
    what: Arg = "a pipeline"
    if isinstance(request, Command):
        what = request.args[0]
    elif isinstance(request, ScriptCall):
        what = request.script.name
    what = what.decode() if isinstance(what, bytes) else str(what)
    return SessionStoreError(f"Redis failed on {what}: {error}")


def command_args(request: Command | ScriptCall, *, source: bool = False) -> tuple[Arg, ...]:
    """A request as command arguments, for a pipeline: EVALSHA, or EVAL with ``source``."""
    if isinstance(request, Command):
        return request.args
    script, keys = request.script, request.keys
    head = ("EVAL", script.source) if source else ("EVALSHA", script.sha)
    return (*head, len(keys), *keys, *request.args)


def unknown_scripts(replies: list[Any], no_script: type[BaseException]) -> list[int]:
    """Positions whose script the server did not know (a restart, a failover, a new node):
    sent again with EVAL, which also caches them. Index updates are idempotent."""
    return [i for i, reply in enumerate(replies) if isinstance(reply, no_script)]


def batch_replies(batch: Batch, replies: list[Any]) -> list[Any]:
    """The replies of a batch, or the first failure among them as a SessionStoreError."""
    for request, reply in zip(batch.requests, replies, strict=True):
        if isinstance(reply, Exception):
            raise failure(request, reply) from reply
    return replies


def topology_for(is_cluster: bool) -> Topology:
    """The topology of a client, chosen once when the store is built."""
    return Cluster() if is_cluster else SingleServer()


class StoreBase:
    """What both drivers share: the core and the methods that need no Redis.

    ``core`` is the store's sans-IO ``StoreCore``; ``store.run(store.core.read(...))``
    and the like are how adapters drive operations the public methods do not offer.
    """

    core: StoreCore
    # The client's library (redis-py or valkey-py): which exceptions mean "Redis failed";
    # and whether the client is a cluster client.
    _family: ClientFamily
    _cluster: bool

    def __init__(
        self,
        client: object,
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
        self._family = family_of(client)
        self._cluster = self._family.is_cluster(client)
        self.core = StoreCore(
            references=references,
            max_age=max_age,
            absolute_max_age=absolute_max_age,
            prefix=prefix,
            id_bytes=id_bytes,
            index_slack=index_slack,
            limits=limits,
            end_reason_ttl=end_reason_ttl,
            topology=topology_for(self._cluster),
        )
        # Scripts this store has sent with EVAL, which runs a script and caches it in one
        # round trip; afterwards EVALSHA sends only its digest. So even the first use of
        # an operation is one round trip (EVALSHA first would meet NOSCRIPT, then EVAL).
        self._scripts_sent: set[str] = set()

    @property
    def references(self) -> tuple[str, ...]:
        return self.core.references

    @property
    def max_age(self) -> timedelta:
        return timedelta(milliseconds=self.core.max_age_ms)

    def create_session_id(self) -> str:
        return self.core.create_session_id()

    def get_session_key(self, session_id: str) -> str:
        return self.core.session_key(session_id)

    def get_reference_key(self, field: str, value: str | int) -> str:
        return self.core.reference_key(field, value)
