"""The session middlewares spell their options out as keywords; ``SessionOptions`` is the
one place they are checked. This keeps the signatures and the options object in step."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from redis_session_sets import SessionMiddleware, WSGISessionMiddleware
from redis_session_sets._web.options import SessionOptions, renewal_due
from redis_session_sets.starlette import DictSessionMiddleware

MIDDLEWARES = [SessionMiddleware, WSGISessionMiddleware, DictSessionMiddleware]
# Options of the ASGI middlewares only (WSGI has no WebSockets), beside SessionOptions.
ASGI_ONLY = {"close_ended_websockets": (bool, True)}


def keyword_options(middleware: type) -> dict[str, tuple[Any, Any]]:
    """Name -> (annotation, default) of a middleware's options (all but app and store)."""
    parameters = inspect.signature(middleware).parameters
    return {
        name: (parameter.annotation, parameter.default)
        for name, parameter in parameters.items()
        if name not in ("app", "store")
    }


@pytest.mark.parametrize("middleware", MIDDLEWARES, ids=lambda m: m.__name__)
def test_each_middleware_takes_exactly_the_session_options(middleware: type) -> None:
    fields = {
        field.name: (field.type, field.default) for field in dataclasses.fields(SessionOptions)
    }
    if middleware is not WSGISessionMiddleware:
        fields |= {
            name: (f"{kind.__name__}", default) for name, (kind, default) in ASGI_ONLY.items()
        }
    assert keyword_options(middleware) == fields


@pytest.mark.parametrize(
    ("touched", "interval", "now", "due"),
    [
        (None, None, 10_000, False),  # no rolling renewal asked for
        (1_000, None, 10_000, False),
        (None, 600, 10_000, True),  # no __touched: renew, which writes it
        (9_500, 600, 10_000, False),  # renewed 500 ms ago
        (9_400, 600, 10_000, True),  # exactly one interval ago
        (10_000, 0, 10_000, True),  # interval 0: every read renews
    ],
)
def test_renewal_due(touched: int | None, interval: int | None, now: int, due: bool) -> None:
    assert renewal_due(touched, interval, now) is due
