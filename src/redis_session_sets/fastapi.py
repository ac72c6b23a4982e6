"""FastAPI dependency for the per-request session of ``SessionMiddleware``.

    from redis_session_sets.fastapi import SessionDep

    @app.get("/me")
    async def me(session: SessionDep) -> dict[str, Any]:
        return await session.get()

Imports FastAPI; the rest of the library does not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ._web.access import get_session as _get_session
from ._web.session import AsyncSession

__all__ = ["SessionDep", "get_session"]


async def get_session(request: HTTPConnection) -> AsyncSession:
    """The request's (or WebSocket's) ``AsyncSession``, as a dependency."""
    return _get_session(request)


SessionDep = Annotated[AsyncSession, Depends(get_session)]
