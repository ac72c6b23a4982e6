"""The per-request session's state, without I/O: ``SessionState`` and the
``SessionFactory`` that makes one per request.

``SessionState`` decides everything: which token and id the request uses, whether that
id is known to be absent from Redis, what the response's cookie must do, whether the
handler used the session at all (``Vary: Cookie``). Its methods return operations
(generators of the engine, see ``_engine/protocol``) that the two thin shells of
``session`` run with ``store.run``, awaited or not; so the rules are written once for both.

Strict ids (docs/design.md, rule 3) at one round trip. A token from a cookie is only
*unverified*: writes to its id use the core's "do not create" variants, which report a
missing hash instead of creating it. Only then does the session mint a fresh token and
write again, creating it. So the common case (the cookie's session exists) costs one
round trip, a planted or stale cookie costs two, once, and a session deleted meanwhile by
another request (logout, "sign out everywhere") is never brought back by a late write.
A read that finds no session marks the id absent, so later writes of the request go
straight to a fresh token; until that first write the request keeps the cookie's token,
so the CSRF tokens derived from it (an anonymous sign-in form) still verify.

CSRF tokens (``csrf``) are derived from the current token and the secret keys: making
and checking one sends nothing to Redis. A visitor without a token gets one minted and
the cookie set, and still nothing is written (docs/design.md, "CSRF tokens").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal, TypeVar

from .._engine.core import StoreCore
from .._engine.keys import MaxAge, check_reason
from .._engine.protocol import Operation, done
from .cookies import cookie_max_age
from .csrf import CsrfTokens
from .device import NO_DEVICE, Device
from .options import SessionOptions, renewal_due
from .tokens import mint_token, session_id_for

R = TypeVar("R")


class SessionState:
    """One request's session, without I/O."""

    # Class-level defaults: a request that never uses its session pays only for the two
    # attributes __init__ sets (rule 1 of docs/design.md, and the middleware's overhead
    # budget).
    _loaded = False
    _token: str | None = None
    _id: str | None = None
    # True while the current id is known to have no hash in Redis: no token yet, a
    # token minted by this request and not yet written, or a cookie's id that a read
    # found missing. Reads then need no Redis.
    _fresh = True
    # True when this request minted the current token: a write may create its hash. A
    # cookie's token is never written to once it is known to be absent (strict ids).
    _own = False
    _cookie: Literal["set", "delete"] | None = None
    _cookie_max_age_ms = 0
    _touch_checked = False
    # The id of the cookie's token (None without one), and whether this request saw its
    # session exist: a read found it, or a write to it succeeded (see end_reason).
    _cookie_id: str | None = None
    _cookie_alive = False
    _device_fields: tuple[str, ...] | None = None

    def __init__(self, factory: SessionFactory, source: Any) -> None:
        self._factory = factory
        self._source = source  # the ASGI scope or WSGI environ, read on first use

    @property
    def _core(self) -> StoreCore:
        return self._factory.core

    @property
    def used(self) -> bool:
        """Whether the handler used the session at all: its response then depends on the
        request's cookie and carries ``Vary: Cookie`` (docs/design.md, rule 2)."""
        return self._loaded

    # -- identity ------------------------------------------------------------------

    def _load(self) -> None:
        """Parses the request's cookie, once, when the session is first used."""
        if not self._loaded:
            self._loaded = True
            factory = self._factory
            found = factory.cookie.identity_from_header(factory.read_header(self._source))
            if found is not None:
                self._token, self._id = found
                self._fresh = False
                self._cookie_id = self._id

    def _switch(self, token: str) -> str:
        """Makes ``token``, minted by this request and with no session yet, the current
        one; returns its id."""
        self._token = token
        self._id = session_id_for(token)
        self._fresh = self._own = True
        return self._id

    def _mint(self) -> str:
        """Switches to a new token that has no session yet; returns its id."""
        return self._switch(mint_token(self._core.id_bytes))

    def _current(self) -> str:
        self._load()
        return self._id if self._id is not None else self._mint()

    @property
    def id(self) -> str:
        return self._current()

    def get_key(self) -> str:
        return self._core.session_key(self._current())

    def known_id(self) -> str | None:
        """The id whose session this request holds, as far as it knows without asking
        Redis: the cookie's, or one it wrote; None when it has none (no cookie, or one
        found gone). Mints nothing."""
        self._load()
        return None if self._fresh else self._id

    @property
    def _device(self) -> tuple[str, ...]:
        """The device pairs (``track``) every write of this request carries: read from
        the request once, on its first write; none when nothing is tracked."""
        if self._device_fields is None:
            factory = self._factory
            self._device_fields = (
                self._core.device_fields(*factory.device(self._source)) if factory.track else ()
            )
        return self._device_fields

    def _wrote(self, max_age_ms: int) -> None:
        """The current id's hash exists now and was renewed: send its cookie."""
        self._fresh = False
        self._cookie_alive = self._cookie_alive or self._id == self._cookie_id
        self._send_cookie(max_age_ms)
        self._touch_checked = True  # a write renews the TTL anyway

    def _send_cookie(self, max_age_ms: int) -> None:
        self._cookie = "set"
        self._cookie_max_age_ms = max_age_ms

    # -- the response's cookie -------------------------------------------------------

    def set_cookie_header(self) -> str | None:
        """The ``Set-Cookie`` value the response must carry, if any."""
        if self._cookie is None:
            return None
        factory = self._factory
        https = factory.is_https(self._source)
        if self._cookie == "set" and self._token is not None:
            return factory.set_cookie(self._token, cookie_max_age(self._cookie_max_age_ms), https)
        return factory.cookie.expire_cookie(https=https)

    # -- reading ---------------------------------------------------------------------

    def get(self, fields: Iterable[str] | None = None) -> Operation[dict[str, Any]]:
        names = None if fields is None else self._core.field_names(fields)
        session_id = self._current()
        if self._fresh or names == []:
            return done({})
        read = self._core.read(session_id, names)

        def run() -> Operation[dict[str, Any]]:
            found = yield from read
            if not found.exists:
                self._fresh = True  # absent: the next write goes to a fresh token
                return {}
            self._cookie_alive = self._cookie_alive or session_id == self._cookie_id
            interval = self._factory.touch_interval_ms
            if interval is not None and not self._touch_checked:
                # Rolling idle timeout: renew at most once per interval, and only when the
                # read shows the last renewal is older than that (no extra trip otherwise).
                self._touch_checked = True
                if renewal_due(found.touched_ms, interval, time.time() * 1000):
                    if (yield from self._core.touch(session_id, device=self._device)):
                        self._wrote(self._core.max_age_ms)
                    else:
                        self._fresh = True  # deleted in between: do not bring it back
                        return {}
            return found.values

        return run()

    # -- writing ---------------------------------------------------------------------

    def _target(self) -> tuple[str | None, str, bool]:
        """Where a write goes: a token to switch to first (None: the current one), the
        id, and whether the write creates the hash. A cookie's token known to be absent
        is never written to: a fresh token is, in the same round trip."""
        self._load()
        if self._id is None or (self._fresh and not self._own):
            token = mint_token(self._core.id_bytes)
            return token, session_id_for(token), True
        return None, self._id, self._fresh

    def _write(
        self,
        make: Callable[[str, bool], Operation[R]],
        missing: Callable[[R], bool],
        max_age_ms: int,
    ) -> Operation[R]:
        """Runs a write that may create the session, under the strict-ids rule."""
        token, session_id, create = self._target()
        first = make(session_id, create)  # validates the arguments before any I/O

        def run() -> Operation[R]:
            if token is not None:
                self._switch(token)
            result = yield from first
            if missing(result):
                # The cookie's id has no session (planted, expired or deleted meanwhile):
                # never adopt it; write to a freshly minted token instead.
                result = yield from make(self._mint(), True)
            self._wrote(max_age_ms)
            return result

        return run()

    def set(self, values: Mapping[str, Any], max_age: MaxAge | None = None) -> Operation[None]:
        core, ttl = self._core, self._core.ttl_ms(max_age)
        write = self._write(
            lambda sid, create: core.set(sid, values, max_age, create=create, device=self._device),
            lambda ok: not ok,
            ttl,
        )

        def run() -> Operation[None]:
            yield from write

        return run()

    def incr(self, field: str, amount: int = 1, max_age: MaxAge | None = None) -> Operation[int]:
        core, ttl = self._core, self._core.ttl_ms(max_age)
        write = self._write(
            lambda sid, create: core.incr(
                sid, field, amount, max_age, create=create, device=self._device
            ),
            lambda value: value is None,
            ttl,
        )

        def run() -> Operation[int]:
            return (yield from write) or 0

        return run()

    def update(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
        incr: Mapping[str, int] | None = None,
        max_age: MaxAge | None = None,
    ) -> Operation[dict[str, int]]:
        core, ttl = self._core, self._core.ttl_ms(max_age)
        names = core.field_names(unset)
        write = self._write(
            lambda sid, create: core.update(
                sid, values, names, max_age, incr=incr, create=create, device=self._device
            ),
            lambda result: result is None,
            ttl,
        )

        def run() -> Operation[dict[str, int]]:
            return (yield from write) or {}

        return run()

    def _renew(self, make: Callable[[str], Operation[bool]], max_age_ms: int) -> Operation[bool]:
        """Runs a write that never creates (unset, touch): a missing session stays so."""
        session_id = self._current()
        if self._fresh:
            make(session_id)  # still validate the arguments
            return done(False)
        operation = make(session_id)

        def run() -> Operation[bool]:
            if (yield from operation):
                self._wrote(max_age_ms)
                return True
            self._fresh = True  # absent: the next write goes to a fresh token
            return False

        return run()

    def unset(self, fields: Iterable[str], max_age: MaxAge | None = None) -> Operation[bool]:
        core, ttl = self._core, self._core.ttl_ms(max_age)
        names = core.field_names(fields)
        return self._renew(lambda sid: core.unset(sid, names, max_age, device=self._device), ttl)

    def touch(self, max_age: MaxAge | None = None) -> Operation[bool]:
        core, ttl = self._core, self._core.ttl_ms(max_age)
        return self._renew(lambda sid: core.touch(sid, max_age, device=self._device), ttl)

    def delete(self, reason: str | None = None) -> Operation[bool]:
        session_id = self._current()
        check_reason(reason)  # the same TypeError/ValueError with or without a session
        operation = None if self._fresh else self._core.delete(session_id, reason=reason)

        def run() -> Operation[bool]:
            existed = False
            if operation is not None:
                existed = yield from operation
            # A later call of this request starts a new session (with a new token); the
            # CSRF tokens of the old one die with it.
            self._token = self._id = None
            self._fresh, self._own, self._cookie_alive = True, False, False
            self._cookie = "delete"
            return existed

        return run()

    def regenerate(self) -> Operation[str]:
        old_id = self._current()
        token = mint_token(self._core.id_bytes)
        new_id = session_id_for(token)
        # Moves data and index memberships to the new id; a missing old session becomes
        # a new, empty one (nothing old comes back). CSRF tokens of the old token die.
        operation = self._core.regenerate(old_id, new_id=new_id, device=self._device)

        def run() -> Operation[str]:
            yield from operation
            self._switch(token)
            self._cookie_alive = False  # the cookie's id is gone: moved to the new one
            self._wrote(self._core.max_age_ms)
            return new_id

        return run()

    # -- ended sessions --------------------------------------------------------------

    def end_reason(self) -> Operation[str | None]:
        """Why the session the request's cookie names was ended ("revoked", "limit", the
        caller's reason), when it was ended with one; else None. No Redis call without a
        cookie, or when this request saw that session exist (it read or wrote it); else
        one GET: a reason is only ever left for a session that is gone, and ids never
        come back (docs/design.md, rule 10)."""
        self._load()
        if self._cookie_id is None or self._cookie_alive:
            return done(None)
        return self._core.end_reason(self._cookie_id)

    # -- CSRF ------------------------------------------------------------------------

    def create_csrf_token(self) -> Operation[str]:
        """A fresh token derived from the current session token: no Redis command. A
        token minted by this request and not written yet is sent in the cookie (the
        browser must carry it back for the token to verify), still without a write."""
        self._current()
        if self._own and self._cookie != "set":
            self._send_cookie(self._core.max_age_ms)
        assert self._token is not None
        return done(self._factory.csrf.make(self._token))

    def verify_csrf_token(self, token: object) -> Operation[bool]:
        """Whether ``token`` was made for the current session token: no Redis command,
        constant-time, False for anything else."""
        self._load()
        return done(self._factory.csrf.verify(self._token, token))


