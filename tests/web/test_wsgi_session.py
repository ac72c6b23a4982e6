"""The sync twin: ``WSGISessionMiddleware`` and ``Session`` under Flask's test client."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import redis
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from itsdangerous import Signer
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_session_sets import (
    AsyncStore,
    SessionStoreError,
    Store,
    WSGISessionMiddleware,
    get_session,
)
from tests.support.servers import free_port
from tests.support.web import CommandCounter, id_of, set_cookies

KEY = "flask-test-key"
MAX_AGE = 900


def make_app(store: Store, **options: Any) -> Flask:
    app = Flask(__name__)

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.get("/read")
    def read() -> Any:
        return jsonify(get_session(request).get())

    @app.post("/write")
    def write() -> Any:
        session = get_session(request)
        session.set(request.get_json())
        return jsonify({"id": session.id})

    @app.post("/incr")
    def incr() -> Any:
        return jsonify({"value": get_session(request).incr("visits")})

    @app.post("/delete")
    def delete() -> Any:
        return jsonify({"existed": get_session(request).delete()})

    @app.post("/regenerate")
    def regenerate() -> Any:
        session = get_session(request.environ)
        return jsonify({"old": session.id, "new": session.regenerate()})

    @app.get("/csrf")
    def csrf() -> str:
        return get_session(request).create_csrf_token()

    @app.post("/verify")
    def verify() -> Any:
        token = (request.get_json() or {}).get("token")
        return jsonify({"ok": get_session(request).verify_csrf_token(token)})

    @app.errorhandler(SessionStoreError)
    def store_down(error: SessionStoreError) -> tuple[str, int]:
        return "session store unavailable", 503

    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, **options
    )
    return app


@pytest.fixture
def store(sync_client: redis.Redis) -> Store:
    return Store(sync_client, references=["user_id"], max_age=MAX_AGE)


@pytest.fixture
def client(store: Store) -> FlaskClient:
    return make_app(store, secret_keys=[KEY]).test_client()


def signed(token: str, key: str = KEY) -> str:
    signer = Signer(key, salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    return signer.sign(token).decode()


def session_keys(raw: redis.Redis) -> set[str]:
    return {key.decode() for key in raw.scan_iter("rss:s:*")}


def test_untouched_and_cookieless_reads_send_nothing(client: FlaskClient, raw: redis.Redis) -> None:
    with CommandCounter(raw) as count:
        untouched = client.get("/untouched")
        read = client.get("/read")
    assert count.value == 0
    assert read.get_json() == {}
    for response in (untouched, read):
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    client.post("/write", json={"a": 1})
    with CommandCounter(raw) as count:
        untouched = client.get("/untouched")
    assert count.value == 0
    assert "Set-Cookie" not in untouched.headers


def test_write_then_read_with_cookie_flags(client: FlaskClient, raw: redis.Redis) -> None:
    with CommandCounter(raw) as count:
        response = client.post("/write", json={"name": "ada", "user_id": 1})
    assert count.value == 1
    [cookie] = set_cookies(response.headers)
    assert cookie.value == signed(cookie.token)
    assert cookie.attributes["max-age"] == str(MAX_AGE)
    assert cookie.attributes["path"] == "/"
    assert cookie.attributes["samesite"] == "Lax"
    assert "httponly" in cookie.attributes
    assert "secure" not in cookie.attributes
    assert response.get_json()["id"] == id_of(cookie.token)
    with CommandCounter(raw) as count:
        assert client.get("/read").get_json() == {"name": "ada", "user_id": 1}
    assert count.value == 1


def test_secure_over_https(store: Store) -> None:
    client = make_app(store, secret_keys=[KEY]).test_client()
    response = client.post("/write", json={"a": 1}, base_url="https://localhost")
    assert "secure" in set_cookies(response.headers)[0].attributes


@pytest.mark.parametrize("is_signed", [True, False])
def test_planted_unknown_id_is_replaced(store: Store, raw: redis.Redis, is_signed: bool) -> None:
    options: dict[str, Any] = {"secret_keys": [KEY]} if is_signed else {"signed": False}
    client = make_app(store, **options).test_client()
    planted = store.create_session_id()
    client.set_cookie("session-id", signed(planted) if is_signed else planted)
    response = client.post("/write", json={"user_id": 2})
    [cookie] = set_cookies(response.headers)
    assert cookie.token != planted
    assert session_keys(raw) == {f"rss:s:{{{id_of(cookie.token)}}}"}
    assert store.sessions("user_id", 2) == [id_of(cookie.token)]


def test_late_request_never_resurrects(client: FlaskClient, store: Store) -> None:
    old_id = client.post("/write", json={"user_id": 5}).get_json()["id"]
    store.delete(old_id)
    client.post("/incr")
    assert not store.exists(old_id)
    assert client.get("/read").get_json() == {"visits": 1}


@pytest.mark.parametrize(
    "header",
    [
        "session-id=garbage",
        "session-id=" + "a" * 5000,
        "session-id=\xe9t\xe9",
        "session-id=x; session-id=y",
        "session-id",
        ";;=;session-id=.",
    ],
)
def test_bad_cookies_answer_200(client: FlaskClient, raw: redis.Redis, header: str) -> None:
    environ = {"HTTP_COOKIE": header}
    with CommandCounter(raw) as count:
        response = client.get("/read", environ_overrides=environ)
    assert (response.status_code, response.get_json(), count.value) == (200, {}, 0)
    response = client.post("/write", json={"a": 1}, environ_overrides=environ)
    assert response.status_code == 200
    [cookie] = set_cookies(response.headers)
    assert session_keys(raw) == {f"rss:s:{{{id_of(cookie.token)}}}"}


def test_duplicate_of_a_real_cookie_is_no_session(client: FlaskClient) -> None:
    client.post("/write", json={"a": 1})
    real = client.get_cookie("session-id")
    assert real is not None
    header = f"session-id={real.value}; session-id={real.value}"
    client.delete_cookie("session-id")
    response = client.get("/read", environ_overrides={"HTTP_COOKIE": header})
    assert response.get_json() == {}


def test_delete_and_regenerate(client: FlaskClient, store: Store, raw: redis.Redis) -> None:
    client.post("/write", json={"user_id": 8})
    body = client.post("/regenerate").get_json()
    assert store.sessions("user_id", 8) == [body["new"]]
    assert not store.exists(body["old"])
    response = client.post("/delete")
    assert response.get_json() == {"existed": True}
    [cookie] = set_cookies(response.headers)
    assert (cookie.value, cookie.attributes["max-age"]) == ("", "0")
    assert session_keys(raw) == set()
    assert store.sessions("user_id", 8) == []


def test_csrf(client: FlaskClient, store: Store) -> None:
    assert client.post("/verify", json={"token": "x" * 64}).get_json() == {"ok": False}
    first = client.get("/csrf")
    assert len(set_cookies(first.headers)) == 1
    second = client.get("/csrf")
    assert "Set-Cookie" not in second.headers
    assert first.text != second.text
    for token in (first.text, second.text):
        assert client.post("/verify", json={"token": token}).get_json() == {"ok": True}
    for junk in (None, "", 3, first.text[::-1], "é"):
        assert client.post("/verify", json={"token": junk}).get_json() == {"ok": False}
    other = make_app(store, secret_keys=[KEY]).test_client()
    other.get("/csrf")
    assert other.post("/verify", json={"token": first.text}).get_json() == {"ok": False}
    client.post("/regenerate")
    assert client.post("/verify", json={"token": first.text}).get_json() == {"ok": False}


def test_touch_interval(store: Store, raw: redis.Redis) -> None:
    client = make_app(store, secret_keys=[KEY], touch_interval=60).test_client()
    session_id = client.post("/write", json={"a": 1}).get_json()["id"]
    assert "Set-Cookie" not in client.get("/read").headers
    raw.hset(f"rss:s:{{{session_id}}}", "__touched", 0)
    response = client.get("/read")
    assert set_cookies(response.headers)[0].attributes["max-age"] == str(MAX_AGE)
    assert int(raw.hget(f"rss:s:{{{session_id}}}", "__touched") or 0) > 0


def test_construction_errors(store: Store, async_client: Any) -> None:
    app = Flask(__name__)
    with pytest.raises(ValueError, match="secret_keys"):
        WSGISessionMiddleware(app.wsgi_app, store=store)
    with pytest.raises(TypeError, match="Store"):
        WSGISessionMiddleware(
            app.wsgi_app,
            store=AsyncStore(async_client),  # type: ignore[arg-type]
            secret_keys=[KEY],
        )


def test_create_session_for_an_environ(store: Store) -> None:
    middleware = WSGISessionMiddleware(Flask(__name__).wsgi_app, store=store, secret_keys=[KEY])
    session = middleware.create_session({"wsgi.url_scheme": "https"})
    session.set({"user_id": 12})
    header = session.set_cookie_header()
    assert header is not None and "; Secure" in header
    value = header.split(";")[0].split("=", 1)[1]
    again = middleware.create_session({"HTTP_COOKIE": f"session-id={value}"})
    assert (again.id, again.get()) == (session.id, {"user_id": 12})


def test_redis_down_only_breaks_session_routes() -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    store = Store(dead)
    client = make_app(store, secret_keys=[KEY]).test_client()
    assert client.get("/untouched").status_code == 200
    assert client.get("/read").status_code == 200
    client.set_cookie("session-id", signed(store.create_session_id()))
    assert client.get("/untouched").status_code == 200
    assert client.get("/read").status_code == 503
    assert client.post("/write", json={"a": 1}).status_code == 503
