"""Helpers for the web tests: counting Redis commands, reading Set-Cookie lines."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import redis

from tests.support.monitor import CommandLog

# Connection chatter that is not the library's doing.
NOT_COUNTED = ("CLIENT", "HELLO", "PING", "SELECT", "INFO", "ECHO")


class CommandCounter:
    """The commands clients send meanwhile (``tests.support.monitor.CommandLog``), without the
    connection chatter: ``with CommandCounter(raw) as count: ...`` then ``count.value``.

    A store sends a script's first use as EVAL (which runs and caches it), so a script
    new to the server costs one command too, whatever ran before.
    """

    def __init__(self, raw: redis.Redis) -> None:
        self.raw = raw
        self.log = CommandLog(raw.connection_pool.connection_kwargs["port"])

    @property
    def commands(self) -> list[str]:
        return [
            command
            for command, name in zip(self.log.commands, self.log.names, strict=True)
            if name not in NOT_COUNTED
        ]

    @property
    def value(self) -> int:
        return len(self.commands)

    def __enter__(self) -> CommandCounter:
        self.log.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.log.__exit__(*exc)


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
    digest = hashlib.sha256(token.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
