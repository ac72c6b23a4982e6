"""Flask-Session with its Redis backend (Flask's dict session, stored server-side)."""

from __future__ import annotations

import redis
from flask import Flask, jsonify, request, session
from flask.typing import ResponseReturnValue
from flask_session import Session

from bench.apps._common import MAX_AGE, REDIS_URL, SECRET, USER, seed_values

app = Flask(__name__)
app.config.update(
    SECRET_KEY=SECRET,
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.Redis.from_url(REDIS_URL),
    SESSION_PERMANENT=True,
    PERMANENT_SESSION_LIFETIME=MAX_AGE,
)
Session(app)


@app.post("/seed")
def seed() -> ResponseReturnValue:
    session.update(seed_values(request.args.get("user", USER)))
    return "ok"


@app.get("/read")
def read() -> ResponseReturnValue:
    return jsonify(dict(session))


@app.post("/write")
def write() -> ResponseReturnValue:
    session["counter"] = session.get("counter", 0) + 1
    session["user_id"] = USER
    return jsonify({"counter": session["counter"]})


@app.get("/plain")
def plain() -> ResponseReturnValue:
    return "ok"


@app.post("/field")
def field() -> ResponseReturnValue:
    session[request.args["name"]] = 1
    return "ok"
