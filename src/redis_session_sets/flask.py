"""Flask's ``session`` dict, kept in the store: ``app.session_interface =
RedisSessionInterface(store)`` with a sync ``Store``.

The cookie carries a random token signed with ``app.secret_key`` (``SECRET_KEY_FALLBACKS``
still verify, for key rotation); the session lives under the id derived from the token.
At the end of a request only the keys it changed are written (one atomic script), so two
requests of one user that change different keys keep both changes, which Flask's cookie
session cannot do: there the last response's cookie wins.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from ._core import MaxAge
from ._dict_session import Changes, changes, snapshot
from ._store import Store
from ._tokens import is_token, mint_token, session_id_for

if TYPE_CHECKING:
    from flask import Flask, Request, Response

__all__ = ["RedisSession", "RedisSessionInterface"]

logger = logging.getLogger("redis_session_sets")

MAX_COOKIE_BYTES = 4096
SIGNER_SALT = "redis-session-sets.cookie"


@lru_cache(maxsize=8)
def _signer(keys: tuple[str | bytes, ...]) -> Signer:
    # itsdangerous signs with the last key and verifies with all of them.
    as_bytes = [key.encode("utf-8") if isinstance(key, str) else key for key in keys]
    return Signer(as_bytes, salt=SIGNER_SALT, digest_method=hashlib.sha256)


class RedisSession(CallbackDict[str, Any], SessionMixin):
    """The session of one request: a dict, plus the token it was loaded with."""

    modified = False

    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None) -> None:
        def on_update(self: RedisSession) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.token = token
        self.new = token is None
        # The JSON of what Redis holds, to find the keys this request changed.
        self.stored = snapshot(initial or {})
        self.regenerate_on_save = False

    @property
    def session_id(self) -> str | None:
        """The public id (safe to show and log); None until a new session is saved."""
        return None if self.token is None else session_id_for(self.token)

    def regenerate(self) -> None:
        """Moves the session to a new id when the response is sent: call it at login."""
        self.regenerate_on_save = True
        self.modified = True


class RedisSessionInterface(SessionInterface):
    """Keeps Flask sessions in a ``Store`` (its references index them: ``user_id``...).

    The TTL in Redis is ``PERMANENT_SESSION_LIFETIME``, the lifetime Flask gives a
    permanent session's cookie; cookie name and flags come from the ``SESSION_COOKIE_*``
    settings as usual.
    """

    def __init__(self, store: Store) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"RedisSessionInterface needs a sync Store, not {store!r}")
        self.store = store

    def signer(self, app: Flask) -> Signer | None:
        if not app.secret_key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
        return _signer((*fallbacks, app.secret_key))

    def token_of(self, app: Flask, request: Request) -> str | None:
        """The verified token of the request's cookie; None for no cookie, or a cookie
        that is duplicated, oversized, not ASCII, badly signed or not a token."""
        values = request.cookies.getlist(self.get_cookie_name(app))
        signer = self.signer(app)
        if len(values) != 1 or signer is None:
            return None
        value = values[0]
        if len(value) > MAX_COOKIE_BYTES or not value.isascii():
            return None
        try:
            token = signer.unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError, ValueError):
            return None
        return token if is_token(token) else None

    def open_session(self, app: Flask, request: Request) -> RedisSession | None:
        if not app.secret_key:
            return None  # Flask's null session explains that a secret key is needed
        token = self.token_of(app, request)
        if token is None:
            return RedisSession()  # no Redis call without a session cookie
        data = self.store._run(self.store._core.load(session_id_for(token)))
        if data is None:
            # Strict ids: a cookie naming no live session is not adopted; the first
            # write goes to a fresh token.
            return RedisSession()
        return RedisSession(data, token)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, RedisSession):
            return
        if session.accessed:
            response.vary.add("Cookie")
        core, run = self.store._core, self.store._run
        max_age = app.permanent_session_lifetime
        if not session:
            # Emptied (session.clear() at logout): the session ends, here and in Redis.
            if session.modified and session.token is not None:
                run(core.delete(session_id_for(session.token)))
                self._expire_cookie(app, response)
            return
        pending = changes(session.stored, session)  # raises for values JSON cannot encode
        token = session.token
        if token is None:
            token = mint_token(core.id_bytes)
            run(core.update(session_id_for(token), pending.values, (), max_age))
        elif session.regenerate_on_save:
            old, token = session_id_for(token), mint_token(core.id_bytes)
            run(core.regenerate(old, session_id_for(token), max_age))
            if pending and not self._update(session_id_for(token), pending, max_age):
                return self._expire_cookie(app, response)
        elif pending:
            if not self._update(session_id_for(token), pending, max_age):
                return self._expire_cookie(app, response)
        elif session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]:
            # Flask re-sends a permanent session's cookie on every request; the TTL in
            # Redis follows, or the cookie would outlive the session.
            if not run(core.touch(session_id_for(token), max_age)):
                return self._expire_cookie(app, response)
        else:
            return  # nothing changed: nothing written, no cookie
        session.token, session.new, session.regenerate_on_save = token, False, False
        session.stored = pending.after
        signer = self.signer(app)
        assert signer is not None  # open_session gave a RedisSession: there is a key
        response.set_cookie(
            self.get_cookie_name(app),
            signer.sign(token).decode("ascii"),
            expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")
        return None

    def _update(self, session_id: str, pending: Changes, max_age: MaxAge) -> bool:
        """Writes the changes to an existing session; False when it was deleted meanwhile
        (signed out or revoked by another request): then nothing is written, so the
        session is not brought back, and the caller expires the cookie."""
        core = self.store._core
        done = self.store._run(
            core.update(
                session_id,
                pending.values,
                pending.removed,
                max_age,
                create=False,
                replace=pending.replace,
            )
        )
        if not done:
            logger.warning("session %s was deleted during the request; changes dropped", session_id)
        return done

    def _expire_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app),
            httponly=self.get_cookie_httponly(app),
        )
        response.vary.add("Cookie")
