"""Counting the commands a server receives, with MONITOR, to prove round-trip claims."""

from __future__ import annotations

import threading
import uuid
from types import TracebackType
from typing import Any

import redis


class CommandLog:
    """Records every command clients send to the server while the ``with`` block runs.

    Commands that scripts run (``client_type == 'lua'``) are left out: what counts is what
    crosses the network.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[str] = []
        self._marker = f"rss-monitor-{uuid.uuid4().hex}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        client = redis.Redis(port=self.port)
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._ready.set()
            for entry in monitor.listen():
                command = str(entry["command"])
                if self._marker in command:
                    break
                if entry.get("client_type") != "lua":
                    self.commands.append(command)
        client.close()

    def __enter__(self) -> CommandLog:
        # Connected before MONITOR starts, so its handshake is not recorded.
        self._marker_client = redis.Redis(port=self.port)
        self._marker_client.ping()
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._marker_client.echo(self._marker)
        self._thread.join(5)
        self._marker_client.close()

    @property
    def names(self) -> list[str]:
        """The command names, upper-case (EVALSHA, HGETALL, ...)."""
        return [command.split(" ", 1)[0].strip('"').upper() for command in self.commands]

    def __repr__(self) -> str:
        shown: Any = self.commands
        return f"CommandLog({shown!r})"
