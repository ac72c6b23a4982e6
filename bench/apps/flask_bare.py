"""The WSGI ceiling: the same Flask app with no session at all."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from bench.apps._common import USER, seed_values

app = Flask(__name__)


@app.post("/seed")
def seed() -> ResponseReturnValue:
    return jsonify(seed_values(request.args.get("user", USER)))


@app.get("/read")
def read() -> ResponseReturnValue:
    return jsonify(seed_values(USER))


@app.post("/write")
def write() -> ResponseReturnValue:
    return jsonify({"counter": 1})


@app.get("/plain")
def plain() -> ResponseReturnValue:
    return "ok"


@app.post("/field")
def field() -> ResponseReturnValue:
    return "ok"