class SessionFactory:
    """The middleware options, checked once, and how to read a request: makes each
    request's ``SessionState``. ``read_header`` returns the request's ``Cookie`` header,
    ``is_https`` whether it came over https, ``read_device`` its device facts (ASGI and
    WSGI differ only there)."""

    def __init__(
        self,
        core: StoreCore,
        options: SessionOptions,
        *,
        read_header: Callable[[Any], str | bytes | None],
        is_https: Callable[[Any], bool],
        read_device: Callable[[Any, frozenset[str]], Device] | None = None,
    ) -> None:
        self.core = core
        self.options = options
        self.read_header = read_header
        self.is_https = is_https
        self.track = options.tracked()
        self._read_device = read_device
        self.cookie = options.cookie()
        # A visitor's every write re-sends the same cookie line: remember the last ones
        # (bounded, as the cookie settings remember their verdicts) rather than sign the
        # token again (itsdangerous: two HMACs) on each write.
        self._set_cookie = lru_cache(maxsize=4096)(self.cookie.set_cookie)
        self.csrf = CsrfTokens(options.secret_keys)
        self.touch_interval_ms = options.touch_interval_ms(core)

    def set_cookie(self, token: str, max_age_seconds: int, https: bool) -> str:
        """The ``Set-Cookie`` value that stores ``token`` (see ``CookieSettings``)."""
        return self._set_cookie(token, max_age_seconds, https=https)

    def device(self, source: Any) -> Device:
        """The device facts ``track`` keeps, of the request ``source``."""
        if not self.track or self._read_device is None:
            return NO_DEVICE
        return self._read_device(source, self.track)
