"""Flask's ``session`` on the store, through Flask's own test client and a real Redis."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import redis.asyncio
from flask import Flask, flash, get_flashed_messages, jsonify, session
from flask.testing import FlaskClient
from itsdangerous import Signer

from redis_session_sets import AsyncStore, Store
from redis_session_sets._web.tokens import mint_token, session_id_for
from redis_session_sets.flask import RedisSession, RedisSessionInterface
from tests.support.commandstats import commands, reset, scripts

COOKIE = "session"


def make_app(interface: RedisSessionInterface | None, secret_key: str | None = "key-1") -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.secret_key = secret_key
    if interface is not None:
        app.session_interface = interface
    app.config["barrier"] = None

    @app.post("/login/<user>")
    def login(user: str) -> str:
        if isinstance(session, RedisSession):
            session.regenerate()
        session["user_id"] = user
        return "ok"

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return "ok"

    @app.get("/set/<key>/<value>")
    def set_(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/del/<key>")
    def del_(key: str) -> str:
        session.pop(key, None)
        return "ok"

    @app.get("/del-meanwhile/<key>")
    def del_meanwhile(key: str) -> str:
        session.pop(key, None)
        app.config["meanwhile"]()  # another request writes to the session now
        return "ok"

    @app.get("/get")
    def get() -> Any:
        return jsonify(dict(session))

    @app.get("/nothing")
    def nothing() -> str:
        return "ok"

    @app.get("/append/<value>")
    def append(value: str) -> str:
        session["cart"].append(value)  # in place: Flask's cookie session would miss it
        return "ok"

    @app.get("/bad")
    def bad() -> str:
        session["thing"] = {1, 2}  # a set: JSON cannot encode it
        return "ok"

    @app.get("/permanent")
    def permanent() -> str:
        session.permanent = True
        return "ok"

    @app.get("/flash")
    def flash_() -> str:
        flash("hello")
        return "ok"

    @app.get("/flashes")
    def flashes() -> Any:
        return jsonify(get_flashed_messages())

    @app.get("/together/<key>/<value>")
    def together(key: str, value: str) -> str:
        session.get("anything")  # the session was read before the handler ran
        app.config["barrier"].wait(timeout=10)  # and the other request read it too
        session[key] = value
        return "ok"

    return app


@pytest.fixture
def store(sync_client: redis.Redis) -> Store:
    return Store(sync_client, references=["user_id"])


@pytest.fixture
def app(store: Store) -> Flask:
    return make_app(RedisSessionInterface(store))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


def cookie(client: FlaskClient) -> str | None:
    found = client.get_cookie(COOKIE)
    return None if found is None or not found.value else found.value


def token(client: FlaskClient) -> str:
    value = cookie(client)
    assert value is not None
    return value.rsplit(".", 1)[0]  # the signed cookie is "<token>.<signature>"


def sign(token_: str, key: str) -> str:
    signer = Signer(key.encode(), salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    return signer.sign(token_).decode()


def stored(raw: redis.Redis, client: FlaskClient) -> dict[bytes, bytes]:
    return raw.hgetall(f"rss:s:{{{session_id_for(token(client))}}}")  # type: ignore[return-value]


def members(raw: redis.Redis, user: str) -> set[str]:
    found: list[bytes] = raw.zrange(f"rss:r:user_id:{{{user}}}", 0, -1)  # type: ignore[assignment]
    return {member.decode() for member in found}


def test_login_regenerates_keeps_data_and_indexes(client: FlaskClient, raw: redis.Redis) -> None:
    client.get("/set/theme/dark")
    anonymous = token(client)
    client.post("/login/ada")
    signed_in = token(client)
    assert signed_in != anonymous
    assert raw.exists(f"rss:s:{{{session_id_for(anonymous)}}}") == 0
    assert stored(raw, client)[b"theme"] == b'"dark"'
    assert members(raw, "ada") == {session_id_for(signed_in)}
    assert not any(signed_in.encode() in key for key in raw.keys("*"))  # ids only


def test_logout_deletes_the_session_and_its_index_entry(
    client: FlaskClient, raw: redis.Redis
) -> None:
    client.post("/login/ada")
    response = client.post("/logout")
    assert "session=;" in response.headers["Set-Cookie"]
    assert cookie(client) is None
    assert raw.keys("*") == []


def test_user_index_lists_and_revokes(app: Flask, store: Store, raw: redis.Redis) -> None:
    devices = [app.test_client() for _ in range(3)]
    for device in devices:
        device.post("/login/ada")
    ids = {session_id_for(token(device)) for device in devices}
    assert set(store.sessions("user_id", "ada")) == ids
    keep = session_id_for(token(devices[0]))
    assert store.delete_all("user_id", "ada", keep=[keep]) == 2
    assert devices[0].get("/get").json == {"user_id": "ada"}
    assert devices[1].get("/get").json == {}


def test_a_read_only_request_writes_nothing(client: FlaskClient, raw: redis.Redis) -> None:
    client.get("/set/a/1")
    reset(raw)
    response = client.get("/get")
    assert response.json == {"a": "1"}
    assert "Set-Cookie" not in response.headers
    assert commands(raw) == {"hgetall": 1}  # one read, before the handler


def test_no_redis_call_without_a_cookie(client: FlaskClient, raw: redis.Redis) -> None:
    reset(raw)
    assert client.get("/get").json == {}
    client.get("/nothing")
    assert commands(raw) == {}


def test_only_the_changed_key_is_written(app: Flask, client: FlaskClient, raw: redis.Redis) -> None:
    client.get("/set/a/1")
    client.get("/set/b/2")
    client.get("/set/c/3")
    key = f"rss:s:{{{session_id_for(token(client))}}}"
    app.config["meanwhile"] = lambda: raw.hset(key, mapping={"b": '"changed"', "d": "4"})
    reset(raw)
    client.get("/del-meanwhile/a")
    assert scripts(raw) == 1  # one round trip for the save
    # b, c, d untouched by this request: not written back with the values it had read.
    assert client.get("/get").json == {"b": "changed", "c": "3", "d": 4}


def test_in_place_mutation_is_saved(client: FlaskClient) -> None:
    client.get("/set/cart/x")
    with client.session_transaction() as current:
        current["cart"] = ["a"]
    client.get("/append/b")
    assert client.get("/get").json == {"cart": ["a", "b"]}


def test_flash_messages(client: FlaskClient) -> None:
    client.get("/flash")
    assert client.get("/flashes").json == ["hello"]
    assert client.get("/flashes").json == []


def test_a_planted_token_is_never_adopted(client: FlaskClient, raw: redis.Redis) -> None:
    planted = mint_token(32)
    client.set_cookie(COOKIE, sign(planted, "key-1"))  # well signed, names no session
    client.get("/set/a/1")
    assert token(client) != planted
    assert raw.exists(f"rss:s:{{{session_id_for(planted)}}}") == 0


@pytest.mark.parametrize(
    "header",
    [
        "session=garbage",
        "session=" + "a" * 5000,
        "session=" + mint_token(32),  # unsigned
        "session=" + sign(mint_token(32), "someone-else"),
        "session=é",
        f"session={sign(mint_token(32), 'key-1')}; session={sign(mint_token(32), 'key-1')}",
    ],
)
def test_bad_cookies_are_no_session_without_redis(
    client: FlaskClient, raw: redis.Redis, header: str
) -> None:
    reset(raw)
    response = client.get("/get", headers={"Cookie": header})
    assert response.status_code == 200
    assert response.json == {}
    assert commands(raw) == {}


def test_key_rotation_through_secret_key_fallbacks(store: Store) -> None:
    old_app = make_app(RedisSessionInterface(store), secret_key="old")
    with old_app.test_client() as old_client:
        old_client.get("/set/a/1")
        old_cookie = cookie(old_client)
    assert old_cookie is not None

    rotated = make_app(RedisSessionInterface(store), secret_key="new")
    rotated.config["SECRET_KEY_FALLBACKS"] = ["old"]
    with rotated.test_client() as client:
        client.set_cookie(COOKIE, old_cookie)
        assert client.get("/get").json == {"a": "1"}  # the old key still verifies
        client.get("/set/b/2")
        renewed = cookie(client)
        assert renewed is not None and renewed != old_cookie
        assert renewed == sign(token(client), "new")  # re-signed with the new key

    dropped = make_app(RedisSessionInterface(store), secret_key="new")
    with dropped.test_client() as client:
        client.set_cookie(COOKIE, old_cookie)
        assert client.get("/get").json == {}  # the old key no longer verifies


def test_a_session_deleted_meanwhile_is_not_brought_back(
    app: Flask, client: FlaskClient, raw: redis.Redis
) -> None:
    client.post("/login/ada")
    late = app.test_client()
    late.set_cookie(COOKIE, cookie(client) or "")
    app.config["barrier"] = threading.Barrier(2)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(late.get, "/together/x/1")  # has read the session, waits
        client.post("/logout")
        app.config["barrier"].wait(timeout=10)
        response = pending.result(timeout=10)
    assert response.status_code == 200
    assert "session=;" in response.headers["Set-Cookie"]  # the logout stands
    assert raw.keys("*") == []


def test_a_value_json_cannot_encode_fails_loudly(client: FlaskClient, raw: redis.Redis) -> None:
    client.get("/set/a/1")
    with pytest.raises(TypeError, match="cannot be JSON-encoded"):
        client.get("/bad")
    assert client.get("/get").json == {"a": "1"}


def test_permanent_sessions_follow_the_cookie_refresh(
    app: Flask, client: FlaskClient, raw: redis.Redis
) -> None:
    client.get("/permanent")
    key = f"rss:s:{{{session_id_for(token(client))}}}"
    lifetime = int(app.permanent_session_lifetime.total_seconds() * 1000)
    assert lifetime - 5000 < raw.pttl(key) <= lifetime
    raw.pexpire(key, 10_000)
    response = client.get("/get")  # SESSION_REFRESH_EACH_REQUEST: cookie and TTL renewed
    assert "Expires=" in response.headers["Set-Cookie"]
    assert raw.pttl(key) > 10_000
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    raw.pexpire(key, 10_000)
    reset(raw)
    assert "Set-Cookie" not in client.get("/get").headers
    assert scripts(raw) == 0


def test_session_using_samesite_attribute(store: Store) -> None:
    """Flask's own ``test_session_using_samesite_attribute``: each request sets the same
    value again (``session.modified``), and each response re-sends the cookie, with the
    flags of the settings of that moment."""
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.secret_key = "key-1"
    app.session_interface = RedisSessionInterface(store)

    @app.route("/")
    def index() -> str:
        session["testing"] = 42
        return "Hello World"

    client = app.test_client()
    app.config.update(SESSION_COOKIE_SAMESITE="invalid")
    with pytest.raises(ValueError):
        client.get("/")
    app.config.update(SESSION_COOKIE_SAMESITE=None)
    cookie = client.get("/").headers["set-cookie"].lower()
    assert "samesite" not in cookie
    app.config.update(SESSION_COOKIE_SAMESITE="Strict")
    cookie = client.get("/").headers["set-cookie"].lower()
    assert "samesite=strict" in cookie
    app.config.update(SESSION_COOKIE_SAMESITE="Lax")
    cookie = client.get("/").headers["set-cookie"].lower()
    assert "samesite=lax" in cookie


def test_a_modified_session_renews_its_ttl_with_the_cookie(
    app: Flask, client: FlaskClient, raw: redis.Redis
) -> None:
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False  # only `modified` sends the cookie
    client.get("/set/a/1")
    key = f"rss:s:{{{session_id_for(token(client))}}}"
    before = token(client)
    raw.pexpire(key, 10_000)
    reset(raw)
    response = client.get("/set/a/1")  # the same value again: modified, nothing changed
    assert "Set-Cookie" in response.headers
    assert token(client) == before  # the same session, its cookie re-sent
    assert raw.pttl(key) > 10_000  # and its TTL renewed with it
    assert scripts(raw) == 1  # one round trip: a touch, no field written
    assert commands(raw).get("hset", 0) <= 1  # __touched only
    # Signed out elsewhere: the next request starts a new session, the old stays gone.
    raw.delete(key)
    client.get("/set/a/1")
    assert token(client) != before
    assert raw.exists(key) == 0


def test_without_a_secret_key_flask_refuses_to_write(store: Store) -> None:
    app = make_app(RedisSessionInterface(store), secret_key=None)
    with app.test_client() as client, pytest.raises(RuntimeError, match="secret key"):
        client.get("/set/a/1")


def test_needs_a_sync_store(async_client: redis.asyncio.Redis) -> None:
    with pytest.raises(TypeError, match="sync Store"):
        RedisSessionInterface(AsyncStore(async_client))  # type: ignore[arg-type]


def test_declared_flask_version_has_the_apis_the_adapter_uses() -> None:
    # The adapter calls SessionInterface.get_cookie_partitioned and reads
    # SECRET_KEY_FALLBACKS, both new in Flask 3.1: on 3.0 every save raised
    # AttributeError (a 500), so the `flask` extra must not admit 3.0.
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [flask] = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["flask"]]
    assert not flask.specifier.contains("3.0.3")
    assert flask.specifier.contains("3.1.0")


def two_requests_at_once(app: Flask) -> Any:
    """Two requests of one session change different keys at the same time, each having
    read the session before either writes; the browser keeps the last cookie it got."""
    browser = app.test_client()
    browser.get("/set/start/1")
    first, second = app.test_client(), app.test_client()
    for tab in (first, second):
        tab.set_cookie(COOKIE, cookie(browser) or "")
    app.config["barrier"] = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(first.get, "/together/a/1")
        b = pool.submit(second.get, "/together/b/2")
        responses = [a.result(timeout=10), b.result(timeout=10)]
    for response in responses:  # the browser stores each Set-Cookie in turn
        for header in response.headers.getlist("Set-Cookie"):
            browser.set_cookie(COOKIE, header.split(";")[0].split("=", 1)[1])
    return browser.get("/get").json


def test_concurrent_requests_keep_both_changes(app: Flask) -> None:
    assert two_requests_at_once(app) == {"start": "1", "a": "1", "b": "2"}


def test_flask_cookie_session_loses_one_of_them() -> None:
    """The contrast: Flask's default session is the whole dict in the cookie, so the
    response that arrives last overwrites the other's change."""
    result = two_requests_at_once(make_app(None))
    assert result["start"] == "1"
    assert ("a" in result) != ("b" in result)
