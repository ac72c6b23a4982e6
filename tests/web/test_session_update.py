"""``update`` on the per-request sessions (ASGI and WSGI): set + unset + incr in one round
trip, under the strict-ids rule like ``set`` and ``incr``."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask, jsonify
from flask import request as flask_request
from itsdangerous import Signer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from redis_session_sets import AsyncStore, SessionMiddleware, Store, WSGISessionMiddleware
from redis_session_sets import get_session as session_of
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter, id_of, set_cookies

KEYS = ["update-key"]


def asgi_app(store: AsyncStore) -> Starlette:
    async def write(request: Request) -> JSONResponse:
        session = session_of(request)
        changed = await session.update({"user_id": 42}, unset=["gone"], incr={"counter": 1})
        return JSONResponse({"changed": changed, "id": session.id})

    async def seed(request: Request) -> JSONResponse:
        await session_of(request).set({"gone": 1, "counter": 10})
        return JSONResponse({})

    async def read(request: Request) -> JSONResponse:
        return JSONResponse(await session_of(request).get())

    app = Starlette(
        routes=[
            Route("/write", write, methods=["POST"]),
            Route("/seed", seed, methods=["POST"]),
            Route("/read", read),
        ]
    )
    return SessionMiddleware(app, store=store, secret_keys=KEYS)  # type: ignore[return-value]


async def test_update_in_one_round_trip_through_the_middleware(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    client = redis.asyncio.Redis(port=redis_server.port)
    store = AsyncStore(client, references=["user_id"])
    transport = httpx.ASGITransport(app=asgi_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.post("/seed")
        await http.post("/write")  # the script's first use: EVAL
        with CommandCounter(raw) as count:
            answer = (await http.post("/write")).json()
        assert count.value == 1, count.commands
        assert answer["changed"] == {"counter": 12}
        assert (await http.get("/read")).json() == {"counter": 12, "user_id": 42}
        assert await store.sessions("user_id", 42) == [answer["id"]]
        assert set_cookies((await http.post("/write")).headers)  # a write sends the cookie
    await client.aclose()


async def test_update_never_adopts_a_planted_cookie(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    """A well-signed cookie whose id has no session (planted, or ended meanwhile): the
    update goes to a freshly minted token, never to the cookie's id (strict ids)."""
    client = redis.asyncio.Redis(port=redis_server.port)
    store = AsyncStore(client, references=["user_id"])
    planted = "p" * 43
    signer = Signer(KEYS[0], salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    transport = httpx.ASGITransport(app=asgi_app(store))
    cookies = {"session-id": signer.sign(planted).decode()}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", cookies=cookies) as http:
        response = await http.post("/write")
    answer = response.json()
    assert answer["id"] != id_of(planted)
    assert raw.exists(store.get_session_key(id_of(planted))) == 0
    assert answer["changed"] == {"counter": 1}
    assert set_cookies(response.headers)[0].token != planted
    await client.aclose()


def wsgi_app(store: Store) -> Flask:
    app = Flask(__name__)

    @app.post("/write")
    def write() -> Any:
        session = session_of(flask_request)
        changed = session.update({"user_id": 42}, incr={"counter": 1})
        return jsonify({"changed": changed, "id": session.id})

    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, secret_keys=KEYS
    )
    return app


def test_update_on_the_wsgi_session(sync_client: redis.Redis, raw: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id"])
    http = wsgi_app(store).test_client()
    first = http.post("/write").get_json()
    assert first["changed"] == {"counter": 1}
    with CommandCounter(raw) as count:
        second = http.post("/write").get_json()
    assert count.value == 1, count.commands
    assert second == {"changed": {"counter": 2}, "id": first["id"]}
    assert store.sessions("user_id", 42) == [first["id"]]
    with pytest.raises(ValueError):
        store.update(first["id"], {"a": 1}, unset=["a"])
