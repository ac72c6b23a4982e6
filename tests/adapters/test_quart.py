"""Quart: the library's ASGI ``SessionMiddleware`` around ``app.asgi_app``, through
Quart's own test client and under a real uvicorn (the example app)."""

from __future__ import annotations

from typing import Any, cast

import httpx
import redis
import redis.asyncio
from quart import Quart, request

from examples import quart_app
from redis_session_sets import AsyncStore, SessionMiddleware, Store, get_session
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter, set_cookies
from tests.web.test_uvicorn import Served

KEYS = ["quart-key"]


def counting_app(store: AsyncStore) -> Quart:
    app = Quart(__name__)
    app.asgi_app = SessionMiddleware(  # type: ignore[method-assign,assignment]
        cast(Any, app.asgi_app), store=store, secret_keys=KEYS
    )

    @app.get("/untouched")
    async def untouched() -> str:
        return "ok"

    @app.get("/count")
    async def count() -> dict[str, int]:
        return {"count": await get_session(request.scope).incr("count")}

    @app.post("/sign-in/<user_id>")
    async def sign_in(user_id: str) -> str:
        session = get_session(request.scope)
        await session.regenerate()
        await session.set({"user_id": user_id})
        return str(session.id)

    @app.get("/read")
    async def read() -> dict[str, Any]:
        return cast(dict[str, Any], await get_session(request.scope).get())

    return app


async def test_through_quarts_test_client(
    async_client: redis.asyncio.Redis, sync_client: redis.Redis, raw: redis.Redis
) -> None:
    app = counting_app(AsyncStore(async_client, references=["user_id"], max_age=600))
    check = Store(sync_client, references=["user_id"])
    client = app.test_client()
    with CommandCounter(raw) as counted:
        untouched = await client.get("/untouched")
        empty = await client.get("/read")
    assert counted.value == 0  # rule 1: no session method called, no Redis command
    assert "set-cookie" not in untouched.headers
    assert (await empty.get_json(), "set-cookie" in empty.headers) == ({}, False)

    first = await client.get("/count")
    [cookie] = set_cookies(first.headers)
    assert cookie.attributes["max-age"] == "600"
    assert [(await (await client.get("/count")).get_json())["count"] for _ in range(2)] == [2, 3]

    signed_in = await (await client.post("/sign-in/ada")).get_data(as_text=True)
    assert check.sessions("user_id", "ada") == [signed_in]
    assert await (await client.get("/read")).get_json() == {"count": 3, "user_id": "ada"}


def test_the_example_app_under_uvicorn(redis_server: RedisServer, raw: redis.Redis) -> None:
    app = quart_app.create_app(redis.asyncio.Redis.from_url(redis_server.url), KEYS)
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        token = client.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
        refused = client.post("/sign-in", data={"user_id": "ada", "csrf_token": "x"})
        assert refused.status_code == 403
        response = client.post("/sign-in", data={"user_id": "ada", "csrf_token": token})
        assert response.status_code == 303
        assert [s["current"] for s in client.get("/sessions").json()] == [True]
        token = client.get("/").text.split('value="')[1].split('"')[0]
        assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
        assert client.get("/sessions").status_code == 401
