"""End to end: a FastAPI app under a real uvicorn on a free loopback port, spoken to by a
real HTTP client; and the FastAPI dependency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
import redis
import redis.asyncio
import uvicorn
from fastapi import Depends, FastAPI

from examples import fastapi_app
from redis_session_sets import AsyncSession, AsyncStore, SessionMiddleware
from redis_session_sets.fastapi import SessionDep, get_session
from tests.support.servers import RedisServer, free_port
from tests.support.web import CommandCounter, set_cookies

KEYS = ["e2e-key"]


def make_app(redis_url: str) -> FastAPI:
    store = AsyncStore(redis.asyncio.Redis.from_url(redis_url), max_age=600)
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=store, secret_keys=KEYS)

    @app.get("/untouched")
    async def untouched() -> str:
        return "ok"

    @app.get("/count")
    async def count(session: SessionDep) -> int:
        return await session.incr("count")

    @app.get("/read")
    async def read(session: Annotated[AsyncSession, Depends(get_session)]) -> dict[str, Any]:
        return await session.get()

    return app


class Served:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def served(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Served]:
    with Served(make_app(redis_server.url)) as served:
        yield served


def test_real_http_round_trip(served: Served, raw: redis.Redis) -> None:
    with httpx.Client(base_url=served.url) as client:
        with CommandCounter(raw) as count:
            response = client.get("/untouched")
            empty = client.get("/read")
        assert (response.status_code, empty.json(), count.value) == (200, {}, 0)
        assert "set-cookie" not in response.headers
        assert "set-cookie" not in empty.headers
        first = client.get("/count")
        [cookie] = set_cookies(first.headers)
        assert cookie.attributes["max-age"] == "600"
        assert {"httponly", "path", "samesite"} <= set(cookie.attributes)
        assert [client.get("/count").json() for _ in range(3)] == [2, 3, 4]
        assert client.get("/read").json() == {"count": 4}
        client.cookies.set("session-id", "x" * 5000)
        assert client.get("/read").status_code == 200


def test_example_app_under_uvicorn(redis_server: RedisServer, raw: redis.Redis) -> None:
    app = fastapi_app.create_app(redis.asyncio.Redis.from_url(redis_server.url), KEYS)
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        page = client.get("/").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post("/sign-in", data={"user_id": "ada", "csrf_token": token})
        assert response.status_code == 303
        sessions = client.get("/sessions").json()
        assert [s["current"] for s in sessions] == [True]
