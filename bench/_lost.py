"""Lost updates: concurrent requests on one session, per contender.

- fields: N concurrent POST /field?name=fK, each setting a different field; how many
  of the N fields the session holds afterwards;
- counter: N concurrent POST /write, each incrementing the counter; its final value.

A browser keeps the cookie of the last answer it got; for a cookie-stored session that
decides what survives, so the session is read back with that cookie.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bench._contenders import AppServer, cookie_header
from bench._http import Response, request_bytes, send_all


def _survivor_cookie(original: str | None, answers: list[Response]) -> str | None:
    cookie = original
    for answer in sorted(answers, key=lambda answer: answer.received):
        set_cookies = answer.header_values("set-cookie")
        if set_cookies:
            merged = cookie_header(set_cookies)
            cookie = merged or cookie
    return cookie


async def _burst(server: AppServer, requests: list[bytes], n: int) -> list[Response]:
    return await send_all(server.port, requests, concurrency=n)


def measure(server: AppServer, n: int) -> dict[str, Any]:
    port = server.port
    cookie = server.seed()
    fields = [request_bytes("POST", f"/field?name=f{k}", port, cookie) for k in range(n)]
    answers = asyncio.run(_burst(server, fields, n))
    final = _survivor_cookie(cookie, answers)
    session = _read(port, final)
    kept = sum(f"f{k}" in session for k in range(n))

    cookie = server.seed()
    writes = [request_bytes("POST", "/write", port, cookie) for _ in range(n)]
    answers = asyncio.run(_burst(server, writes, n))
    final = _survivor_cookie(cookie, answers)
    counter = int(_read(port, final).get("counter", 0))
    return {"fields_kept": kept, "counter": counter, "of": n}


def _read(port: int, cookie: str | None) -> dict[str, Any]:
    (answer,) = asyncio.run(send_all(port, [request_bytes("GET", "/read", port, cookie)], 1))
    body: dict[str, Any] = json.loads(answer.body)
    return body


def run_lost(servers: list[AppServer], n: int) -> dict[str, Any]:
    return {
        server.contender.key: measure(server, n)
        for server in servers
        if server.contender.key not in ("starlette_bare", "flask_bare")
    }
