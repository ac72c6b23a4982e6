"""Server-side web sessions in Redis that know which sessions belong to whom."""

from ._errors import SessionStoreError
from ._store import AsyncStore, Store
from ._types import SessionInfo

__all__ = ["AsyncStore", "SessionInfo", "SessionStoreError", "Store"]
__version__ = "0.1.0"
