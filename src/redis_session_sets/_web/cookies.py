"""The session cookie: its settings, signing, defensive parsing and ``Set-Cookie`` lines.

Shared by every middleware of the library (the per-request session's middlewares and the
drop-in dict-session adapters), so all of them read and write the cookie the same way.

Reading is defensive (docs/design.md, rule 4): a ``Cookie`` header whose session cookie is
oversized, non-ASCII, present twice, badly signed or not shaped like a token yields
"no session", never an exception, and nothing from it reaches Redis.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from itsdangerous import BadSignature, Signer

from .tokens import is_token, session_id_for

# Browsers keep cookies up to 4096 bytes; anything larger is not ours.
MAX_COOKIE_BYTES = 4096
# RFC 6265 cookie-name: an RFC 7230 token.
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}")
# Domain and Path attribute values: printable ASCII without ';' (it would end the attribute).
ATTRIBUTE = re.compile(r"[\x21-\x3a\x3c-\x7e]{1,1024}")
SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
# Distinguishes this library's signatures from any other use of the same keys.
SIGNER_SALT = "redis-session-sets.cookie"

SecretKeys = str | bytes | Iterable[str | bytes]


def cookie_max_age(max_age_ms: int) -> int:
    """A max age in ms as the cookie's whole-second ``Max-Age``, rounded up: rounded down,
    a fractional max age would let the browser drop the cookie before the server drops
    the session (``Max-Age=0``, at once, for anything under a second)."""
    return -(-max_age_ms // 1000)


def key_list(secret_keys: SecretKeys | None) -> list[str | bytes]:
    """The secret keys as a list, checked (TypeError/ValueError for bad ones)."""
    if secret_keys is None:
        return []
    if isinstance(secret_keys, str | bytes):
        keys: list[str | bytes] = [secret_keys]
    else:
        keys = list(secret_keys)
    for key in keys:
        if not isinstance(key, str | bytes):
            raise TypeError(f"secret_keys must hold str or bytes, not {type(key).__name__}")
        if not key:
            raise ValueError("secret_keys must not contain an empty key")
    return keys


def check_prefix(name: str, *, secure: bool | None, path: str | None, domain: str | None) -> None:
    """Refuses settings under which browsers silently drop a prefixed cookie.

    ``__Host-`` needs ``Secure`` (so ``secure`` not False), ``Path=/`` and no ``Domain``;
    ``__Secure-`` needs ``Secure``. Browsers match the prefixes case-insensitively, and so
    does this check. ``secure=None`` (``Secure`` over https) passes: over plain http such a
    cookie cannot be set at all, which is the point of the prefix.
    """
    folded = name.lower()
    if folded.startswith("__host-"):
        problems = []
        if secure is False:
            problems.append("secure must not be False")
        if path != "/":
            problems.append(f"path must be '/', not {path!r}")
        if domain is not None:
            problems.append(f"domain must be None, not {domain!r}")
        if problems:
            raise ValueError(
                f"a cookie named {name!r} is dropped by browsers unless it is Secure, with "
                f"Path=/ and no Domain: {'; '.join(problems)}"
            )
    elif folded.startswith("__secure-") and secure is False:
        raise ValueError(
            f"a cookie named {name!r} is dropped by browsers unless it is Secure: "
            "secure must not be False"
        )


@dataclass(frozen=True)
class CookieSettings:
    """How the session cookie is named, signed and sent.

    ``secret_keys``: the first key signs, every key verifies (rotation: put the new key
    first, keep the old ones until their cookies have expired). ``secure=None`` sends
    ``Secure`` when the request came over https; ``same_site="none"`` always sends it,
    as browsers require. A ``__Host-`` or ``__Secure-`` name is checked against the
    flags its prefix requires (``check_prefix``); ``__Host-session`` is the recommended
    name for an app served over https on its own host.
    """

    cookie_name: str = "session-id"
    secret_keys: SecretKeys | None = field(default=None, repr=False)
    signed: bool = True
    secure: bool | None = None
    same_site: str | None = "lax"
    http_only: bool = True
    domain: str | None = None
    path: str = "/"
    _signer: Signer | None = field(init=False, repr=False, compare=False, default=None)
    _same_site: str | None = field(init=False, repr=False, compare=False, default=None)
    _verified: Callable[[str], tuple[str, str] | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.cookie_name, str) or not COOKIE_NAME.fullmatch(self.cookie_name):
            raise ValueError(f"cookie_name is not a valid cookie name: {self.cookie_name!r}")
        keys = key_list(self.secret_keys)
        if self.signed:
            if not keys:
                raise ValueError(
                    "signed cookies need secret_keys (or pass signed=False to send the bare token)"
                )
            # itsdangerous signs with the last key and verifies with all: newest last.
            newest_last = [k.encode() if isinstance(k, str) else k for k in reversed(keys)]
            signer = Signer(newest_last, salt=SIGNER_SALT, digest_method=hashlib.sha256)
            object.__setattr__(self, "_signer", signer)
        if self.secure is not None and not isinstance(self.secure, bool):
            raise TypeError(f"secure must be None, True or False, not {self.secure!r}")
        same_site = None
        if self.same_site is not None:
            if not isinstance(self.same_site, str) or self.same_site.lower() not in SAME_SITE:
                raise ValueError(
                    f"same_site must be 'lax', 'strict', 'none' or None: {self.same_site!r}"
                )
            same_site = SAME_SITE[self.same_site.lower()]
        object.__setattr__(self, "_same_site", same_site)
        # A browser sends the same cookie on every request: remember the last verdicts
        # and the ids they name (bounded) rather than recompute an HMAC and a SHA-256
        # each time. The keys never change.
        object.__setattr__(self, "_verified", lru_cache(maxsize=4096)(self._identify))
        for name in ("domain", "path"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not ATTRIBUTE.fullmatch(value)):
                raise ValueError(f"{name} is not a valid cookie attribute value: {value!r}")
        if self.path is None:
            raise ValueError("path must be a string such as '/'")
        check_prefix(self.cookie_name, secure=self.secure, path=self.path, domain=self.domain)

    # -- reading -------------------------------------------------------------------

    def token_from_header(self, header: str | bytes | None) -> str | None:
        """The verified token carried by a ``Cookie`` header, or None ("no session")."""
        found = self.identity_from_header(header)
        return None if found is None else found[0]

    def identity_from_header(self, header: str | bytes | None) -> tuple[str, str] | None:
        """The verified token carried by a ``Cookie`` header and the session id it names
        (``tokens.session_id_for``), or None ("no session")."""
        value = cookie_value(header, self.cookie_name)
        return None if value is None else self._verified(value)

    def _identify(self, value: str) -> tuple[str, str] | None:
        token = self.unsign(value)
        return None if token is None else (token, session_id_for(token))

    def unsign(self, value: str) -> str | None:
        """The token of a cookie value, or None when it is not a valid (signed) token."""
        if self._signer is not None:
            try:
                value = self._signer.unsign(value).decode("ascii")
            except (BadSignature, UnicodeDecodeError, ValueError):
                return None
        return value if is_token(value) else None

    # -- writing -------------------------------------------------------------------

    def sign(self, token: str) -> str:
        if self._signer is None:
            return token
        return self._signer.sign(token).decode("ascii")

    def set_cookie(self, token: str, max_age_seconds: int, *, https: bool) -> str:
        """The ``Set-Cookie`` value that stores ``token`` for ``max_age_seconds``."""
        return self._line(self.sign(token), max(0, max_age_seconds), https)

    def expire_cookie(self, *, https: bool) -> str:
        """The ``Set-Cookie`` value that makes the browser drop the cookie."""
        return self._line("", 0, https, expires="Thu, 01 Jan 1970 00:00:00 GMT")

    def _line(self, value: str, max_age: int, https: bool, expires: str | None = None) -> str:
        parts = [f"{self.cookie_name}={value}"]
        if expires is not None:
            parts.append(f"Expires={expires}")
        parts.append(f"Max-Age={max_age}")
        if self.domain is not None:
            parts.append(f"Domain={self.domain}")
        parts.append(f"Path={self.path}")
        if self.secure or (self.secure is None and https) or self._same_site == "None":
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        if self._same_site is not None:
            parts.append(f"SameSite={self._same_site}")
        return "; ".join(parts)


def lists_cookie(vary: str) -> bool:
    """Whether a ``Vary`` header value already covers ``Cookie`` (or everything)."""
    return any(part.strip().lower() in ("cookie", "*") for part in vary.split(","))


def cookie_value(header: str | bytes | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or None.

    None when the cookie is absent, present more than once (a planted duplicate, e.g. from
    a sibling subdomain: which one is real cannot be told), over 4 KB, or not ASCII.
    Other cookies in the header are skipped, whatever they hold.
    """
    if not header:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")  # ASGI headers are bytes; WSGI's are latin-1 str
    found: str | None = None
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if not sep or key.strip() != name:
            continue
        if found is not None:
            return None  # the cookie twice
        found = value.strip()
        if len(found) > 2 and found[0] == found[-1] == '"':
            found = found[1:-1]
    if found is None or not found.isascii() or len(found) > MAX_COOKIE_BYTES:
        return None
    return found
