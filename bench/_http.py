"""Load generators: wrk when it is installed, a small asyncio HTTP/1.1 client otherwise.

The Python client is also what the suite uses to send a given list of requests (seeding
sessions, the lost-update bursts), since wrk only knows durations.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    requests_per_second: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors
    generator: str


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    received: float = 0.0  # perf_counter() when the answer was complete

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]


def request_bytes(method: str, path: str, port: int, cookie: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """One response; also whether the connection may be reused."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before the response")
    version, status = status_line.split(b" ", 2)[:2]
    response = Response(int(status))
    keep_alive = version == b"HTTP/1.1"
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        response.headers.append((name, value))
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            keep_alive = value.lower() == "keep-alive" or (keep_alive and value.lower() != "close")
        elif name == "transfer-encoding" and "chunked" in value.lower():
            raise ConnectionError("chunked responses are not supported by this client")
    response.body = await reader.readexactly(length) if length else b""
    return response, keep_alive


class _Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(raw)
        try:
            response, keep_alive = await _read_response(self.reader)
        except BaseException:
            self.close()
            raise
        response.received = time.perf_counter()
        if not keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def send_all(port: int, requests: Sequence[bytes], concurrency: int) -> list[Response]:
    """Sends every request (``concurrency`` connections at a time); the answers in order."""
    answers: list[Response | None] = [None] * len(requests)
    position = 0

    async def worker() -> None:
        nonlocal position
        connection = _Connection(port)
        try:
            while position < len(requests):
                index, position = position, position + 1
                answers[index] = await connection.send(requests[index])
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(requests)) or 1)))
    return [answer for answer in answers if answer is not None]


async def _python_load(port: int, raw: bytes, connections: int, duration: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        connection = _Connection(port)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await connection.send(raw)
                except (OSError, ConnectionError, asyncio.IncompleteReadError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                if response.status >= 400:
                    errors += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return Load(len(latencies) / elapsed, p99 * 1000, len(latencies), errors, "python")


POST_SCRIPT = Path(__file__).with_name("wrk_post.lua")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and total):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        # A server that closes each connection (gunicorn's sync worker) makes wrk count
        # a read error per close; only connect/write/timeout errors are failures.
        errors += int(socket[1]) + int(socket[3]) + int(socket[4])
    return Load(float(rps[1]), float(p99[1]) * _UNITS[p99[2]], int(total[1]), errors, "wrk")


class LoadGenerator:
    """Drives one route of one server for a duration; wrk if present, else Python."""

    def __init__(self, connections: int, prefer_wrk: bool = True) -> None:
        self.connections = connections
        self.wrk = shutil.which("wrk") if prefer_wrk else None

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python (asyncio, wrk not installed)"

    def run(self, port: int, method: str, path: str, cookie: str | None, duration: float) -> Load:
        if not self.wrk:
            raw = request_bytes(method, path, port, cookie)
            return asyncio.run(_python_load(port, raw, self.connections, duration))
        command = [
            self.wrk,
            "-t1",
            f"-c{self.connections}",
            f"-d{max(1, round(duration))}s",  # wrk takes whole seconds
            "--latency",
            "--timeout", "5s",
        ]  # fmt: skip
        if cookie:
            command += ["-H", f"Cookie: {cookie}"]
        if method == "POST":
            command += ["-s", str(POST_SCRIPT)]
        command.append(f"http://127.0.0.1:{port}{path}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)
