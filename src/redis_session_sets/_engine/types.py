"""Small public value types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """When a session was created, last written or touched, and when it expires; and the
    device it was last used from (``user_agent``, ``ip``: None unless the middleware's
    ``track`` keeps them)."""

    id: str
    created_at: datetime
    touched_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip: str | None = None
