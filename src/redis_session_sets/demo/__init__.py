"""The demo web app (``redis-session-sets demo``); needs the ``demo`` extra."""

from ._app import DEVICE_LIMIT, USERS, create_app, demo_store
from ._browsers import describe_user_agent
from ._serve import serve

__all__ = ["DEVICE_LIMIT", "USERS", "create_app", "demo_store", "describe_user_agent", "serve"]
