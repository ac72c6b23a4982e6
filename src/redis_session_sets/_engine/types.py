"""Small public value types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """When a session was created, last written or touched, and when it expires."""

    id: str
    created_at: datetime
    touched_at: datetime
    expires_at: datetime
