"""Helpers for the web tests: counting Redis commands, reading Set-Cookie lines."""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from redis_session_sets._scripts import load_script

SCRIPT_NAMES = [
    path.name.removesuffix(".lua")
    for path in (resources.files("redis_session_sets") / "lua").iterdir()
    if path.name.endswith(".lua") and path.name != "lib.lua"
]

# Connection chatter that is not the library's doing.
NOT_COUNTED = ("CLIENT", "HELLO", "PING", "SELECT", "INFO", "ECHO")


class CommandCounter:
    """Records the commands clients send to Redis meanwhile (through MONITOR, which also
    shows the commands scripts run, tagged 'lua': those are not round trips, not counted).

    ``with CommandCounter(raw) as count: ...`` then ``count.value`` / ``count.commands``.
    """

    def __init__(self, raw: redis.Redis) -> None:
        self.raw = raw
        self.commands: list[str] = []
        self.marker = f"rss-test-{id(self)}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @property
    def value(self) -> int:
        return len(self.commands)

    def _watch(self) -> None:
        client = redis.Redis(port=self.raw.connection_pool.connection_kwargs["port"])
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            seen: list[str] = []
            started = False
            self.raw.echo(f"{self.marker}-start")
            while True:
                entry = monitor.next_command()
                command = str(entry["command"])
                if command == f"ECHO {self.marker}-start":
                    if not started:
                        started = True
                        self._ready.set()
                    continue
                if command == f"ECHO {self.marker}-end":
                    break
                if started and entry.get("client_type") != "lua":
                    name = command.split(" ", 1)[0].upper()
                    if name not in NOT_COUNTED:
                        seen.append(command)
            self.commands = seen
        client.close()

    def __enter__(self) -> CommandCounter:
        # Load every script first, so that a script's first use (EVALSHA answered
        # NOSCRIPT, then EVAL) does not count twice, whatever ran before.
        for name in SCRIPT_NAMES:
            self.raw.script_load(load_script(name).source)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("MONITOR did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.echo(f"{self.marker}-end")
        self._thread.join(10)


@dataclass
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-case attribute name -> value ('' for flags)

    @property
    def token(self) -> str:
        """The token of a signed cookie value (token.signature) or an unsigned one."""
        return self.value.rsplit(".", 1)[0] if "." in self.value else self.value


def parse_set_cookie(line: str) -> SetCookie:
    first, *rest = line.split(";")
    name, _, value = first.strip().partition("=")
    attributes = {}
    for part in rest:
        key, _, val = part.strip().partition("=")
        attributes[key.lower()] = val
    return SetCookie(name, value, attributes)


def set_cookies(headers: Any) -> list[SetCookie]:
    """All Set-Cookie lines of an httpx (get_list) or werkzeug (getlist) response."""
    if hasattr(headers, "get_list"):
        lines = headers.get_list("set-cookie")
    else:
        lines = headers.getlist("Set-Cookie")
    return [parse_set_cookie(line) for line in lines]


def id_of(token: str) -> str:
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
