"""Open WebSockets of ended sessions are closed (code 4001): a real uvicorn serving a
Starlette app on the library's middleware, real websocket clients, real Redis servers
(single and a 3-primary cluster), and the endings done by another store, as another
process would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from redis.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from redis_session_sets import AsyncStore, SessionMiddleware, Store, get_session
from redis_session_sets._web import revocation
from redis_session_sets.starlette import DictSessionMiddleware
from tests.support.servers import RedisServer
from tests.support.topologies import ClusterServers
from tests.web.test_uvicorn import Served

KEYS = ["revocation-test-key"]
CHANNEL = "rss:ended"
WAIT = 10.0  # seconds before a test gives up waiting (never a timing assertion)


class Gate:
    """Holds the app's WebSocket handshakes between reading the session and accepting."""

    def __init__(self) -> None:
        self.reached, self.open = threading.Event(), threading.Event()

    async def wait(self) -> None:
        self.reached.set()
        while not self.open.is_set():
            await asyncio.sleep(0.01)


def make_app(
    store: AsyncStore, *, dict_sessions: bool = False, gate: Gate | None = None, **options: Any
) -> Starlette:
    async def login(request: Request) -> JSONResponse:
        user = int(request.query_params["user"])
        if dict_sessions:
            request.session["user_id"] = user
            return JSONResponse({})
        session = get_session(request)
        await session.set({"user_id": user})
        return JSONResponse({"id": session.id})

    async def plain(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def echo(websocket: WebSocket) -> None:
        if dict_sessions:
            signed_in = "user_id" in websocket.session
        else:
            signed_in = "user_id" in await get_session(websocket).get()
        if not signed_in:
            await websocket.close(1008)
            return
        if gate is not None:
            await gate.wait()
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    middleware = DictSessionMiddleware if dict_sessions else SessionMiddleware
    return Starlette(
        routes=[Route("/login", login), Route("/plain", plain), WebSocketRoute("/ws", echo)],
        middleware=[Middleware(middleware, store=store, secret_keys=KEYS, **options)],
    )


class Site:
    """The app under uvicorn, its store, and a second store (another process's) that ends
    sessions."""

    def __init__(self, served: Served, store: AsyncStore, other: Store, raw: Any) -> None:
        self.served, self.store, self.other, self.raw = served, store, other, raw
        self.known: set[str] = set()

    def login(self, user: int) -> tuple[str, str]:
        """Signs in over HTTP; returns the session id and the Cookie header."""
        with httpx.Client(base_url=self.served.url) as client:
            response = client.get("/login", params={"user": user})
            response.raise_for_status()
            cookie = f"session-id={response.cookies['session-id']}"
        [session_id] = [i for i in self.other.sessions("user_id", user) if i not in self.known]
        self.known.add(session_id)
        return session_id, cookie

    @asynccontextmanager
    async def socket(self, cookie: str) -> AsyncIterator[ClientConnection]:
        url = self.served.url.replace("http://", "ws://") + "/ws"
        async with connect(url, additional_headers={"Cookie": cookie}) as websocket:
            await assert_open(websocket)
            yield websocket

    def registry(self) -> revocation.Revocations | None:
        return revocation._registries.get(self.store)

    def wait_checked(self, checks: int = 1) -> None:
        """Until the subscription is up and has checked the open sockets ``checks`` times:
        from then on only a message (or a new subscription's check) can close a socket."""
        wait_until(lambda: (r := self.registry()) is not None and r.checks >= checks)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


async def assert_open(websocket: ClientConnection) -> None:
    await websocket.send("ping")
    assert await asyncio.wait_for(websocket.recv(), WAIT) == "ping"


async def assert_closed_as_ended(websocket: ClientConnection) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # an echo in flight may come first
            await asyncio.wait_for(websocket.recv(), WAIT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "session ended")


def numsub(raw: redis.Redis) -> int:
    """How many subscribe to the store's channel (single server)."""
    [(_, count)] = raw.pubsub_numsub(CHANNEL)
    return int(count)


@pytest.fixture
def site(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Site]:
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_server.url), references=["user_id"])
    other = Store(redis.Redis(port=redis_server.port), references=["user_id"])
    with Served(make_app(store)) as served:
        site = Site(served, store, other, raw)
        yield site


@pytest.fixture
def cluster_site(cluster: ClusterServers) -> Iterator[Site]:
    cluster.flush()
    nodes = [redis.asyncio.cluster.ClusterNode("127.0.0.1", node.port) for node in cluster.nodes]
    store = AsyncStore(redis.asyncio.RedisCluster(startup_nodes=nodes), references=["user_id"])
    raw = RedisCluster(startup_nodes=cluster.startup_nodes)
    other = Store(RedisCluster(startup_nodes=cluster.startup_nodes), references=["user_id"])
    with Served(make_app(store)) as served:
        site = Site(served, store, other, raw)
        yield site
    raw.close()


ENDINGS: dict[str, Callable[[Store, str], Any]] = {
    "delete": lambda store, session_id: store.delete(session_id),
    "delete_all": lambda store, session_id: store.delete_all("user_id", 1),
    "regenerate": lambda store, session_id: store.regenerate(session_id),
    "delete with a reason": lambda store, session_id: store.delete(session_id, reason="revoked"),
    "limit": lambda store, session_id: sign_in_under_a_limit(store),
}


