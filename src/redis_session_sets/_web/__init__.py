"""The web layer: per-request sessions over a driver, cookies, tokens, CSRF, and the
pure ASGI and WSGI middlewares."""
