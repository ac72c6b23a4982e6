"""``Vary: Cookie`` on every response whose handler used the session, and only there
(docs/design.md, rule 2): no shared cache may serve one visitor's page or cookie to
another. Through each middleware's real stack: Starlette over ASGI, Flask over WSGI,
the dict-session adapters of Starlette, Flask and Django."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask, request, session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from redis_session_sets import (
    AsyncStore,
    SessionMiddleware,
    Store,
    WSGISessionMiddleware,
    get_session,
)
from redis_session_sets.flask import RedisSessionInterface
from redis_session_sets.starlette import DictSessionMiddleware

KEY = "vary-test-key"


def vary_of(headers: Any) -> list[str]:
    """Every Vary value of a response, split into names."""
    if hasattr(headers, "get_list"):  # httpx
        lines = headers.get_list("vary")
    elif hasattr(headers, "getlist"):  # werkzeug
        lines = headers.getlist("Vary")
    else:  # Django: one value per name
        lines = [headers["Vary"]] if "Vary" in headers else []
    return [name.strip() for line in lines for name in line.split(",") if name.strip()]


# -- the per-request session (ASGI and WSGI) -------------------------------------------


def asgi_app(store: AsyncStore) -> Starlette:
    async def untouched(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def read(request: Request) -> Response:
        return PlainTextResponse(str(await get_session(request).get()))

    async def write(request: Request) -> Response:
        await get_session(request).set({"a": 1})
        return PlainTextResponse("ok")

    async def token(request: Request) -> Response:
        return PlainTextResponse(await get_session(request).create_csrf_token())

    async def with_vary(request: Request) -> Response:
        await get_session(request).get()
        return PlainTextResponse("ok", headers={"vary": request.query_params["vary"]})

    async def untouched_with_vary(request: Request) -> Response:
        return PlainTextResponse("ok", headers={"vary": "Accept-Encoding"})

    return Starlette(
        routes=[
            Route("/untouched", untouched),
            Route("/read", read),
            Route("/write", write),
            Route("/token", token),
            Route("/with-vary", with_vary),
            Route("/untouched-with-vary", untouched_with_vary),
        ],
        middleware=[Middleware(SessionMiddleware, store=store, secret_keys=[KEY])],
    )


async def test_asgi_session_middleware(async_client: redis.asyncio.Redis) -> None:
    app = asgi_app(AsyncStore(async_client))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for cookie in (False, True):  # a visitor, then a browser with a session
            if cookie:
                await client.get("/write")
            assert vary_of((await client.get("/untouched")).headers) == []
            assert vary_of((await client.get("/untouched-with-vary")).headers) == [
                "Accept-Encoding"
            ]
            for path in ("/read", "/write", "/token"):
                assert vary_of((await client.get(path)).headers) == ["Cookie"], path
        # Merged into the app's own Vary; never twice.
        merged = await client.get("/with-vary", params={"vary": "Accept-Encoding"})
        assert vary_of(merged.headers) == ["Accept-Encoding", "Cookie"]
        for already in ("cookie", "Accept, Cookie", "*"):
            response = await client.get("/with-vary", params={"vary": already})
            assert vary_of(response.headers) == [v.strip() for v in already.split(",")]


def wsgi_app(store: Store) -> Flask:
    app = Flask(__name__)

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        return str(get_session(request).get())

    @app.get("/write")
    def write() -> str:
        get_session(request).set({"a": 1})
        return "ok"

    @app.get("/token")
    def token() -> str:
        return get_session(request).create_csrf_token()

    @app.get("/with-vary")
    def with_vary() -> Any:
        get_session(request).get()
        return "ok", 200, {"Vary": request.args["vary"]}

    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, secret_keys=[KEY]
    )
    return app


def test_wsgi_session_middleware(sync_client: redis.Redis) -> None:
    client = wsgi_app(Store(sync_client)).test_client()
    for cookie in (False, True):
        if cookie:
            client.get("/write")
        assert vary_of(client.get("/untouched").headers) == []
        for path in ("/read", "/write", "/token"):
            assert vary_of(client.get(path).headers) == ["Cookie"], path
    merged = client.get("/with-vary", query_string={"vary": "Accept-Encoding"})
    assert vary_of(merged.headers) == ["Accept-Encoding", "Cookie"]
    assert vary_of(client.get("/with-vary", query_string={"vary": "Cookie"}).headers) == ["Cookie"]


# -- the dict sessions ---------------------------------------------------------------------


async def test_starlette_dict_sessions(async_client: redis.asyncio.Redis) -> None:
    async def untouched(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def read(request: Request) -> Response:
        return PlainTextResponse(str(request.session.get("a")))

    async def listing(request: Request) -> Response:
        return PlainTextResponse(",".join(request.session))

    async def write(request: Request) -> Response:
        request.session["a"] = 1
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/untouched", untouched),
            Route("/read", read),
            Route("/list", listing),
            Route("/write", write),
        ],
        middleware=[
            Middleware(DictSessionMiddleware, store=AsyncStore(async_client), secret_keys=[KEY])
        ],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for cookie in (False, True):
            if cookie:
                await client.get("/write")
            # Loaded before the handler when a cookie comes, but not used: no Vary.
            assert vary_of((await client.get("/untouched")).headers) == []
            for path in ("/read", "/list", "/write"):
                assert vary_of((await client.get(path)).headers) == ["Cookie"], path


@pytest.mark.parametrize(
    ("path", "vary"),
    [
        ("/set", ["Cookie"]),
        ("/get", ["Cookie"]),
        ("/getitem", ["Cookie"]),
        ("/setdefault", ["Cookie"]),
        ("/items", ["Cookie"]),
        ("/contains", ["Cookie"]),
        ("/clear", ["Cookie"]),
        ("/vary-cookie-header-set", ["Cookie"]),
        ("/vary-header-set", ["Accept-Encoding", "Accept-Language", "Cookie"]),
        ("/no-vary-header", []),
    ],
)
def test_flask_sessions(sync_client: redis.Redis, path: str, vary: list[str]) -> None:
    """Flask's own ``test_session_vary_cookie``, on the store (plus items and ``in``)."""
    app = Flask(__name__)
    app.secret_key = KEY
    app.config["TESTING"] = True
    app.session_interface = RedisSessionInterface(Store(sync_client))

    @app.route("/set")
    def set_session() -> str:
        session["test"] = "test"
        return ""

    @app.route("/get")
    def get() -> str:
        return str(session.get("test"))

    @app.route("/getitem")
    def getitem() -> str:
        return str(session["test"])

    @app.route("/setdefault")
    def setdefault() -> str:
        return str(session.setdefault("test", "default"))

    @app.route("/items")
    def items() -> str:
        return str(list(session.items()))

    @app.route("/contains")
    def contains() -> str:
        return str("test" in session)

    @app.route("/clear")
    def clear() -> str:
        session.clear()
        return ""

    @app.route("/vary-cookie-header-set")
    def vary_cookie_header_set() -> Any:
        response = app.make_response(str(session.get("test")))
        response.vary.add("Cookie")
        return response

    @app.route("/vary-header-set")
    def vary_header_set() -> Any:
        response = app.make_response(str(session.get("test")))
        response.vary.update(("Accept-Encoding", "Accept-Language"))
        return response

    @app.route("/no-vary-header")
    def no_vary_header() -> str:
        return ""

    client = app.test_client()
    client.get("/set")  # the session exists: the routes below read a real one
    assert vary_of(client.get(path).headers) == vary