def sign_in_under_a_limit(store: Store) -> None:
    """Another process, whose store has a limit of one session per user, signs user 1 in:
    the limit ends the user's other session."""
    limited = Store(store.client, references=["user_id"], limits={"user_id": 1})
    limited.set(limited.create_session_id(), {"user_id": 1})


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_socket_closes_when_its_session_ends(site: Site, ending: str) -> None:
    ended, ended_cookie = site.login(1)
    _, other_cookie = site.login(2)
    async with site.socket(ended_cookie) as doomed, site.socket(other_cookie) as bystander:
        site.wait_checked()
        await assert_open(doomed)
        ENDINGS[ending](site.other, ended)
        await assert_closed_as_ended(doomed)
        await assert_open(bystander)  # another session's socket stays open


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_socket_closes_when_its_session_ends_on_a_cluster(
    cluster_site: Site, ending: str
) -> None:
    site = cluster_site
    ended, ended_cookie = site.login(1)
    _, other_cookie = site.login(2)
    async with site.socket(ended_cookie) as doomed, site.socket(other_cookie) as bystander:
        site.wait_checked()
        ENDINGS[ending](site.other, ended)
        await assert_closed_as_ended(doomed)
        await assert_open(bystander)


async def test_delete_all_closes_each_socket_of_the_user_but_the_kept_one(site: Site) -> None:
    _, first_cookie = site.login(1)
    kept, kept_cookie = site.login(1)
    _, third_cookie = site.login(1)
    async with (
        site.socket(first_cookie) as a,
        site.socket(first_cookie) as a_again,
        site.socket(kept_cookie) as b,
        site.socket(third_cookie) as c,
    ):
        site.wait_checked()
        assert site.other.delete_all("user_id", 1, keep=[kept]) == 2
        for websocket in (a, a_again, c):
            await assert_closed_as_ended(websocket)
        await assert_open(b)


async def test_no_subscription_until_the_first_socket(site: Site) -> None:
    _, cookie = site.login(1)
    with httpx.Client(base_url=site.served.url, headers={"Cookie": cookie}) as client:
        for _ in range(3):
            assert client.get("/plain").status_code == 200
    # HTTP requests (one that wrote the session, ones that did not use it) pay nothing.
    assert site.registry() is None
    assert numsub(site.raw) == 0
    async with site.socket(cookie):
        wait_until(lambda: numsub(site.raw) == 1)
        async with site.socket(cookie):
            assert numsub(site.raw) == 1  # one subscription per process and store


async def test_an_ending_missed_while_the_subscription_was_down_still_closes(site: Site) -> None:
    ended, ended_cookie = site.login(1)
    _, other_cookie = site.login(2)
    async with site.socket(ended_cookie) as doomed, site.socket(other_cookie) as bystander:
        site.wait_checked()
        # Gone without a message (as if it was published while no one listened): only the
        # check of a new subscription can close the socket.
        site.raw.delete(site.other.get_session_key(ended))
        await assert_open(doomed)
        site.raw.client_kill_filter(_type="pubsub")
        await assert_closed_as_ended(doomed)
        site.wait_checked(2)
        await assert_open(bystander)


async def test_a_socket_closes_when_its_session_ends_as_the_subscription_is_killed(
    site: Site,
) -> None:
    ended, ended_cookie = site.login(1)
    async with site.socket(ended_cookie) as doomed:
        site.wait_checked()
        site.raw.client_kill_filter(_type="pubsub")
        site.other.delete(ended)
        await assert_closed_as_ended(doomed)
        # Subscribed again: later endings are heard.
        site.wait_checked(2)
        again, again_cookie = site.login(1)
        async with site.socket(again_cookie) as next_one:
            site.other.delete(again)
            await assert_closed_as_ended(next_one)


async def test_a_session_ended_during_the_handshake_closes_its_socket(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    """The socket is registered from its cookie before the app runs: an ending between
    the app's read of the session and its accept is not missed."""
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_server.url), references=["user_id"])
    other = Store(redis.Redis(port=redis_server.port), references=["user_id"])
    gate = Gate()
    with Served(make_app(store, gate=gate)) as served:
        site = Site(served, store, other, raw)
        session_id, cookie = site.login(1)
        url = served.url.replace("http://", "ws://") + "/ws"

        async def talk() -> None:
            opening = asyncio.ensure_future(connect(url, additional_headers={"Cookie": cookie}))
            await asyncio.to_thread(gate.reached.wait, WAIT)
            site.wait_checked()
            other.delete(session_id)
            # The message was handled: the socket left the registry, before its accept.
            registry = site.registry()
            assert registry is not None
            wait_until(lambda: session_id not in registry.sockets)
            gate.open.set()
            async with await opening as websocket:
                await assert_closed_as_ended(websocket)

        await talk()


def test_without_close_ended_websockets_nothing_subscribes(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_server.url), references=["user_id"])
    other = Store(redis.Redis(port=redis_server.port), references=["user_id"])
    app = make_app(store, close_ended_websockets=False)
    with Served(app) as served:
        site = Site(served, store, other, raw)
        session_id, cookie = site.login(1)

        async def talk() -> None:
            async with site.socket(cookie) as websocket:
                other.delete(session_id)
                await assert_open(websocket)  # not closed: the option is off

        asyncio.run(talk())
        assert site.registry() is None
        assert numsub(raw) == 0


def test_dict_sessions_close_ended_websockets_too(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_server.url), references=["user_id"])
    other = Store(redis.Redis(port=redis_server.port), references=["user_id"])
    with Served(make_app(store, dict_sessions=True)) as served:
        site = Site(served, store, other, raw)
        session_id, cookie = site.login(1)
        _, other_cookie = site.login(2)

        async def talk() -> None:
            async with site.socket(cookie) as doomed, site.socket(other_cookie) as bystander:
                site.wait_checked()
                other.delete(session_id)
                await assert_closed_as_ended(doomed)
                await assert_open(bystander)

        asyncio.run(talk())
