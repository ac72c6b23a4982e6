"""The example apps of ``examples/``, each through its real stack: two devices of one
user sign in, list their sessions, sign out everywhere else, sign out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask.testing import FlaskClient

from examples import fastapi_app, flask_app, litestar_app, quart_app, starlette_app
from redis_session_sets import Store
from tests.support.web import id_of, set_cookies

KEYS = ["example-key"]


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def cookie_id(cookie_value: str | None) -> str:
    assert cookie_value
    return id_of(cookie_value.rsplit(".", 1)[0])


@pytest.mark.parametrize(
    "module",
    [fastapi_app, starlette_app, litestar_app, quart_app],
    ids=["fastapi", "starlette", "litestar", "quart"],
)
async def test_asgi_example(
    module: Any, async_client: redis.asyncio.Redis, sync_client: redis.Redis
) -> None:
    app = module.create_app(async_client, KEYS)
    store = Store(sync_client, references=["user_id"])

    def device() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async with device() as laptop, device() as phone, device() as intruder:
        # No token, or another session's token: refused, nothing signed in.
        assert (await laptop.post("/sign-in", data={"user_id": "ada"})).status_code in (403, 422)
        phone_token = csrf_token((await phone.get("/")).text)
        response = await laptop.post("/sign-in", data={"user_id": "ada", "csrf_token": phone_token})
        assert response.status_code == 403
        assert (await laptop.get("/sessions")).status_code == 401

        ids = {}
        for name, client in (("laptop", laptop), ("phone", phone)):
            token = csrf_token((await client.get("/")).text)
            before = cookie_id(client.cookies.get("session-id"))
            response = await client.post("/sign-in", data={"user_id": "ada", "csrf_token": token})
            assert response.status_code == 303
            ids[name] = cookie_id(client.cookies.get("session-id"))
            assert ids[name] != before  # regenerated at sign-in
            assert "Signed in as ada" in (await client.get("/")).text

        listed = (await laptop.get("/sessions")).json()
        assert {s["id"] for s in listed} == set(ids.values())
        assert [s["id"] for s in listed if s["current"]] == [ids["laptop"]]
        assert (await intruder.get("/sessions")).status_code == 401

        token = csrf_token((await laptop.get("/")).text)
        response = await laptop.post("/sign-out-everywhere", data={"csrf_token": token})
        assert response.json() == {"signed_out": 1}
        assert (await phone.get("/sessions")).status_code == 401
        assert store.sessions("user_id", "ada") == [ids["laptop"]]

        response = await laptop.post("/sign-out", data={"csrf_token": token})
        assert response.status_code == 303
        assert set_cookies(response.headers)[0].attributes["max-age"] == "0"
        assert (await laptop.get("/sessions")).status_code == 401
        assert store.sessions("user_id", "ada") == []


def test_flask_example(sync_client: redis.Redis) -> None:
    app = flask_app.create_app(sync_client, KEYS)
    store = Store(sync_client, references=["user_id"])
    laptop, phone, intruder = (app.test_client() for _ in range(3))

    def cookie(client: FlaskClient) -> str:
        found = client.get_cookie("session-id")
        return cookie_id(found.value if found else None)

    get: Callable[[FlaskClient, str], str] = lambda client, path: client.get(path).text  # noqa: E731
    assert laptop.post("/sign-in", data={"user_id": "ada"}).status_code == 403
    phone_token = csrf_token(get(phone, "/"))
    response = laptop.post("/sign-in", data={"user_id": "ada", "csrf_token": phone_token})
    assert response.status_code == 403

    ids = {}
    for name, client in (("laptop", laptop), ("phone", phone)):
        token = csrf_token(get(client, "/"))
        before = cookie(client)
        response = client.post("/sign-in", data={"user_id": "ada", "csrf_token": token})
        assert response.status_code == 303
        ids[name] = cookie(client)
        assert ids[name] != before
        assert "Signed in as ada" in get(client, "/")

    listed = laptop.get("/sessions").get_json()
    assert {s["id"] for s in listed} == set(ids.values())
    assert [s["id"] for s in listed if s["current"]] == [ids["laptop"]]
    assert intruder.get("/sessions").status_code == 401

    token = csrf_token(get(laptop, "/"))
    response = laptop.post("/sign-out-everywhere", data={"csrf_token": token})
    assert response.get_json() == {"signed_out": 1}
    assert phone.get("/sessions").status_code == 401
    assert store.sessions("user_id", "ada") == [ids["laptop"]]

    response = laptop.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert set_cookies(response.headers)[0].attributes["max-age"] == "0"
    assert laptop.get("/sessions").status_code == 401
    assert store.sessions("user_id", "ada") == []
