"""``redis-session-sets demo`` as a newcomer runs it: without REDIS_URL it starts its own
redis-server and stops it on exit."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.servers import free_port


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def redis_servers_on(port: int) -> list[int]:
    """The pids of the live redis-server processes serving ``port`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # ended meanwhile
        # redis-server shows itself as "redis-server 127.0.0.1:<port>" once it runs.
        serves = str(port).encode() in arguments or any(
            a.endswith(f":{port}".encode()) for a in arguments
        )
        if state != "Z" and b"redis-server" in arguments[0] and serves:
            found.append(int(entry.name))
    return found


def folders_of(redis_port: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"redis-session-sets-{redis_port}-*"))


class Demo:
    """``redis-session-sets demo`` in a child process, up and serving."""

    def __init__(self, *extra: str) -> None:
        environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "redis_session_sets", "demo", "--port", str(self.port), *extra],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        self.redis_port: int | None = None
        self.said: list[str] = []

    def wait_for_redis(self) -> int:
        """Reads the demo's messages until it names its redis-server's port."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.process.stderr:
            self.said.append(line)
            found = re.search(r"redis-server on port (\d+)", line)
            if found:
                self.redis_port = int(found.group(1))
                return self.redis_port
            assert time.monotonic() < deadline, self.said
        raise AssertionError(f"the demo never started its redis-server: {self.said}")

    def wait_until_serving(self) -> None:
        self.wait_for_redis()
        deadline = time.monotonic() + 30
        while not accepts(self.port):
            assert self.process.poll() is None, self.said
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def finish(self, timeout: float = 20) -> tuple[int, str]:
        _, rest = self.process.communicate(timeout=timeout)
        return self.process.returncode, "".join(self.said) + rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.redis_port is not None:
            for pid in redis_servers_on(self.redis_port):  # never leave one to other tests
                os.kill(pid, signal.SIGKILL)


def test_demo_starts_and_stops_its_own_redis() -> None:
    demo = Demo()
    try:
        demo.wait_until_serving()
        assert demo.redis_port is not None and accepts(demo.redis_port)
        # The sign-in page mints the form's token: the cookie is set, nothing is stored.
        page = httpx.get(f"http://127.0.0.1:{demo.port}/signin", timeout=5)
        assert page.status_code == 200
        assert "session-id=" in page.headers["set-cookie"]
        with redis.Redis(port=demo.redis_port) as client:
            assert client.dbsize() == 0
        demo.process.send_signal(signal.SIGINT)
        code, said = demo.finish()
    finally:
        demo.kill()
    assert code == 0, said
    assert not accepts(demo.redis_port)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=str)
def test_every_stop_signal_stops_the_private_redis(signum: signal.Signals) -> None:
    """Ctrl+C, ``kill`` / ``docker stop`` / systemd (SIGTERM), a closed terminal (SIGHUP):
    the demo stops cleanly and no redis-server survives it, nor its folder."""
    demo = Demo()
    try:
        demo.wait_until_serving()
        assert demo.redis_port is not None
        assert redis_servers_on(demo.redis_port) and folders_of(demo.redis_port)
        demo.process.send_signal(signum)
        code, said = demo.finish()
        assert code == 0, said
        assert "Demo stopped." in said
        assert redis_servers_on(demo.redis_port) == [], said
        assert folders_of(demo.redis_port) == []
    finally:
        demo.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=str)
def test_a_stop_signal_before_uvicorn_serves_stops_the_private_redis(
    signum: signal.Signals,
) -> None:
    demo = Demo()
    try:
        redis_port = demo.wait_for_redis()  # redis is up; uvicorn may not be yet
        demo.process.send_signal(signum)
        code, said = demo.finish()
        assert code == 0, said
        assert redis_servers_on(redis_port) == [], said
        assert folders_of(redis_port) == []
    finally:
        demo.kill()


def test_uvicorn_failing_to_start_stops_the_private_redis() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: uvicorn cannot bind to it.
    demo = Demo("--host", "192.0.2.1")
    try:
        redis_port = demo.wait_for_redis()
        code, said = demo.finish()
        assert code == 2, said  # as for a port in use: pick another --host or --port
        assert "could not serve on 192.0.2.1" in said
        assert redis_servers_on(redis_port) == [], said
        assert folders_of(redis_port) == []
    finally:
        demo.kill()


def test_demo_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "redis_session_sets", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"redis-session-sets: error: 127.0.0.1:{port} is in use; pick another with --port\n"
    )
