"""Litestar integration: the library's ASGI middlewares as a Litestar plugin, and the
request's session as a dependency.

    from litestar import Litestar, get
    from redis_session_sets import AsyncStore
    from redis_session_sets.litestar import SessionConfig, SessionDep, SessionPlugin

    store = AsyncStore(redis.asyncio.Redis(), references=["user_id"])

    @get("/me")
    async def me(session: SessionDep) -> dict[str, Any]:
        return await session.get()

    app = Litestar([me], plugins=[SessionPlugin(SessionConfig(store, secret_keys=["key"]))])

``SessionConfig`` wraps ``SessionMiddleware`` (a lazy ``AsyncSession`` per request);
``DictSessionConfig`` wraps ``DictSessionMiddleware`` (``request.session`` as a dict,
loaded before the handler, saved key by key). Either config's ``middleware`` can go into
``Litestar(middleware=[...])`` by itself, as Litestar's own session configs do; the plugin
adds it as the outermost middleware, provides the session to handlers that take a
``session: SessionDep`` (or ``DictSessionDep``) parameter, and answers
``SessionStoreError`` (Redis unreachable) with a 503 unless the app handles it itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeAlias, cast

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.serialization import decode_json, encode_json
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ASGIApp as LitestarApp
from litestar.types import Empty, Scope

from ._drivers.async_ import AsyncStore
from ._engine.errors import SessionStoreError
from ._web.access import SESSION_KEY
from ._web.asgi import HEADER_MESSAGES, ASGIApp, Message, Receive, Send, SessionMiddleware
from ._web.session import AsyncSession
from .starlette import DictSession, DictSessionMiddleware

__all__ = [
    "DictSessionConfig",
    "DictSessionDep",
    "SessionConfig",
    "SessionDep",
    "SessionPlugin",
    "provide_dict_session",
    "provide_session",
]

# Where the dict-session bridge keeps the request's DictSession (Litestar's
# ``request.set_session`` replaces ``scope["session"]``).
DICT_SESSION_KEY = "redis_session_sets.dict_session"

SessionDep: TypeAlias = NamedDependency[AsyncSession]
"""A handler parameter ``session: SessionDep`` receives the request's ``AsyncSession``."""
DictSessionDep: TypeAlias = NamedDependency[DictSession]
"""A handler parameter ``session: DictSessionDep`` receives the request's ``DictSession``."""


async def _no_app(scope: Any, receive: Receive, send: Send) -> None:
    """Stands in for the app while a config checks its options."""


class SessionConfig:
    """``SessionMiddleware`` for a Litestar app: ``Litestar(middleware=[config.middleware])``.

    Takes an ``AsyncStore`` and the options of ``SessionMiddleware`` (``secret_keys``,
    ``cookie_name``, ``secure``, ``touch_interval``...). They are checked here, when the
    app is built: a ``__Host-`` cookie name with ``secure=False``, say, raises
    ``ValueError`` at start-up rather than on the first request.
    """

    def __init__(self, store: AsyncStore, **options: Any) -> None:
        self.store = store
        self.options = options
        self._build(_no_app)

    def _build(self, app: ASGIApp) -> ASGIApp:
        return SessionMiddleware(app, store=self.store, **self.options)

    @property
    def middleware(self) -> DefineMiddleware:
        """The middleware, for ``Litestar(middleware=[...])`` (or a router's or handler's)."""
        # Litestar types scopes and messages as TypedDicts; the middlewares take mappings.
        return DefineMiddleware(cast("Callable[..., LitestarApp]", self._build))

    @property
    def dependency(self) -> Provide:
        """``Provide`` of the request's session, for ``dependencies={"session": ...}``."""
        return Provide(provide_session)


