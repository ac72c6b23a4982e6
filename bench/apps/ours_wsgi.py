"""This library on Flask, through WSGISessionMiddleware and a sync Store."""

from __future__ import annotations

import redis
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from bench.apps._common import MAX_AGE, REDIS_URL, SECRET, USER, seed_values
from redis_session_sets import Store, WSGISessionMiddleware, get_session

app = Flask(__name__)
store = Store(redis.Redis.from_url(REDIS_URL), references=["user_id"], max_age=MAX_AGE)
app.wsgi_app = WSGISessionMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, store=store, secret_keys=[SECRET]
)


@app.post("/seed")
def seed() -> ResponseReturnValue:
    get_session(request).set(seed_values(request.args.get("user", USER)))
    return "ok"


@app.get("/read")
def read() -> ResponseReturnValue:
    return jsonify(get_session(request).get())


@app.post("/write")
def write() -> ResponseReturnValue:
    # counter += 1 and user_id = 42 in one atomic round trip
    changed = get_session(request).update({"user_id": USER}, incr={"counter": 1})
    return jsonify({"counter": changed["counter"]})


@app.get("/plain")
def plain() -> ResponseReturnValue:
    return "ok"


@app.post("/field")
def field() -> ResponseReturnValue:
    get_session(request).set({request.args["name"]: 1})
    return "ok"
