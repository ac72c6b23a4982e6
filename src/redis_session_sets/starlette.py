"""``request.session`` as a dict, kept in the store: a drop-in for Starlette's own
``SessionMiddleware`` (Starlette, FastAPI, any ASGI app that reads ``scope["session"]``).

Pure ASGI: nothing of Starlette is imported. A request that carries a valid session
cookie has its session loaded with one read before the handler runs; a request without
one costs no Redis call. When the response starts, only the keys the handler changed are
written (one atomic script), so two requests of one user that change different keys
keep both changes, which Starlette's cookie session cannot do. A response whose handler
read or changed the session carries ``Vary: Cookie``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._drivers.async_ import AsyncStore
from ._engine.keys import MaxAge
from ._web.asgi import (
    HEADER_MESSAGES,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    cookie_header,
    is_https,
    with_session_headers,
)
from ._web.cookies import SecretKeys, cookie_max_age
from ._web.device import asgi_device
from ._web.dict_session import (
    EXPIRE,
    READ_METHODS,
    SEND,
    WRITE_METHODS,
    DictSessionState,
    load,
    record_access,
    save,
)
from ._web.options import SessionOptions, renewal_due
from ._web.revocation import serve_websocket

__all__ = ["DictSession", "DictSessionMiddleware"]


class DictSession(dict[str, Any]):
    """``request.session``: a plain dict, plus ``session_id`` and ``regenerate()``.

    ``accessed`` tells whether the handler read or changed it (as Flask's sessions do):
    the response then varies with the cookie.
    """

    accessed = False

    def __init__(self, data: Mapping[str, Any] | None = None, token: str | None = None) -> None:
        super().__init__(data or {})
        self.state = DictSessionState(token, data or {})

    @property
    def session_id(self) -> str | None:
        """The public id (safe to show and log); None until a new session is saved."""
        self.accessed = True  # it comes from the cookie: a response showing it varies
        return self.state.session_id

    def regenerate(self) -> None:
        """Moves the session to a new id when the response starts: call it at login."""
        self.accessed = True
        self.state.regenerate_on_save = True


record_access(DictSession, READ_METHODS + WRITE_METHODS)


class DictSessionMiddleware:
    """Fills ``scope["session"]`` with a ``DictSession`` backed by an ``AsyncStore``.

    Takes the options of ``SessionMiddleware``: the cookie carries a random token, signed
    with the first of ``secret_keys`` (all of them verify); ``secure=None`` sends
    ``Secure`` over https; ``touch_interval`` renews an unchanged session's TTL, and its
    cookie, at most once per interval (a rolling idle timeout);
    ``close_ended_websockets`` closes a WebSocket (code 4001) whose session ends while it
    is open.
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
                f"DictSessionMiddleware needs an AsyncStore, not {type(store).__name__}"
            )
        self.app = app
        self.store = store
        self.close_ended_websockets = bool(close_ended_websockets)
        # The options are checked, and the cookie read and written, exactly as by the
        # library's SessionMiddleware.
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
        self.cookie = options.cookie()
        self.touch_interval_ms = options.touch_interval_ms(store.core)
        self.max_age_seconds = cookie_max_age(store.core.max_age_ms)
        self.track = options.tracked()

    async def load(self, scope: Scope) -> tuple[DictSession, bool]:
        """The request's session, and whether its TTL is due for renewal."""
        token = self.cookie.token_from_header(cookie_header(scope))
        found = await self.store.run(load(self.store.core, token))
        if found is None:
            return DictSession(), False
        due = renewal_due(found.touched_ms, self.touch_interval_ms, time.time() * 1000)
        return DictSession(found.values, token), due

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session, due = await self.load(scope)
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in HEADER_MESSAGES:
                used = session.accessed  # before the save reads the dict itself
                core = self.store.core
                # modified=False: an emptied session is deleted only if it held data.
                max_age = core.max_age_ms / 1000
                device = core.device_fields(*asgi_device(scope, self.track)) if self.track else ()
                operation = save(
                    core,
                    session.state,
                    session,
                    max_age,
                    modified=False,
                    refresh=due,
                    device=device,
                )
                outcome = await self.store.run(operation)
                line = None
                if outcome == SEND and session.state.token is not None:
                    line = self.cookie.set_cookie(
                        session.state.token, self.max_age_seconds, https=is_https(scope)
                    )
                elif outcome == EXPIRE:
                    line = self.cookie.expire_cookie(https=is_https(scope))
                message = with_session_headers(message, line, used or line is not None)
            await send(message)

        if scope["type"] == "websocket" and self.close_ended_websockets:
            await serve_websocket(
                self.app,
                scope,
                receive,
                send_with_cookie,
                store=self.store,
                current_id=lambda: session.state.session_id,
            )
            return
        await self.app(scope, receive, send_with_cookie)
