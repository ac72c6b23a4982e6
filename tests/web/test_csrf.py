"""Stateless CSRF tokens through the real middlewares (Starlette over ASGI, Flask over
WSGI) on a real Redis: derived from the session token and the secret keys, never stored,
no Redis command to make or check one (MONITOR), dead with the session token."""

from __future__ import annotations

import base64
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask, jsonify, request
from itsdangerous import Signer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from redis_session_sets import (
    AsyncStore,
    SessionMiddleware,
    Store,
    WSGISessionMiddleware,
    get_session,
)
from tests.support.web import CommandCounter, id_of, set_cookies

KEY = "csrf-test-key"
MAX_AGE = 3600


def make_app(store: AsyncStore, **options: Any) -> Starlette:
    async def csrf(request: Request) -> Response:
        return PlainTextResponse(await get_session(request).create_csrf_token())

    async def verify(request: Request) -> Response:
        token = (await request.json()).get("token")
        return JSONResponse({"ok": await get_session(request).verify_csrf_token(token)})

    async def form(request: Request) -> Response:
        """A sign-in page: reads the session (a visitor has none), shows a token."""
        session = get_session(request)
        user = (await session.get(["user_id"])).get("user_id")
        return JSONResponse({"user": user, "token": await session.create_csrf_token()})

    async def signin(request: Request) -> Response:
        session = get_session(request)
        body = await request.json()
        if not await session.verify_csrf_token(body.get("token")):
            return PlainTextResponse("refused", status_code=403)
        await session.regenerate()
        await session.set({"user_id": body["user_id"]})
        return JSONResponse({"id": session.id})

    async def write(request: Request) -> Response:
        session = get_session(request)
        await session.set(await request.json())
        return JSONResponse({"id": session.id})

    async def delete(request: Request) -> Response:
        session = get_session(request)
        before = await session.create_csrf_token()
        await session.delete()
        after = await session.create_csrf_token()
        return JSONResponse(
            {
                "before_still_valid": await session.verify_csrf_token(before),
                "after": after,
            }
        )

    async def regenerate(request: Request) -> Response:
        await get_session(request).regenerate()
        return PlainTextResponse("ok")

    async def id_then_csrf(request: Request) -> Response:
        session = get_session(request)
        assert session.id  # mints a token, not yet a cookie
        return PlainTextResponse(await session.create_csrf_token())

    return Starlette(
        routes=[
            Route("/csrf", csrf),
            Route("/verify", verify, methods=["POST"]),
            Route("/form", form),
            Route("/signin", signin, methods=["POST"]),
            Route("/write", write, methods=["POST"]),
            Route("/delete", delete, methods=["POST"]),
            Route("/regenerate", regenerate, methods=["POST"]),
            Route("/id-then-csrf", id_then_csrf),
        ],
        middleware=[Middleware(SessionMiddleware, store=store, **options)],
    )


@pytest.fixture
def store(async_client: redis.asyncio.Redis) -> AsyncStore:
    return AsyncStore(async_client, references=["user_id"], max_age=MAX_AGE)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(store: AsyncStore) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(store, secret_keys=[KEY])) as client:
        yield client


