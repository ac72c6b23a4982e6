"""The ceiling: the same Starlette app with no session at all."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.apps._common import USER, seed_values


async def seed(request: Request) -> Response:
    return JSONResponse(seed_values(request.query_params.get("user", USER)))


async def read(request: Request) -> Response:
    return JSONResponse(seed_values(USER))


async def write(request: Request) -> Response:
    return JSONResponse({"counter": 1})


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def field(request: Request) -> Response:
    return PlainTextResponse("ok")


ROUTES = [
    Route("/seed", seed, methods=["POST"]),
    Route("/read", read),
    Route("/write", write, methods=["POST"]),
    Route("/plain", plain),
    Route("/field", field, methods=["POST"]),
]

app = Starlette(routes=ROUTES)