def test_django_sessions(django_redis: redis.Redis) -> None:
    from django.test import Client

    client = Client()
    assert "Vary" not in client.get("/nothing/").headers
    assert vary_of(client.get("/set/a/1/").headers) == ["Cookie"]
    assert vary_of(client.get("/get/").headers) == ["Cookie"]
    assert "Vary" not in client.get("/nothing/").headers  # with a cookie, unused


def test_litestar_sessions(raw: redis.Redis) -> None:
    """Litestar's plugin wraps the same middlewares: the same Vary, for both configs."""
    from litestar import Litestar
    from litestar.testing import TestClient

    from redis_session_sets.litestar import DictSessionConfig, SessionConfig, SessionPlugin
    from tests.adapters.test_litestar import DICT_HANDLERS, HANDLERS

    port = raw.connection_pool.connection_kwargs["port"]
    for config, used, unused in (
        (SessionConfig, ["/read", "/count"], "/untouched"),
        (DictSessionConfig, ["/dict", "/dict/id"], "/untouched"),
    ):
        # Litestar's test client runs the app in a loop of its own: a client used only there.
        store = AsyncStore(redis.asyncio.Redis(port=port))
        app = Litestar(
            [*HANDLERS, *DICT_HANDLERS], plugins=[SessionPlugin(config(store, secret_keys=[KEY]))]
        )
        with TestClient(app=app) as client:
            client.get("/count")  # a session and its cookie
            client.post("/dict/put/a/1")
            assert vary_of(client.get(unused).headers) == [], config
            for path in used:
                assert vary_of(client.get(path).headers) == ["Cookie"], (config, path)
