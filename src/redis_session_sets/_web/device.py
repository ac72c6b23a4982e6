"""The device facts a middleware keeps with a session (``track``): its user agent and its
address, as the request shows them (docs/design.md, "Devices").

They are written into the session's reserved fields ``__ua`` / ``__ip`` by the session's
own writes (creation, writes, renewals), never by a write of their own. The address is
what the server made of the client's (the ASGI ``client``, WSGI ``REMOTE_ADDR``): behind
a proxy, only the server's proxy-header handling (uvicorn ``--forwarded-allow-ips``,
werkzeug ``ProxyFix``) makes it the visitor's. It is personal data: nothing is kept
unless ``track`` asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TRACKABLE = ("user_agent", "ip")
# A user agent is kept to its first 512 bytes; an address to 128 characters (an IPv6
# address with a zone takes at most ~50; a server may report a socket path).
MAX_USER_AGENT_BYTES = 512
MAX_ADDRESS = 128

Device = tuple[str | None, str | None]  # (user agent, ip), None where not kept
NO_DEVICE: Device = (None, None)


def check_track(track: Iterable[str]) -> frozenset[str]:
    """The facts to keep, checked: some of ``"user_agent"`` and ``"ip"``."""
    if isinstance(track, str | bytes):
        raise TypeError(f'track must be a tuple of names, e.g. ("user_agent", "ip"), not {track!r}')
    names = frozenset(track)
    unknown = names - set(TRACKABLE)
    if unknown:
        raise ValueError(f"track takes {TRACKABLE}, not {sorted(unknown)}")
    return names


def user_agent(raw: str | bytes | None) -> str | None:
    """The header's first 512 bytes as text (latin-1, as WSGI decodes every header)."""
    if raw is None:
        return None
    data = raw if isinstance(raw, bytes) else raw.encode("latin-1", "replace")
    return data[:MAX_USER_AGENT_BYTES].decode("latin-1") or None


def address(raw: object) -> str | None:
    return raw[:MAX_ADDRESS] if isinstance(raw, str) and raw else None


def asgi_device(scope: Mapping[str, Any], track: frozenset[str]) -> Device:
    """The device of an ASGI request: its ``User-Agent`` header and ``client`` host."""
    agent = None
    if "user_agent" in track:
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                agent = user_agent(value)
                break
    ip = None
    if "ip" in track:
        client = scope.get("client")
        ip = address(client[0]) if client else None
    return agent, ip


def wsgi_device(environ: Mapping[str, Any], track: frozenset[str]) -> Device:
    """The device of a WSGI request: ``HTTP_USER_AGENT`` and ``REMOTE_ADDR``."""
    agent = user_agent(environ.get("HTTP_USER_AGENT")) if "user_agent" in track else None
    ip = address(environ.get("REMOTE_ADDR")) if "ip" in track else None
    return agent, ip
