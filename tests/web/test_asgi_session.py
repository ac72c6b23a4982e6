"""The per-request session under Starlette and FastAPI, through httpx's ASGITransport.

Every test talks to the real throwaway Redis and counts its commands where a rule says
"no Redis".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from itsdangerous import Signer
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from redis_session_sets import (
    AsyncStore,
    SessionMiddleware,
    SessionStoreError,
    Store,
    get_session,
)
from tests.support.servers import RedisServer, free_port
from tests.support.web import CommandCounter, id_of, set_cookies

KEY = "test-secret-key"
MAX_AGE = 3600


def make_app(store: AsyncStore, **options: Any) -> Starlette:
    async def untouched(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def read(request: Request) -> Response:
        return JSONResponse(await get_session(request).get())

    async def session_id(request: Request) -> Response:
        return PlainTextResponse(get_session(request).id)

    async def write(request: Request) -> Response:
        session = get_session(request)
        await session.set(await request.json())
        return JSONResponse({"id": session.id})

    async def incr(request: Request) -> Response:
        return JSONResponse({"value": await get_session(request).incr("visits")})

    async def unset(request: Request) -> Response:
        return JSONResponse({"ok": await get_session(request).unset(["name"])})

    async def touch(request: Request) -> Response:
        return JSONResponse({"ok": await get_session(request).touch()})

    async def delete(request: Request) -> Response:
        session = get_session(request)
        existed = await session.delete()
        if request.query_params.get("then") == "set":
            await session.set({"after": "delete"})
        return JSONResponse({"existed": existed})

    async def regenerate(request: Request) -> Response:
        session = get_session(request)
        old = session.id
        new = await session.regenerate()
        return JSONResponse({"old": old, "new": new, "id": session.id})

    async def csrf(request: Request) -> Response:
        return PlainTextResponse(await get_session(request).create_csrf_token())

    async def verify(request: Request) -> Response:
        token = (await request.json()).get("token")
        return JSONResponse({"ok": await get_session(request).verify_csrf_token(token)})

    async def store_down(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("session store unavailable", status_code=503)

    return Starlette(
        routes=[
            Route("/untouched", untouched),
            Route("/read", read),
            Route("/id", session_id),
            Route("/write", write, methods=["POST"]),
            Route("/incr", incr, methods=["POST"]),
            Route("/unset", unset, methods=["POST"]),
            Route("/touch", touch, methods=["POST"]),
            Route("/delete", delete, methods=["POST"]),
            Route("/regenerate", regenerate, methods=["POST"]),
            Route("/csrf", csrf),
            Route("/verify", verify, methods=["POST"]),
        ],
        middleware=[Middleware(SessionMiddleware, store=store, **options)],
        exception_handlers={SessionStoreError: store_down},
    )


@pytest.fixture
def store(async_client: redis.asyncio.Redis) -> AsyncStore:
    return AsyncStore(async_client, references=["user_id"], max_age=MAX_AGE)


def client_for(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def client(store: AsyncStore) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(store, secret_keys=[KEY])) as client:
        yield client


def signed(token: str, key: str = KEY) -> str:
    """A cookie value as the middleware signs it (its salt and digest are part of the
    format; a change there breaks existing cookies, so the test pins them)."""
    import hashlib

    signer = Signer(key, salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    return signer.sign(token).decode()


def session_keys(raw: redis.Redis) -> set[str]:
    return {key.decode() for key in raw.scan_iter("rss:s:*")}


# -- rule 1: lazy -------------------------------------------------------------------


async def test_untouched_route_sends_no_redis_command_and_no_cookie(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    written = await client.post("/write", json={"name": "ada"})
    assert written.status_code == 200
    for cookies in ({}, dict(client.cookies), {"session-id": "garbage"}):
        client.cookies.clear()
        client.cookies.update(cookies)
        with CommandCounter(raw) as count:
            response = await client.get("/untouched")
        assert response.status_code == 200
        assert count.value == 0
        assert "set-cookie" not in response.headers


async def test_read_without_cookie_is_empty_without_redis(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    with CommandCounter(raw) as count:
        response = await client.get("/read")
        id_response = await client.get("/id")
    assert response.json() == {}
    assert count.value == 0
    assert "set-cookie" not in response.headers
    assert "set-cookie" not in id_response.headers  # an id alone is not a write
    assert session_keys(raw) == set()


async def test_read_and_write_take_one_command_each(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    with CommandCounter(raw) as count:
        await client.post("/write", json={"name": "ada", "user_id": 7})
    assert count.value == 1  # a new session: one script, no check first
    with CommandCounter(raw) as count:
        response = await client.get("/read")
    assert count.value == 1
    assert response.json() == {"name": "ada", "user_id": 7}
    with CommandCounter(raw) as count:
        await client.post("/write", json={"name": "grace"})
    assert count.value == 1  # the cookie's session exists: the create=False write succeeds


# -- rule 2: the cookie ------------------------------------------------------------


async def test_write_sets_cookie_with_flags_and_max_age(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    response = await client.post("/write", json={"name": "ada"})
    [cookie] = set_cookies(response.headers)
    assert cookie.name == "session-id"
    attributes = cookie.attributes
    assert attributes["max-age"] == str(MAX_AGE)
    assert attributes["path"] == "/"
    assert attributes["samesite"] == "Lax"
    assert "httponly" in attributes
    assert "secure" not in attributes  # plain http
    assert "domain" not in attributes
    # The cookie carries the token, signed; the id is derived from it and names the hash.
    assert cookie.value == signed(cookie.token)
    assert response.json()["id"] == id_of(cookie.token)
    assert session_keys(raw) == {f"rss:s:{{{id_of(cookie.token)}}}"}
    ttl = raw.ttl(f"rss:s:{{{id_of(cookie.token)}}}")
    assert MAX_AGE - 5 < ttl <= MAX_AGE


async def test_token_is_never_stored_in_redis(client: httpx.AsyncClient, raw: redis.Redis) -> None:
    response = await client.post("/write", json={"user_id": 5})
    token = set_cookies(response.headers)[0].token
    dump: list[Any] = []
    for key in raw.scan_iter("*"):
        dump.append(key)
        if raw.type(key) == b"hash":
            dump += [*raw.hgetall(key).items()]
        else:
            dump += raw.zrange(key, 0, -1)
    assert token not in repr(dump)
    assert id_of(token) in repr(dump)


@pytest.mark.parametrize(
    ("options", "base_url", "expected"),
    [
        ({}, "https://testserver", {"secure"}),
        ({"secure": False}, "https://testserver", set()),
        ({"secure": True}, "http://testserver", {"secure"}),
        ({"same_site": "strict", "domain": "example.org", "path": "/app"}, "http://x", set()),
        ({"same_site": "none"}, "http://testserver", {"secure"}),
        ({"http_only": False, "same_site": None}, "http://testserver", set()),
    ],
)
async def test_cookie_options(
    store: AsyncStore, options: dict[str, Any], base_url: str, expected: set[str]
) -> None:
    async with client_for(make_app(store, secret_keys=[KEY], **options), base_url) as client:
        response = await client.post("/write", json={"a": 1})
    [cookie] = set_cookies(response.headers)
    assert ("secure" in cookie.attributes) == ("secure" in expected)
    same_site = options.get("same_site", "lax")
    assert cookie.attributes.get("samesite") == (same_site and same_site.capitalize())
    assert cookie.attributes.get("domain") == options.get("domain")
    assert cookie.attributes["path"] == options.get("path", "/")
    assert ("httponly" in cookie.attributes) == options.get("http_only", True)


async def test_custom_max_age_and_cookie_name(
    async_client: redis.asyncio.Redis,
) -> None:
    store = AsyncStore(async_client, max_age=120)
    app = make_app(store, secret_keys=[KEY], cookie_name="sid")
    async with client_for(app) as client:
        response = await client.post("/write", json={"a": 1})
        [cookie] = set_cookies(response.headers)
        assert (cookie.name, cookie.attributes["max-age"]) == ("sid", "120")
        assert (await client.get("/read")).json() == {"a": 1}


@pytest.mark.parametrize("max_age", [0.5, 1.5])
async def test_cookie_max_age_never_falls_short_of_the_session(
    async_client: redis.asyncio.Redis, max_age: float
) -> None:
    # Max-Age is whole seconds: rounding a fractional max age down would make the browser
    # drop the cookie before the server drops the session (Max-Age=0: at once).
    store = AsyncStore(async_client, max_age=max_age)
    async with client_for(make_app(store, secret_keys=[KEY])) as client:
        response = await client.post("/write", json={"a": 1})
        [cookie] = set_cookies(response.headers)
        assert cookie.attributes["max-age"] == ("2" if max_age > 1 else "1")
        # The session lives no longer than the cookie (read by Redis's TTL, not by a
        # second request: on a loaded machine half a second may pass before it).
        ttl = await async_client.pttl(f"rss:s:{{{response.json()['id']}}}")
        assert ttl <= int(cookie.attributes["max-age"]) * 1000
        assert ttl == -2 or ttl > 0


async def test_every_write_method_sends_the_cookie(client: httpx.AsyncClient) -> None:
    await client.post("/write", json={"name": "ada"})
    for path in ("/incr", "/unset", "/touch", "/regenerate"):
        response = await client.post(path)
        assert response.status_code == 200
        assert len(set_cookies(response.headers)) == 1, path
    assert (await client.get("/read")).json() == {"visits": 1}


async def test_unset_and_touch_without_session_do_nothing(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    with CommandCounter(raw) as count:
        unset = await client.post("/unset")
        touched = await client.post("/touch")
    assert count.value == 0
    assert unset.json() == touched.json() == {"ok": False}
    assert "set-cookie" not in unset.headers
    assert "set-cookie" not in touched.headers


async def test_delete_expires_cookie_and_session(
    client: httpx.AsyncClient, raw: redis.Redis, store: AsyncStore
) -> None:
    first = await client.post("/write", json={"user_id": 9})
    session_id = first.json()["id"]
    response = await client.post("/delete")
    assert response.json() == {"existed": True}
    [cookie] = set_cookies(response.headers)
    assert cookie.value == ""
    assert cookie.attributes["max-age"] == "0"
    assert session_keys(raw) == set()
    assert await store.sessions("user_id", 9) == []
    assert session_id not in str(raw.keys("*"))


async def test_write_after_delete_starts_a_new_session(client: httpx.AsyncClient) -> None:
    first = await client.post("/write", json={"user_id": 9})
    old_token = set_cookies(first.headers)[0].token
    response = await client.post("/delete?then=set")
    [cookie] = set_cookies(response.headers)
    assert cookie.token not in ("", old_token)
    assert (await client.get("/read")).json() == {"after": "delete"}


async def test_regenerate_moves_data_to_a_new_id(
    client: httpx.AsyncClient, raw: redis.Redis, store: AsyncStore
) -> None:
    first = await client.post("/write", json={"user_id": 3, "name": "ada"})
    old_token = set_cookies(first.headers)[0].token
    response = await client.post("/regenerate")
    body = response.json()
    [cookie] = set_cookies(response.headers)
    assert body["old"] == id_of(old_token)
    assert body["new"] == body["id"] == id_of(cookie.token) != body["old"]
    assert session_keys(raw) == {f"rss:s:{{{body['new']}}}"}
    assert await store.sessions("user_id", 3) == [body["new"]]
    assert (await client.get("/read")).json() == {"user_id": 3, "name": "ada"}


async def test_regenerate_without_session_creates_an_empty_one(
    client: httpx.AsyncClient, store: AsyncStore
) -> None:
    body = (await client.post("/regenerate")).json()
    assert await store.exists(body["new"])
    assert not await store.exists(body["old"])


# -- key rotation --------------------------------------------------------------------


async def test_key_rotation(store: AsyncStore, raw: redis.Redis) -> None:
    async with client_for(make_app(store, secret_keys=["old-key"])) as client:
        response = await client.post("/write", json={"name": "ada"})
        old_cookie = set_cookies(response.headers)[0]
    rotated = make_app(store, secret_keys=["new-key", "old-key"])
    async with client_for(rotated) as client:
        client.cookies.set("session-id", old_cookie.value)
        assert (await client.get("/read")).json() == {"name": "ada"}  # old key verifies
        response = await client.post("/write", json={"name": "grace"})
        new_cookie = set_cookies(response.headers)[0]
    assert new_cookie.token == old_cookie.token  # same session, re-signed
    assert new_cookie.value == signed(new_cookie.token, "new-key")  # the first key signs
    retired = make_app(store, secret_keys=["other-key"])
    async with client_for(retired) as client:
        client.cookies.set("session-id", old_cookie.value)
        with CommandCounter(raw) as count:
            assert (await client.get("/read")).json() == {}
        assert count.value == 0  # an unknown key: no session, not even a lookup
        response = await client.post("/write", json={"name": "eve"})
        assert set_cookies(response.headers)[0].token != old_cookie.token
    assert await store.get(id_of(old_cookie.token)) == {"name": "grace"}


def test_signed_without_keys_is_refused_at_start(
    async_client: redis.asyncio.Redis, sync_client: redis.Redis
) -> None:
    store = AsyncStore(async_client)
    app = Starlette()
    keys: Any
    for keys in (None, [], ""):
        with pytest.raises(ValueError, match="secret_keys"):
            SessionMiddleware(app, store=store, secret_keys=keys)
    SessionMiddleware(app, store=store, signed=False)  # explicitly unsigned is fine
    with pytest.raises(TypeError, match="AsyncStore"):
        SessionMiddleware(app, store=Store(sync_client), secret_keys=[KEY])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SessionMiddleware(app, store=store, secret_keys=[KEY], same_site="sometimes")
    with pytest.raises(ValueError):
        SessionMiddleware(app, store=store, secret_keys=[KEY], cookie_name="bad name;")
    with pytest.raises(ValueError):
        SessionMiddleware(app, store=store, secret_keys=[KEY], touch_interval=-1)
    with pytest.raises(ValueError, match="max_age"):
        SessionMiddleware(app, store=store, secret_keys=[KEY], touch_interval=store.max_age)


# -- rule 3: strict ids --------------------------------------------------------------


@pytest.mark.parametrize("is_signed", [True, False])
async def test_planted_unknown_id_is_replaced_on_write(
    store: AsyncStore, raw: redis.Redis, is_signed: bool
) -> None:
    planted = store.create_session_id()  # well-formed, never stored
    options: dict[str, Any] = {"secret_keys": [KEY]} if is_signed else {"signed": False}
    async with client_for(make_app(store, **options)) as client:
        client.cookies.set("session-id", signed(planted) if is_signed else planted)
        assert (await client.get("/id")).text == id_of(planted)  # the cookie's id, unverified
        with CommandCounter(raw) as count:
            response = await client.post("/write", json={"user_id": 1})
        assert count.value == 2  # the create=False write reports it missing, then a new one
        [cookie] = set_cookies(response.headers)
        assert cookie.token != planted
        assert response.json()["id"] == id_of(cookie.token)
    assert session_keys(raw) == {f"rss:s:{{{id_of(cookie.token)}}}"}
    assert await store.sessions("user_id", 1) == [id_of(cookie.token)]


async def test_read_of_unknown_id_then_write_goes_straight_to_a_new_token(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis
) -> None:
    planted = store.create_session_id()
    client.cookies.set("session-id", signed(planted))

    async def read_then_write(request: Request) -> Response:
        session = get_session(request)
        assert await session.get() == {}
        await session.set({"a": 1})
        return PlainTextResponse(session.id)

    app = make_app(store, secret_keys=[KEY])
    app.add_route("/read-then-write", read_then_write, methods=["POST"])
    async with client_for(app) as other:
        other.cookies.set("session-id", signed(planted))
        with CommandCounter(raw) as count:
            response = await other.post("/read-then-write")
    assert count.value == 2  # the read, then one create on a fresh token
    assert response.text != id_of(planted)
    assert session_keys(raw) == {f"rss:s:{{{response.text}}}"}


async def test_late_request_never_resurrects_a_deleted_session(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis
) -> None:
    response = await client.post("/write", json={"user_id": 4, "name": "ada"})
    old_id = response.json()["id"]
    assert await store.delete_all("user_id", 4) == 1  # "sign out everywhere" elsewhere
    for path in ("/incr", "/write", "/csrf"):
        kwargs: dict[str, Any] = {"json": {"x": 1}} if path == "/write" else {}
        response = await (client.get(path) if path == "/csrf" else client.post(path, **kwargs))
        assert response.status_code == 200
        assert not await store.exists(old_id)
    assert (await client.get("/read")).json() == {"visits": 1, "x": 1}
    assert await store.sessions("user_id", 4) == []


# -- rule 4: bad cookies -------------------------------------------------------------

BAD_COOKIES = [
    b"session-id=garbage",
    b"session-id=" + b"a" * 5000,
    b"session-id=\xff\xfe\xc3\xa9t\xc3\xa9",
    b"session-id=",
    b"session-id",
    b"session-id=a.b.c; other=1",
    b'session-id="{}"',
    b"=;;;==; session-id=..",
    b"session-id=%00%01; x=\x00",
]


@pytest.mark.parametrize("header", BAD_COOKIES)
async def test_bad_cookies_are_no_session(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis, header: bytes
) -> None:
    headers = [(b"cookie", header)]
    with CommandCounter(raw) as count:
        read = await client.get("/read", headers=headers)
    assert (read.status_code, read.json(), count.value) == (200, {}, 0)
    written = await client.post("/write", headers=headers, json={"a": 1})
    assert written.status_code == 200
    [cookie] = set_cookies(written.headers)
    assert session_keys(raw) == {f"rss:s:{{{id_of(cookie.token)}}}"}
    for path in ("/incr", "/unset", "/touch", "/delete", "/regenerate", "/csrf"):
        response = await client.request("GET" if path == "/csrf" else "POST", path, headers=headers)
        assert response.status_code == 200


async def test_duplicated_cookie_is_no_session(
    client: httpx.AsyncClient, store: AsyncStore, raw: redis.Redis
) -> None:
    first = await client.post("/write", json={"name": "ada"})
    real = set_cookies(first.headers)[0].value
    planted = signed(store.create_session_id())
    client.cookies.clear()
    for header in (
        f"session-id={real}; session-id={planted}",
        f"session-id={real}; session-id={real}",
    ):
        with CommandCounter(raw) as count:
            response = await client.get("/read", headers={"cookie": header})
        assert (response.status_code, response.json(), count.value) == (200, {}, 0)
    # Two Cookie headers (as HTTP/2 may send) count as one list: still a duplicate.
    headers = [(b"cookie", f"session-id={real}".encode()), (b"cookie", b"session-id=x")]
    response = await client.get("/read", headers=headers)
    assert response.json() == {}
    # Other cookies beside it do not matter.
    response = await client.get("/read", headers={"cookie": f"a=1; session-id={real}; b=\x7f"})
    assert response.json() == {"name": "ada"}


async def test_bad_arguments_raise_before_anything_is_written(
    store: AsyncStore, raw: redis.Redis
) -> None:
    async def bad(request: Request) -> Response:
        session = get_session(request)
        for call in (
            lambda: session.set({"__csrf": "x"}),
            lambda: session.set({"user_id": 1.5}),
            lambda: session.set({"a": object()}),
            lambda: session.incr("__created"),
            lambda: session.unset("name"),
            lambda: session.get("name"),
        ):
            with pytest.raises((TypeError, ValueError)):
                await call()
        return PlainTextResponse("checked")

    app = make_app(store, secret_keys=[KEY])
    app.add_route("/bad", bad)
    async with client_for(app) as client:
        with CommandCounter(raw) as count:
            response = await client.get("/bad")
    assert response.text == "checked"
    assert count.value == 0
    assert "set-cookie" not in response.headers


# -- CSRF: tests/web/test_csrf.py ----------------------------------------------------


# -- touch_interval ------------------------------------------------------------------


async def test_touch_interval_renews_at_most_once_per_interval(
    store: AsyncStore, raw: redis.Redis
) -> None:
    app = make_app(store, secret_keys=[KEY], touch_interval=600)
    async with client_for(app) as client:
        session_id = (await client.post("/write", json={"name": "ada"})).json()["id"]
        key = f"rss:s:{{{session_id}}}"
        with CommandCounter(raw) as count:
            response = await client.get("/read")
        assert count.value == 1  # touched just now: the read alone
        assert "set-cookie" not in response.headers
        # Age the session: last renewal 20 minutes ago, 100 s left.
        raw.hset(key, "__touched", int(time.time() * 1000) - 1_200_000)
        raw.expire(key, 100)
        with CommandCounter(raw) as count:
            response = await client.get("/read")
        assert count.value == 2  # the read learnt __touched, then one touch
        assert response.json() == {"name": "ada"}
        [cookie] = set_cookies(response.headers)
        assert cookie.attributes["max-age"] == str(MAX_AGE)  # the browser keeps it as long
        assert raw.ttl(key) > MAX_AGE - 10
        assert int(raw.hget(key, "__touched") or 0) > time.time() * 1000 - 60_000
        with CommandCounter(raw) as count:
            response = await client.get("/read")
        assert count.value == 1
        assert "set-cookie" not in response.headers


async def test_a_session_without_touched_is_renewed_by_a_read(
    store: AsyncStore, raw: redis.Redis
) -> None:
    """A hash without __touched (written by hand or by an older version) is due for
    renewal: the read renews it, which writes the field (the rule of _web/options.py,
    shared with the dict sessions)."""
    app = make_app(store, secret_keys=[KEY], touch_interval=600)
    async with client_for(app) as client:
        session_id = (await client.post("/write", json={"name": "ada"})).json()["id"]
        key = f"rss:s:{{{session_id}}}"
        raw.hdel(key, "__touched")
        raw.expire(key, 100)
        with CommandCounter(raw) as count:
            response = await client.get("/read")
        assert count.value == 2  # the read, then the renewal
        assert len(set_cookies(response.headers)) == 1
        assert raw.ttl(key) > MAX_AGE - 10
        assert raw.hget(key, "__touched") is not None


async def test_touch_interval_zero_renews_on_every_read(
    store: AsyncStore, raw: redis.Redis
) -> None:
    app = make_app(store, secret_keys=[KEY], touch_interval=0)
    async with client_for(app) as client:
        session_id = (await client.post("/write", json={"name": "ada"})).json()["id"]
        key = f"rss:s:{{{session_id}}}"
        for _ in range(2):
            raw.expire(key, 100)
            with CommandCounter(raw) as count:
                response = await client.get("/read")
            assert count.value == 2  # the read, then the renewal, on every read
            assert response.json() == {"name": "ada"}
            assert len(set_cookies(response.headers)) == 1
            assert raw.ttl(key) > MAX_AGE - 10


async def test_without_touch_interval_reads_never_write(
    client: httpx.AsyncClient, raw: redis.Redis
) -> None:
    session_id = (await client.post("/write", json={"name": "ada"})).json()["id"]
    key = f"rss:s:{{{session_id}}}"
    raw.hset(key, "__touched", 1)
    raw.expire(key, 100)
    response = await client.get("/read")
    assert "set-cookie" not in response.headers
    assert raw.ttl(key) <= 100


# -- living with others --------------------------------------------------------------


@pytest.mark.parametrize("theirs_outside", [True, False])
async def test_coexists_with_starlettes_session_middleware(
    store: AsyncStore, raw: redis.Redis, theirs_outside: bool
) -> None:
    async def both(request: Request) -> Response:
        request.session["theirs"] = request.session.get("theirs", 0) + 1
        ours = get_session(request)
        visits = await ours.incr("visits")
        return JSONResponse({"theirs": request.session["theirs"], "ours": visits})

    app = Starlette(
        routes=[Route("/both", both)],
        middleware=[
            Middleware(StarletteSessionMiddleware, secret_key="starlette-key"),
            Middleware(SessionMiddleware, store=store, secret_keys=[KEY]),
        ][:: 1 if theirs_outside else -1],
    )
    async with client_for(app) as client:
        first = await client.get("/both")
        assert {c.name for c in set_cookies(first.headers)} == {"session", "session-id"}
        second = await client.get("/both")
    assert first.json() == {"theirs": 1, "ours": 1}
    assert second.json() == {"theirs": 2, "ours": 2}


async def test_request_session_is_ours_when_nobody_else_owns_it(store: AsyncStore) -> None:
    async def route(request: Request) -> Response:
        assert request.session is get_session(request)  # type: ignore[comparison-overlap]
        await get_session(request).set({"a": 1})
        return JSONResponse(await request.session.get())  # type: ignore[call-overload]

    app = Starlette(
        routes=[Route("/", route)],
        middleware=[Middleware(SessionMiddleware, store=store, secret_keys=[KEY])],
    )
    async with client_for(app) as client:
        assert (await client.get("/")).json() == {"a": 1}


async def test_get_session_without_middleware_is_a_clear_error() -> None:
    async def route(request: Request) -> Response:
        with pytest.raises(RuntimeError, match="SessionMiddleware"):
            get_session(request)
        with pytest.raises(TypeError):
            get_session(42)  # type: ignore[call-overload]
        return PlainTextResponse("ok")

    async with client_for(Starlette(routes=[Route("/", route)])) as client:
        assert (await client.get("/")).text == "ok"


async def test_get_session_takes_the_scope_too(store: AsyncStore) -> None:
    async def route(request: Request) -> Response:
        assert get_session(request.scope) is get_session(request)
        return PlainTextResponse("ok")

    app = make_app(store, secret_keys=[KEY])
    app.add_route("/scope", route)
    async with client_for(app) as client:
        assert (await client.get("/scope")).text == "ok"


async def test_create_session_outside_the_middleware_flow(
    store: AsyncStore, raw: redis.Redis
) -> None:
    middleware = SessionMiddleware(Starlette(), store=store, secret_keys=[KEY])
    session = middleware.create_session({"type": "http", "scheme": "https", "headers": []})
    assert await session.get() == {}
    assert session.set_cookie_header() is None
    await session.set({"user_id": 11})
    header = session.set_cookie_header()
    assert header is not None and "Secure" in header
    value = header.split(";")[0].split("=", 1)[1]
    again = middleware.create_session(
        {"type": "http", "headers": [(b"cookie", f"session-id={value}".encode())]}
    )
    assert again.id == session.id
    assert again.get_key() == f"rss:s:{{{session.id}}}"
    assert await again.get(["user_id"]) == {"user_id": 11}


async def test_websockets_get_a_session_and_the_cookie_on_accept(store: AsyncStore) -> None:
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def chat(websocket: WebSocket) -> None:
        session = get_session(websocket)
        if websocket.query_params.get("write"):
            await session.set({"chatting": True})
        await websocket.accept()
        await websocket.send_json(await session.get())
        await websocket.close()

    app = Starlette(
        routes=[WebSocketRoute("/ws", chat)],
        middleware=[Middleware(SessionMiddleware, store=store, secret_keys=[KEY])],
    )

    async def connect(query: bytes, cookie: bytes = b"") -> list[dict[str, Any]]:
        """One WebSocket conversation, spoken in plain ASGI; returns what the app sent."""
        incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: Any) -> None:
            sent.append(dict(message))

        headers = [(b"cookie", cookie)] if cookie else []
        scope = {"type": "websocket", "path": "/ws", "query_string": query, "headers": headers,
                 "scheme": "ws", "server": ("t", 80), "root_path": ""}  # fmt: skip
        await app(scope, receive, send)
        return sent

    accept, text, _ = await connect(b"write=1")
    assert text["text"] == '{"chatting":true}'
    [(name, line)] = accept["headers"]
    assert name == b"set-cookie" and line.startswith(b"session-id=")
    cookie = line.split(b";")[0]
    accept, text, _ = await connect(b"", cookie)
    assert text["text"] == '{"chatting":true}'
    assert not accept.get("headers")


# -- rule 7: Redis down --------------------------------------------------------------


async def test_redis_down_fails_loudly_only_where_the_session_is_used() -> None:
    no_retry = Retry(NoBackoff(), 0)
    dead = redis.asyncio.Redis(port=free_port(), socket_connect_timeout=0.5, retry=no_retry)
    store = AsyncStore(dead)
    async with client_for(make_app(store, secret_keys=[KEY])) as client:
        assert (await client.get("/untouched")).status_code == 200
        assert (await client.get("/read")).json() == {}  # no cookie: no Redis needed
        client.cookies.set("session-id", signed(store.create_session_id()))
        assert (await client.get("/untouched")).status_code == 200
        assert (await client.get("/read")).status_code == 503
        assert (await client.post("/write", json={"a": 1})).status_code == 503
    await dead.aclose()


async def test_redis_back_again_needs_no_restart() -> None:
    server = RedisServer()
    server.start()
    client = redis.asyncio.Redis(port=server.port, retry=Retry(NoBackoff(), 0))
    try:
        async with client_for(make_app(AsyncStore(client), secret_keys=[KEY])) as http:
            assert (await http.post("/write", json={"a": 1})).status_code == 200
            server.stop()
            assert (await http.get("/read")).status_code == 503
            assert (await http.get("/untouched")).status_code == 200
            server.start()  # same port, empty: the cookie's session is gone
            assert (await http.get("/read")).json() == {}
            assert (await http.post("/write", json={"b": 2})).status_code == 200
            assert (await http.get("/read")).json() == {"b": 2}
    finally:
        await client.aclose()
        server.close()


async def test_root_get_session_works_as_a_fastapi_dependency(store: AsyncStore) -> None:
    from fastapi import Depends, FastAPI

    from redis_session_sets import get_session as root_get_session

    api = FastAPI()
    api.add_middleware(SessionMiddleware, store=store, secret_keys=[KEY])

    @api.post("/visit")
    async def visit(session: Any = Depends(root_get_session)) -> dict[str, int]:  # noqa: B008
        return {"visits": await session.incr("visits")}

    async with client_for(api) as client:
        assert (await client.post("/visit")).json() == {"visits": 1}
        assert (await client.post("/visit")).json() == {"visits": 2}
