"""The contenders and their server processes (uvicorn for ASGI, gunicorn for WSGI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    module: str  # bench.apps.<module>:app
    kind: Literal["asgi", "wsgi"]
    uses_redis: bool
    ours: bool = False


CONTENDERS = (
    Contender("starlette_bare", "bare Starlette (ceiling)", "starlette_bare", "asgi", False),
    Contender("starlette_cookie", "Starlette SessionMiddleware (cookie)", "starlette_cookie",
              "asgi", False),
    Contender("starsessions", "starsessions + RedisStore", "starsessions_redis", "asgi", True),
    Contender("ours_asgi", "redis-session-sets (ASGI)", "ours_asgi", "asgi", True, ours=True),
    Contender("flask_bare", "bare Flask (WSGI ceiling)", "flask_bare", "wsgi", False),
    Contender("flask_session", "Flask-Session + Redis", "flask_session_redis", "wsgi", True),
    Contender("ours_wsgi", "redis-session-sets (WSGI)", "ours_wsgi", "wsgi", True, ours=True),
)  # fmt: skip
BY_KEY = {contender.key: contender for contender in CONTENDERS}

# Which peers each of ours is compared with, and the ceiling its /plain is held to.
PEERS = {
    "ours_asgi": ("starlette_bare", "starlette_cookie", "starsessions"),
    "ours_wsgi": ("flask_bare", "flask_session"),
}
CEILING = {"ours_asgi": "starlette_bare", "ours_wsgi": "flask_bare"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    """One server process for one contender on a free loopback port.

    ``concurrent=True`` runs a WSGI app with threads (gunicorn's gthread worker) so that
    requests can overlap: the lost-update measurement needs that; the throughput runs
    use one sync worker, as the issue asks.
    """

    def __init__(self, contender: Contender, redis_url: str, concurrent: bool = False) -> None:
        self.contender = contender
        self.port = free_port()
        target = f"bench.apps.{contender.module}:app"
        if contender.kind == "asgi":
            command = [
                sys.executable, "-m", "uvicorn", target,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", "1", "--log-level", "warning", "--no-access-log",
            ]  # fmt: skip
        else:
            worker = ["-k", "gthread", "--threads", "64"] if concurrent else ["-k", "sync"]
            command = [
                sys.executable, "-m", "gunicorn", target,
                "--bind", f"127.0.0.1:{self.port}", "--workers", "1", *worker,
                "--log-level", "warning", "--chdir", str(ROOT),
            ]  # fmt: skip
        path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
        env = {**os.environ, "BENCH_REDIS_URL": redis_url, "PYTHONPATH": path}
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )

    def errors(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/plain", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                errors = self.errors()
                self.stop()
                raise RuntimeError(f"{self.contender.key} did not start:\n{errors}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seed(self, user: str = "42") -> str | None:
        """A real session: POSTs /seed without a cookie; the Cookie header to send back."""
        response = httpx.post(f"{self.url}/seed", params={"user": user}, timeout=10)
        response.raise_for_status()
        return cookie_header(response.headers.get_list("set-cookie"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def cookie_header(set_cookies: list[str]) -> str | None:
    """The Cookie header a browser would send back after these Set-Cookie headers."""
    jar: dict[str, str] = {}
    for header in set_cookies:
        pair = header.split(";", 1)[0]
        name, _, value = pair.partition("=")
        jar[name.strip()] = value.strip()
    return "; ".join(f"{name}={value}" for name, value in jar.items()) or None


def start_all(contenders: list[Contender], redis_url: str, threaded: int = 0) -> list[AppServer]:
    """Starts the servers at once; the last ``threaded`` ones concurrent (see AppServer)."""
    first = len(contenders) - threaded
    servers = [
        AppServer(contender, redis_url, concurrent=number >= first)
        for number, contender in enumerate(contenders)
    ]
    try:
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
