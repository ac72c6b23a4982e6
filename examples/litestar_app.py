"""Litestar example: sign in, list your sessions, sign out, sign out everywhere else.

    pip install 'redis-session-sets[litestar]' uvicorn
    SECRET_KEY=change-me REDIS_URL=redis://localhost:6379/0 uvicorn examples.litestar_app:app

There are no passwords here: the sign-in form takes a user id, to keep the example about
sessions. Every form carries a CSRF token of the session. The plugin gives each handler
that takes a ``session: SessionDep`` parameter the request's ``AsyncSession``, and answers 503 when
Redis is unreachable.
"""

from __future__ import annotations

import html
import os
from typing import Annotated, Any

import redis.asyncio
from litestar import Litestar, MediaType, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body
from litestar.response import Redirect

from redis_session_sets import AsyncSession, AsyncStore
from redis_session_sets.litestar import SessionConfig, SessionDep, SessionPlugin

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def create_app(client: redis.asyncio.Redis, secret_keys: list[str]) -> Litestar:
    store = AsyncStore(client, references=["user_id"])

    async def check_csrf(session: AsyncSession, form: dict[str, str]) -> None:
        if not await session.verify_csrf_token(form.get("csrf_token")):
            raise HTTPException(status_code=403, detail="bad CSRF token")

    async def signed_in_user(session: AsyncSession) -> str:
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            raise HTTPException(status_code=401, detail="sign in first")
        return str(user_id)

    @get("/", media_type=MediaType.HTML)
    async def home(session: SessionDep) -> str:
        token = html.escape(await session.create_csrf_token())
        hidden = f'<input type="hidden" name="csrf_token" value="{token}">'
        user_id = (await session.get(["user_id"])).get("user_id")
        if user_id is None:
            return (
                f'<form method="post" action="/sign-in">{hidden}'
                '<input name="user_id"> <button>Sign in</button></form>'
            )
        return (
            f"<p>Signed in as {html.escape(str(user_id))}. "
            '<a href="/sessions">Your sessions</a></p>'
            f'<form method="post" action="/sign-out">{hidden}<button>Sign out</button></form>'
            f'<form method="post" action="/sign-out-everywhere">{hidden}'
            "<button>Sign out everywhere else</button></form>"
        )

    @post("/sign-in")
    async def sign_in(session: SessionDep, data: Form) -> Redirect:
        await check_csrf(session, data)
        user_id = data.get("user_id", "").strip()
        if not 1 <= len(user_id) <= 64:
            raise HTTPException(status_code=422, detail="user_id: 1 to 64 characters")
        await session.regenerate()  # a new id at login: no session fixation
        await session.set({"user_id": user_id, "signed_in_from": "litestar example"})
        return Redirect("/", status_code=303)

    @get("/sessions")
    async def sessions(session: SessionDep) -> list[dict[str, Any]]:
        user_id = await signed_in_user(session)
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

    @post("/sign-out")
    async def sign_out(session: SessionDep, data: Form) -> Redirect:
        await check_csrf(session, data)
        await session.delete()
        return Redirect("/", status_code=303)

    @post("/sign-out-everywhere", status_code=200)
    async def sign_out_everywhere(session: SessionDep, data: Form) -> Response[dict[str, int]]:
        await check_csrf(session, data)
        user_id = await signed_in_user(session)
        signed_out = await store.delete_all("user_id", user_id, keep=[session.id])
        return Response({"signed_out": signed_out})

    return Litestar(
        route_handlers=[home, sign_in, sessions, sign_out, sign_out_everywhere],
        plugins=[SessionPlugin(SessionConfig(store, secret_keys=secret_keys))],
    )


if os.environ.get("SECRET_KEY"):  # `uvicorn examples.litestar_app:app`
    app = create_app(
        redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        [os.environ["SECRET_KEY"]],
    )
