"""``redis-session-sets demo``: the demo app under uvicorn, with a Redis of its own
unless one is given (``--url`` or ``$REDIS_URL``).

The private redis-server and its folder go away however the demo stops: Ctrl+C
(SIGINT), ``kill`` / ``docker stop`` / systemd (SIGTERM), a closed terminal (SIGHUP), or
uvicorn failing to start. uvicorn shuts down cleanly on SIGINT and SIGTERM, then raises
the signal again once its own handlers are gone: Ctrl+C becomes KeyboardInterrupt, and
SIGTERM reaches ``StopRequest`` below, which only records it. SIGHUP, which uvicorn
leaves alone, gets the same clean shutdown from ``StopRequest``. Either way ``serve``
returns through the ``with`` block that owns the redis-server, which closes it.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
from contextlib import ExitStack
from types import FrameType

import redis.asyncio
import uvicorn
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .._drivers.connect import redact
from ._app import create_app, demo_store
from ._redis import LocalRedis, RedisNotFound


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The signals that stop the demo besides Ctrl+C (SIGINT: KeyboardInterrupt).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class StopRequest:
    """The handler of the stop signals. It never raises: an exception raised from a signal
    handler surfaces wherever the main thread happens to be, and code there (a
    ``__del__``, an asyncio callback, a framework's catch-all) may swallow it, leaving
    the demo running. It records the signal instead, and while uvicorn serves asks it for
    a clean shutdown (as uvicorn does for SIGTERM itself)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.server: uvicorn.Server | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        if self.server is not None and not self.server.should_exit:
            self.server.handle_exit(signum, frame)


def ignore(signals: tuple[int, ...]) -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            signal.signal(signum, signal.SIG_IGN)


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
    """Runs the demo until Ctrl+C, SIGTERM or SIGHUP; returns the exit code (0 after a
    clean stop)."""
    if port_taken(host, port):
        _say(f"redis-session-sets: error: {host}:{port} is in use; pick another with --port")
        return 2
    stop = StopRequest()
    with ExitStack() as cleanup:
        if threading.current_thread() is threading.main_thread():  # where signals arrive
            cleanup.callback(signal.signal, signal.SIGINT, signal.getsignal(signal.SIGINT))
            for signum in STOP_SIGNALS:
                cleanup.callback(signal.signal, signum, signal.signal(signum, stop))
        try:
            if url is None:
                try:
                    local = cleanup.enter_context(LocalRedis())
                except RedisNotFound as error:
                    _say(f"redis-session-sets: error: {error}")
                    return 3
                # Runs first on the way out: a second Ctrl+C cannot cut the clean-up short.
                cleanup.callback(ignore, (signal.SIGINT, *STOP_SIGNALS))
                url = local.url
                _say(f"Started a private redis-server on port {local.port} (stopped on exit).")
            client = client_for(url)
            store = demo_store(client, prefix=prefix)
            app = create_app(store, on_shutdown=client.aclose, redis_url=redact(url))
            _say(f"redis-session-sets demo: http://{host}:{port}/  (Ctrl+C to stop)")
            stop.server = uvicorn.Server(
                uvicorn.Config(app, host=host, port=port, log_level="info")
            )
            if stop.signal is None:  # else a stop signal came while starting: do not serve
                stop.server.run()
        except KeyboardInterrupt:
            pass  # uvicorn re-raises Ctrl+C after its clean shutdown: here, "stop"
        except SystemExit:  # uvicorn could not start (it logged why)
            _say(f"redis-session-sets: error: could not serve on {host}:{port} (see above)")
            return 2
        _say("Demo stopped.")
    return 0
