"""Quart example: sign in, list your sessions, sign out, sign out everywhere else.

    pip install redis-session-sets quart uvicorn
    SECRET_KEY=change-me REDIS_URL=redis://localhost:6379/0 uvicorn examples.quart_app:app

The library's pure-ASGI ``SessionMiddleware`` wraps ``app.asgi_app`` (Quart's place for
ASGI middleware); ``get_session(request)`` gives a handler the request's
``AsyncSession``. Quart's own cookie ``session`` is left alone. There are no passwords
here: the sign-in form takes a user id, to keep the example about sessions. Every form
carries a CSRF token of the session.
"""

from __future__ import annotations

import os
from typing import Any, cast

import redis.asyncio
from quart import Quart, abort, jsonify, redirect, render_template_string, request
from quart.typing import ResponseReturnValue

from redis_session_sets import (
    AsyncSession,
    AsyncStore,
    SessionMiddleware,
    SessionStoreError,
    get_session,
)

HOME = """
{% if user_id is none %}
<form method="post" action="/sign-in"><input type="hidden" name="csrf_token" value="{{ token }}">
<input name="user_id"> <button>Sign in</button></form>
{% else %}
<p>Signed in as {{ user_id }}. <a href="/sessions">Your sessions</a></p>
<form method="post" action="/sign-out"><input type="hidden" name="csrf_token" value="{{ token }}">
<button>Sign out</button></form>
<form method="post" action="/sign-out-everywhere">
<input type="hidden" name="csrf_token" value="{{ token }}">
<button>Sign out everywhere else</button></form>
{% endif %}
"""


def session() -> AsyncSession:
    """The current request's session (Quart's ``request`` is a context-local proxy)."""
    return get_session(request.scope)  # type: ignore[no-any-return]


def create_app(client: redis.asyncio.Redis, secret_keys: list[str]) -> Quart:
    store = AsyncStore(client, references=["user_id"])
    app = Quart(__name__)
    # Quart types ASGI scopes and messages as TypedDicts; the middleware takes mappings.
    app.asgi_app = SessionMiddleware(  # type: ignore[method-assign,assignment]
        cast(Any, app.asgi_app), store=store, secret_keys=secret_keys
    )

    @app.errorhandler(SessionStoreError)
    async def store_down(error: SessionStoreError) -> ResponseReturnValue:
        return "Sessions are unavailable, try again soon.", 503

    @app.before_request
    async def check_csrf() -> None:
        if request.method == "POST":
            token = (await request.form).get("csrf_token")
            if not await session().verify_csrf_token(token):
                abort(403, "bad CSRF token")

    async def signed_in_user() -> str:
        user_id = (await session().get(["user_id"])).get("user_id")
        if user_id is None:
            abort(401, "sign in first")
        return str(user_id)

    @app.get("/")
    async def home() -> str:
        token = await session().create_csrf_token()
        user_id = (await session().get(["user_id"])).get("user_id")
        return await render_template_string(HOME, token=token, user_id=user_id)

    @app.post("/sign-in")
    async def sign_in() -> ResponseReturnValue:
        user_id = (await request.form).get("user_id", "").strip()
        if not 1 <= len(user_id) <= 64:
            abort(422, "user_id: 1 to 64 characters")
        await session().regenerate()  # a new id at login: no session fixation
        await session().set({"user_id": user_id, "signed_in_from": "quart example"})
        return redirect("/", code=303)

    @app.get("/sessions")
    async def sessions() -> Any:
        user_id = await signed_in_user()
        current = session().id
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
        return jsonify(listed)

    @app.post("/sign-out")
    async def sign_out() -> ResponseReturnValue:
        await session().delete()
        return redirect("/", code=303)

    @app.post("/sign-out-everywhere")
    async def sign_out_everywhere() -> Any:
        user_id = await signed_in_user()
        signed_out = await store.delete_all("user_id", user_id, keep=[session().id])
        return jsonify({"signed_out": signed_out})

    return app


if os.environ.get("SECRET_KEY"):  # `uvicorn examples.quart_app:app`
    app = create_app(
        redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        [os.environ["SECRET_KEY"]],
    )
