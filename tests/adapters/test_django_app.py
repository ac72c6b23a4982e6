"""The Django engine in a real project (tests/adapters/django_project): Django's test client,
django.contrib.auth's login and logout, the user index, the management command, and the
concurrency contrast with Django's cache backend."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import AsyncClient, Client, override_settings

from redis_session_sets._web.tokens import mint_token, session_id_for
from redis_session_sets.django import (
    asign_out_everywhere,
    sign_out_everywhere,
    user_sessions,
)
from tests.adapters.django_project import views
from tests.support.commandstats import commands, reset, scripts

COOKIE = "sessionid"


@pytest.fixture
def user(django_redis: redis.Redis) -> Any:
    return get_user_model().objects.create_user("ada", password="pw")


def token(client: Client | AsyncClient) -> str:
    return str(client.cookies[COOKIE].value)


def login(client: Client) -> None:
    assert client.post("/login/", {"username": "ada", "password": "pw"}).status_code == 200


def index(raw: redis.Redis, user: Any) -> set[str]:
    members: list[bytes] = raw.zrange(f"rss:r:_auth_user_id:{{{user.pk}}}", 0, -1)  # type: ignore[assignment]
    return {member.decode() for member in members}


def session_hash(raw: redis.Redis, session_token: str) -> dict[bytes, bytes]:
    return raw.hgetall(f"rss:s:{{{session_id_for(session_token)}}}")  # type: ignore[return-value]


def test_login_cycles_the_key_keeps_the_data_and_indexes_the_user(
    django_redis: redis.Redis, user: Any
) -> None:
    client = Client()
    client.get("/set/theme/dark/")
    anonymous = token(client)
    login(client)
    signed_in = token(client)
    assert signed_in != anonymous  # cycle_key at login: no session fixation
    assert session_hash(django_redis, anonymous) == {}
    stored = session_hash(django_redis, signed_in)
    assert stored[b"theme"] == b'"dark"'
    assert stored[b"_auth_user_id"] == f'"{user.pk}"'.encode()
    assert index(django_redis, user) == {session_id_for(signed_in)}
    # Redis holds ids only, never the cookie's token.
    assert not any(signed_in.encode() in key for key in django_redis.keys("*"))


def test_logout_deletes_the_session_and_its_index_entry(
    django_redis: redis.Redis, user: Any
) -> None:
    client = Client()
    login(client)
    signed_in = token(client)
    response = client.post("/logout/")
    assert response.cookies[COOKIE].value == ""  # the cookie is expired
    assert session_hash(django_redis, signed_in) == {}
    assert index(django_redis, user) == set()
    assert django_redis.keys("*") == []


def test_cycle_key_moves_the_index_entry(django_redis: redis.Redis, user: Any) -> None:
    client = Client()
    login(client)
    before = token(client)
    client.get("/cycle/")
    after = token(client)
    assert after != before
    assert index(django_redis, user) == {session_id_for(after)}
    assert client.get("/get/").json()["_auth_user_id"] == str(user.pk)


def test_flush_deletes_the_session_and_its_index_entry(
    django_redis: redis.Redis, user: Any
) -> None:
    client = Client()
    login(client)
    response = client.get("/flush/")
    assert response.cookies[COOKIE].value == ""
    assert index(django_redis, user) == set()
    assert django_redis.keys("rss:s:*") == []


def test_user_sessions_and_sign_out_everywhere_but_this_one(
    django_redis: redis.Redis, user: Any
) -> None:
    devices = [Client() for _ in range(3)]
    for device in devices:
        login(device)
    listed = devices[0].get("/sessions/").json()
    ids = {session_id_for(token(device)) for device in devices}
    assert set(listed["ids"]) == ids
    assert listed["current"] == session_id_for(token(devices[0]))
    assert {info.id for info in user_sessions(user)} == ids
    assert all(info.expires_at > info.created_at for info in user_sessions(user))

    assert devices[0].get("/signout-others/").json() == {"deleted": 2}
    assert index(django_redis, user) == {session_id_for(token(devices[0]))}
    assert "_auth_user_id" in devices[0].get("/get/").json()
    for device in devices[1:]:
        assert device.get("/get/").json() == {}  # signed out: the session is gone


def test_sign_out_everywhere_takes_a_key_an_id_or_nothing(
    django_redis: redis.Redis, user: Any
) -> None:
    a, b, c = Client(), Client(), Client()
    for device in (a, b, c):
        login(device)
    assert sign_out_everywhere(user, keep=token(a)) == 2
    assert index(django_redis, user) == {session_id_for(token(a))}
    login(b)
    assert sign_out_everywhere(user.pk, keep=session_id_for(token(b))) == 1
    assert index(django_redis, user) == {session_id_for(token(b))}
    assert sign_out_everywhere(str(user.pk)) == 1
    assert user_sessions(user) == []
    with pytest.raises(TypeError):
        sign_out_everywhere(user, keep=3.5)


def told(client: Client) -> Any:
    """What the client's device is told on the page where signed-out devices land."""
    return client.get("/end-reason/").json()["reason"]


