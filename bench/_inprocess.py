"""CPU per request inside the server process, without HTTP or a load generator.

Each app is called directly (ASGI: ``await app(scope, receive, send)``; WSGI:
``app(environ, start_response)``), requests one after another, and the process's CPU
time is divided by their number. No network stack, no second process and no neighbour
on the machine sways this figure much, so it shows what the session layer itself costs
(on /plain: the middleware's overhead, which the quality bars of docs/benchmarks.md cap
at 5 % of the bare app).
It includes the Redis client's work, not the Redis server's.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import os
import statistics
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from bench._contenders import Contender, cookie_header
from bench.apps import _common

ROUTES = (("GET", "/read"), ("POST", "/write"), ("GET", "/plain"))


def _scope(method: str, path: str, cookie: str | None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    query = b"user=42" if path == "/seed" else b""
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query, "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def _asgi_call(app: Any, method: str, path: str, cookie: str | None) -> list[str]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    cookies: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if message["status"] >= 400:
                raise RuntimeError(f"{path} answered {message['status']}")
            cookies.extend(v.decode() for k, v in message["headers"] if k == b"set-cookie")

    await app(_scope(method, path, cookie), receive, send)
    return cookies


def _environ(method: str, path: str, cookie: str | None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "",
        "QUERY_STRING": "user=42" if path == "/seed" else "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": "0", "HTTP_HOST": "127.0.0.1",
    }  # fmt: skip
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _wsgi_call(app: Any, method: str, path: str, cookie: str | None) -> list[str]:
    cookies: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        if int(status.split()[0]) >= 400:
            raise RuntimeError(f"{path} answered {status}")
        cookies.extend(value for name, value in headers if name.lower() == "set-cookie")
        return lambda data: None

    body = app(_environ(method, path, cookie), start_response)
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return cookies


def _cpu_per_call(call: Callable[[], Any], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - started) / n * 1e6


def run_inprocess(
    contenders: Iterable[Contender], redis_url: str, *, requests: int, rounds: int
) -> dict[str, Any]:
    os.environ["BENCH_REDIS_URL"] = redis_url
    _common.REDIS_URL = redis_url  # the apps read it when first imported, below
    results: dict[str, Any] = {}
    loop: asyncio.AbstractEventLoop
    try:  # the loop uvicorn runs the apps on (uvicorn[standard])
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    try:
        for contender in contenders:
            app = importlib.import_module(f"bench.apps.{contender.module}").app
            if contender.kind == "asgi":

                def call(method: str, path: str, cookie: str | None, app: Any = app) -> list[str]:
                    return loop.run_until_complete(_asgi_call(app, method, path, cookie))
            else:

                def call(method: str, path: str, cookie: str | None, app: Any = app) -> list[str]:
                    return _wsgi_call(app, method, path, cookie)

            cookie = cookie_header(call("POST", "/seed", None))
            samples: dict[str, list[float]] = {path: [] for _, path in ROUTES}
            for number in range(rounds + 1):  # the first round warms up
                for method, path in ROUTES:
                    cpu = _cpu_per_call(partial(call, method, path, cookie), requests)
                    if number:
                        samples[path].append(cpu)
            results[contender.key] = {p: statistics.median(v) for p, v in samples.items()}
    finally:
        loop.close()
    return results
