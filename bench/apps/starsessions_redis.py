"""starsessions with its Redis store; the session is loaded only by the handlers that use it."""

from __future__ import annotations

import redis.asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starsessions import SessionMiddleware, load_session
from starsessions.stores.redis import RedisStore

from bench.apps._common import MAX_AGE, REDIS_URL, USER, seed_values


async def seed(request: Request) -> Response:
    await load_session(request)
    request.session.update(seed_values(request.query_params.get("user", USER)))
    return PlainTextResponse("ok")


async def read(request: Request) -> Response:
    await load_session(request)
    return JSONResponse(dict(request.session))


async def write(request: Request) -> Response:
    await load_session(request)
    request.session["counter"] = request.session.get("counter", 0) + 1
    request.session["user_id"] = USER
    return JSONResponse({"counter": request.session["counter"]})


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def field(request: Request) -> Response:
    await load_session(request)
    request.session[request.query_params["name"]] = 1
    return PlainTextResponse("ok")


store = RedisStore(connection=redis.asyncio.Redis.from_url(REDIS_URL))
app = Starlette(
    routes=[
        Route("/seed", seed, methods=["POST"]),
        Route("/read", read),
        Route("/write", write, methods=["POST"]),
        Route("/plain", plain),
        Route("/field", field, methods=["POST"]),
    ],
    middleware=[
        Middleware(SessionMiddleware, store=store, lifetime=MAX_AGE, cookie_https_only=False)
    ],
)
