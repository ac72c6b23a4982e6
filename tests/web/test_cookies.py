"""The cookie and token modules on their own (no Redis, no web stack)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from redis_session_sets._web.cookies import CookieSettings, cookie_value
from redis_session_sets._web.csrf import CsrfTokens, parse_token
from redis_session_sets._web.tokens import is_token, mint_token, session_id_for


def test_ids_are_the_first_128_bits_of_the_sha256_of_the_token() -> None:
    token = mint_token(32)
    assert is_token(token) and len(token) == 43
    # base64url(SHA-256("abc")) is ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0: its first
    # 16 bytes are the id's 22 characters.
    assert session_id_for("abc") == "ungWv48Bz-pBQUDeXa4iIw"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", session_id_for(token))
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


def expected_mac(key: bytes | None, session_token: str, salt: bytes) -> bytes:
    """The MAC of a CSRF token as docs/design.md defines it, written out independently."""
    k = (
        session_token.encode()
        if key is None
        else hmac.digest(key, b"csrf" + session_token.encode(), "sha256")
    )
    return hmac.digest(k, salt, "sha256")


@pytest.mark.parametrize("keys", [None, ["first", "second"]])
def test_csrf_tokens_are_salt_and_hmac_of_the_session_token(keys: list[str] | None) -> None:
    tokens = CsrfTokens(keys)
    session_token = mint_token(32)
    token = tokens.make(session_token)
    raw = base64.urlsafe_b64decode(token)
    assert len(token) == 64 and len(raw) == 48
    salt, mac = raw[:16], raw[16:]
    first = None if keys is None else keys[0].encode()
    assert mac == expected_mac(first, session_token, salt)  # the pinned format
    assert tokens.verify(session_token, token)
    assert tokens.make(session_token) != token  # freshly salted
    assert not tokens.verify(mint_token(32), token)  # another session's
    assert not tokens.verify(None, token)  # no session token at all
    assert "first" not in repr(tokens)


def test_csrf_tokens_verify_against_every_key() -> None:
    session_token = mint_token(32)
    old = CsrfTokens(["old"]).make(session_token)
    rotated = CsrfTokens(["new", "old"])
    assert rotated.verify(session_token, old)  # made before the rotation
    new = rotated.make(session_token)
    assert (
        expected_mac(b"new", session_token, base64.urlsafe_b64decode(new)[:16])
        == (base64.urlsafe_b64decode(new)[16:])
    )  # the first key makes them
    assert CsrfTokens(["new"]).verify(session_token, new)
    assert not CsrfTokens(["other"]).verify(session_token, old)  # the key was retired
    assert not CsrfTokens(None).verify(session_token, old)  # keyed tokens need the key
    unsigned = CsrfTokens(None).make(session_token)
    assert not rotated.verify(session_token, unsigned)


@given(st.one_of(st.none(), st.integers(), st.binary(), st.text(), st.lists(st.text())))
def test_csrf_junk_is_false_never_an_exception(junk: Any) -> None:
    tokens = CsrfTokens(["k"])
    assert tokens.verify("a" * 43, junk) is False


def test_csrf_token_parsing() -> None:
    token = CsrfTokens(["k"]).make("a" * 43)
    assert parse_token(token) == base64.urlsafe_b64decode(token)
    for junk in (None, 1, "", "a" * 63, "a" * 65, "+" * 64, token.encode(), "é" * 64):
        assert parse_token(junk) is None
