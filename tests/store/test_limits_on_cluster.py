"""The tests of test_limits.py again, on a real 3-primary Redis Cluster: there the index
half of the write (cluster.enforce_limit) ends the excess, before the write returns."""

from __future__ import annotations

from tests.store.test_limits import *  # noqa: F403
from tests.store.test_store_on_cluster import async_client, raw, sync_client

__all__ = ["async_client", "raw", "sync_client"]

# Single-server only: these build their own clients on the single test server.
for name in (
    "test_single_server_a_limited_login_is_one_round_trip",
    "test_concurrent_logins_from_threads_never_leave_more_than_the_limit",
    "test_limits_are_checked_when_the_store_is_built",
):
    globals().pop(name, None)
