"""Flask's ``session`` dict, kept in the store: ``app.session_interface =
RedisSessionInterface(store)`` with a sync ``Store``.

The cookie carries a random token signed with ``app.secret_key`` (``SECRET_KEY_FALLBACKS``
still verify, for key rotation); the session lives under the id derived from the token.
At the end of a request only the keys it changed are written (one atomic script), so two
requests of one user that change different keys keep both changes, which Flask's cookie
session cannot do: there the last response's cookie wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ._drivers.sync import Store
from ._web.cookies import CookieSettings, check_prefix
from ._web.device import check_track, wsgi_device
from ._web.dict_session import (
    EXPIRE,
    KEEP,
    READ_METHODS,
    DictSessionState,
    load,
    record_access,
    save,
)

if TYPE_CHECKING:
    from flask import Flask, Request, Response

__all__ = ["RedisSession", "RedisSessionInterface"]


class RedisSession(CallbackDict[str, Any], SessionMixin):
    """The session of one request: a dict, plus the token it was loaded with.

    ``modified`` as in Flask's own ``SecureCookieSession``; ``accessed`` (the response
    then carries ``Vary: Cookie``) is set by any read or change of the dict, as Flask
    3.1.3 and later also do for every use of the ``session`` proxy.
    """

    modified = False
    # The device pairs (``SESSION_TRACK``) the save writes with the session's fields.
    device: tuple[str, ...] = ()
    accessed = False

    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None) -> None:
        def on_update(self: RedisSession) -> None:
            self.modified = True
            self.accessed = True

        super().__init__(initial, on_update)
        self.new = token is None
        self.state = DictSessionState(token, initial or {})

    @property
    def session_id(self) -> str | None:
        """The public id (safe to show and log); None until a new session is saved."""
        return self.state.session_id

    def regenerate(self) -> None:
        """Moves the session to a new id when the response is sent: call it at login."""
        self.state.regenerate_on_save = True
        self.modified = self.accessed = True


# Changes go through CallbackDict's on_update (which sets both flags); reads are noted here.
record_access(RedisSession, READ_METHODS)


class RedisSessionInterface(SessionInterface):
    """Keeps Flask sessions in a ``Store`` (its references index them: ``user_id``...).

    The TTL in Redis is ``PERMANENT_SESSION_LIFETIME``, the lifetime Flask gives a
    permanent session's cookie; cookie name and flags come from the ``SESSION_COOKIE_*``
    settings as usual. A ``__Host-`` or ``__Secure-`` cookie name needs the flags its
    prefix requires (``SESSION_COOKIE_SECURE = True``; for ``__Host-`` also the path
    ``/`` and no domain): ValueError otherwise, at the first request.

    ``SESSION_TRACK`` (default ``()``; e.g. ``("user_agent", "ip")``): the device facts
    kept with the session's writes (``Store.session_infos`` shows them). The address is
    ``REMOTE_ADDR``, i.e. what werkzeug's ``ProxyFix`` made of it behind a proxy; it is
    personal data, hence off by default.
    """

    def __init__(self, store: Store) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"RedisSessionInterface needs a sync Store, not {store!r}")
        self.store = store
        self._cookie: tuple[tuple[Any, ...], CookieSettings] | None = None

    def cookie(self, app: Flask) -> CookieSettings | None:
        """The cookie read and signed as by every middleware of the library, over
        ``app.secret_key`` (it signs) and ``SECRET_KEY_FALLBACKS`` (they still verify)."""
        if not app.secret_key:
            return None
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        name = self.get_cookie_name(app)
        flags = (
            self.get_cookie_secure(app),
            self.get_cookie_path(app),
            self.get_cookie_domain(app),
        )
        if self._cookie is None or self._cookie[0] != (name, keys, flags):
            # Flask sends the cookie itself; its flags are checked against the name's prefix.
            check_prefix(name, secure=flags[0], path=flags[1], domain=flags[2])
            settings = CookieSettings(cookie_name=name, secret_keys=keys)
            self._cookie = ((name, keys, flags), settings)
        return self._cookie[1]

    def token_of(self, app: Flask, request: Request) -> str | None:
        """The verified token of the request's cookie; None for no cookie, or a cookie
        that is duplicated, oversized, not ASCII, badly signed or not a token."""
        cookie = self.cookie(app)
        if cookie is None:
            return None
        return cookie.token_from_header(request.headers.get("Cookie"))

    def open_session(self, app: Flask, request: Request) -> RedisSession | None:
        if not app.secret_key:
            return None  # Flask's null session explains that a secret key is needed
        token = self.token_of(app, request)
        found = self.store.run(load(self.store.core, token))  # no Redis call without one
        session = RedisSession() if found is None else RedisSession(found.values, token)
        track = check_track(app.config.get("SESSION_TRACK") or ())
        if track:  # the device, kept with the session's writes (``SESSION_TRACK``)
            session.device = self.store.core.device_fields(*wsgi_device(request.environ, track))
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, RedisSession):
            return
        if session.accessed:
            response.vary.add("Cookie")
        # Flask sends the cookie whenever the session is marked modified, even if no
        # value changed, and re-sends a permanent session's cookie on every request
        # (SESSION_REFRESH_EACH_REQUEST), as its own interfaces do; the TTL in Redis
        # follows, or the cookie would outlive the session.
        refresh = session.modified or (
            session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]
        )
        outcome = self.store.run(
            save(
                self.store.core,
                session.state,
                session,
                app.permanent_session_lifetime,
                modified=session.modified,
                refresh=refresh,
                device=session.device,
            )
        )
        if outcome == KEEP:
            return
        options: dict[str, Any] = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        name = self.get_cookie_name(app)
        if outcome == EXPIRE:
            response.delete_cookie(name, **options)
        else:
            cookie = self.cookie(app)
            assert cookie is not None and session.state.token is not None
            value = cookie.sign(session.state.token)
            expires = self.get_expiration_time(app, session)
            response.set_cookie(name, value, expires=expires, **options)
        session.new = False
        response.vary.add("Cookie")
