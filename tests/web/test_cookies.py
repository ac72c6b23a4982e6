"""The cookie and token modules on their own (no Redis, no web stack)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from redis_session_sets._web.cookies import CookieSettings, cookie_value
from redis_session_sets._web.csrf import check_token, make_token, parse_token
from redis_session_sets._web.tokens import is_token, mint_token, session_id_for


def test_ids_are_the_sha256_of_the_token() -> None:
    token = mint_token(32)
    assert is_token(token) and len(token) == 43
    assert session_id_for("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id_for(token))
    assert session_id_for(token) != token


def test_cookie_value_parsing() -> None:
    assert cookie_value("a=1; session-id=tok; b=2", "session-id") == "tok"
    assert cookie_value(b"session-id=tok", "session-id") == "tok"
    assert cookie_value('session-id="tok"', "session-id") == "tok"
    assert cookie_value("xsession-id=tok", "session-id") is None
    assert cookie_value("session-id=a; session-id=a", "session-id") is None
    assert cookie_value("session-id=" + "a" * 4097, "session-id") is None
    assert cookie_value("session-id=" + "a" * 4096, "session-id") == "a" * 4096
    assert cookie_value("session-id=\xe9", "session-id") is None
    assert cookie_value(None, "session-id") is None
    assert cookie_value("", "session-id") is None


@given(st.text() | st.binary())
def test_any_header_yields_a_token_or_none(header: str | bytes) -> None:
    for settings in (CookieSettings(secret_keys="k"), CookieSettings(signed=False)):
        token = settings.token_from_header(header)
        assert token is None or is_token(token)


def test_signing_and_rotation() -> None:
    token = mint_token(32)
    old = CookieSettings(secret_keys=["old"])
    rotated = CookieSettings(secret_keys=["new", "old"])
    value = old.sign(token)
    signer = Signer(b"old", salt="redis-session-sets.cookie", digest_method=hashlib.sha256)
    assert value == signer.sign(token).decode()  # the format existing cookies rely on
    assert rotated.unsign(value) == token
    assert rotated.unsign(rotated.sign(token)) == token
    assert old.unsign(rotated.sign(token)) is None  # signed by the first key, "new"
    assert CookieSettings(secret_keys="other").unsign(value) is None
    assert rotated.unsign(token) is None  # unsigned
    assert rotated.unsign(rotated.sign("short")) is None  # signed but not a token
    assert CookieSettings(signed=False).unsign(token) == token
    assert CookieSettings(signed=False).unsign(value) is None


def test_set_cookie_lines() -> None:
    settings = CookieSettings(secret_keys="k", domain="example.org")
    line = settings.set_cookie("t" * 43, 60, https=True)
    assert line.startswith("session-id=" + "t" * 43 + ".")
    assert line.endswith("; Max-Age=60; Domain=example.org; Path=/; Secure; HttpOnly; SameSite=Lax")
    expired = settings.expire_cookie(https=False)
    assert expired == (
        "session-id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
        "Domain=example.org; Path=/; HttpOnly; SameSite=Lax"
    )


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="secret_keys"):
        CookieSettings()
    bad: dict[str, Any]
    for bad in ({"cookie_name": "a b"}, {"cookie_name": ""}, {"same_site": "yes"},
                {"domain": "a;b"}, {"path": "/\n"}, {"secret_keys": [""]}):  # fmt: skip
        with pytest.raises(ValueError):
            options: dict[str, Any] = {"secret_keys": "k", **bad}
            CookieSettings(**options)
    with pytest.raises(TypeError):
        CookieSettings(secret_keys=[1])  # type: ignore[list-item]
    assert "s3cret" not in repr(CookieSettings(secret_keys="s3cret"))


def test_csrf_tokens_on_their_own() -> None:
    token = make_token("secret")
    raw = parse_token(token)
    assert raw is not None and check_token("secret", raw)
    assert not check_token("other", raw)
    assert make_token("secret") != token
    for junk in (None, 1, "", "a" * 63, "a" * 65, "+" * 64, token.encode()):
        assert parse_token(junk) is None
