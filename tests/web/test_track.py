"""``track``: the device (user agent, address) kept with the session's own writes, never
with a round trip of its own; in the ASGI and WSGI middlewares, the Starlette dict
sessions, Flask (``SESSION_TRACK``) and Django (``SESSION_REDIS_TRACK``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask, session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from werkzeug.test import Client as WerkzeugClient

from redis_session_sets import (
    AsyncStore,
    SessionMiddleware,
    Store,
    WSGISessionMiddleware,
    get_session,
)
from redis_session_sets._web.device import user_agent
from redis_session_sets.flask import RedisSessionInterface
from redis_session_sets.starlette import DictSession, DictSessionMiddleware
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter

KEYS = ["track-key"]
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
CLIENT = ("203.0.113.7", 51000)
TRACK = ("user_agent", "ip")


def device_of(raw: redis.Redis, session_id: str) -> tuple[Any, Any]:
    ua, ip = raw.hmget(f"rss:s:{{{session_id}}}", ["__ua", "__ip"])
    return (None if ua is None else json.loads(ua)), (None if ip is None else json.loads(ip))


def asgi_app(store: AsyncStore, **options: Any) -> Starlette:
    async def login(request: Request) -> Response:
        session = get_session(request)
        await session.regenerate()
        await session.set({"user_id": 1})
        return JSONResponse({"id": session.id})

    async def write(request: Request) -> Response:
        session = get_session(request)
        await session.set({"n": 1})
        return JSONResponse({"id": session.id})

    async def count(request: Request) -> Response:
        session = get_session(request)
        return JSONResponse({"n": await session.incr("visits"), "id": session.id})

    async def read(request: Request) -> Response:
        session = get_session(request)
        return JSONResponse({"data": await session.get(), "id": session.id})

    async def touch(request: Request) -> Response:
        return JSONResponse({"ok": await get_session(request).touch()})

    routes = [
        Route("/login", login),
        Route("/write", write),
        Route("/count", count),
        Route("/read", read),
        Route("/touch", touch),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SessionMiddleware, store=store, secret_keys=KEYS, **options)],
    )


def asgi_client(app: Any, user_agent: str = FIREFOX) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": user_agent}
    )


async def test_the_device_rides_with_each_write_and_costs_no_round_trip(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    """The same requests with and without ``track`` send the same commands, one each."""
    sent: dict[bool, list[list[str]]] = {}
    for tracked in (False, True):
        raw.flushdb()
        store = AsyncStore(async_client, references=["user_id"])
        app = asgi_app(store, track=TRACK if tracked else ())
        per_request = []
        async with asgi_client(app) as client:
            for path in ("/login", "/write", "/count", "/touch", "/read"):
                with CommandCounter(raw) as counter:
                    response = await client.get(path)
                assert response.status_code == 200
                per_request.append([command.split()[0] for command in counter.commands])
        session_id = response.json()["id"]
        expected = (FIREFOX, CLIENT[0]) if tracked else (None, None)
        assert device_of(raw, session_id) == expected
        info = await store.info(session_id)
        assert info is not None and (info.user_agent, info.ip) == expected
        [listed] = await store.session_infos("user_id", 1)
        assert (listed.user_agent, listed.ip) == expected
        sent[tracked] = per_request
    assert sent[True] == sent[False]
    # login: regenerate, then set; then one each (the read: HGETALL, no write).
    assert [len(commands) for commands in sent[True]] == [2, 1, 1, 1, 1], sent[True]


async def test_each_write_keeps_the_latest_device_and_renewals_do_too(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    store = AsyncStore(async_client, references=["user_id"])
    app = asgi_app(store, track=TRACK, touch_interval=timedelta(0))
    async with asgi_client(app) as client:
        session_id = (await client.get("/login")).json()["id"]
        client.headers["User-Agent"] = "curl/8.5.0"
        await client.get("/read")  # a renewal (touch_interval 0): a write, with the device
        assert device_of(raw, session_id) == ("curl/8.5.0", CLIENT[0])
        long = "Mozilla/5.0 " + "x" * 600
        client.headers["User-Agent"] = long
        await client.get("/write")
    agent, _ = device_of(raw, session_id)
    assert agent == long[:512]  # the header's first 512 bytes


def test_a_user_agent_is_its_header_first_512_bytes() -> None:
    raw = "é".encode() * 400  # 800 bytes (UTF-8, as a client may send)
    assert user_agent(raw) == raw[:512].decode("latin-1")  # the bytes, as WSGI reads them
    assert user_agent(raw[:512].decode("latin-1")) == user_agent(raw)  # WSGI's str: the same
    assert user_agent(b"") is None and user_agent(None) is None


async def test_only_what_is_asked_for_is_kept(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    for track, expected in (
        (("ip",), (None, CLIENT[0])),
        (("user_agent",), (FIREFOX, None)),
        ((), (None, None)),  # the default: nothing (an address is personal data)
    ):
        app = asgi_app(AsyncStore(async_client, references=["user_id"]), track=track)
        async with asgi_client(app) as client:
            session_id = (await client.get("/write")).json()["id"]
        assert device_of(raw, session_id) == expected
        stored = set(raw.hgetall(f"rss:s:{{{session_id}}}"))
        kept = {name for name, fact in zip((b"__ua", b"__ip"), expected, strict=True) if fact}
        assert stored & {b"__ua", b"__ip"} == kept


def test_bad_track_options_are_refused_at_start_up(async_client: redis.asyncio.Redis) -> None:
    store = AsyncStore(async_client)

    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    with pytest.raises(ValueError, match="track"):
        SessionMiddleware(app, store=store, secret_keys=KEYS, track=("user_agent", "mac"))
    with pytest.raises(TypeError, match="track"):
        SessionMiddleware(app, store=store, secret_keys=KEYS, track="ip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="track"):
        DictSessionMiddleware(app, store=store, secret_keys=KEYS, track=("cookie",))


async def test_dict_sessions_keep_the_device(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    async def login(request: Request) -> Response:
        request.session["user_id"] = 1
        return JSONResponse({})

    async def who(request: Request) -> Response:
        session = request.session
        assert isinstance(session, DictSession)
        return JSONResponse({"id": session.session_id})

    store = AsyncStore(async_client, references=["user_id"])
    app = Starlette(
        routes=[Route("/login", login), Route("/who", who)],
        middleware=[Middleware(DictSessionMiddleware, store=store, secret_keys=KEYS, track=TRACK)],
    )
    async with asgi_client(app) as client:
        await client.get("/login")
        session_id = (await client.get("/who")).json()["id"]
    assert device_of(raw, session_id) == (FIREFOX, CLIENT[0])


@pytest.fixture
def sync_store(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Store]:
    client = redis.Redis(port=redis_server.port)
    yield Store(client, references=["user_id"])
    client.close()


def test_wsgi_middleware_keeps_the_device(sync_store: Store, raw: redis.Redis) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = get_session(environ)
        session.regenerate()
        session.set({"user_id": 1})
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [session.id.encode()]

    wrapped = WSGISessionMiddleware(app, store=sync_store, secret_keys=KEYS, track=TRACK)
    client = WerkzeugClient(wrapped)
    with CommandCounter(raw) as counter:
        response = client.get(
            "/", headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": "198.51.100.4"}
        )
    assert len(counter.commands) == 2  # regenerate, set: the device rode with both
    session_id = response.get_data(as_text=True)
    assert device_of(raw, session_id) == (FIREFOX, "198.51.100.4")


def test_flask_session_track(sync_store: Store, raw: redis.Redis) -> None:
    app = Flask(__name__)
    app.secret_key = "flask-key"
    app.session_interface = RedisSessionInterface(sync_store)

    @app.get("/login")
    def login() -> str:
        session["user_id"] = 1
        return "ok"

    client = app.test_client()
    client.get("/login", headers={"User-Agent": FIREFOX})
    [untracked] = sync_store.sessions("user_id", 1)
    assert device_of(raw, untracked) == (None, None)  # off by default
    app.config["SESSION_TRACK"] = TRACK
    other = app.test_client()
    with CommandCounter(raw) as counter:
        other.get(
            "/login", headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
        )
    assert len(counter.commands) == 1  # the save, the device in it
    [tracked] = [i for i in sync_store.sessions("user_id", 1) if i != untracked]
    assert device_of(raw, tracked) == (FIREFOX, "192.0.2.1")


def test_django_session_redis_track(django_redis: redis.Redis) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from redis_session_sets.django import user_sessions

    user = get_user_model().objects.create_user("grace", password="pw")
    with override_settings(SESSION_REDIS_TRACK=TRACK):
        client = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="192.0.2.44")
        response = client.post("/login/", {"username": "grace", "password": "pw"})
        assert response.status_code == 200
        [info] = user_sessions(user)
    assert (info.user_agent, info.ip) == (FIREFOX, "192.0.2.44")
    untracked = Client(HTTP_USER_AGENT=FIREFOX)
    untracked.post("/login/", {"username": "grace", "password": "pw"})
    devices = {(info.user_agent, info.ip) for info in user_sessions(user)}
    assert devices == {(FIREFOX, "192.0.2.44"), (None, None)}
