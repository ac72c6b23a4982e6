"""What a server receives while a ``with`` block runs, read from MONITOR.

``CommandLog`` reads MONITOR's raw lines and undoes Redis's quoting itself, so every
argument keeps its exact bytes (fuzzing checks which keys were built), and it tells the
commands clients sent (what crosses the network: the round trips) from those that scripts
ran inside Redis.
"""

from __future__ import annotations

import re
import threading
import uuid
from types import TracebackType

import redis

ARGUMENT = re.compile(rb'"((?:[^"\\]|\\.)*)"')
FROM_SCRIPT = re.compile(rb"\[\d+ lua\]")
ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b"}
ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.S)
# Commands whose arguments name no key.
KEYLESS = {
    b"AUTH", b"CLIENT", b"COMMAND", b"CONFIG", b"ECHO", b"EXEC", b"FLUSHDB", b"HELLO",
    b"INFO", b"MONITOR", b"MULTI", b"PING", b"SCAN", b"SCRIPT", b"SELECT", b"TIME",
    b"PUBLISH", b"SUBSCRIBE", b"UNSUBSCRIBE", b"PUBSUB",  # channels, not keys
}  # fmt: skip
MULTI_KEY = {b"DEL", b"EXISTS", b"UNLINK", b"TOUCH"}


def unescape(quoted: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1] == b"x" and len(code) == 3:
            return bytes([int(code[1:], 16)])
        return ESCAPES.get(code, code)

    return ESCAPE.sub(one, quoted)


def keys_of(args: list[bytes]) -> list[bytes]:
    name = args[0].upper()
    if name in KEYLESS or len(args) < 2:
        return []
    if name in (b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO"):
        return args[3 : 3 + int(args[2])]
    if name in MULTI_KEY:
        return args[1:]
    return [args[1]]


class CommandLog:
    """``with CommandLog(port) as log: ...``; then ``log.commands`` / ``log.names`` (what
    clients sent), ``log.all_commands`` (scripts' own commands too) and ``log.keys``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.entries: list[tuple[bool, list[bytes]]] = []  # (ran by a script, arguments)
        self._marker = f"rss-monitor-{uuid.uuid4().hex}".encode()
        self._ready = threading.Event()
        self._complete = False
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        # No read timeout: a block that sends nothing (the point of some tests) may be long.
        connection = redis.Connection(port=self.port, socket_timeout=None)  # type: ignore[no-untyped-call]
        connection.send_command("MONITOR")  # type: ignore[no-untyped-call]
        connection.read_response()
        self._ready.set()
        while True:
            line = connection.read_response(disable_decoding=True)
            assert isinstance(line, bytes)
            args = [unescape(quoted) for quoted in ARGUMENT.findall(line)]
            if args == [b"ECHO", self._marker]:
                self._complete = True
                break
            if args:
                self.entries.append((FROM_SCRIPT.search(line) is not None, args))
        connection.disconnect()  # type: ignore[no-untyped-call]

    @property
    def all_commands(self) -> list[list[bytes]]:
        return [args for _, args in self.entries]

    @property
    def commands(self) -> list[str]:
        """The commands clients sent (not those scripts ran), as readable lines."""
        return [
            " ".join(arg.decode("utf-8", "replace") for arg in args)
            for from_script, args in self.entries
            if not from_script
        ]

    @property
    def names(self) -> list[str]:
        """The names of the commands clients sent, upper-case (EVALSHA, HGETALL, ...)."""
        return [args[0].decode().upper() for from_script, args in self.entries if not from_script]

    @property
    def keys(self) -> list[bytes]:
        return [key for args in self.all_commands for key in keys_of(args)]

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
        self._thread.join(10)
        self._marker_client.close()
        if exc_type is None and not self._complete:
            # The reader died or is late: an empty log would prove nothing.
            raise AssertionError("MONITOR did not see the end of the block: the log is incomplete")

    def __repr__(self) -> str:
        return f"CommandLog({self.commands!r})"
