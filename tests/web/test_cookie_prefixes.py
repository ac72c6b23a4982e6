"""Cookie name prefixes: a ``__Host-`` cookie needs Secure, ``Path=/`` and no Domain; a
``__Secure-`` cookie needs Secure. Browsers silently drop one that breaks its prefix's
rules, so every middleware of the library refuses such settings at start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask
from starlette.applications import Starlette

from redis_session_sets import AsyncStore, SessionMiddleware, Store, WSGISessionMiddleware
from redis_session_sets._web.cookies import CookieSettings
from redis_session_sets.flask import RedisSessionInterface
from redis_session_sets.starlette import DictSessionMiddleware
from tests.support.web import set_cookies

KEY = "prefix-test-key"

# (options, refused?) for the cookie settings; secure=None means "Secure over https".
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"cookie_name": "__Host-session"}, False),
    ({"cookie_name": "__Host-session", "secure": True}, False),
    ({"cookie_name": "__Host-session", "secure": False}, True),
    ({"cookie_name": "__Host-session", "path": "/app"}, True),
    ({"cookie_name": "__Host-session", "domain": "example.org"}, True),
    ({"cookie_name": "__host-session", "secure": False}, True),  # browsers ignore case
    ({"cookie_name": "__HOST-session", "domain": "example.org"}, True),
    ({"cookie_name": "__Secure-session"}, False),
    ({"cookie_name": "__Secure-session", "path": "/app", "domain": "example.org"}, False),
    ({"cookie_name": "__Secure-session", "secure": False}, True),
    ({"cookie_name": "__secure-session", "secure": False}, True),
    ({"cookie_name": "session", "secure": False, "path": "/app", "domain": "x.org"}, False),
    ({"cookie_name": "_Host-session", "secure": False}, False),  # not the prefix
]
IDS = [" ".join(f"{k}={v}" for k, v in options.items()) for options, _ in CASES]


@pytest.mark.parametrize(("options", "refused"), CASES, ids=IDS)
def test_cookie_settings_check_the_prefix(options: dict[str, Any], refused: bool) -> None:
    if refused:
        with pytest.raises(ValueError, match="dropped by browsers"):
            CookieSettings(secret_keys=KEY, **options)
    else:
        CookieSettings(secret_keys=KEY, **options)


@pytest.mark.parametrize(("options", "refused"), CASES, ids=IDS)
def test_every_middleware_checks_the_prefix_at_start_up(
    async_client: redis.asyncio.Redis,
    sync_client: redis.Redis,
    options: dict[str, Any],
    refused: bool,
) -> None:
    async_store, sync_store = AsyncStore(async_client), Store(sync_client)
    makers: list[Callable[[], object]] = [
        lambda: SessionMiddleware(Starlette(), store=async_store, secret_keys=KEY, **options),
        lambda: DictSessionMiddleware(Starlette(), store=async_store, secret_keys=KEY, **options),
        lambda: WSGISessionMiddleware(
            Flask(__name__).wsgi_app, store=sync_store, secret_keys=KEY, **options
        ),
    ]
    for make in makers:
        if refused:
            with pytest.raises(ValueError, match="dropped by browsers"):
                make()
        else:
            make()


async def test_a_host_cookie_is_sent_with_secure_over_https(
    async_client: redis.asyncio.Redis,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        from redis_session_sets import get_session

        await get_session(scope).set({"a": 1})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = SessionMiddleware(
        app, store=AsyncStore(async_client), secret_keys=KEY, cookie_name="__Host-session"
    )
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        [cookie] = set_cookies((await client.get("/")).headers)
    assert cookie.name == "__Host-session"
    assert "secure" in cookie.attributes and cookie.attributes["path"] == "/"
    assert "domain" not in cookie.attributes


FLASK_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"SESSION_COOKIE_NAME": "__Host-session"}, True),  # Flask's default is not Secure
    ({"SESSION_COOKIE_NAME": "__Host-session", "SESSION_COOKIE_SECURE": True}, False),
    (
        {
            "SESSION_COOKIE_NAME": "__Host-session",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_PATH": "/app",
        },
        True,
    ),
    (
        {
            "SESSION_COOKIE_NAME": "__Host-session",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_DOMAIN": "example.org",
        },
        True,
    ),
    ({"SESSION_COOKIE_NAME": "__Secure-session"}, True),
    ({"SESSION_COOKIE_NAME": "__Secure-session", "SESSION_COOKIE_SECURE": True}, False),
    ({"SESSION_COOKIE_NAME": "session"}, False),
]


@pytest.mark.parametrize(("config", "refused"), FLASK_CASES)
def test_flask_checks_the_prefix_against_its_settings(
    sync_client: redis.Redis, config: dict[str, Any], refused: bool
) -> None:
    app = Flask(__name__)
    app.secret_key = KEY
    app.config.update(config, TESTING=True)  # the error reaches the test, not a 500 page
    app.session_interface = RedisSessionInterface(Store(sync_client))

    @app.get("/")
    def index() -> str:
        from flask import session

        session["a"] = 1
        return "ok"

    client = app.test_client()
    if refused:
        with pytest.raises(ValueError, match="dropped by browsers"):
            client.get("/", base_url="https://localhost")
    else:
        response = client.get("/", base_url="https://localhost")
        assert response.status_code == 200
        [cookie] = set_cookies(response.headers)
        assert cookie.name == config["SESSION_COOKIE_NAME"]


DJANGO_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"SESSION_COOKIE_NAME": "__Host-sessionid"}, True),  # Django's default is not Secure
    ({"SESSION_COOKIE_NAME": "__Host-sessionid", "SESSION_COOKIE_SECURE": True}, False),
    (
        {
            "SESSION_COOKIE_NAME": "__Host-sessionid",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_DOMAIN": ".example.org",
        },
        True,
    ),
    (
        {
            "SESSION_COOKIE_NAME": "__Host-sessionid",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_PATH": "/app/",
        },
        True,
    ),
    ({"SESSION_COOKIE_NAME": "__Secure-sessionid"}, True),
    ({"SESSION_COOKIE_NAME": "__Secure-sessionid", "SESSION_COOKIE_SECURE": True}, False),
]


@pytest.mark.parametrize(("config", "refused"), DJANGO_CASES)
def test_django_middleware_checks_the_prefix_at_start_up(
    django_redis: redis.Redis, config: dict[str, Any], refused: bool
) -> None:
    from django.http import HttpResponse
    from django.test import override_settings

    from redis_session_sets.django import SessionMiddleware as DjangoMiddleware

    with override_settings(**config):
        if refused:
            with pytest.raises(ValueError, match="dropped by browsers"):
                DjangoMiddleware(lambda request: HttpResponse())
        else:
            DjangoMiddleware(lambda request: HttpResponse())