def signed(token: str, key: str = KEY) -> str:
    import hashlib

    signer = Signer(key, salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    return signer.sign(token).decode()


async def ok(client: httpx.AsyncClient, token: Any) -> bool:
    response = await client.post("/verify", json={"token": token})
    assert "set-cookie" not in response.headers  # checking a token never sets a cookie
    result: bool = response.json()["ok"]
    return result


def mac_for(key: str | None, session_token: str, csrf_token: str) -> tuple[bytes, bytes]:
    """(the token's MAC, the MAC docs/design.md defines for its salt)."""
    raw = base64.urlsafe_b64decode(csrf_token)
    salt = raw[:16]
    material = session_token.encode()
    k = material if key is None else hmac.digest(key.encode(), b"csrf" + material, "sha256")
    return raw[16:], hmac.digest(k, salt, "sha256")


# -- no Redis, no write ----------------------------------------------------------------


async def test_a_visitor_gets_a_token_and_a_cookie_without_any_redis_command(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    with CommandCounter(raw) as count:
        first = await client.get("/csrf")
        [cookie] = set_cookies(first.headers)
        second = await client.get("/csrf")
        assert await ok(client, first.text) and await ok(client, second.text)
    assert count.value == 0, count.commands
    assert raw.dbsize() == 0
    # The cookie carries the minted token, as a write's would: flags and Max-Age.
    assert cookie.value == signed(cookie.token)
    assert cookie.attributes["max-age"] == str(MAX_AGE)
    assert "httponly" in cookie.attributes and cookie.attributes["samesite"] == "Lax"
    assert "set-cookie" not in second.headers  # the browser has the token now
    assert second.text != first.text  # freshly salted
    # Bound to the cookie's token with the first key, exactly as documented.
    for token in (first.text, second.text):
        mac, expected = mac_for(KEY, cookie.token, token)
        assert mac == expected


async def test_tokens_of_a_live_session_cost_no_redis_command_either(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    session_id = (await client.post("/write", json={"user_id": 1})).json()["id"]
    key = f"rss:s:{{{session_id}}}"
    before = raw.hgetall(key)
    with CommandCounter(raw) as count:
        token = (await client.get("/csrf")).text
        assert await ok(client, token)
    assert count.value == 0, count.commands
    assert raw.hgetall(key) == before  # nothing about CSRF is stored
    assert b"__csrf" not in before


@pytest.mark.parametrize("junk", [None, "", 42, "x" * 64, "é" * 64, ["a"], {"a": 1}, "A" * 5000])
async def test_junk_is_false_never_an_error(client: httpx.AsyncClient, junk: Any) -> None:
    token = (await client.get("/csrf")).text
    assert await ok(client, token)
    assert await ok(client, junk) is False


async def test_a_mutated_token_fails(client: httpx.AsyncClient) -> None:
    token = (await client.get("/csrf")).text
    for at in (0, 10, 20, 63):
        mutated = token[:at] + ("B" if token[at] != "B" else "C") + token[at + 1 :]
        assert await ok(client, mutated) is False
    assert await ok(client, token[:-1]) is False
    assert await ok(client, token + "A") is False


async def test_without_a_cookie_nothing_verifies(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    token = (await client.get("/csrf")).text
    client.cookies.clear()
    with CommandCounter(raw) as count:
        assert await ok(client, token) is False
    assert count.value == 0


async def test_a_token_of_another_session_fails(store: AsyncStore) -> None:
    app = make_app(store, secret_keys=[KEY])
    async with client_for(app) as alice, client_for(app) as bob:
        alice_token = (await alice.get("/csrf")).text
        await bob.get("/csrf")
        assert await ok(bob, alice_token) is False
        assert await ok(alice, alice_token) is True


async def test_tokens_verify_against_every_secret_key(store: AsyncStore) -> None:
    async with client_for(make_app(store, secret_keys=["old-key"])) as client:
        old_page = await client.get("/csrf")
        cookie = set_cookies(old_page.headers)[0]
    async with client_for(make_app(store, secret_keys=["new-key", "old-key"])) as client:
        client.cookies.set("session-id", cookie.value)
        assert await ok(client, old_page.text)  # made before the rotation
        new_token = (await client.get("/csrf")).text
        assert await ok(client, new_token)
        mac, expected = mac_for("new-key", cookie.token, new_token)
        assert mac == expected  # the first key makes them
    async with client_for(make_app(store, secret_keys=["new-key"])) as client:
        client.cookies.set("session-id", signed(cookie.token, "new-key"))
        assert await ok(client, new_token)
        assert await ok(client, old_page.text) is False  # its key was retired


async def test_unsigned_cookies_derive_the_key_from_the_token_alone(
    store: AsyncStore, raw: redis.Redis
) -> None:
    async with client_for(make_app(store, signed=False)) as client:
        with CommandCounter(raw) as count:
            page = await client.get("/csrf")
            assert await ok(client, page.text)
        [cookie] = set_cookies(page.headers)
        assert cookie.value == cookie.token  # no signature
        mac, expected = mac_for(None, cookie.token, page.text)
        assert mac == expected
        client.cookies.set("session-id", store.create_session_id())
        assert await ok(client, page.text) is False
    assert count.value == 0
    assert raw.dbsize() == 0


# -- tokens die with the session token ---------------------------------------------------


async def test_regenerate_ends_the_tokens(client: httpx.AsyncClient) -> None:
    await client.post("/write", json={"user_id": 1})
    token = (await client.get("/csrf")).text
    assert await ok(client, token)
    await client.post("/regenerate")
    assert await ok(client, token) is False
    assert await ok(client, (await client.get("/csrf")).text)


async def test_delete_ends_the_tokens(client: httpx.AsyncClient, raw: redis.Redis) -> None:
    await client.post("/write", json={"user_id": 1})
    old = (await client.get("/csrf")).text
    response = await client.post("/delete")
    body = response.json()
    assert body["before_still_valid"] is False  # within the request already
    # The response sets the new token's cookie (not the expired one): the new token works.
    [cookie] = set_cookies(response.headers)
    assert cookie.value and cookie.attributes["max-age"] == str(MAX_AGE)
    assert await ok(client, old) is False
    assert await ok(client, body["after"])
    assert raw.dbsize() == 0  # the session is gone, and the new token wrote nothing


async def test_a_cookie_whose_session_is_gone_keeps_its_tokens_until_the_first_write(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis
) -> None:
    # Rule 3: a read that finds no session keeps the request's token until the first
    # write, so tokens derived from it verify; the write goes to a fresh token (strict
    # ids), and the tokens of the old one die.
    planted = store.create_session_id()
    client.cookies.set("session-id", signed(planted))
    with CommandCounter(raw) as count:
        page = await client.get("/form")
    assert count.value == 1  # the read, nothing for the token
    assert "set-cookie" not in page.headers  # the browser keeps its cookie
    token = page.json()["token"]
    assert mac_for(KEY, planted, token)[0] == mac_for(KEY, planted, token)[1]
    assert await ok(client, token)
    written = await client.post("/write", json={"user_id": 2})
    [cookie] = set_cookies(written.headers)
    assert cookie.token != planted  # never adopted
    assert await ok(client, token) is False
    assert not await store.exists(id_of(planted))


async def test_a_token_minted_for_the_id_is_sent_when_a_csrf_token_is_made(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/id-then-csrf")
    assert len(set_cookies(response.headers)) == 1
    assert await ok(client, response.text)


# -- the anonymous sign-in form ------------------------------------------------------------


async def test_the_anonymous_sign_in_form_end_to_end(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis
) -> None:
    with CommandCounter(raw) as count:
        page = await client.get("/form")
    assert count.value == 0  # no cookie: the read is {} without Redis, the token is free
    assert page.json()["user"] is None
    [anonymous] = set_cookies(page.headers)
    assert raw.dbsize() == 0
    form_token = page.json()["token"]
    # A forged or missing token is refused, and nothing is written.
    for forged in (None, "x" * 64, (await client_for(client._transport.app).get("/csrf")).text):  # type: ignore[attr-defined]
        response = await client.post("/signin", json={"token": forged, "user_id": 7})
        assert response.status_code == 403
    assert raw.dbsize() == 0
    # The real form's token signs in; sign-in regenerates: a new token in the cookie.
    response = await client.post("/signin", json={"token": form_token, "user_id": 7})
    assert response.status_code == 200
    [signed_in] = set_cookies(response.headers)
    assert signed_in.token != anonymous.token
    session_id = response.json()["id"]
    assert session_id == id_of(signed_in.token)
    assert await store.sessions("user_id", 7) == [session_id]
    assert raw.keys("rss:s:*") == [f"rss:s:{{{session_id}}}".encode()]  # one hash only
    # The form's token, from before sign-in, is dead; a new page's token works.
    assert await ok(client, form_token) is False
    again = await client.post("/signin", json={"token": form_token, "user_id": 8})
    assert again.status_code == 403
    page = await client.get("/form")
    assert page.json()["user"] == 7
    assert await ok(client, page.json()["token"])


# -- the WSGI twin --------------------------------------------------------------------------


def make_wsgi_app(store: Store, **options: Any) -> Flask:
    app = Flask(__name__)

    @app.get("/form")
    def form() -> Any:
        session = get_session(request)
        user = session.get(["user_id"]).get("user_id")
        return jsonify({"user": user, "token": session.create_csrf_token()})

    @app.post("/verify")
    def verify() -> Any:
        token = (request.get_json() or {}).get("token")
        return jsonify({"ok": get_session(request).verify_csrf_token(token)})

    @app.post("/signin")
    def signin() -> Any:
        session = get_session(request)
        body = request.get_json() or {}
        if not session.verify_csrf_token(body.get("token")):
            return "refused", 403
        session.regenerate()
        session.set({"user_id": body["user_id"]})
        return jsonify({"id": session.id})

    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, **options
    )
    return app


def test_wsgi_tokens_cost_no_redis_and_the_sign_in_form_works(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    store = Store(sync_client, references=["user_id"], max_age=MAX_AGE)
    client = make_wsgi_app(store, secret_keys=["new", "old"]).test_client()
    with CommandCounter(raw) as count:
        page = client.get("/form")
        token = page.get_json()["token"]
        assert client.post("/verify", json={"token": token}).get_json() == {"ok": True}
    assert count.value == 0, count.commands
    assert raw.dbsize() == 0
    [anonymous] = set_cookies(page.headers)
    assert mac_for("new", anonymous.token, token)[0] == mac_for("new", anonymous.token, token)[1]
    assert client.post("/verify", json={"token": "junk"}).get_json() == {"ok": False}
    response = client.post("/signin", json={"token": token, "user_id": 3})
    assert response.status_code == 200
    assert set_cookies(response.headers)[0].token != anonymous.token
    assert store.sessions("user_id", 3) == [response.get_json()["id"]]
    assert client.post("/verify", json={"token": token}).get_json() == {"ok": False}
    assert client.post("/signin", json={"token": token, "user_id": 4}).status_code == 403
