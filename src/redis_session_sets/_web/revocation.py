"""Closing the open WebSockets of sessions that end (docs/design.md, "Ended means ended").

The scripts that end sessions (``delete``, ``delete_all``, a limit's evictions,
``regenerate`` of the old id) publish the ended ids on the store's channel
(``<prefix>:ended``), from whichever process ran them. ``SessionMiddleware`` hands each
WebSocket scope to ``serve_websocket``, which registers the socket under its session id
with the ``Revocations`` of its store; one Pub/Sub subscription per process and store
(opened with the first WebSocket, none before) hears the ids and closes their sockets
with code 4001 at once.

A subscription can be lost (a restart, a failover, ``CLIENT KILL``) and an ending
published meanwhile would go unheard. So whenever the subscription is (re)established,
once Redis confirms it, every open socket's session is checked (``EXISTS``, one pipeline):
a session ended meanwhile is gone, and its socket is closed too.

A plain HTTP request never comes here: it pays nothing for this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._drivers.async_ import AsyncStore
from .._drivers.subscription import Subscription, subscribe
from .._engine.core import StoreCore
from .._engine.errors import SessionStoreError
from .._engine.keys import ended_channel
from .._engine.protocol import Batch, Command, Operation

logger = logging.getLogger("redis_session_sets")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

# The WebSocket close code of a socket whose session ended (4000-4999: the application's).
CLOSE_CODE = 4001
CLOSE_REASON = "session ended"
# Seconds between two PINGs of an idle subscription (a dead connection shows up then).
PING_EVERY = 15.0
# Seconds a subscription stays open once no socket is left (a new socket reuses it).
IDLE_FOR = 60.0
# Retry delays after a failure, in seconds: doubling from the first up to the last.
RETRY_FIRST, RETRY_MAX = 0.05, 2.0
# EXISTS per pipeline when the open sockets' sessions are checked.
CHECK_BATCH = 1000


class SessionEnded(ConnectionError):
    """Raised by ``send`` once the middleware closed the socket because its session ended
    (an ``OSError``, as servers raise for a client gone: Starlette's ``WebSocket`` turns it
    into ``WebSocketDisconnect``)."""


class Socket:
    """One open WebSocket: its session, the server's ``send``, and whether it is closed."""

    __slots__ = ("accepted", "closed", "current_id", "ended", "lock", "send", "session_id")

    def __init__(self, current_id: Callable[[], str | None], send: Send) -> None:
        self.current_id = current_id  # the id the request's session has now, if any
        self.send = send
        self.session_id: str | None = None  # the id it is registered under
        self.accepted = False
        self.ended = False  # its session ended (closed now, or as soon as it is accepted)
        self.closed = False  # a close was sent (by the app or by us)
        self.lock = asyncio.Lock()  # the app's sends and our close never interleave

    async def close(self) -> None:
        """Closes the socket with CLOSE_CODE (once accepted; before, when it is)."""
        self.ended = True
        if not self.accepted:
            return
        async with self.lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.send(
                    {"type": "websocket.close", "code": CLOSE_CODE, "reason": CLOSE_REASON}
                )


def exists_each(core: StoreCore, ids: list[str]) -> Operation[list[bool]]:
    """Whether each session exists: one pipeline of EXISTS (per node on a cluster)."""
    replies = yield Batch(tuple(Command(("EXISTS", core.session_key(i))) for i in ids))
    return [bool(int(reply)) for reply in replies]


