"""Server-side web sessions in Redis that know which sessions belong to whom."""

from ._access import get_session
from ._asgi import SessionMiddleware
from ._errors import SessionStoreError
from ._session import AsyncSession, Session
from ._store import AsyncStore, Store
from ._types import SessionInfo
from ._wsgi import WSGISessionMiddleware

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