def test_sign_out_everywhere_leaves_a_reason_each_ended_device_reads(
    django_redis: redis.Redis, user: Any
) -> None:
    a, b, c = Client(), Client(), Client()
    for device in (a, b, c):
        login(device)
    assert sign_out_everywhere(user, keep=token(a), reason="password reset") == 2
    assert told(b) == told(c) == "password reset"
    assert told(a) is None  # kept: its session lives, nothing was ended
    assert b.get("/get/").json() == {}  # signed out
    assert told(Client()) is None  # no cookie: no reason (and no Redis call)
    # Without a reason, nothing is left to tell (and no key is written for it).
    login(b)
    assert sign_out_everywhere(user, keep=token(a)) == 1
    assert told(b) is None
    assert len(django_redis.keys("rss:e:*")) == 2  # the first b's and c's


def test_sign_out_everywhere_refuses_a_bad_reason_before_ending_anything(
    django_redis: redis.Redis, user: Any
) -> None:
    login(Client())
    cases: list[tuple[Any, type[Exception]]] = [
        ("", ValueError),
        ("x" * 65, ValueError),
        (42, TypeError),
    ]
    for reason, error in cases:
        with pytest.raises(error):
            sign_out_everywhere(user, reason=reason)
    assert len(user_sessions(user)) == 1


async def test_the_async_twins_leave_and_read_the_reason(
    django_redis: redis.Redis, user: Any
) -> None:
    a, b = AsyncClient(), AsyncClient()
    for device in (a, b):
        response = await device.post("/alogin/", {"username": "ada", "password": "pw"})
        assert response.status_code == 200
    assert await asign_out_everywhere(user, keep=token(a), reason="stolen phone") == 1
    assert (await b.get("/aend-reason/")).json() == {"reason": "stolen phone"}
    assert (await a.get("/aend-reason/")).json() == {"reason": None}


def test_a_limit_ends_the_least_recently_active_with_the_reason_limit(
    django_redis: redis.Redis, user: Any
) -> None:
    with override_settings(SESSION_REDIS_LIMITS={"_auth_user_id": 2}):
        devices = [Client() for _ in range(3)]
        for device in devices:
            login(device)
        live = {info.id for info in user_sessions(user)}
        assert len(live) == 2
        assert session_id_for(token(devices[2])) in live  # the login itself is never ended
        ended = [device for device in devices if session_id_for(token(device)) not in live]
        assert len(ended) == 1
        assert told(ended[0]) == "limit"
        assert ended[0].get("/get/").json() == {}
    with (
        override_settings(SESSION_REDIS_LIMITS={"not_a_reference": 2}),
        pytest.raises(ValueError, match="not a reference field"),
    ):
        login(Client())