class Revocations:
    """The open sockets of one store in one event loop, by session id, and the Pub/Sub
    subscription that closes them when their session ends."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self.channel = ended_channel(store.core.prefix)
        self.loop = asyncio.get_running_loop()
        self.sockets: dict[str, set[Socket]] = {}
        self.task: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # closes under way
        self.checks = 0  # how often the open sockets' sessions were checked (subscriptions)

    # -- the registry -----------------------------------------------------------------

    def add(self, socket: Socket, session_id: str) -> None:
        if socket.session_id == session_id:
            return
        self.discard(socket)
        socket.session_id = session_id
        self.sockets.setdefault(session_id, set()).add(socket)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run(), name=f"rss-revocations {self.channel}")

    def discard(self, socket: Socket) -> None:
        session_id, socket.session_id = socket.session_id, None
        if session_id is None:
            return
        sockets = self.sockets.get(session_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[session_id]

    def ended(self, session_ids: list[str]) -> None:
        """Closes the sockets of sessions that ended. A socket whose request moved its
        session to another id meanwhile (it regenerated, or wrote anew after a delete)
        stays open, under the new id."""
        for session_id in session_ids:
            for socket in list(self.sockets.get(session_id, ())):
                current = socket.current_id()
                if current is not None and current != session_id:
                    self.add(socket, current)
                    continue
                self.discard(socket)
                task = self.loop.create_task(socket.close())
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    # -- the subscription ----------------------------------------------------------------

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                async with subscribe(self.store, self.channel) as subscription:
                    await self._listen(subscription)
                # Idle: no socket was left for a while. Decided without an await in
                # between, so a socket added meanwhile finds this task done and starts one.
                if not self.sockets:
                    return
                continue
            except SessionStoreError as error:
                logger.warning(
                    "redis-session-sets: the subscription to %s failed (%s); retrying",
                    self.channel,
                    error,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _listen(self, subscription: Subscription) -> None:
        """Handles events until the connection fails (SessionStoreError) or no socket
        was left for IDLE_FOR seconds (returns)."""
        idle_since: float | None = None
        while True:
            event = await subscription.get(timeout=PING_EVERY)
            if event is None:
                if not self.sockets:
                    now = self.loop.time()
                    if idle_since is not None and now - idle_since >= IDLE_FOR:
                        return
                    idle_since = idle_since or now
                else:
                    idle_since = None
                await subscription.ping()
                continue
            kind, data = event
            if kind == "subscribe":
                # (Re)established, by us or by redis-py's reconnection: anything ended
                # while no subscription listened is found by checking every open socket.
                await self._check_all()
            elif kind == "message":
                self.ended(data.split())

    async def _check_all(self) -> None:
        ids = list(self.sockets)
        for start in range(0, len(ids), CHECK_BATCH):
            chunk = ids[start : start + CHECK_BATCH]
            found = await self.store.run(exists_each(self.store.core, chunk))
            self.ended([i for i, alive in zip(chunk, found, strict=True) if not alive])
        self.checks += 1


# One Revocations per store (and event loop: a subscription's connection belongs to the
# loop that opened it, and tests run several).
_registries: weakref.WeakKeyDictionary[AsyncStore, Revocations] = weakref.WeakKeyDictionary()


def revocations_for(store: AsyncStore) -> Revocations:
    registry = _registries.get(store)
    if registry is None or registry.loop is not asyncio.get_running_loop():
        registry = _registries[store] = Revocations(store)
    return registry


async def serve_websocket(
    app: ASGIApp,
    scope: MutableMapping[str, Any],
    receive: Receive,
    send: Send,
    *,
    store: AsyncStore,
    current_id: Callable[[], str | None],
) -> None:
    """Runs the app on a WebSocket scope, closing the socket (code 4001) if its session
    ends while it is open. ``current_id()`` tells the id the request's session has now
    (None: none); ``send`` is the middleware's (it adds the cookie on accept)."""
    registry = revocations_for(store)
    socket = Socket(current_id, send)
    session_id = current_id()  # the cookie's: registered before the app runs
    if session_id is not None:
        registry.add(socket, session_id)

    async def watched_send(message: Message) -> None:
        kind = message["type"]
        async with socket.lock:
            if socket.closed:
                if kind == "websocket.close":
                    return  # the app closing a socket we closed: nothing left to do
                raise SessionEnded(f"the socket was closed (code {CLOSE_CODE}): {CLOSE_REASON}")
            await send(message)
            if kind == "websocket.close":
                socket.closed = True
        if kind == "websocket.accept":
            socket.accepted = True
            current = current_id()  # the handshake may have written or regenerated
            if current is not None and not socket.ended:
                registry.add(socket, current)
            if socket.ended:
                await socket.close()

    try:
        await app(scope, receive, watched_send)
    finally:
        registry.discard(socket)
