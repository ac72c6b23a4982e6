"""tests/store/test_update.py again, on a real 3-primary Redis Cluster."""

from __future__ import annotations

from tests.store.test_store_on_cluster import async_client, raw, sync_client  # noqa: F401
from tests.store.test_update import *  # noqa: F403

# One round trip is a single server's promise (a cluster write may take two).
del test_update_is_one_script_call  # noqa: F821
