"""``redis-session-sets demo`` as a newcomer runs it: without REDIS_URL it starts its own
redis-server and stops it on exit."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.support.servers import free_port


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_starts_and_stops_its_own_redis() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "redis_session_sets", "demo", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    assert process.stderr is not None
    try:
        redis_port = None
        deadline = time.monotonic() + 30
        for line in process.stderr:
            found = re.search(r"redis-server on port (\d+)", line)
            if found:
                redis_port = int(found.group(1))
            if f"http://127.0.0.1:{port}/" in line or time.monotonic() > deadline:
                break
        assert redis_port is not None
        assert accepts(redis_port)
        while not accepts(port):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # The sign-in page writes its CSRF secret: it works only if the Redis is there.
        page = httpx.get(f"http://127.0.0.1:{port}/signin", timeout=5)
        assert page.status_code == 200
        assert "session-id=" in page.headers["set-cookie"]
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
    assert code == 0
    assert not accepts(redis_port)


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