def test_management_command(django_redis: redis.Redis, user: Any) -> None:
    a, b, c = Client(), Client(), Client()
    for device in (a, b, c):
        login(device)
    out = io.StringIO()
    call_command("signout_everywhere", str(user.pk), "--keep", token(a), stdout=out)
    assert out.getvalue().strip() == f"Deleted 2 session(s) of user {user.pk} (reason: revoked)."
    assert index(django_redis, user) == {session_id_for(token(a))}
    assert told(b) == "revoked"  # the default reason: a revoked device can tell
    out = io.StringIO()
    call_command("signout_everywhere", str(user.pk), "--reason", "account closed", stdout=out)
    assert out.getvalue().strip() == (
        f"Deleted 1 session(s) of user {user.pk} (reason: account closed)."
    )
    assert index(django_redis, user) == set()
    assert told(a) == "account closed"


@pytest.mark.parametrize("reason", ["", "x" * 65])
def test_management_command_refuses_a_bad_reason(
    django_redis: redis.Redis, user: Any, reason: str
) -> None:
    from django.core.management.base import CommandError

    login(Client())
    with pytest.raises(CommandError, match="--reason must be 1-64 characters"):
        call_command("signout_everywhere", str(user.pk), "--reason", reason, stdout=io.StringIO())
    assert len(user_sessions(user)) == 1


def test_management_command_refuses_a_bad_primary_key(django_redis: redis.Redis) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="primary key"):
        call_command("signout_everywhere", "not-a-number", stdout=io.StringIO())


def test_a_read_only_request_writes_nothing(django_redis: redis.Redis) -> None:
    client = Client()
    client.get("/set/a/1/")
    reset(django_redis)
    response = client.get("/get/")
    assert response.json() == {"a": "1"}
    assert COOKIE not in response.cookies
    assert commands(django_redis) == {"hgetall": 1}
    reset(django_redis)
    client.get("/nothing/")
    assert commands(django_redis) == {}


def test_a_request_writes_only_its_change_in_one_call(django_redis: redis.Redis) -> None:
    client = Client()
    client.get("/set/a/1/")
    client.get("/set/b/2/")
    reset(django_redis)
    client.get("/del/a/")
    assert scripts(django_redis) == 1  # one script: HDEL a, renew the TTL
    counts = commands(django_redis)
    assert counts["hdel"] == 1
    assert counts["hset"] == 1  # __touched only: b is not rewritten
    assert client.get("/get/").json() == {"b": "2"}


def test_a_planted_cookie_is_never_adopted(django_redis: redis.Redis) -> None:
    client = Client()
    planted = mint_token(32)
    client.cookies[COOKIE] = planted
    client.get("/set/a/1/")
    assert token(client) != planted
    assert session_hash(django_redis, planted) == {}


@pytest.mark.parametrize("junk", ["x", "{}:*", "a" * 5000, "..%2F..", '"quoted"'])
def test_junk_cookies_are_no_session_without_redis(django_redis: redis.Redis, junk: str) -> None:
    client = Client()
    client.cookies[COOKIE] = junk
    reset(django_redis)
    assert client.get("/get/").json() == {}
    assert commands(django_redis) == {}


def test_a_cookie_sent_twice_is_no_session(django_redis: redis.Redis, user: Any) -> None:
    """Rule 4 of docs/design.md under Django too (redis_session_sets.django's
    SessionMiddleware): which of two session cookies is real cannot be told (one may be
    planted from a subdomain)."""
    laptop = Client()
    login(laptop)
    assert laptop.get("/get/").json() != {}
    own = token(laptop)
    reset(django_redis)
    twice = Client(HTTP_COOKIE=f"{COOKIE}={own}; other=1; {COOKIE}={own}")
    assert twice.get("/get/").json() == {}
    assert commands(django_redis) == {}  # screened before any Redis call
    once = Client(HTTP_COOKIE=f"other=1; {COOKIE}={own}")
    assert once.get("/get/").json() != {}


def test_a_session_deleted_meanwhile_is_not_brought_back(
    django_redis: redis.Redis, user: Any
) -> None:
    laptop = Client()
    login(laptop)
    phone = Client()
    phone.cookies[COOKIE] = token(laptop)
    views.BARRIER = threading.Barrier(2)

    def late_write() -> int:
        status: int = phone.get("/together/late/yes/").status_code
        return status

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(late_write)  # reads the session, then waits
        signed_out = Client()
        signed_out.cookies[COOKIE] = token(laptop)
        signed_out.post("/logout/")
        views.BARRIER.wait(timeout=10)
        # Django answers SessionInterrupted (400): the logout stands.
        assert pending.result(timeout=10) == 400
    assert django_redis.keys("*") == []


