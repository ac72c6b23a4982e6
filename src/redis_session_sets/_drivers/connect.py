"""Connection URLs, for the parts that build a client themselves (the CLI, the Django
engine, the demo)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "redis://localhost:6379/0"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
