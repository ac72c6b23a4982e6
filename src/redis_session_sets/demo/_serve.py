"""``redis-session-sets demo``: the demo app under uvicorn, with a Redis of its own
unless one is given (``--url`` or ``$REDIS_URL``)."""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from contextlib import ExitStack

import redis.asyncio
import uvicorn
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .. import AsyncStore
from .._drivers.connect import redact
from ._app import REFERENCE, create_app
from ._redis import LocalRedis, RedisNotFound


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def client_for(url: str) -> redis.asyncio.Redis:
    # Fail fast while Redis is down (pages answer 503 at once) and retry briefly, so the
    # first request after Redis comes back replaces the pool's dead connections itself.
    return redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 2),
    )


def serve(
    *, url: str | None, host: str = "127.0.0.1", port: int = 8000, prefix: str = "rss"
) -> int:
    """Runs the demo until Ctrl+C; returns the exit code."""
    if port_taken(host, port):
        _say(f"redis-session-sets: error: {host}:{port} is in use; pick another with --port")
        return 2
    with ExitStack() as cleanup:
        if url is None:
            try:
                local = cleanup.enter_context(LocalRedis())
            except RedisNotFound as error:
                _say(f"redis-session-sets: error: {error}")
                return 3
            url = local.url
            _say(f"Started a private redis-server on port {local.port} (stopped on exit).")
        client = client_for(url)
        store = AsyncStore(client, references=[REFERENCE], prefix=prefix)
        app = create_app(store, on_shutdown=client.aclose, redis_url=redact(url))
        _say(f"redis-session-sets demo: http://{host}:{port}/  (Ctrl+C to stop)")
        # uvicorn re-raises Ctrl+C after its clean shutdown; here it just means "stop".
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info")).run()
        _say("Demo stopped.")
    return 0
