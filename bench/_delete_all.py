"""delete_all over n sessions of one user: seconds and the peak RSS of the process.

The sessions are created here (pipelined), then a fresh child process runs only the
``delete_all``, so its peak RSS is that of the deletion alone, not of the seeding.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

import redis

from bench.apps._common import seed_values
from redis_session_sets import Store
from redis_session_sets._engine.protocol import ScriptCall


def seed(url: str, n: int, batch: int = 1000) -> None:
    """n sessions of user 42, through the store's own set operation, pipelined."""
    client = redis.Redis.from_url(url)
    store = Store(client, references=["user_id"])
    values = seed_values("42")
    first = store.core.set(store.create_session_id(), values).send(None)
    assert isinstance(first, ScriptCall)
    client.script_load(first.script.source)
    for start in range(0, n, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, n - start)):
            request = store.core.set(store.create_session_id(), values).send(None)
            assert isinstance(request, ScriptCall)
            pipe.evalsha(request.script.sha, len(request.keys), *request.keys, *request.args)
        pipe.execute()
    client.close()


def _child(url: str) -> None:
    client = redis.Redis.from_url(url)
    store = Store(client, references=["user_id"])
    store.count("user_id", "42")  # connect and load everything before the baseline
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    deleted = store.delete_all("user_id", "42")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"deleted": deleted, "seconds": seconds, "baseline_kib": baseline,
                      "peak_kib": peak}))  # fmt: skip


def run_delete_all(url: str, sizes: list[int]) -> list[dict[str, Any]]:
    results = []
    client = redis.Redis.from_url(url)
    for n in sizes:
        client.flushall()
        seed(url, n)
        done = subprocess.run(
            [sys.executable, "-m", "bench._delete_all", url],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        result = json.loads(done.stdout)
        if result["deleted"] != n or client.dbsize() != 0:
            raise RuntimeError(f"delete_all over {n}: deleted {result['deleted']}, "
                               f"{client.dbsize()} keys left")  # fmt: skip
        results.append({"sessions": n, **result})
    client.close()
    return results


if __name__ == "__main__":
    _child(sys.argv[1])
