"""CSRF tokens derived from a per-session secret.

The secret (``__csrf`` in the session's hash) never leaves the server. Each token is a
fresh random salt followed by HMAC-SHA256(secret, salt), base64url-encoded: tokens differ
on every call (no BREACH-style recovery from compressed pages), all verify against the
one secret, and a token of another session, or of this session before ``regenerate()``
rotated its secret, does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SALT_BYTES = 16
MAC_BYTES = 32
# base64url of salt + MAC (48 bytes): exactly 64 characters, no padding.
TOKEN = re.compile(r"[A-Za-z0-9_-]{64}")


def _mac(secret: str, salt: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), salt, hashlib.sha256).digest()


def make_token(secret: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return base64.urlsafe_b64encode(salt + _mac(secret, salt)).decode("ascii")


def parse_token(token: object) -> bytes | None:
    """The decoded salt + MAC of a well-formed token, or None for anything else."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    return base64.urlsafe_b64decode(token)


def check_token(secret: str, raw: bytes) -> bool:
    """Whether a parsed token was made with ``secret``; constant-time."""
    salt, mac = raw[:SALT_BYTES], raw[SALT_BYTES:]
    return hmac.compare_digest(mac, _mac(secret, salt))
