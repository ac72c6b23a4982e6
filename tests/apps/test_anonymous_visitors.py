"""Nobody fills Redis from outside (docs/design.md, rule 9): page views of visitors who
are not signed in, each page with a CSRF-protected form, write nothing to Redis — in the
example apps and the demo, through their real stacks, counted with DBSIZE and MONITOR."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from examples import fastapi_app, flask_app, starlette_app
from redis_session_sets.demo import create_app as create_demo
from redis_session_sets.demo import demo_store
from tests.support.web import CommandCounter, set_cookies

KEYS = ["flood-key"]
VIEWS = 100
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# What a visitor's request may send: reads only (a cookie's session is looked up).
READS = {"HGETALL", "HMGET", "EXISTS"}


def asgi_apps(async_client: redis.asyncio.Redis) -> dict[str, tuple[Any, str]]:
    demo = create_demo(demo_store(async_client), secret_keys=KEYS)
    return {
        "fastapi": (fastapi_app.create_app(async_client, KEYS), "/"),
        "starlette": (starlette_app.create_app(async_client, KEYS), "/"),
        "demo": (demo, "/signin"),
    }


@pytest.mark.parametrize("name", ["fastapi", "starlette", "demo"])
async def test_cookieless_views_of_a_csrf_form_leave_redis_untouched(
    async_client: redis.asyncio.Redis, raw: redis.Redis, name: str
) -> None:
    app, path = asgi_apps(async_client)[name]
    transport = httpx.ASGITransport(app=app)
    before = raw.dbsize()
    with CommandCounter(raw) as count:
        for _ in range(VIEWS):
            # A new client each time: no cookie jar, as a flood of scripted requests.
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                page = await client.get(path)
            assert page.status_code == 200
            assert CSRF.search(page.text)
            assert len(set_cookies(page.headers)) == 1  # the form's token is in the cookie
    assert raw.dbsize() == before == 0
    assert count.value == 0, count.commands[:5]


@pytest.mark.parametrize("name", ["fastapi", "starlette", "demo"])
async def test_a_visitor_who_keeps_the_cookie_writes_nothing_either(
    async_client: redis.asyncio.Redis, raw: redis.Redis, name: str
) -> None:
    app, path = asgi_apps(async_client)[name]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = CSRF.search((await client.get(path)).text)
        with CommandCounter(raw) as count:
            for _ in range(20):
                page = await client.get(path)
                assert "set-cookie" not in page.headers
        found = CSRF.search(page.text)
    assert first and found and first.group(1) != found.group(1)  # fresh tokens each page
    assert raw.dbsize() == 0
    assert {command.split()[0].upper() for command in count.commands} <= READS


def test_cookieless_views_of_the_flask_example_leave_redis_untouched(
    sync_client: redis.Redis, raw: redis.Redis
) -> None:
    app = flask_app.create_app(sync_client, KEYS)
    with CommandCounter(raw) as count:
        for _ in range(VIEWS):
            page = app.test_client().get("/")
            assert page.status_code == 200 and CSRF.search(page.text)
            assert len(set_cookies(page.headers)) == 1
    assert raw.dbsize() == 0
    assert count.value == 0, count.commands[:5]


async def test_the_demo_sign_in_form_works_without_any_stored_state(
    async_client: redis.asyncio.Redis, raw: redis.Redis
) -> None:
    app = create_demo(demo_store(async_client), secret_keys=KEYS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/signin")
        found = CSRF.search(page.text)
        assert found and raw.dbsize() == 0
        answer = await client.post("/signin", data={"user_id": "1", "csrf_token": found.group(1)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/?m=welcome"
        assert len(raw.keys("rss:s:*")) == 1
        # The sign-in form's token died with the anonymous token at sign-in.
        again = await client.post("/signin", data={"user_id": "2", "csrf_token": found.group(1)})
        assert again.status_code == 403
