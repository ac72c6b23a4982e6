"""CSRF tokens derived from the session's token and the secret keys: never stored.

A token is a fresh random salt followed by ``HMAC-SHA256(K, salt)``, base64url-encoded,
where ``K = HMAC-SHA256(secret key, "csrf" + session token)`` (OWASP's signed
double-submit pattern). Without secret keys (unsigned cookies) ``K`` is the session
token itself, a secret of 128 bits or more that only the browser and the server hold.

Nothing is written or read in Redis to make or check one: a visitor who only looks at a
form costs Redis nothing (docs/design.md, "CSRF tokens"). Tokens differ on every call (no
BREACH-style recovery from compressed pages); a token verifies against every secret key
(rotation: the first key makes them, the others still verify); and it dies with the
session token it was derived from: ``regenerate()``, ``delete()``, or a fresh token that
a write mints under strict ids (rule 3). Redis holds ids, never tokens, so whoever reads
Redis cannot make a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from .cookies import SecretKeys, key_list

SALT_BYTES = 16
MAC_BYTES = 32
# base64url of salt + MAC (48 bytes): exactly 64 characters, no padding.
TOKEN = re.compile(r"[A-Za-z0-9_-]{64}")
# Separates this use of the secret keys from any other (the cookie's signature).
PURPOSE = b"csrf"


def _mac(key: bytes, salt: bytes) -> bytes:
    return hmac.new(key, salt, hashlib.sha256).digest()


def parse_token(token: object) -> bytes | None:
    """The decoded salt + MAC of a well-formed token, or None for anything else."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    return base64.urlsafe_b64decode(token)


class CsrfTokens:
    """Makes and checks the CSRF tokens of session tokens, with one set of secret keys."""

    __slots__ = ("_keys",)

    def __init__(self, secret_keys: SecretKeys | None) -> None:
        self._keys = [k.encode() if isinstance(k, str) else k for k in key_list(secret_keys)]

    def __repr__(self) -> str:
        return f"CsrfTokens(<{len(self._keys)} key(s)>)"

    def session_keys(self, session_token: str) -> list[bytes]:
        """Every ``K`` that a token of this session may be made with, the current first."""
        material = PURPOSE + session_token.encode("ascii")
        if not self._keys:
            return [session_token.encode("ascii")]
        return [_mac(key, material) for key in self._keys]

    def make(self, session_token: str) -> str:
        """A new token for the session token (salted: different on every call)."""
        salt = secrets.token_bytes(SALT_BYTES)
        mac = _mac(self.session_keys(session_token)[0], salt)
        return base64.urlsafe_b64encode(salt + mac).decode("ascii")

    def verify(self, session_token: str | None, token: object) -> bool:
        """Whether ``token`` was made for ``session_token`` with one of the keys.

        False, never an exception, for no session token and for anything that is not a
        well-formed token. Every key is tried (no early exit on the first match) and each
        MAC is compared in constant time.
        """
        raw = parse_token(token)
        if raw is None or session_token is None:
            return False
        salt, mac = raw[:SALT_BYTES], raw[SALT_BYTES:]
        found = False
        for key in self.session_keys(session_token):
            found |= hmac.compare_digest(mac, _mac(key, salt))
        return found
