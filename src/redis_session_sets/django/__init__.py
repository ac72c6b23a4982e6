"""Django sessions in Redis hashes, with an index of each user's sessions.

``SESSION_ENGINE = "redis_session_sets.django"``; add ``"redis_session_sets.django"`` to
``INSTALLED_APPS`` for the ``signout_everywhere`` management command. Settings:
``SESSION_REDIS_URL``, ``SESSION_REDIS_PREFIX``, ``SESSION_REDIS_REFERENCES``,
``SESSION_REDIS_LIMITS``, ``SESSION_REDIS_TRACK``, ``SESSION_REDIS_CLIENT``,
``SESSION_REDIS_ASYNC_CLIENT`` (see ``_config``). For the
library's reading of the session cookie (a cookie sent twice is "no session"), put
``"redis_session_sets.django.SessionMiddleware"`` in ``MIDDLEWARE`` in place of Django's.
"""

from ._backend import SessionStore
from ._middleware import SessionMiddleware
from ._users import (
    aend_reason,
    asign_out_everywhere,
    auser_sessions,
    end_reason,
    sign_out_everywhere,
    user_sessions,
)

__all__ = [
    "SessionMiddleware",
    "SessionStore",
    "aend_reason",
    "asign_out_everywhere",
    "auser_sessions",
    "end_reason",
    "sign_out_everywhere",
    "user_sessions",
]
