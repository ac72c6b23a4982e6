"""Flask example: sign in, list your sessions, sign out, sign out everywhere else.

    pip install 'redis-session-sets[flask]'
    SECRET_KEY=change-me REDIS_URL=redis://localhost:6379/0 flask --app examples.flask_app run

There are no passwords here: the sign-in form takes a user id, to keep the example about
sessions. Every form carries a CSRF token of the session.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from flask import Flask, abort, jsonify, redirect, render_template_string, request
from werkzeug.wrappers import Response

from redis_session_sets import SessionStoreError, Store, WSGISessionMiddleware, get_session

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


def create_app(client: redis.Redis, secret_keys: list[str]) -> Flask:
    store = Store(client, references=["user_id"])
    app = Flask(__name__)
    app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, secret_keys=secret_keys
    )

    @app.errorhandler(SessionStoreError)
    def store_down(error: SessionStoreError) -> tuple[str, int]:
        return "Sessions are unavailable, try again soon.", 503

    @app.before_request
    def check_csrf() -> None:
        token = request.form.get("csrf_token")
        if request.method == "POST" and not get_session(request).verify_csrf_token(token):
            abort(403, "bad CSRF token")

    def signed_in_user() -> str:
        user_id = get_session(request).get(["user_id"]).get("user_id")
        if user_id is None:
            abort(401, "sign in first")
        return str(user_id)

    @app.get("/")
    def home() -> str:
        session = get_session(request)
        token = session.create_csrf_token()
        user_id = session.get(["user_id"]).get("user_id")
        return render_template_string(HOME, token=token, user_id=user_id)

    @app.post("/sign-in")
    def sign_in() -> Response:
        user_id = request.form.get("user_id", "").strip()
        if not 1 <= len(user_id) <= 64:
            abort(422, "user_id: 1 to 64 characters")
        session = get_session(request)
        session.regenerate()  # a new id at login: no session fixation
        session.set({"user_id": user_id, "signed_in_from": "flask example"})
        return redirect("/", code=303)

    @app.get("/sessions")
    def sessions() -> Any:
        user_id = signed_in_user()
        current = get_session(request).id
        listed = []
        for session_id in store.sessions("user_id", user_id):
            info = store.info(session_id)
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
    def sign_out() -> Response:
        get_session(request).delete()
        return redirect("/", code=303)

    @app.post("/sign-out-everywhere")
    def sign_out_everywhere() -> Any:
        user_id = signed_in_user()
        keep = [get_session(request).id]
        return jsonify({"signed_out": store.delete_all("user_id", user_id, keep=keep)})

    return app


if os.environ.get("SECRET_KEY"):  # `flask --app examples.flask_app run`
    app = create_app(
        redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        [os.environ["SECRET_KEY"]],
    )
