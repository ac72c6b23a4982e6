"""The demo's live badge: its WebSocket through a real uvicorn, on a real Redis, with a real
websocket client. The middleware closes it (code 4001) the moment its session is ended:
signed out from another device, by the limit, from the command line."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis
import redis.asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from redis_session_sets._cli import main
from redis_session_sets.demo import create_app, demo_store
from redis_session_sets.demo._app import SIGNED_OUT_ELSEWHERE
from tests.support.servers import RedisServer
from tests.web.test_uvicorn import Served

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_ID = re.compile(r'<code id="session-id">([^<]+)</code>')
WAIT = 10.0  # seconds before a test gives up waiting (never a timing assertion)


@pytest.fixture
def served(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Served]:
    store = demo_store(redis.asyncio.Redis.from_url(redis_server.url))
    with Served(create_app(store, secret_keys=["badge-test-key"])) as served:
        yield served


class Browser:
    """One device: a cookie jar on the served demo."""

    def __init__(self, served: Served) -> None:
        self.http = httpx.Client(base_url=served.url, headers={"user-agent": "Firefox/128.0"})
        self.ws_url = served.url.replace("http://", "ws://") + "/ws/badge"

    def sign_in(self, user_id: int = 1) -> str:
        page = self.http.get("/signin")
        token = CSRF.search(page.text)
        assert token
        answer = self.http.post("/signin", data={"user_id": user_id, "csrf_token": token[1]})
        assert answer.status_code == 303
        found = SESSION_ID.search(self.http.get("/").text)
        assert found
        return found.group(1)

    def csrf(self) -> str:
        token = CSRF.search(self.http.get("/").text)
        assert token
        return token[1]

    @asynccontextmanager
    async def badge(self) -> AsyncIterator[ClientConnection]:
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        async with connect(self.ws_url, additional_headers={"Cookie": cookie}) as websocket:
            yield websocket


async def closed_code(websocket: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(websocket.recv(), WAIT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_the_badge_says_who_and_closes_when_signed_out_elsewhere(served: Served) -> None:
    laptop, phone = Browser(served), Browser(served)
    laptop.sign_in()
    phone_id = phone.sign_in()
    async with phone.badge() as badge, laptop.badge() as laptops:
        state = json.loads(await asyncio.wait_for(badge.recv(), WAIT))
        assert state["name"] == "Ada Lovelace"
        assert 0 < state["expires_in"] <= 28 * 86400
        await asyncio.wait_for(laptops.recv(), WAIT)
        answer = laptop.http.post(
            "/sessions/end", data={"session_id": phone_id, "csrf_token": laptop.csrf()}
        )
        assert answer.status_code == 303
        assert await closed_code(badge) == 4001
        # The laptop's own badge stays open: its session was not ended.
        await laptops.send("refresh")
        state = json.loads(await asyncio.wait_for(laptops.recv(), WAIT))
        assert state["name"] == "Ada Lovelace"
    assert SIGNED_OUT_ELSEWHERE in phone_reason(phone)


def phone_reason(browser: Browser) -> str:
    """The sign-in page the ended device is sent to, with its message."""
    answer = browser.http.get("/")
    assert answer.headers["location"] == "/signin?m=ended"
    return browser.http.get(answer.headers["location"]).text.replace("\n", " ")


async def test_the_badge_of_the_device_the_limit_ends_closes(served: Served) -> None:
    devices = [Browser(served) for _ in range(4)]
    devices[0].sign_in()
    for other in devices[1:3]:
        other.sign_in()
    async with devices[0].badge() as badge:
        await asyncio.wait_for(badge.recv(), WAIT)
        devices[3].sign_in()  # the 4th: the least recently active (the first) is ended
        assert await closed_code(badge) == 4001
    assert "up to 3 devices" in phone_reason(devices[0])


async def test_the_badge_closes_when_revoked_from_the_command_line(
    served: Served, redis_server: RedisServer
) -> None:
    browser = Browser(served)
    browser.sign_in(user_id=42)
    async with browser.badge() as badge:
        await asyncio.wait_for(badge.recv(), WAIT)
        assert main(["--url", redis_server.url, "revoke", "user_id", "42"]) == 0
        assert await closed_code(badge) == 4001
    assert "revoked by an administrator" in phone_reason(browser)


async def test_a_badge_without_a_session_is_closed_as_ended(served: Served) -> None:
    visitor = Browser(served)
    visitor.http.get("/signin")  # a cookie, but no session in Redis
    async with visitor.badge() as badge:
        assert await closed_code(badge) == 4001
    async with Browser(served).badge() as badge:  # no cookie at all
        assert await closed_code(badge) == 4001


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


async def test_the_badge_says_offline_while_redis_is_down(own_server: RedisServer) -> None:
    """Redis down: the badge's socket is closed with 1011 (the page says "offline" and
    tries again), never a crash; with Redis back, it works again (here the session is
    gone: the new server is empty)."""
    from redis_session_sets.demo._serve import client_for

    client = client_for(own_server.url)
    app = create_app(demo_store(client), secret_keys=["badge-test-key"])
    with Served(app) as served:
        browser = Browser(served)
        browser.sign_in()
        async with browser.badge() as badge:
            await asyncio.wait_for(badge.recv(), WAIT)
            own_server.stop()
            async with browser.badge() as second:
                assert await closed_code(second) == 1011
            await badge.send("refresh")  # its session cannot be read: offline too
            assert await closed_code(badge) == 1011
        own_server.start()
        async with browser.badge() as badge:
            assert await closed_code(badge) == 4001
    # (The client's connections belong to uvicorn's loop, gone now: nothing to close here.)
