"""The Django app: needed only for the ``signout_everywhere`` management command."""

from __future__ import annotations

from django.apps import AppConfig


class RedisSessionSetsConfig(AppConfig):  # type: ignore[misc]
    name = "redis_session_sets.django"
    # The default label would be "django", the last part of the module path.
    label = "redis_session_sets"
    verbose_name = "Redis session sets"
