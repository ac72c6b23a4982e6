"""The tests of test_end_reasons.py again, on a real 3-primary Redis Cluster (a reason
key shares its session's hash tag, so the ending script writes it in the same slot)."""

from __future__ import annotations

from tests.store.test_end_reasons import *  # noqa: F403
from tests.store.test_store_on_cluster import async_client, raw, sync_client

__all__ = ["async_client", "raw", "sync_client"]
