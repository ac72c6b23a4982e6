"""The tests of test_session_infos.py again, on a real 3-primary Redis Cluster."""

from __future__ import annotations

from tests.store.test_session_infos import *  # noqa: F403
from tests.store.test_store_on_cluster import async_client, raw, sync_client

__all__ = ["async_client", "raw", "sync_client"]
