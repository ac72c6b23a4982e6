"""``SessionMiddleware``: the per-request session for any ASGI app.

Pure ASGI (no framework imported): it puts an ``AsyncSession`` in the scope and adds the
session's ``Set-Cookie`` to the response start when, and only when, the handler wrote,
and ``Vary: Cookie`` when the handler used the session at all (so that no shared cache
serves one visitor's page to another). Nothing is parsed or sent to Redis unless the
handler uses the session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._drivers.async_ import AsyncStore
from .._engine.keys import MaxAge
from .access import SESSION_KEY
from .cookies import SecretKeys, lists_cookie
from .device import asgi_device
from .options import SessionOptions
from .revocation import serve_websocket
from .session import AsyncSession, state_if_made
from .state import SessionFactory

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The messages that carry the response headers (a websocket's handshake answer too).
HEADER_MESSAGES = frozenset({"http.response.start", "websocket.accept"})


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


def cookie_header(scope: Scope) -> bytes | None:
    """The request's ``Cookie`` header (several, as HTTP/2 may send, joined by '; ')."""
    found: bytes | None = None
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            found = value if found is None else found + b"; " + value
    return found


def add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Adds ``Cookie`` to the response's ``Vary`` (merged into an existing one)."""
    first = None
    for at, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if lists_cookie(value.decode("latin-1")):
                return
            first = at if first is None else first
    if first is None:
        headers.append((b"vary", b"Cookie"))
    else:
        name, value = headers[first]
        headers[first] = (name, value + b", Cookie" if value.strip() else b"Cookie")


def with_session_headers(message: Message, set_cookie: str | None, vary: bool) -> Message:
    """The response start with the session's ``Set-Cookie`` and ``Vary: Cookie`` added
    (a WebSocket's handshake answer gets the cookie only)."""
    vary = vary and message["type"] == "http.response.start"
    if set_cookie is None and not vary:
        return message
    headers = list(message.get("headers", ()))
    if set_cookie is not None:
        headers.append((b"set-cookie", set_cookie.encode("latin-1")))
    if vary:
        add_vary_cookie(headers)
    return {**message, "headers": headers}


class SessionMiddleware:
    """Gives each HTTP and WebSocket request a lazy ``AsyncSession`` (``get_session``).

    ``close_ended_websockets``: a WebSocket whose session ends while it is open (deleted,
    revoked, evicted by a limit, regenerated, from any process) is closed with code 4001
    (``revocation``); one Pub/Sub subscription per process and store, opened with the
    first WebSocket. HTTP requests are not concerned.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AsyncStore,
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
        close_ended_websockets: bool = True,
    ) -> None:
        if not isinstance(store, AsyncStore):
            raise TypeError(
                f"SessionMiddleware needs an AsyncStore, not {type(store).__name__} "
                "(use WSGISessionMiddleware with a Store)"
            )
        self.app = app
        self.store = store
        self.close_ended_websockets = bool(close_ended_websockets)
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
            read_device=asgi_device,
        )

    def create_session(self, scope: Any) -> AsyncSession:
        """A session for an ASGI scope (or a request with ``.scope``) read from its cookie;
        the caller sends ``session.set_cookie_header()`` with its response."""
        return AsyncSession(self.store, self.factory, getattr(scope, "scope", scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session = scope[SESSION_KEY] = AsyncSession(self.store, self.factory, scope)
        # Also ``request.session`` (scope["session"]), unless another middleware (e.g.
        # Starlette's SessionMiddleware) owns that name: never replace theirs.
        scope.setdefault("session", session)

        # A plain function handing back ``send``'s awaitable, not a coroutine of its own:
        # one frame and one coroutine object less on each of the response's messages.
        def send_with_cookie(message: Message) -> Awaitable[None]:
            # A session the handler never used has no cookie to send and needs no Vary
            # (every write and ``delete`` use it first): the response passes untouched.
            if message["type"] in HEADER_MESSAGES:
                state = state_if_made(session)
                if state is not None and state.used:
                    message = with_session_headers(message, state.set_cookie_header(), True)
            return send(message)

        if scope["type"] == "websocket" and self.close_ended_websockets:
            # Closed (code 4001) if its session ends while open: see revocation.py.
            await serve_websocket(
                self.app,
                scope,
                receive,
                send_with_cookie,
                store=self.store,
                current_id=session._state.known_id,
            )
            return
        await self.app(scope, receive, send_with_cookie)
