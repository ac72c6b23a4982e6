"""The Django engine against the behaviour Django documents for every session backend.

These are the applicable expectations of Django's own ``SessionTestsMixin``
(django/tests/sessions_tests, not shipped in the wheel), rewritten for this engine, sync
and ``a*``, on a real Redis. Left out: ``encode``/``decode`` (the engine stores JSON
fields, not a signed blob) and keys shorter than a token (any 8 characters are valid in
Django, but this engine takes only its own tokens from a cookie, so junk never reaches
Redis).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio
from django.contrib.sessions.backends.base import UpdateError
from django.test import override_settings
from django.utils import timezone

from redis_session_sets._web.tokens import mint_token, session_id_for
from redis_session_sets.django import SessionStore
from tests.support.commandstats import commands, reset, scripts


@pytest.fixture
def session(django_redis: redis.Redis) -> Iterator[SessionStore]:
    yield SessionStore()


def hash_of(raw: redis.Redis, session: SessionStore) -> dict[bytes, bytes]:
    assert session.session_key is not None
    return raw.hgetall(f"rss:s:{{{session_id_for(session.session_key)}}}")  # type: ignore[return-value]


def test_new_session_is_neither_modified_nor_accessed(session: SessionStore) -> None:
    assert session.modified is False
    assert session.accessed is False


def test_get_empty(session: SessionStore) -> None:
    assert session.get("cat") is None


def test_store(session: SessionStore) -> None:
    session["cat"] = "dog"
    assert session.modified is True
    assert session.pop("cat") == "dog"


def test_pop(session: SessionStore) -> None:
    session["some key"] = "exists"
    session.accessed = session.modified = False
    assert session.pop("some key") == "exists"
    assert session.accessed is True
    assert session.modified is True
    assert session.get("some key") is None


def test_pop_default_and_missing(session: SessionStore) -> None:
    assert session.pop("some key", "does not exist") == "does not exist"
    assert session.pop("some key", default="named") == "named"
    assert session.accessed is True
    assert session.modified is False
    with pytest.raises(KeyError):
        session.pop("some key")


def test_setdefault(session: SessionStore) -> None:
    assert session.setdefault("foo", "bar") == "bar"
    assert session.setdefault("foo", "baz") == "bar"
    assert session.accessed is True
    assert session.modified is True


def test_update_keys_values_items_has_key(session: SessionStore) -> None:
    session.update({"update key": 1, "x": 2})
    assert session.accessed is True
    assert session.modified is True
    assert session.get("update key") == 1
    assert list(session.keys()) == ["update key", "x"]
    assert list(session.values()) == [1, 2]
    assert list(session.items()) == [("update key", 1), ("x", 2)]
    assert session.has_key("x") and "x" in session and "y" not in session


def test_clear(session: SessionStore) -> None:
    session["x"] = 1
    session.accessed = session.modified = False
    session.clear()
    assert list(session.items()) == []
    assert session.accessed is True
    assert session.modified is True


def test_is_empty(session: SessionStore) -> None:
    assert session.is_empty() is True
    session["x"] = 1
    assert session.is_empty() is False
    session.save()
    fresh = SessionStore(session.session_key)
    assert fresh.is_empty() is False  # a key, even unread


def test_save_creates_with_a_token_and_its_derived_id(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["cat"] = "dog"
    session.save()
    key = session.session_key
    assert key is not None and session.exists(key) is True
    assert session.session_id == session_id_for(key)
    assert hash_of(django_redis, session)[b"cat"] == b'"dog"'
    # The cookie's token is never written to Redis: only the id derived from it.
    assert not any(key.encode() in name for name in django_redis.keys("*"))


def test_save_doesnt_clear_data(session: SessionStore) -> None:
    session["a"] = "b"
    session.save()
    assert session["a"] == "b"


def test_save_of_an_empty_session_creates_it(session: SessionStore) -> None:
    session.save()
    assert session.exists(session.session_key) is True


def test_delete(session: SessionStore) -> None:
    session.save()
    session.delete(session.session_key)
    assert session.exists(session.session_key) is False


def test_flush(session: SessionStore) -> None:
    session["foo"] = "bar"
    session.save()
    previous = session.session_key
    session.flush()
    assert session.exists(previous) is False
    assert session.session_key is None
    assert session.modified is True
    assert session.accessed is True
    assert session.get("foo") is None


def test_cycle_key_moves_the_data_to_a_new_key(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["a"], session["b"] = "c", "d"
    session.save()
    previous, data = session.session_key, dict(session.items())
    session.cycle_key()
    assert session.exists(previous) is False
    assert session.session_key != previous
    assert dict(session.items()) == data
    assert SessionStore(session.session_key).load() == data


def test_cycle_key_with_no_session_cache(session: SessionStore) -> None:
    session["a"], session["b"] = "c", "d"
    session.save()
    data = dict(session.items())
    unread = SessionStore(session.session_key)
    assert not hasattr(unread, "_session_cache")
    unread.cycle_key()
    assert dict(unread.items()) == data


def test_cycle_key_keeps_unsaved_changes(session: SessionStore) -> None:
    session["a"] = 1
    session.save()
    session["b"] = 2
    session.cycle_key()
    session.save()
    assert SessionStore(session.session_key).load() == {"a": 1, "b": 2}


def test_invalid_key_gets_a_new_one(session: SessionStore) -> None:
    planted = mint_token(32)  # well-formed, names no session
    other = SessionStore(planted)
    other["cat"] = "x"
    other.save()
    assert other.session_key != planted
    assert other.exists(planted) is False
    assert SessionStore(planted).get("cat") is None


@pytest.mark.parametrize("junk", ["", "1234567", "12345678", "a" * 300, "../{x}:y", "é" * 30])
def test_junk_keys_are_refused_without_redis(
    junk: str, django_redis: redis.Redis, redis_server: Any
) -> None:
    django_redis.config_resetstat()
    session = SessionStore(junk)
    assert session.session_key is None
    assert session.exists(junk) is False
    session.delete(junk)
    assert commands(django_redis) == {}


def test_session_key_is_read_only(session: SessionStore) -> None:
    with pytest.raises(AttributeError):
        session.session_key = "x" * 43


def test_load_does_not_create_a_record(session: SessionStore) -> None:
    unknown = SessionStore(mint_token(32))
    assert unknown.load() == {}
    assert unknown.session_key is None
    assert unknown.exists(unknown.session_key) is False


def test_save_does_not_resurrect_a_session_deleted_elsewhere(session: SessionStore) -> None:
    session["test_data"] = "value1"
    session.save(must_create=True)
    SessionStore(session.session_key).delete()  # logged out in another request
    session["test_data"] = "value2"
    with pytest.raises(UpdateError):
        session.save()
    assert session.load() == {}


def test_default_expiry(session: SessionStore, django_redis: redis.Redis) -> None:
    from django.conf import settings

    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    session["x"] = 1
    session.save()
    assert session.session_key is not None
    ttl = django_redis.pttl(f"rss:s:{{{session.session_id}}}")
    assert settings.SESSION_COOKIE_AGE * 1000 - 5000 < ttl <= settings.SESSION_COOKIE_AGE * 1000
    session.set_expiry(0)
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_custom_expiry_seconds_sets_the_redis_ttl(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session.set_expiry(10)
    assert session.get_expiry_age() == 10
    session.save()
    assert 5000 < django_redis.pttl(f"rss:s:{{{session.session_id}}}") <= 10_000
    reread = SessionStore(session.session_key)
    assert reread.get_expiry_age() == 10


def test_custom_expiry_timedelta_and_datetime(session: SessionStore) -> None:
    modification = timezone.now()
    session.set_expiry(timedelta(seconds=10))
    assert session.get_expiry_age(modification=modification) in (9, 10)
    session.set_expiry(modification + timedelta(seconds=20))
    assert session.get_expiry_age(modification=modification) == 20
    session.save()  # the datetime is stored as ISO text in JSON
    assert SessionStore(session.session_key).get_expiry_date() == modification + timedelta(
        seconds=20
    )


def test_custom_expiry_reset(session: SessionStore) -> None:
    from django.conf import settings

    session.set_expiry(None)
    session.set_expiry(10)
    session.set_expiry(None)
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_get_expire_at_browser_close(session: SessionStore) -> None:
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is True


def test_actual_expiry(session: SessionStore) -> None:
    session["foo"] = "bar"
    session.set_expiry(-timedelta(seconds=10))
    session.save()
    # With an expiry date in the past, the session expires instantly.
    assert "foo" not in SessionStore(session.session_key)


def test_clear_expired_prunes_dead_index_members(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["_auth_user_id"] = "7"
    session.save()
    index = "rss:r:_auth_user_id:{7}"
    assert django_redis.zcard(index) == 1
    django_redis.delete(f"rss:s:{{{session.session_id}}}")  # evicted behind our back
    SessionStore.clear_expired()
    assert django_redis.exists(index) == 0


def test_test_cookie(session: SessionStore) -> None:
    session.set_test_cookie()
    assert session.test_cookie_worked() is True
    session.delete_test_cookie()
    assert session.test_cookie_worked() is False


# -- what this engine adds: changed keys only, JSON only -----------------------------------


def test_saves_only_the_changed_keys(session: SessionStore, django_redis: redis.Redis) -> None:
    session.update({"a": 1, "b": 2, "c": 3})
    session.save()
    later = SessionStore(session.session_key)
    later["a"] = 10
    del later["b"]
    later["c"] = 3  # assigned, but unchanged
    # Meanwhile another request changes c and adds d; this save must not undo that.
    django_redis.hset(f"rss:s:{{{session.session_id}}}", mapping={"c": "30", "d": "4"})
    later.save()
    assert SessionStore(session.session_key).load() == {"a": 10, "c": 30, "d": 4}


def test_nested_mutation_is_saved(session: SessionStore) -> None:
    session["cart"] = [1]
    session.save()
    later = SessionStore(session.session_key)
    later["cart"].append(2)  # Django docs: set modified = True after this
    later.modified = True
    later.save()
    assert SessionStore(session.session_key)["cart"] == [1, 2]


def test_unchanged_save_writes_no_field_and_renews_the_ttl(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["a"] = 1
    session.save()
    key = f"rss:s:{{{session.session_id}}}"
    django_redis.pexpire(key, 5000)
    later = SessionStore(session.session_key)
    later["a"] = 1  # the same value: Django still saves and re-sends the cookie
    django_redis.config_resetstat()
    later.save()
    # One round trip, a touch: no field written; the TTL follows the cookie's new expiry,
    # and the touch tells whether the session still exists (UpdateError if not).
    assert scripts(django_redis) == 1
    assert commands(django_redis).get("hset", 0) <= 1  # __touched only
    assert django_redis.hget(key, "a") == b"1"
    assert django_redis.pttl(key) > 5000


def test_save_every_request_renews_the_ttl(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["a"] = 1
    session.save()
    key = f"rss:s:{{{session.session_id}}}"
    django_redis.pexpire(key, 5000)
    with override_settings(SESSION_SAVE_EVERY_REQUEST=True):
        SessionStore(session.session_key).save()
    assert django_redis.pttl(key) > 5000


def test_clear_before_read_replaces_every_stored_field(session: SessionStore) -> None:
    session.update({"a": 1, "b": 2})
    session.save()
    later = SessionStore(session.session_key)
    later.clear()  # never read: the engine does not know which fields Redis holds
    later["c"] = 3
    later.save()
    assert SessionStore(session.session_key).load() == {"c": 3}


def test_values_round_trip_as_json(session: SessionStore) -> None:
    value = {"n": 1, "f": 1.5, "s": "é", "l": [None, True], "d": {"k": "v"}}
    session["v"] = value
    session.save()
    assert SessionStore(session.session_key)["v"] == value


def test_a_value_json_cannot_encode_raises_at_save_and_writes_nothing(
    session: SessionStore, django_redis: redis.Redis
) -> None:
    session["ok"] = 1
    session.save()
    later = SessionStore(session.session_key)
    later["ok"] = 2
    later["when"] = timezone.now()  # pickle would take it; JSON cannot
    with pytest.raises(TypeError, match=r"'when'.*cannot be JSON-encoded"):
        later.save()
    assert SessionStore(session.session_key).load() == {"ok": 1}


def test_reserved_names_are_refused(session: SessionStore) -> None:
    session["__created"] = 0
    with pytest.raises(ValueError, match="reserved"):
        session.save()


def test_the_user_field_is_indexed(session: SessionStore, django_redis: redis.Redis) -> None:
    session["_auth_user_id"] = "42"
    session.save()
    assert django_redis.zrange("rss:r:_auth_user_id:{42}", 0, -1) == [
        (session.session_id or "").encode()
    ]
    session.cycle_key()
    assert django_redis.zrange("rss:r:_auth_user_id:{42}", 0, -1) == [
        (session.session_id or "").encode()
    ]
    session.flush()
    assert django_redis.exists("rss:r:_auth_user_id:{42}") == 0


def test_settings_prefix_references_and_client(
    django_redis: redis.Redis, redis_server: Any
) -> None:
    client = redis.Redis(port=redis_server.port)
    with override_settings(
        SESSION_REDIS_CLIENT=client,
        SESSION_REDIS_URL="redis://127.0.0.1:1/0",  # not used: the client wins
        SESSION_REDIS_PREFIX="app1",
        SESSION_REDIS_REFERENCES=["_auth_user_id", "team"],
    ):
        session = SessionStore()
        session.update({"_auth_user_id": "1", "team": "blue"})
        session.save()
        assert django_redis.exists(f"app1:s:{{{session.session_id}}}") == 1
        assert django_redis.zcard("app1:r:team:{blue}") == 1
    client.close()


# -- the a* twins ------------------------------------------------------------------------


async def test_async_methods(django_redis: redis.Redis) -> None:
    session = SessionStore()
    await session.aset("cat", "dog")
    await session.aset("_auth_user_id", "5")
    await session.asave()
    key = session.session_key
    assert key is not None and await session.aexists(key) is True
    assert await SessionStore(key).aget("cat") == "dog"
    assert await SessionStore(key).aload() == {"cat": "dog", "_auth_user_id": "5"}

    await session.acycle_key()
    assert session.session_key != key
    assert await session.aexists(key) is False
    assert await SessionStore(session.session_key).aget("cat") == "dog"
    assert django_redis.zcard("rss:r:_auth_user_id:{5}") == 1

    await session.aset_expiry(30)
    assert await session.aget_expiry_age() == 30
    await session.asave()
    assert 25_000 < django_redis.pttl(f"rss:s:{{{session.session_id}}}") <= 30_000

    previous = session.session_key
    await session.aflush()
    assert session.session_key is None
    assert await session.aexists(previous) is False
    assert django_redis.exists("rss:r:_auth_user_id:{5}") == 0

    other = SessionStore()
    await other.acreate()
    assert await other.aexists(other.session_key) is True
    await other.adelete()
    assert await other.aexists(other.session_key) is False


async def test_async_strict_and_no_resurrection(django_redis: redis.Redis) -> None:
    planted = mint_token(32)
    session = SessionStore(planted)
    await session.aset("x", 1)
    await session.asave()
    assert session.session_key != planted

    twin = SessionStore(session.session_key)
    assert await twin.aget("x") == 1  # read before the other request deletes it
    await SessionStore(session.session_key).adelete()
    await twin.aset("x", 2)
    with pytest.raises(UpdateError):
        await twin.asave()


async def test_async_clear_expired(django_redis: redis.Redis) -> None:
    session = SessionStore()
    await session.aset("_auth_user_id", "8")
    await session.asave()
    django_redis.delete(f"rss:s:{{{session.session_id}}}")
    await SessionStore.aclear_expired()
    assert django_redis.exists("rss:r:_auth_user_id:{8}") == 0


async def test_async_with_a_given_sync_client_runs_it_in_a_thread(
    django_redis: redis.Redis, redis_server: Any
) -> None:
    client = redis.Redis(port=redis_server.port)
    with override_settings(SESSION_REDIS_CLIENT=client, SESSION_REDIS_URL="redis://127.0.0.1:1/0"):
        session = SessionStore()
        await session.aset("x", 1)
        await session.asave()
        assert await SessionStore(session.session_key).aload() == {"x": 1}
    client.close()


def test_create_on_a_fresh_store_writes_once_and_reads_nothing(django_redis: redis.Redis) -> None:
    session = SessionStore()
    reset(django_redis)
    session.create()
    assert commands(django_redis).get("hgetall", 0) == 0
    assert scripts(django_redis) == 1
    assert session.exists(session.session_key) is True


@pytest.mark.parametrize("cycle", ["sync", "async"])
async def test_cycle_key_of_a_dead_cookie_starts_a_fresh_session(
    django_redis: redis.Redis, cycle: str
) -> None:
    planted = mint_token(32)
    session = SessionStore(planted)
    if cycle == "sync":
        session.cycle_key()
    else:
        await session.acycle_key()
    assert session.session_key not in (None, planted)
    assert session.exists(session.session_key) is True
    assert session.exists(planted) is False


async def test_a_given_async_client_serves_the_async_methods(
    django_redis: redis.Redis, redis_server: Any
) -> None:
    # db 1 for the async client, db 0 (the URL) for the sync one: each half is seen apart.
    async_client = redis.asyncio.Redis(port=redis_server.port, db=1)
    other_db = redis.Redis(port=redis_server.port, db=1)
    other_db.flushdb()
    with override_settings(SESSION_REDIS_ASYNC_CLIENT=async_client):
        session = SessionStore()
        await session.aset("x", 1)
        await session.asave()
        assert other_db.exists(f"rss:s:{{{session.session_id}}}") == 1
        assert django_redis.exists(f"rss:s:{{{session.session_id}}}") == 0
        assert session.exists(session.session_key) is False  # the sync half: db 0
    other_db.flushdb()
    other_db.close()
    await async_client.aclose()
