"""Server-side web sessions in Redis that know which sessions belong to whom."""

from ._drivers.async_ import AsyncStore
from ._drivers.sync import Store
from ._engine.errors import SessionStoreError
from ._engine.types import SessionInfo
from ._web.access import get_session
from ._web.asgi import SessionMiddleware
from ._web.session import AsyncSession, Session
from ._web.wsgi import WSGISessionMiddleware

__all__ = [
    "AsyncSession",
    "AsyncStore",
    "Session",
    "SessionInfo",
    "SessionMiddleware",
    "SessionStoreError",
    "Store",
    "WSGISessionMiddleware",
    "get_session",
]
__version__ = "0.1.0"
