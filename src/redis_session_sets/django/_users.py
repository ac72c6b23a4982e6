"""What Django's own backends cannot do: list a user's sessions, sign them out, and tell
a signed-out device why.

Django's login stores ``_auth_user_id`` (the user's primary key as a string) in the
session; the engine indexes that field, so both questions are one index read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .._engine.codec import text
from .._engine.protocol import Command, Operation, done
from .._engine.types import SessionInfo
from .._web.cookies import cookie_value
from .._web.dict_session import keep_ids
from .._web.tokens import is_token, session_id_for
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


def _sign_out_op(user: Any, keep: Any, reason: str | None) -> Operation[int]:
    return stores().core.delete_all(
        USER_FIELD, user_index_value(user), keep=_keep(keep), reason=reason
    )


def sign_out_everywhere(user: Any, keep: Any = None, reason: str | None = None) -> int:
    """Deletes every session of ``user`` except ``keep`` (a request, a session key or a
    session id, whose session survives); returns how many were deleted. With a ``reason``
    (1-64 characters, e.g. ``"password reset"``), each ended device's ``end_reason()``
    tells it for a week (the store's ``end_reason_ttl``)."""
    return stores().run(_sign_out_op(user, keep, reason))


async def asign_out_everywhere(user: Any, keep: Any = None, reason: str | None = None) -> int:
    return await stores().arun(_sign_out_op(user, keep, reason))


def _end_reason_op(request: HttpRequest) -> Operation[str | None]:
    # The cookie as the library's SessionMiddleware reads it (a duplicate is no session).
    token = cookie_value(request.META.get("HTTP_COOKIE"), settings.SESSION_COOKIE_NAME)
    if not is_token(token):
        return done(None)  # no cookie, or junk: nothing was ended, no Redis call
    assert token is not None
    return stores().core.end_reason(session_id_for(token))


def end_reason(request: HttpRequest) -> str | None:
    """Why the session the request's cookie names was ended, when it was ended with a
    reason (``sign_out_everywhere(..., reason=)``, a limit: ``"limit"``, the command
    line's revoke: ``"revoked"``); else None. One GET, none without a session cookie:
    call it where a signed-out device lands (the login page), before the session is
    written again."""
    return stores().run(_end_reason_op(request))


async def aend_reason(request: HttpRequest) -> str | None:
    """The async twin of ``end_reason``."""
    return await stores().arun(_end_reason_op(request))


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