@pytest.mark.parametrize("change", ["with", "without"])
def test_a_save_of_a_deleted_session_is_interrupted(django_redis: redis.Redis, change: str) -> None:
    """Django's ``test_session_update_error_redirect``: a session saved, deleted, then saved
    again by the middleware (with or without a change) raises UpdateError, which Django's
    middleware turns into SessionInterrupted (a 400); no cookie names the deleted session."""
    client = Client()
    reset(django_redis)
    response = client.get(f"/deleted-then-saved/{change}/")
    assert response.status_code == 400
    assert COOKIE not in response.cookies  # no fresh cookie for a deleted session
    assert django_redis.keys("*") == []  # and nothing brought back
    # The create, the delete, then the failing save: one round trip for it either way.
    assert scripts(django_redis) == 3


@pytest.mark.parametrize("change", ["with", "without"])
def test_a_save_of_a_session_deleted_elsewhere_raises_update_error(
    django_redis: redis.Redis, change: str
) -> None:
    from django.contrib.sessions.backends.base import UpdateError

    from redis_session_sets.django import SessionStore

    session = SessionStore()
    session["a"] = 1
    session.save()
    later = SessionStore(session.session_key)
    assert later["a"] == 1
    SessionStore(session.session_key).delete()  # signed out elsewhere meanwhile
    if change == "with":
        later["a"] = 2
    reset(django_redis)
    with pytest.raises(UpdateError):
        later.save()
    assert scripts(django_redis) == 1  # one round trip, with or without changes
    assert django_redis.keys("*") == []


def test_a_value_json_cannot_encode_fails_loudly(django_redis: redis.Redis) -> None:
    client = Client()
    client.get("/set/a/1/")
    with pytest.raises(TypeError, match="cannot be JSON-encoded"):
        client.get("/bad/")
    assert client.get("/get/").json() == {"a": "1"}


def two_requests_at_once(make_client: Callable[[], Client]) -> dict[str, Any]:
    """Two requests of one session change different keys at the same time: each reads the
    session before either writes (a barrier in the view orders them, no sleeps)."""
    first = make_client()
    first.get("/set/start/1/")
    second = make_client()
    second.cookies[COOKIE] = token(first)
    views.BARRIER = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(first.get, "/together/a/1/")
        b = pool.submit(second.get, "/together/b/2/")
        assert a.result(timeout=10).status_code == b.result(timeout=10).status_code == 200
    result: dict[str, Any] = (
        make_client().get("/get/", HTTP_COOKIE=f"{COOKIE}={token(first)}").json()
    )
    return result


def test_concurrent_requests_keep_both_changes(django_redis: redis.Redis) -> None:
    assert two_requests_at_once(Client) == {"start": "1", "a": "1", "b": "2"}


def test_django_cache_backend_loses_one_of_them(django_redis: redis.Redis) -> None:
    """The contrast: Django's cache backend saves the whole dict, so the later save
    overwrites the earlier one's key."""
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        result = two_requests_at_once(Client)
    assert result["start"] == "1"
    assert ("a" in result) != ("b" in result)  # exactly one change survived


async def test_async_views_log_in_and_out(django_redis: redis.Redis) -> None:
    from asgiref.sync import sync_to_async

    user = await sync_to_async(get_user_model().objects.create_user)("bob", password="pw")
    client = AsyncClient()
    await client.get("/aset/theme/dark/")
    anonymous = token(client)
    response = await client.post("/alogin/", {"username": "bob", "password": "pw"})
    assert response.status_code == 200
    signed_in = token(client)
    assert signed_in != anonymous
    assert index(django_redis, user) == {session_id_for(signed_in)}
    assert session_hash(django_redis, signed_in)[b"theme"] == b'"dark"'
    await client.post("/alogout/")
    assert index(django_redis, user) == set()
    assert django_redis.keys("rss:s:*") == []