class DictSessionConfig(SessionConfig):
    """``DictSessionMiddleware`` for a Litestar app: ``request.session`` is a dict kept in
    the store, saved key by key when the response starts.

    Litestar's ``request.set_session(...)`` and ``request.clear_session()`` are honoured:
    the session then takes the new contents (a cleared session is deleted). The
    ``DictSession`` itself (with ``session_id`` and ``regenerate()``) is the dependency.
    """

    def _build(self, app: ASGIApp) -> ASGIApp:
        return DictSessionMiddleware(_DictSessionBridge(app), store=self.store, **self.options)

    @property
    def dependency(self) -> Provide:
        return Provide(provide_dict_session)


class _DictSessionBridge:
    """Between ``DictSessionMiddleware`` and the app: keeps the ``DictSession`` the
    middleware loaded, and when the response starts copies into it whatever Litestar's
    ``set_session`` / ``clear_session`` put in ``scope["session"]`` meanwhile."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if not isinstance(session, DictSession):  # not a request the middleware serves
            await self.app(scope, receive, send)
            return
        scope[DICT_SESSION_KEY] = session

        async def send_reconciled(message: Message) -> None:
            if message["type"] in HEADER_MESSAGES:
                current = scope.get("session")
                if current is not session:
                    replacement = _as_dict(current)
                    session.clear()
                    session.update(replacement)
                    scope["session"] = session
            await send(message)

        await self.app(scope, receive, send_reconciled)


def _as_dict(value: object) -> dict[str, Any]:
    """What ``set_session`` was given, as the dict the session should now hold: a mapping
    as it is, a dataclass or model as Litestar encodes it, anything else (``Empty``,
    ``None``) as nothing."""
    if isinstance(value, Mapping):
        return dict(value)
    if value is None or value is Empty:
        return {}
    decoded = decode_json(encode_json(value))
    if not isinstance(decoded, dict):
        raise TypeError(f"a session must be a mapping, not {type(value).__name__}")
    return decoded


async def provide_session(scope: Scope) -> AsyncSession:
    """The request's (or WebSocket's) ``AsyncSession``, as a Litestar dependency."""
    session = cast("Mapping[str, Any]", scope).get(SESSION_KEY)
    if not isinstance(session, AsyncSession):
        raise RuntimeError(
            "this request has no session: add SessionPlugin(SessionConfig(store, ...)) "
            "to the app's plugins, or SessionConfig(...).middleware to its middleware"
        )
    return session


async def provide_dict_session(scope: Scope) -> DictSession:
    """The request's ``DictSession`` (``request.session``), as a Litestar dependency."""
    session = cast("Mapping[str, Any]", scope).get(DICT_SESSION_KEY)
    if not isinstance(session, DictSession):
        raise RuntimeError(
            "this request has no dict session: add SessionPlugin(DictSessionConfig(store, "
            "...)) to the app's plugins, or DictSessionConfig(...).middleware to its middleware"
        )
    return session


def _service_unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[str]:
    return Response(
        "Sessions are unavailable, try again soon.",
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        media_type="text/plain",
    )


class SessionPlugin(InitPlugin):
    """Adds a config's middleware to the app (outermost, so every other middleware sees
    the session), provides the session as the dependency ``dependency_key`` (an
    ``AsyncSession``, or the ``DictSession`` of a ``DictSessionConfig``), and maps
    ``SessionStoreError`` to 503 Service Unavailable unless the app maps it itself.
    """

    __slots__ = ("config", "dependency_key")

    def __init__(self, config: SessionConfig, *, dependency_key: str = "session") -> None:
        self.config = config
        self.dependency_key = dependency_key

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, self.config.middleware)
        app_config.dependencies.setdefault(self.dependency_key, self.config.dependency)
        app_config.exception_handlers.setdefault(SessionStoreError, _service_unavailable)
        # Handlers that import these names only for type checking still resolve.
        app_config.signature_namespace.setdefault("AsyncSession", AsyncSession)
        app_config.signature_namespace.setdefault("DictSession", DictSession)
        app_config.signature_namespace.setdefault("SessionDep", SessionDep)
        app_config.signature_namespace.setdefault("DictSessionDep", DictSessionDep)
        return app_config
