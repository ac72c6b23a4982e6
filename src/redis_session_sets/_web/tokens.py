"""Session tokens (secret, in the cookie) and the ids derived from them (public).

The cookie carries a random token; the id that names the Redis hash, fills the indexes
and is shown to users is ``base64url(SHA-256(token)[:16])``: 128 bits, 22 characters,
plenty against collisions and short in every key and index member. Whoever sees an id
(in Redis, a log line, a "your sessions" page) cannot turn it back into a working cookie.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

# secrets.token_urlsafe(n) for 16 <= n <= 96 bytes: 22 to 128 base64url characters.
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")


def mint_token(id_bytes: int) -> str:
    """A new random token of ``id_bytes`` bytes, base64url without padding."""
    return secrets.token_urlsafe(id_bytes)


def is_token(value: object) -> bool:
    """Whether ``value`` has a token's shape; checked before anything else uses it."""
    return isinstance(value, str) and TOKEN.fullmatch(value) is not None


def session_id_for(token: str) -> str:
    """The public session id of a token: base64url(SHA-256(token)[:16]), no padding."""
    digest = hashlib.sha256(token.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
