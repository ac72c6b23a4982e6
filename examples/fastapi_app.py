"""FastAPI example: sign in, list your sessions, sign out, sign out everywhere else.

    pip install 'redis-session-sets[fastapi]' uvicorn python-multipart
    SECRET_KEY=change-me REDIS_URL=redis://localhost:6379/0 uvicorn examples.fastapi_app:app

There are no passwords here: the sign-in form takes a user id, to keep the example about
sessions. Every form carries a CSRF token of the session.
"""

from __future__ import annotations

import html
import os
from typing import Annotated, Any

import redis.asyncio
from fastapi import FastAPI, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from redis_session_sets import AsyncStore, SessionMiddleware, SessionStoreError
from redis_session_sets.fastapi import SessionDep


def create_app(client: redis.asyncio.Redis, secret_keys: list[str]) -> FastAPI:
    store = AsyncStore(client, references=["user_id"])
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=store, secret_keys=secret_keys)

    @app.exception_handler(SessionStoreError)
    async def store_down(request: Any, error: SessionStoreError) -> HTMLResponse:
        return HTMLResponse("Sessions are unavailable, try again soon.", status_code=503)

    async def check_csrf(session: SessionDep, token: str) -> None:
        if not await session.verify_csrf_token(token):
            raise HTTPException(403, "bad CSRF token")

    @app.get("/", response_class=HTMLResponse)
    async def home(session: SessionDep) -> str:
        token = html.escape(await session.create_csrf_token())
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            return (
                '<form method="post" action="/sign-in">'
                f'<input type="hidden" name="csrf_token" value="{token}">'
                '<input name="user_id"> <button>Sign in</button></form>'
            )
        return (
            f"<p>Signed in as {html.escape(str(user_id))}. "
            '<a href="/sessions">Your sessions</a></p>'
            f'<form method="post" action="/sign-out"><input type="hidden" name="csrf_token" '
            f'value="{token}"><button>Sign out</button></form>'
            f'<form method="post" action="/sign-out-everywhere"><input type="hidden" '
            f'name="csrf_token" value="{token}"><button>Sign out everywhere else</button></form>'
        )

    @app.post("/sign-in")
    async def sign_in(
        session: SessionDep,
        user_id: Annotated[str, Form(min_length=1, max_length=64)],
        csrf_token: Annotated[str, Form()],
    ) -> RedirectResponse:
        await check_csrf(session, csrf_token)
        await session.regenerate()  # a new id at login: no session fixation
        await session.set({"user_id": user_id, "signed_in_from": "fastapi example"})
        return RedirectResponse("/", status_code=303)

    @app.get("/sessions")
    async def sessions(session: SessionDep) -> list[dict[str, Any]]:
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            raise HTTPException(401, "sign in first")
        listed = []
        for session_id in await store.sessions("user_id", user_id):
            info = await store.info(session_id)
            if info is not None:
                listed.append(
                    {
                        "id": session_id,
                        "current": session_id == session.id,
                        "created_at": info.created_at.isoformat(),
                        "expires_at": info.expires_at.isoformat(),
                    }
                )
        return listed

    @app.post("/sign-out")
    async def sign_out(session: SessionDep, csrf_token: Annotated[str, Form()]) -> RedirectResponse:
        await check_csrf(session, csrf_token)
        await session.delete()
        return RedirectResponse("/", status_code=303)

    @app.post("/sign-out-everywhere")
    async def sign_out_everywhere(
        session: SessionDep, csrf_token: Annotated[str, Form()]
    ) -> dict[str, int]:
        await check_csrf(session, csrf_token)
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            raise HTTPException(401, "sign in first")
        signed_out = await store.delete_all("user_id", user_id, keep=[session.id])
        return {"signed_out": signed_out}

    return app


if os.environ.get("SECRET_KEY"):  # `uvicorn examples.fastapi_app:app`
    app = create_app(
        redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        [os.environ["SECRET_KEY"]],
    )
