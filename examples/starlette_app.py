"""Starlette example: sign in, list your sessions, sign out, sign out everywhere else.

    pip install 'redis-session-sets[starlette]' uvicorn python-multipart
    SECRET_KEY=change-me REDIS_URL=redis://localhost:6379/0 uvicorn examples.starlette_app:app

There are no passwords here: the sign-in form takes a user id, to keep the example about
sessions. Every form carries a CSRF token of the session.
"""

from __future__ import annotations

import html
import os

import redis.asyncio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from redis_session_sets import AsyncStore, SessionMiddleware, SessionStoreError, get_session


def create_app(client: redis.asyncio.Redis, secret_keys: list[str]) -> Starlette:
    store = AsyncStore(client, references=["user_id"])

    async def checked_form(request: Request) -> dict[str, str]:
        """The posted form, once its CSRF token has been verified."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if not await get_session(request).verify_csrf_token(form.get("csrf_token")):
            raise HTTPException(403, "bad CSRF token")
        return form

    async def signed_in_user(request: Request) -> str:
        user_id = (await get_session(request).get(["user_id"])).get("user_id")
        if user_id is None:
            raise HTTPException(401, "sign in first")
        return str(user_id)

    async def home(request: Request) -> Response:
        session = get_session(request)
        token = html.escape(await session.create_csrf_token())
        hidden = f'<input type="hidden" name="csrf_token" value="{token}">'
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            return HTMLResponse(
                f'<form method="post" action="/sign-in">{hidden}'
                '<input name="user_id"> <button>Sign in</button></form>'
            )
        return HTMLResponse(
            f"<p>Signed in as {html.escape(str(user_id))}. "
            '<a href="/sessions">Your sessions</a></p>'
            f'<form method="post" action="/sign-out">{hidden}<button>Sign out</button></form>'
            f'<form method="post" action="/sign-out-everywhere">{hidden}'
            "<button>Sign out everywhere else</button></form>"
        )

    async def sign_in(request: Request) -> Response:
        form = await checked_form(request)
        user_id = form.get("user_id", "").strip()
        if not 1 <= len(user_id) <= 64:
            raise HTTPException(422, "user_id: 1 to 64 characters")
        session = get_session(request)
        await session.regenerate()  # a new id at login: no session fixation
        await session.set({"user_id": user_id, "signed_in_from": "starlette example"})
        return RedirectResponse("/", status_code=303)

    async def sessions(request: Request) -> Response:
        user_id = await signed_in_user(request)
        current = get_session(request).id
        listed = []
        for session_id in await store.sessions("user_id", user_id):
            info = await store.info(session_id)
            if info is not None:
                listed.append(
                    {
                        "id": session_id,
                        "current": session_id == current,
                        "created_at": info.created_at.isoformat(),
                        "expires_at": info.expires_at.isoformat(),
                    }
                )
        return JSONResponse(listed)

    async def sign_out(request: Request) -> Response:
        await checked_form(request)
        await get_session(request).delete()
        return RedirectResponse("/", status_code=303)

    async def sign_out_everywhere(request: Request) -> Response:
        await checked_form(request)
        user_id = await signed_in_user(request)
        keep = [get_session(request).id]
        return JSONResponse({"signed_out": await store.delete_all("user_id", user_id, keep=keep)})

    async def store_down(request: Request, error: Exception) -> Response:
        return HTMLResponse("Sessions are unavailable, try again soon.", status_code=503)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/sign-in", sign_in, methods=["POST"]),
            Route("/sessions", sessions),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/sign-out-everywhere", sign_out_everywhere, methods=["POST"]),
        ],
        middleware=[Middleware(SessionMiddleware, store=store, secret_keys=secret_keys)],
        exception_handlers={SessionStoreError: store_down},
    )


if os.environ.get("SECRET_KEY"):  # `uvicorn examples.starlette_app:app`
    app = create_app(
        redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        [os.environ["SECRET_KEY"]],
    )
