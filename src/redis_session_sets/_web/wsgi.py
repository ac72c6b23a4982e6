"""``WSGISessionMiddleware``: the per-request session for any WSGI app (Flask, Django…).

The twin of ``SessionMiddleware``: a lazy ``Session`` in the environ, and its
``Set-Cookie`` added when the app starts its response, only if the handler wrote
(``Vary: Cookie`` if it used the session at all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from .._drivers.sync import Store
from .._engine.keys import MaxAge
from .access import SESSION_KEY
from .cookies import SecretKeys, lists_cookie
from .device import wsgi_device
from .options import SessionOptions
from .session import Session, state_if_made
from .state import SessionFactory

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def cookie_header(environ: Environ) -> str | None:
    value = environ.get("HTTP_COOKIE")
    return value if isinstance(value, str) else None


def is_https(environ: Environ) -> bool:
    return environ.get("wsgi.url_scheme") == "https"


def add_vary_cookie(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with ``Cookie`` added to ``Vary`` (merged into an existing one)."""
    first = None
    for at, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            if lists_cookie(value):
                return headers
            first = at if first is None else first
    if first is None:
        return [*headers, ("Vary", "Cookie")]
    name, value = headers[first]
    merged = [*headers]
    merged[first] = (name, f"{value}, Cookie" if value.strip() else "Cookie")
    return merged


class WSGISessionMiddleware:
    """Gives each request a lazy ``Session`` (``get_session(request or environ)``)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        store: Store,
        secret_keys: SecretKeys | None = None,
        cookie_name: str = "session-id",
        signed: bool = True,
        secure: bool | None = None,
        same_site: str | None = "lax",
        http_only: bool = True,
        domain: str | None = None,
        path: str = "/",
        touch_interval: MaxAge | None = None,
        track: tuple[str, ...] = (),
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(
                f"WSGISessionMiddleware needs a Store, not {type(store).__name__} "
                "(use SessionMiddleware with an AsyncStore)"
            )
        self.app = app
        self.store = store
        options = SessionOptions(
            secret_keys=secret_keys,
            cookie_name=cookie_name,
            signed=signed,
            secure=secure,
            same_site=same_site,
            http_only=http_only,
            domain=domain,
            path=path,
            touch_interval=touch_interval,
            track=track,
        )
        self.factory = SessionFactory(
            store.core,
            options,
            read_header=cookie_header,
            is_https=is_https,
            read_device=wsgi_device,
        )

    def create_session(self, environ: Any) -> Session:
        """A session for a WSGI environ (or a request with ``.environ``) read from its
        cookie; the caller sends ``session.set_cookie_header()`` with its response."""
        return Session(self.store, self.factory, getattr(environ, "environ", environ))

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        session = environ[SESSION_KEY] = Session(self.store, self.factory, environ)

        def start_with_cookie(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            # A session the handler never used sends no cookie and needs no Vary.
            state = state_if_made(session)
            if state is not None and state.used:
                line = state.set_cookie_header()
                if line is not None:
                    headers = [*headers, ("Set-Cookie", line)]
                headers = add_vary_cookie(headers)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, start_with_cookie)
