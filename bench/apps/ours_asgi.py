"""This library on Starlette, through its pure ASGI SessionMiddleware and an AsyncStore."""

from __future__ import annotations

import redis.asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.apps._common import MAX_AGE, REDIS_URL, SECRET, USER, seed_values
from redis_session_sets import AsyncStore, SessionMiddleware, get_session


async def seed(request: Request) -> Response:
    await get_session(request).set(seed_values(request.query_params.get("user", USER)))
    return PlainTextResponse("ok")


async def read(request: Request) -> Response:
    return JSONResponse(await get_session(request).get())


async def write(request: Request) -> Response:
    # counter += 1 and user_id = 42 in one atomic round trip
    changed = await get_session(request).update({"user_id": USER}, incr={"counter": 1})
    return JSONResponse({"counter": changed["counter"]})


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def field(request: Request) -> Response:
    await get_session(request).set({request.query_params["name"]: 1})
    return PlainTextResponse("ok")


store = AsyncStore(redis.asyncio.Redis.from_url(REDIS_URL), references=["user_id"], max_age=MAX_AGE)
app = Starlette(
    routes=[
        Route("/seed", seed, methods=["POST"]),
        Route("/read", read),
        Route("/write", write, methods=["POST"]),
        Route("/plain", plain),
        Route("/field", field, methods=["POST"]),
    ],
    middleware=[Middleware(SessionMiddleware, store=store, secret_keys=[SECRET])],
)
