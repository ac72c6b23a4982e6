"""The tests of test_limits_attack.py again, on a real 3-primary Redis Cluster."""

from __future__ import annotations

from tests.store.test_limits_attack import *  # noqa: F403
from tests.store.test_store_on_cluster import async_client, raw, sync_client

__all__ = ["async_client", "raw", "sync_client"]
