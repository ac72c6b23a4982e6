"""What every contender app shares: the workload and its settings.

Routes, identical in every app:

- ``POST /seed?user=U``: writes the five small fields of the workload (``user_id=U``);
- ``GET /read``: the whole session as JSON;
- ``POST /write``: increments ``counter`` and sets ``user_id`` (a reference);
- ``GET /plain``: never touches the session;
- ``POST /field?name=N``: sets field ``N`` (the lost-update measurement).

The harness passes the Redis URL in ``BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:1/0")
SECRET = "bench-secret-key-not-for-production"
MAX_AGE = 28 * 24 * 3600
USER = "42"


def seed_values(user: str) -> dict[str, Any]:
    """The five small fields of the workload: one reference (user_id), one counter."""
    return {"user_id": user, "counter": 0, "name": "Ada Lovelace", "theme": "dark", "lang": "en"}
