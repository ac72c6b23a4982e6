"""Django's ``SessionMiddleware``, reading the session cookie as the library does.

Django parses the ``Cookie`` header itself and, for a cookie sent twice, keeps the last
value; a duplicate may be planted from a sibling subdomain, and which one is real cannot
be told. This subclass reads the header with the library's own parser: a session cookie
sent twice, over 4 KB or not ASCII is "no session" (docs/design.md, rule 4). It also checks,
at start-up, that a ``__Host-`` or ``__Secure-`` ``SESSION_COOKIE_NAME`` comes with the
settings its prefix requires (browsers drop such a cookie silently otherwise), and hands the
session the request's device when ``SESSION_REDIS_TRACK`` asks for it. Everything else is
Django's, ``Vary: Cookie`` on responses that used the session included.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest

from .._web.cookies import check_prefix, cookie_value
from .._web.device import wsgi_device
from ._backend import SessionStore
from ._config import stores


class SessionMiddleware(DjangoSessionMiddleware):  # type: ignore[misc]
    """Use in ``MIDDLEWARE`` instead of ``django.contrib.sessions.middleware.SessionMiddleware``."""

    def __init__(self, get_response: Any) -> None:
        # SESSION_COOKIE_SECURE is False by default: a __Host- name needs it True.
        check_prefix(
            settings.SESSION_COOKIE_NAME,
            secure=bool(settings.SESSION_COOKIE_SECURE),
            path=settings.SESSION_COOKIE_PATH,
            domain=settings.SESSION_COOKIE_DOMAIN,
        )
        super().__init__(get_response)

    def process_request(self, request: HttpRequest) -> None:
        header = request.META.get("HTTP_COOKIE")
        session_key = cookie_value(header, settings.SESSION_COOKIE_NAME)
        request.session = self.SessionStore(session_key)
        track = stores().track
        if track and isinstance(request.session, SessionStore):
            # The device (SESSION_REDIS_TRACK), written with the session's own saves.
            request.session.device = stores().core.device_fields(*wsgi_device(request.META, track))
