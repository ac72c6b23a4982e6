"""The per-request session with other clients and store options, and under FastAPI
through httpx's ASGITransport; the sync and async shells expose the same API."""

from __future__ import annotations

import inspect
import time
from typing import Annotated, Any

import httpx
import pytest
import redis
import redis.asyncio
from fastapi import Depends, FastAPI
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request

from redis_session_sets import (
    AsyncSession,
    AsyncStore,
    Session,
    SessionMiddleware,
)
from redis_session_sets.fastapi import SessionDep, get_session
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter, set_cookies

KEYS = ["variant-key"]


def fastapi_app(store: AsyncStore, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/untouched")
    async def untouched(session: SessionDep) -> str:
        return "ok"  # the dependency alone does not touch Redis

    @app.get("/read")
    async def read(session: Annotated[AsyncSession, Depends(get_session)]) -> dict[str, Any]:
        return await session.get()

    @app.post("/write")
    async def write(session: SessionDep, values: dict[str, Any]) -> str:
        await session.set(values)
        return session.id

    @app.get("/csrf")
    async def csrf(session: SessionDep) -> str:
        return await session.create_csrf_token()

    @app.post("/verify")
    async def verify(session: SessionDep, token: str) -> bool:
        return await session.verify_csrf_token(token)

    @app.get("/both")
    async def both(request: Request, session: SessionDep) -> dict[str, Any]:
        request.session["theirs"] = request.session.get("theirs", 0) + 1
        return {"theirs": request.session["theirs"], "ours": await session.incr("ours")}

    app.add_middleware(SessionMiddleware, store=store, secret_keys=KEYS, **options)
    app.add_middleware(StarletteSessionMiddleware, secret_key="starlette-key")
    return app


@pytest.mark.parametrize("variant", ["plain", "decode_responses", "resp3", "absolute_max_age"])
async def test_fastapi_flows_with_client_and_store_variants(
    redis_server: RedisServer, raw: redis.Redis, variant: str
) -> None:
    client = redis.asyncio.Redis(
        port=redis_server.port,
        decode_responses=variant == "decode_responses",
        protocol=3 if variant == "resp3" else 2,
    )
    absolute = 3600 if variant == "absolute_max_age" else None
    store = AsyncStore(client, references=["user_id"], absolute_max_age=absolute)
    app = fastapi_app(store, touch_interval=60)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        with CommandCounter(raw) as count:
            assert (await http.get("/untouched")).text == '"ok"'
            assert (await http.get("/read")).json() == {}
        assert count.value == 0
        session_id = (await http.post("/write", json={"user_id": 1, "n": 2})).json()
        with CommandCounter(raw) as count:
            response = await http.get("/read")
        assert response.json() == {"user_id": 1, "n": 2}
        assert (count.value, "set-cookie" in response.headers) == (1, False)
        raw.hset(f"rss:s:{{{session_id}}}", "__touched", int(time.time() * 1000) - 120_000)
        with CommandCounter(raw) as count:
            response = await http.get("/read")
        assert (count.value, len(set_cookies(response.headers))) == (2, 1)
        token = (await http.get("/csrf")).json()
        assert (await http.post("/verify", params={"token": token})).json() is True
        assert (await http.post("/verify", params={"token": "junk"})).json() is False
        assert await store.sessions("user_id", 1) == [session_id]
        first = (await http.get("/both")).json()
        second = (await http.get("/both")).json()
        assert (first, second) == ({"theirs": 1, "ours": 1}, {"theirs": 2, "ours": 2})
        bad = [(b"cookie", b"session-id=\xff; session=\xfe")]
        assert (await http.get("/read", headers=bad)).status_code == 200
    await client.aclose()


def test_sync_and_async_sessions_have_the_same_api() -> None:
    def api(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in vars(cls).items()
            if not name.startswith("_") and callable(member)
        }

    assert api(Session) == api(AsyncSession)
    assert set(api(Session)) >= {
        "get", "set", "unset", "incr", "touch", "delete", "regenerate",
        "create_csrf_token", "verify_csrf_token", "get_key",
    }  # fmt: skip
    for name in api(AsyncSession):
        if name not in ("get_key", "set_cookie_header"):
            assert inspect.iscoroutinefunction(getattr(AsyncSession, name)), name
