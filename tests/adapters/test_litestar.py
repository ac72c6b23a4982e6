"""Litestar: ``redis_session_sets.litestar`` (plugin, configs, dependencies) through
Litestar's own test client, and the example app under a real uvicorn."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from litestar import Litestar, Request, Response, get, post, websocket
from litestar.connection import WebSocket
from litestar.params import FromPath
from litestar.testing import TestClient
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from examples import litestar_app
from redis_session_sets import AsyncStore, SessionStoreError, Store
from redis_session_sets.litestar import (
    DictSessionConfig,
    DictSessionDep,
    SessionConfig,
    SessionDep,
    SessionPlugin,
)
from tests.support.servers import RedisServer, free_port
from tests.support.web import CommandCounter, set_cookies
from tests.web.test_uvicorn import Served

KEYS = ["litestar-key"]


@pytest.fixture
def app_client(raw: redis.Redis, redis_server: RedisServer) -> redis.asyncio.Redis:
    """The app's Redis client. Litestar's test clients run the app in an event loop of
    their own (in a thread), so the app's store gets a client used only there; the tests
    look at Redis through a sync ``Store``. (Its connections end with that loop.)"""
    return redis.asyncio.Redis(port=redis_server.port)


@get("/untouched")
async def untouched() -> str:
    return "ok"


@get("/read")
async def read(session: SessionDep) -> dict[str, Any]:
    return await session.get()


@get("/count")
async def count(session: SessionDep) -> int:
    return await session.incr("count")


@post("/sign-in/{user_id:str}", status_code=200)
async def sign_in(session: SessionDep, user_id: FromPath[str]) -> str:
    await session.regenerate()
    await session.set({"user_id": user_id})
    return session.id


@websocket("/ws")
async def ws_read(socket: WebSocket[Any, Any, Any], session: SessionDep) -> None:
    await socket.accept()
    await socket.send_json(await session.get())
    await socket.close()


HANDLERS = [untouched, read, count, sign_in, ws_read]


def session_app(store: AsyncStore, **options: Any) -> Litestar:
    return Litestar(
        HANDLERS, plugins=[SessionPlugin(SessionConfig(store, secret_keys=KEYS, **options))]
    )


def test_a_handler_that_does_not_use_the_session_costs_nothing(
    app_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    with TestClient(app=session_app(AsyncStore(app_client))) as client:
        with CommandCounter(raw) as counted:
            untouched_response = client.get("/untouched")
            read_response = client.get("/read")  # no cookie: {} without Redis
        assert counted.value == 0
        assert (untouched_response.text, read_response.json()) == ("ok", {})
        assert "set-cookie" not in untouched_response.headers
        assert "set-cookie" not in read_response.headers


def test_the_dependency_gives_the_session_and_writes_set_the_cookie(
    app_client: redis.asyncio.Redis, sync_client: redis.Redis
) -> None:
    store = AsyncStore(app_client, references=["user_id"], max_age=600)
    check = Store(sync_client, references=["user_id"])
    with TestClient(app=session_app(store)) as client:
        first = client.get("/count")
        [cookie] = set_cookies(first.headers)
        assert cookie.attributes["max-age"] == "600"
        assert {"httponly", "path", "samesite"} <= set(cookie.attributes)
        assert [client.get("/count").json() for _ in range(2)] == [2, 3]
        assert client.get("/read").json() == {"count": 3}

        before = client.cookies.get("session-id")
        signed_in = client.post("/sign-in/ada").text
        assert client.cookies.get("session-id") != before  # regenerated
        assert check.sessions("user_id", "ada") == [signed_in]
        assert client.get("/read").json() == {"count": 3, "user_id": "ada"}


def test_websocket_handlers_get_the_session(app_client: redis.asyncio.Redis) -> None:
    store = AsyncStore(app_client, references=["user_id"])
    with TestClient(app=session_app(store)) as client:
        client.post("/sign-in/grace")
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_json() == {"user_id": "grace"}
        client.cookies.clear()
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_json() == {}


def test_options_are_checked_when_the_app_is_built(app_client: redis.asyncio.Redis) -> None:
    store = AsyncStore(app_client)
    with pytest.raises(ValueError):
        SessionConfig(store)  # signed cookies need secret keys
    with pytest.raises(ValueError):
        DictSessionConfig(store, secret_keys=[""])
    with pytest.raises(TypeError):
        SessionConfig(Store(redis.Redis()), secret_keys=KEYS)  # type: ignore[arg-type]


def test_redis_down_answers_503_and_the_app_may_map_it_itself() -> None:
    down = redis.asyncio.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # nothing there
    store = AsyncStore(down)
    with TestClient(app=session_app(store)) as client:
        assert client.get("/untouched").status_code == 200
        response = client.get("/count")
        assert (response.status_code, response.text) == (
            503,
            "Sessions are unavailable, try again soon.",
        )

    def own(request: Request[Any, Any, Any], error: Exception) -> Response[str]:
        return Response("ours", status_code=502)

    app = Litestar(
        HANDLERS,
        plugins=[SessionPlugin(SessionConfig(store, secret_keys=KEYS))],
        exception_handlers={SessionStoreError: own},
    )
    with TestClient(app=app) as client:
        assert client.get("/count").status_code == 502


def test_the_middleware_and_dependency_without_the_plugin(app_client: redis.asyncio.Redis) -> None:
    config = SessionConfig(AsyncStore(app_client), secret_keys=KEYS)
    app = Litestar(
        HANDLERS, middleware=[config.middleware], dependencies={"session": config.dependency}
    )
    with TestClient(app=app) as client:
        assert [client.get("/count").json() for _ in range(2)] == [1, 2]
    bare = Litestar(HANDLERS, dependencies={"session": config.dependency})
    with TestClient(app=bare) as client:
        assert client.get("/count").status_code == 500  # no middleware: no session


# Dict sessions: Litestar's request.session, set_session and clear_session.


@get("/dict")
async def dict_read(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return dict(request.session)


@post("/dict/put/{key:str}/{value:str}", status_code=200)
async def dict_put(
    request: Request[Any, Any, Any], key: FromPath[str], value: FromPath[str]
) -> None:
    request.session[key] = value


@post("/dict/replace", status_code=200)
async def dict_replace(request: Request[Any, Any, Any]) -> None:
    request.set_session({"user_id": "new", "theme": "dark"})


@post("/dict/clear", status_code=200)
async def dict_clear(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


@post("/dict/login/{user_id:str}", status_code=200)
async def dict_login(session: DictSessionDep, user_id: FromPath[str]) -> None:
    session.regenerate()
    session["user_id"] = user_id


@get("/dict/id")
async def dict_id(session: DictSessionDep) -> str | None:
    return session.session_id


DICT_HANDLERS = [dict_read, dict_put, dict_replace, dict_clear, dict_login, dict_id]


def test_dict_sessions_follow_litestars_session_api(
    app_client: redis.asyncio.Redis, raw: redis.Redis, sync_client: redis.Redis
) -> None:
    store = AsyncStore(app_client, references=["user_id"])
    check = Store(sync_client, references=["user_id"])
    config = DictSessionConfig(store, secret_keys=KEYS)
    app = Litestar(DICT_HANDLERS, plugins=[SessionPlugin(config)])
    with TestClient(app=app) as client:
        with CommandCounter(raw) as counted:
            assert (client.get("/dict")).json() == {}
        assert counted.value == 0  # no cookie: no Redis call

        client.post("/dict/login/ada")
        first_id = (client.get("/dict/id")).text
        assert check.sessions("user_id", "ada") == [first_id]
        client.post("/dict/put/theme/light")
        assert (client.get("/dict")).json() == {"user_id": "ada", "theme": "light"}

        with CommandCounter(raw) as counted:
            unchanged = client.get("/dict")
        assert counted.commands[0].split()[0].upper() in ("EVALSHA", "HGETALL")
        assert counted.value == 1  # the load; nothing changed, nothing saved
        assert "set-cookie" not in unchanged.headers

        client.post("/dict/login/ada")  # regenerate: a new id, the old one gone
        second_id = (client.get("/dict/id")).text
        assert second_id != first_id
        assert check.sessions("user_id", "ada") == [second_id]

        client.post("/dict/replace")  # request.set_session(...)
        assert (client.get("/dict")).json() == {"user_id": "new", "theme": "dark"}
        assert check.sessions("user_id", "ada") == []
        assert check.sessions("user_id", "new") == [second_id]

        cleared = client.post("/dict/clear")  # request.clear_session()
        assert set_cookies(cleared.headers)[0].attributes["max-age"] == "0"
        assert not check.exists(second_id)
        assert check.sessions("user_id", "new") == []


def test_the_example_app_under_uvicorn(redis_server: RedisServer, raw: redis.Redis) -> None:
    app = litestar_app.create_app(redis.asyncio.Redis.from_url(redis_server.url), KEYS)
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        page = (client.get("/")).text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        refused = client.post("/sign-in", data={"user_id": "ada", "csrf_token": "x"})
        assert refused.status_code == 403
        response = client.post("/sign-in", data={"user_id": "ada", "csrf_token": token})
        assert response.status_code == 303
        sessions = (client.get("/sessions")).json()
        assert [s["current"] for s in sessions] == [True]
        token = (client.get("/")).text.split('value="')[1].split('"')[0]
        signed_out = client.post("/sign-out", data={"csrf_token": token})
        assert signed_out.status_code == 303
        assert (client.get("/sessions")).status_code == 401
