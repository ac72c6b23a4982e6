"""Finding a request's session: ``get_session(request | scope | environ)``.

The middlewares keep the session under their own key in the ASGI scope or WSGI environ.
``scope["session"]`` belongs to whichever middleware fills ``request.session``: the ASGI
middleware fills it only when no other one (Starlette's ``SessionMiddleware``, say) has,
so both can run side by side.

``get_session`` also works as a FastAPI dependency (``Depends(get_session)``): where
Starlette is installed, its signature names an ``HTTPConnection``, which FastAPI fills
with the request or WebSocket.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, overload

if TYPE_CHECKING:
    from .session import AsyncSession, Session

SESSION_KEY = "redis_session_sets.session"


class HasScope(Protocol):
    """An ASGI request object: Starlette's and FastAPI's ``Request``, Django's ASGIRequest."""

    @property
    def scope(self) -> Mapping[str, Any]: ...


class HasEnviron(Protocol):
    """A WSGI request object: Flask's and Werkzeug's ``Request``, Django's WSGIRequest."""

    @property
    def environ(self) -> Mapping[str, Any]: ...


@overload
def get_session(request: HasScope) -> AsyncSession: ...
@overload
def get_session(request: HasEnviron) -> Session: ...
@overload
def get_session(request: Mapping[str, Any]) -> Any: ...
def get_session(request: Any) -> Any:
    """The session of a request (a request object, an ASGI scope or a WSGI environ)."""
    container = getattr(request, "scope", None)
    if not isinstance(container, Mapping):
        container = getattr(request, "environ", None)
    if not isinstance(container, Mapping):
        container = request
    if not isinstance(container, Mapping):
        raise TypeError(
            "get_session takes a request, an ASGI scope or a WSGI environ, "
            f"not {type(request).__name__}"
        )
    session = container.get(SESSION_KEY)
    if session is None:
        raise RuntimeError(
            "this request has no session: wrap the app in redis_session_sets."
            "SessionMiddleware (ASGI) or WSGISessionMiddleware (WSGI)"
        )
    return session


def _announce_request_parameter() -> None:
    try:
        from starlette.requests import HTTPConnection
    except ImportError:  # no Starlette, so no FastAPI either: nothing to announce
        return
    parameter = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HTTPConnection
    )
    get_session.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]


_announce_request_parameter()
