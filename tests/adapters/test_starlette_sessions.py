"""``DictSessionMiddleware`` through Starlette and FastAPI (httpx's ASGITransport) on a
real Redis, beside Starlette's own cookie ``SessionMiddleware`` for the contrast."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from fastapi import FastAPI, Request
from itsdangerous import Signer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from redis_session_sets import AsyncStore, Store
from redis_session_sets._web.tokens import mint_token, session_id_for
from redis_session_sets.starlette import DictSession, DictSessionMiddleware
from tests.support.commandstats import commands, reset, scripts

COOKIE = "session-id"
KEYS = ["key-new", "key-old"]


class Hooks:
    """What a test lets the handlers wait for or do in the middle of a request."""

    barrier: asyncio.Barrier | None = None
    meanwhile: Any = None


def make_app(middleware: Middleware, hooks: Hooks) -> Starlette:
    async def login(request: StarletteRequest) -> PlainTextResponse:
        if isinstance(request.session, DictSession):
            request.session.regenerate()
        request.session["user_id"] = request.path_params["user"]
        return PlainTextResponse("ok")

    async def logout(request: StarletteRequest) -> PlainTextResponse:
        request.session.clear()
        return PlainTextResponse("ok")

    async def set_(request: StarletteRequest) -> PlainTextResponse:
        request.session[request.path_params["key"]] = request.path_params["value"]
        return PlainTextResponse("ok")

    async def del_meanwhile(request: StarletteRequest) -> PlainTextResponse:
        request.session.pop(request.path_params["key"], None)
        await hooks.meanwhile()  # another request writes to the session now
        return PlainTextResponse("ok")

    async def get(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(dict(request.session))

    async def nothing(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def bad(request: StarletteRequest) -> PlainTextResponse:
        request.session["thing"] = b"bytes"  # JSON cannot encode bytes
        return PlainTextResponse("ok")

    async def together(request: StarletteRequest) -> PlainTextResponse:
        assert hooks.barrier is not None
        await hooks.barrier.wait()  # both requests have loaded the session
        request.session[request.path_params["key"]] = request.path_params["value"]
        return PlainTextResponse("ok")

    routes = [
        Route("/login/{user}", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/set/{key}/{value}", set_),
        Route("/del-meanwhile/{key}", del_meanwhile),
        Route("/get", get),
        Route("/nothing", nothing),
        Route("/bad", bad),
        Route("/together/{key}/{value}", together),
    ]
    return Starlette(routes=routes, middleware=[middleware])


@pytest.fixture
def store(async_client: redis.asyncio.Redis) -> AsyncStore:
    return AsyncStore(async_client, references=["user_id"])


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


def ours(store: AsyncStore, **options: Any) -> Middleware:
    options.setdefault("secret_keys", KEYS)
    return Middleware(DictSessionMiddleware, store=store, **options)


@pytest.fixture
async def client(store: AsyncStore, hooks: Hooks) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(ours(store), hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def sign(token: str, key: str) -> str:
    signer = Signer(key.encode(), salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    return signer.sign(token).decode()


def set_cookie(client: httpx.AsyncClient, value: str) -> None:
    """Replaces the session cookie as a browser would (same domain as the server's)."""
    host = client.base_url.host
    client.cookies.set(COOKIE, value, domain=host if "." in host else f"{host}.local")


def token_of(client: httpx.AsyncClient) -> str:
    return client.cookies[COOKIE].rsplit(".", 1)[0]


def members(raw: redis.Redis, user: str) -> set[str]:
    found: list[bytes] = raw.zrange(f"rss:r:user_id:{{{user}}}", 0, -1)  # type: ignore[assignment]
    return {member.decode() for member in found}


async def test_no_cookie_no_redis_call(client: httpx.AsyncClient, raw: redis.Redis) -> None:
    reset(raw)
    response = await client.get("/get")
    assert response.json() == {}
    assert "set-cookie" not in response.headers
    await client.get("/nothing")
    assert commands(raw) == {}


async def test_a_read_only_request_costs_one_read_and_writes_nothing(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    await client.get("/set/a/1")
    reset(raw)
    response = await client.get("/get")
    assert response.json() == {"a": "1"}
    assert "set-cookie" not in response.headers
    assert commands(raw) == {"hgetall": 1}


async def test_cookie_flags(client: httpx.AsyncClient, store: AsyncStore) -> None:
    line = (await client.get("/set/a/1")).headers["set-cookie"]
    assert line.startswith(f"{COOKIE}=")
    max_age = int(store.max_age.total_seconds())
    assert f"Max-Age={max_age}" in line
    assert "HttpOnly" in line and "SameSite=Lax" in line and "Path=/" in line
    assert "Secure" not in line
    secure = await client.get("https://testserver/set/b/2")
    assert "Secure" in secure.headers["set-cookie"]


async def test_cookie_max_age_never_falls_short_of_the_session(
    async_client: redis.asyncio.Redis, hooks: Hooks
) -> None:
    # A fractional max age rounds up: Max-Age=0 would drop the cookie at once.
    store = AsyncStore(async_client, max_age=0.5)
    transport = httpx.ASGITransport(app=make_app(ours(store), hooks))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        line = (await client.get("/set/a/1")).headers["set-cookie"]
        assert "Max-Age=1;" in line
        assert (await client.get("/get")).json() == {"a": "1"}


async def test_login_regenerates_and_indexes(client: httpx.AsyncClient, raw: redis.Redis) -> None:
    await client.get("/set/theme/dark")
    anonymous = token_of(client)
    await client.post("/login/ada")
    signed_in = token_of(client)
    assert signed_in != anonymous
    assert raw.exists(f"rss:s:{{{session_id_for(anonymous)}}}") == 0
    assert members(raw, "ada") == {session_id_for(signed_in)}
    assert (await client.get("/get")).json() == {"theme": "dark", "user_id": "ada"}


async def test_logout_deletes_the_session_and_its_index_entry(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    await client.post("/login/ada")
    response = await client.post("/logout")
    assert response.headers["set-cookie"].startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert raw.keys("*") == []


async def test_only_the_changed_key_is_written(
    client: httpx.AsyncClient, hooks: Hooks, raw: redis.Redis, async_client: Any
) -> None:
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        await client.get(f"/set/{key}/{value}")
    key = f"rss:s:{{{session_id_for(token_of(client))}}}"

    async def meanwhile() -> None:
        await async_client.hset(key, mapping={"b": '"changed"', "d": "4"})

    hooks.meanwhile = meanwhile
    reset(raw)
    await client.get("/del-meanwhile/a")
    assert commands(raw)["hgetall"] == 1
    assert scripts(raw) == 1
    assert (await client.get("/get")).json() == {"b": "changed", "c": "3", "d": 4}


async def test_a_planted_token_is_never_adopted(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    planted = mint_token(32)
    set_cookie(client, sign(planted, "key-new"))  # well signed, names no session
    await client.get("/set/a/1")
    assert token_of(client) != planted
    assert raw.exists(f"rss:s:{{{session_id_for(planted)}}}") == 0


async def test_rotation_old_key_verifies_new_key_signs(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    await client.get("/set/a/1")
    token = token_of(client)
    set_cookie(client, sign(token, "key-old"))
    assert (await client.get("/get")).json() == {"a": "1"}
    await client.get("/set/b/2")
    assert client.cookies[COOKIE] == sign(token, "key-new")
    set_cookie(client, sign(token, "key-unknown"))
    assert (await client.get("/get")).json() == {}


@pytest.mark.parametrize(
    "header",
    [
        f"{COOKIE}=garbage",
        f"{COOKIE}=" + "a" * 5000,
        f"{COOKIE}=" + mint_token(32),  # unsigned
        f"{COOKIE}=" + sign(mint_token(32), "someone-else"),
        f"{COOKIE}={sign(mint_token(32), 'key-new')}; {COOKIE}={sign(mint_token(32), 'key-new')}",
    ],
)
async def test_bad_cookies_are_no_session_without_redis(
    client: httpx.AsyncClient, raw: redis.Redis, header: str
) -> None:
    reset(raw)
    response = await client.get("/get", headers={"cookie": header})
    assert response.status_code == 200
    assert response.json() == {}
    assert commands(raw) == {}


async def test_non_ascii_cookie_is_no_session(store: AsyncStore, hooks: Hooks) -> None:
    app = make_app(ours(store), hooks)
    messages: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/get",
        "raw_path": b"/get",
        "query_string": b"",
        "headers": [(b"cookie", f"{COOKIE}=\xe9\xe9".encode("latin-1"))],
        "scheme": "http",
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 200
    assert messages[1]["body"] == b"{}"


async def test_a_session_deleted_meanwhile_is_not_brought_back(
    store: AsyncStore, hooks: Hooks, raw: redis.Redis
) -> None:
    app = make_app(ours(store), hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.post("/login/ada")
        session_id = session_id_for(token_of(browser))

        async def meanwhile() -> None:
            await store.delete(session_id)  # signed out elsewhere

        hooks.meanwhile = meanwhile
        response = await browser.get("/del-meanwhile/user_id")
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert raw.keys("*") == []


async def test_a_value_json_cannot_encode_fails_loudly(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    await client.get("/set/a/1")
    with pytest.raises(TypeError, match="cannot be JSON-encoded"):
        await client.get("/bad")
    assert (await client.get("/get")).json() == {"a": "1"}


async def test_touch_interval_renews_at_most_once_per_interval(
    store: AsyncStore, hooks: Hooks, raw: redis.Redis
) -> None:
    app = make_app(ours(store, touch_interval=60), hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.get("/set/a/1")
        key = f"rss:s:{{{session_id_for(token_of(browser))}}}"
        reset(raw)
        response = await browser.get("/get")  # touched just now: no renewal
        assert "set-cookie" not in response.headers
        assert scripts(raw) == 0
        raw.hset(key, "__touched", int(time.time() * 1000) - 61_000)
        raw.pexpire(key, 10_000)
        response = await browser.get("/get")
        assert "Max-Age=" in response.headers["set-cookie"]
        assert raw.pttl(key) > 10_000


async def test_a_session_without_touched_is_renewed_by_a_read(
    store: AsyncStore, hooks: Hooks, raw: redis.Redis
) -> None:
    """The same renewal rule as SessionMiddleware's: no __touched means due."""
    app = make_app(ours(store, touch_interval=60), hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.get("/set/a/1")
        key = f"rss:s:{{{session_id_for(token_of(browser))}}}"
        raw.hdel(key, "__touched")
        raw.pexpire(key, 10_000)
        response = await browser.get("/get")
        assert response.json() == {"a": "1"}
        assert "Max-Age=" in response.headers["set-cookie"]
        assert raw.pttl(key) > 10_000
        assert raw.hget(key, "__touched") is not None


async def test_unsigned_cookies(store: AsyncStore, hooks: Hooks, raw: redis.Redis) -> None:
    app = make_app(ours(store, secret_keys=None, signed=False), hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.get("/set/a/1")
        assert "." not in browser.cookies[COOKIE]  # the bare token
        assert (await browser.get("/get")).json() == {"a": "1"}


def test_options_are_checked(store: AsyncStore, sync_client: redis.Redis) -> None:
    with pytest.raises(TypeError, match="AsyncStore"):
        DictSessionMiddleware(make_app, store=Store(sync_client), secret_keys=KEYS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret_keys"):
        DictSessionMiddleware(make_app, store=store)  # type: ignore[arg-type]


async def test_lifespan_passes_through(store: AsyncStore) -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert "session" not in scope

    middleware = DictSessionMiddleware(inner, store=store, secret_keys=KEYS)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_fastapi(store: AsyncStore, raw: redis.Redis) -> None:
    api = FastAPI()
    api.add_middleware(DictSessionMiddleware, store=store, secret_keys=KEYS)

    @api.post("/login/{user}")
    async def login(user: str, request: Request) -> dict[str, str]:
        request.session.regenerate()  # type: ignore[attr-defined]
        request.session["user_id"] = user
        return {"ok": "yes"}

    @api.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return dict(request.session)

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.post("/login/ada")
        assert (await browser.get("/me")).json() == {"user_id": "ada"}
        assert members(raw, "ada") == {session_id_for(token_of(browser))}


async def two_requests_at_once(middleware: Middleware, cookie: str) -> Any:
    """Two requests of one session change different keys at the same time, each having
    loaded the session before either writes; the browser keeps the last cookie."""
    hooks = Hooks()
    app = make_app(middleware, hooks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
        await browser.get("/set/start/1")
        hooks.barrier = asyncio.Barrier(2)
        await asyncio.gather(browser.get("/together/a/1"), browser.get("/together/b/2"))
        assert cookie in browser.cookies
        return (await browser.get("/get")).json()


async def test_concurrent_requests_keep_both_changes(store: AsyncStore) -> None:
    result = await two_requests_at_once(ours(store), COOKIE)
    assert result == {"start": "1", "a": "1", "b": "2"}


async def test_starlette_cookie_session_loses_one_of_them() -> None:
    """The contrast: Starlette's own SessionMiddleware keeps the whole dict in the cookie,
    so the response that arrives last overwrites the other's change."""
    theirs = Middleware(StarletteSessionMiddleware, secret_key="k")
    result = await two_requests_at_once(theirs, "session")
    assert result["start"] == "1"
    assert ("a" in result) != ("b" in result)


async def test_redis_down_fails_loudly_then_recovers() -> None:
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff

    from redis_session_sets import SessionStoreError
    from tests.support.servers import RedisServer

    server = RedisServer()
    server.start()
    client = redis.asyncio.Redis(
        port=server.port, socket_connect_timeout=0.5, retry=AsyncRetry(NoBackoff(), 1)
    )
    store = AsyncStore(client)
    app = make_app(ours(store), Hooks())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:
            await browser.get("/set/a/1")
            server.stop()
            anonymous = await transport.handle_async_request(httpx.Request("GET", "http://t/get"))
            assert anonymous.status_code == 200  # no cookie: no Redis call, served
            with pytest.raises(SessionStoreError):
                await browser.get("/get")
            server.start()  # same port, empty (no persistence): the same client reconnects
            await browser.get("/set/b/2")
            assert (await browser.get("/get")).json()["b"] == "2"
    finally:
        await client.aclose()
        server.close()


def test_end_to_end_under_uvicorn(redis_server: Any, raw: redis.Redis) -> None:
    """A real uvicorn on a free loopback port and a real HTTP client: sign in, two
    concurrent requests of one session changing different keys, sign out."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.web.test_uvicorn import Served

    hooks = Hooks()
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_server.url), references=["user_id"])
    app = make_app(ours(store), hooks)
    with Served(app) as served, httpx.Client(base_url=served.url) as browser:
        browser.post("/login/ada")
        signed_in = browser.cookies[COOKIE]
        assert members(raw, "ada") == {session_id_for(signed_in.rsplit(".", 1)[0])}
        hooks.barrier = asyncio.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            tabs = [
                pool.submit(browser.get, "/together/a/1"),
                pool.submit(browser.get, "/together/b/2"),
            ]
            assert [tab.result(timeout=10).status_code for tab in tabs] == [200, 200]
        assert browser.get("/get").json() == {"user_id": "ada", "a": "1", "b": "2"}
        response = browser.post("/logout")
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert raw.keys("*") == []
