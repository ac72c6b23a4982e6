"""Starlette's own SessionMiddleware: the whole session in a signed cookie, no Redis."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.apps._common import MAX_AGE, SECRET, USER, seed_values


async def seed(request: Request) -> Response:
    request.session.update(seed_values(request.query_params.get("user", USER)))
    return PlainTextResponse("ok")


async def read(request: Request) -> Response:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> Response:
    request.session["counter"] = request.session.get("counter", 0) + 1
    request.session["user_id"] = USER
    return JSONResponse({"counter": request.session["counter"]})


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def field(request: Request) -> Response:
    request.session[request.query_params["name"]] = 1
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/seed", seed, methods=["POST"]),
        Route("/read", read),
        Route("/write", write, methods=["POST"]),
        Route("/plain", plain),
        Route("/field", field, methods=["POST"]),
    ],
    middleware=[Middleware(SessionMiddleware, secret_key=SECRET, max_age=MAX_AGE)],
)
