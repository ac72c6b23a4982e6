"""``session.delete(reason=...)`` and ``session.end_reason()`` (docs/design.md, "Ended means
ended"): an ended device's next request learns why, at the cost of one GET only when its
cookie's session is gone; through the ASGI middleware (httpx) and the WSGI one (Flask's
test client)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask, jsonify, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redis_session_sets import (
    AsyncStore,
    SessionMiddleware,
    Store,
    WSGISessionMiddleware,
    get_session,
)
from tests.support.web import CommandCounter

KEY = "end-reason-key"


def asgi_app(store: AsyncStore) -> Any:
    async def sign_in(request: Request) -> Response:
        session = get_session(request)
        await session.set({"user_id": int(request.query_params["user"])})
        return JSONResponse({"id": session.id})

    async def page(request: Request) -> Response:
        session = get_session(request)
        values = await session.get()
        reason = None if values else await session.end_reason()
        return JSONResponse({"values": values, "reason": reason})

    async def reason_only(request: Request) -> Response:
        return JSONResponse({"reason": await get_session(request).end_reason()})

    async def sign_out(request: Request) -> Response:
        reason = request.query_params.get("reason")
        return JSONResponse({"existed": await get_session(request).delete(reason=reason)})

    routes = [
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/page", page),
        Route("/reason", reason_only),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]
    return SessionMiddleware(Starlette(routes=routes), store=store, secret_keys=[KEY])


@pytest.fixture
async def asgi(async_client: redis.asyncio.Redis) -> Any:
    store = AsyncStore(async_client, references=["user_id"], limits={"user_id": 1})
    return store, asgi_app(store)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_device_ended_elsewhere_learns_why(asgi: Any, raw: redis.Redis) -> None:
    store, app = asgi
    async with client_for(app) as laptop, client_for(app) as phone:
        laptop_id = (await laptop.post("/sign-in?user=1")).json()["id"]
        assert (await laptop.get("/page")).json() == {"values": {"user_id": 1}, "reason": None}
        # The phone signs in too: the limit of one device ends the laptop's session.
        await phone.post("/sign-in?user=1")
        assert (await laptop.get("/page")).json() == {"values": {}, "reason": "limit"}
        assert await store.end_reason(laptop_id) == "limit"
        # Revoked by the app (another device, an admin...) with its own reason.
        [phone_id] = await store.sessions("user_id", 1)
        await store.delete(phone_id, reason="signed out from another device")
        assert (await phone.get("/page")).json()["reason"] == "signed out from another device"


async def test_end_reason_costs_nothing_without_a_cookie_or_with_a_live_session(
    asgi: Any, raw: redis.Redis
) -> None:
    _, app = asgi
    async with client_for(app) as browser:
        with CommandCounter(raw) as count:
            assert (await browser.get("/reason")).json() == {"reason": None}
        assert count.value == 0  # no cookie: no call
        await browser.post("/sign-in?user=5")
        with CommandCounter(raw) as count:
            assert (await browser.get("/page")).json()["reason"] is None
        assert count.value == 1  # the read; the live session needs no GET
        with CommandCounter(raw) as count:
            assert (await browser.get("/reason")).json() == {"reason": None}
        assert count.commands == [c for c in count.commands if c.startswith("GET")]
        assert count.value == 1  # asked without a read: one GET


async def test_session_delete_with_a_reason(asgi: Any, raw: redis.Redis) -> None:
    _, app = asgi
    async with client_for(app) as browser:
        session_id = (await browser.post("/sign-in?user=2")).json()["id"]
        cookie = browser.cookies["session-id"]
        reply = await browser.post("/sign-out?reason=password%20reset")
        assert reply.json() == {"existed": True}
        assert raw.get(f"rss:e:{{{session_id}}}") == b"password reset"
        # The browser dropped the cookie; a stale copy of it (another tab) learns why.
        browser.cookies.set("session-id", cookie)
        assert (await browser.get("/reason")).json() == {"reason": "password reset"}
        # A bad reason is the app's bug: a clear ValueError, nothing written.
        again = (await browser.post("/sign-in?user=2")).json()["id"]
        with pytest.raises(ValueError, match="1-64 characters"):
            await browser.post("/sign-out?reason=" + "x" * 65)
        assert raw.exists(f"rss:s:{{{again}}}") == 1


def test_the_sync_session_too(sync_client: redis.Redis, raw: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id"])
    app = Flask(__name__)

    @app.post("/sign-in")
    def sign_in() -> Any:
        session = get_session(request)
        session.set({"user_id": 3})
        return jsonify({"id": session.id})

    @app.post("/sign-out")
    def sign_out() -> Any:
        return jsonify({"existed": get_session(request).delete(reason="revoked")})

    @app.get("/reason")
    def reason() -> Any:
        return jsonify({"reason": get_session(request).end_reason()})

    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, secret_keys=[KEY]
    )
    client = app.test_client()
    session_id = client.post("/sign-in").get_json()["id"]
    cookie = client.get_cookie("session-id")
    assert cookie is not None
    assert client.post("/sign-out").get_json() == {"existed": True}
    client.set_cookie("session-id", cookie.value)
    assert client.get("/reason").get_json() == {"reason": "revoked"}
    assert store.end_reason(session_id) == "revoked"
