"""Throwaway Redis Cluster and Sentinel set-ups on free loopback ports, for the tests.

Built from ``servers.RedisServer``: a 3-primary cluster formed by ``redis-cli --cluster
create``, and one primary + one replica watched by one sentinel. Everything lives in
temporary folders and is stopped by ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.servers import RedisServer, free_port, redis_server_binary

SENTINEL_MASTER = "rss-primary"
# Replicas sync at once (Redis 7 waits 5 s by default, hoping to serve several at a time).
NO_SYNC_DELAY = ("--repl-diskless-sync-delay", "0")


def redis_cli_binary() -> str:
    """redis-cli beside the redis-server in use, else the one on PATH."""
    beside = Path(redis_server_binary()).with_name("redis-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("redis-cli")
    if not found:
        raise RuntimeError("redis-cli not found (needed to create the test cluster)")
    return found


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            port = random.randrange(20000, 45000)
        with contextlib.ExitStack() as stack:
            try:
                for candidate in (port, port + 10000):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        return port


class ClusterServers:
    """Three cluster-enabled primaries (no replicas) sharing the 16384 slots."""

    def __init__(self) -> None:
        self.nodes: list[RedisServer] = []
        for _ in range(3):
            port = cluster_port()
            self.nodes.append(
                RedisServer(
                    port,
                    (
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", f"nodes-{port}.conf",
                        "--cluster-node-timeout", "1000",
                        # Slots of a dead primary fail; the others keep serving.
                        "--cluster-require-full-coverage", "no",
                    ),
                )
            )  # fmt: skip

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    @property
    def startup_nodes(self) -> list[redis.cluster.ClusterNode]:
        return [
            redis.cluster.ClusterNode("127.0.0.1", node.port)  # type: ignore[no-untyped-call]
            for node in self.nodes
        ]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [redis_cli_binary(), "--cluster", "create", *addresses, "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        for node in self.nodes:
            self.wait_ok(node)

    def wait_ok(self, node: RedisServer) -> None:
        def ok() -> bool:
            with node.client() as client:
                info = client.execute_command("CLUSTER", "INFO")
                info = info.decode() if isinstance(info, bytes) else str(info)
                return "cluster_state:ok" in info and "cluster_known_nodes:3" in info

        wait_for(ok, f"cluster node {node.port} to be ready")

    def flush(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                with node.client() as client:
                    client.flushall()
                    client.script_flush()

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class SentinelServers:
    """A primary, its replica, and one sentinel watching them (quorum 1)."""

    def __init__(self) -> None:
        self.primary = RedisServer(extra_args=NO_SYNC_DELAY)
        self.replica = RedisServer()
        self.sentinel_port = free_port()
        self.directory = tempfile.mkdtemp(prefix=f"rss-sentinel-{self.sentinel_port}-")
        self.sentinel: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.primary.start()
        self.replica.extra_args = (
            "--replicaof",
            "127.0.0.1",
            str(self.primary.port),
            *NO_SYNC_DELAY,
        )
        self.replica.start()
        config = Path(self.directory) / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
        )
        self.sentinel = subprocess.Popen(
            [redis_server_binary(), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        with self.primary.client() as primary:
            wait_for(
                lambda: (
                    primary.info("replication").get("connected_slaves") == 1
                    and primary.info("replication")["slave0"]["state"] == "online"
                ),
                "the replica to sync",
            )
        with redis.Redis(port=self.sentinel_port) as sentinel:

            def replica_ready() -> bool:
                # Connected to the replica and has its INFO: SENTINEL FAILOVER can pick it
                # (otherwise it answers NOGOODSLAVE).
                replicas = sentinel.sentinel_slaves(SENTINEL_MASTER)
                return bool(
                    len(replicas) == 1
                    and replicas[0]["flags"] == "slave"
                    and replicas[0]["master-link-status"] == "ok"
                    and replicas[0]["runid"]
                )

            wait_for(replica_ready, "the sentinel to know the replica")

    def close(self) -> None:
        if self.sentinel is not None:
            self.sentinel.terminate()
            try:
                self.sentinel.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.sentinel.kill()
                self.sentinel.wait()
            self.sentinel = None
        self.primary.close()
        self.replica.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)
