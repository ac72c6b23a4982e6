"""What Django's own backends cannot do: list a user's sessions and sign them out.

Django's login stores ``_auth_user_id`` (the user's primary key as a string) in the
session; the engine indexes that field, so both questions are one index read.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError

from .._engine.codec import text
from .._engine.protocol import Command, Operation
from .._engine.types import SessionInfo
from .._web.dict_session import keep_ids
from ._config import USER_FIELD, stores


def user_index_value(user: Any) -> str:
    """The string Django's login() stores for ``user`` (a user object or a primary key)."""
    meta = getattr(user, "_meta", None)
    if meta is not None:
        return str(meta.pk.value_to_string(user))
    if isinstance(user, bool) or not isinstance(user, str | int):
        raise TypeError(f"user must be a user object or a primary key, not {user!r}")
    try:
        return str(get_user_model()._meta.pk.to_python(user))
    except ValidationError as error:
        raise ValueError(f"not a primary key of the user model: {user!r}") from error


def _user_sessions_op(user: Any) -> Operation[list[SessionInfo]]:
    return stores().core.session_infos(USER_FIELD, user_index_value(user))


def user_sessions(user: Any) -> list[SessionInfo]:
    """The user's live sessions, most recently used first, with their times and device
    (``.id`` is the public id, never the cookie; compare with
    ``request.session.session_id``): one round trip on a single server."""
    return stores().run(_user_sessions_op(user))


async def auser_sessions(user: Any) -> list[SessionInfo]:
    return await stores().arun(_user_sessions_op(user))


def _keep(keep: Any) -> list[str]:
    """Ids to spare: from a request, a session, a session key (cookie) or a session id."""
    if keep is None:
        return []
    session = getattr(keep, "session", keep)  # a request carries its session
    if isinstance(session, SessionBase):
        key = session.session_key
        return keep_ids([key]) if key is not None else []
    if isinstance(keep, str):
        return keep_ids([keep])
    raise TypeError(f"keep must be a request, a session or a session key, not {keep!r}")


def _sign_out_op(user: Any, keep: Any) -> Operation[int]:
    return stores().core.delete_all(USER_FIELD, user_index_value(user), keep=_keep(keep))


def sign_out_everywhere(user: Any, keep: Any = None) -> int:
    """Deletes every session of ``user`` except ``keep`` (a request, a session key or a
    session id, whose session survives); returns how many were deleted."""
    return stores().run(_sign_out_op(user, keep))


async def asign_out_everywhere(user: Any, keep: Any = None) -> int:
    return await stores().arun(_sign_out_op(user, keep))


def _prune_op() -> Operation[int]:
    """Walks the prefix's indexes with SCAN (single server) and reads each through the
    store's index script, which drops expired and stale members; returns the number of
    indexes visited."""
    core = stores().core
    head = f"{core.prefix}:r:"
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in head) + "*"

    def run() -> Operation[int]:
        cursor, visited = "0", 0
        while True:
            reply = yield Command(("SCAN", cursor, "MATCH", pattern, "COUNT", 1000))
            cursor = text(reply[0])
            for key in reply[1]:
                field, _, rest = text(key)[len(head) :].partition(":")
                if field in core.references and len(rest) >= 2 and rest[0] + rest[-1] == "{}":
                    yield from core.count(field, rest[1:-1])
                    visited += 1
            if cursor == "0":
                return visited

    return run()


def prune_indexes() -> int:
    return stores().run(_prune_op())


async def aprune_indexes() -> int:
    return await stores().arun(_prune_op())
