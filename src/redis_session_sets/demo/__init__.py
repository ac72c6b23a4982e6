"""The demo web app (``redis-session-sets demo``); needs the ``demo`` extra."""

from ._app import USERS, create_app
from ._browsers import describe_user_agent
from ._serve import serve

__all__ = ["USERS", "create_app", "describe_user_agent", "serve"]
