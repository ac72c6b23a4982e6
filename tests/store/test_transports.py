"""The store's own ways onto a connection (the auto-pipeline's batches, the sync Store's
direct commands: docs/design.md, "Auto-pipelining") against what a user configures on
the client: a server that stops answering, AUTH with an ACL user, TLS, RESP3 and
decode_responses, a pool with one connection. Each test runs the sync Store, the
auto-pipelined AsyncStore and the AsyncStore with ``pipelining=False`` (redis-py's own
path: the bar the other two must meet), with redis-py's and valkey-py's clients.

Real servers only: the shared throwaway server, or one a test starts (TLS, a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_session_sets import AsyncStore, SessionStoreError, Store
from tests.support import clients
from tests.support.facade import SyncStoreAsAsync
from tests.support.servers import RedisServer, free_port

pytestmark = [pytest.mark.both_clients, pytest.mark.timeout(60)]

KINDS = ["sync", "async", "async-unpipelined"]


@contextlib.asynccontextmanager
async def store_on(kind: str, library: str, **options: Any) -> AsyncIterator[Any]:
    """A store of the kind on a client of the library built with ``options``."""
    if kind == "sync":
        sync = clients.sync_client(library, **options)
        try:
            yield SyncStoreAsAsync(Store(sync, references=["user_id"]))
        finally:
            sync.close()
        return
    client = clients.async_client(library, **options)
    try:
        yield AsyncStore(client, references=["user_id"], pipelining=kind == "async")
    finally:
        await client.aclose()


def no_retry(kind: str, library: str) -> Any:
    if kind == "sync":
        return clients.retry(library, 0)
    return clients.async_retry(library, 0)


async def exercise(store: Any) -> None:
    """Every kind of request: plain commands, scripts (EVAL then EVALSHA), and bursts."""
    session_id = store.create_session_id()
    await store.set(session_id, {"user_id": 7, "n": 0, "name": "Ada"})
    assert await store.incr(session_id, "n") == 1
    assert await store.get(session_id) == {"user_id": 7, "n": 1, "name": "Ada"}
    assert await store.sessions("user_id", 7) == [session_id]
    assert (await store.info(session_id)).id == session_id
    many = await asyncio.gather(*(store.get(session_id, ["name"]) for _ in range(30)))
    assert many == [{"name": "Ada"}] * 30
    increments = await asyncio.gather(*(store.incr(session_id, "n") for _ in range(30)))
    assert sorted(increments) == list(range(2, 32))
    assert await store.delete(session_id) is True
    assert await store.exists(session_id) is False


@pytest.mark.parametrize("kind", KINDS)
async def test_a_paused_server_fails_within_the_timeout_then_works(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, kind: str
) -> None:
    """CLIENT PAUSE longer than socket_timeout: each call in flight (a burst of them) is a
    SessionStoreError about the timeout later, nothing hangs, and once the server answers
    again the same store works (the connections whose replies were not read were dropped:
    every call gets its own reply)."""
    retry = no_retry(kind, client_library)
    async with store_on(
        kind, client_library, port=redis_server.port, socket_timeout=0.5, retry=retry
    ) as store:
        # The sync store's calls run one after the other: one timeout each.
        ids = [store.create_session_id() for _ in range(2 if kind == "sync" else 10)]
        for i, session_id in enumerate(ids):
            await store.set(session_id, {"i": i})
        raw.client_pause(2500, all=True)
        results = await asyncio.gather(
            *(store.get(session_id) for session_id in ids), return_exceptions=True
        )
        assert all(isinstance(r, SessionStoreError) for r in results), results
        assert "timeout" in str(results[0]).lower()
        raw.ping()  # returns once the pause is over (CLIENT UNPAUSE would wait for it too)
        got = await asyncio.gather(*(store.get(session_id) for session_id in ids))
        assert got == [{"i": i} for i in range(len(ids))]
        await exercise(store)


@pytest.fixture(scope="module")
def acl_server() -> Iterator[RedisServer]:
    """A server whose default user is off: only the ACL user "app" gets in."""
    server = RedisServer()
    server.start()
    with server.client() as admin:
        admin.execute_command("ACL", "SETUSER", "app", "on", ">s3cret pass", "~*", "&*", "+@all")
        admin.execute_command("ACL", "SETUSER", "default", "off")
    yield server
    server.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_auth_as_an_acl_user(acl_server: RedisServer, client_library: str, kind: str) -> None:
    options = {"port": acl_server.port, "username": "app", "password": "s3cret pass"}
    async with store_on(kind, client_library, **options) as store:
        await exercise(store)
    # A wrong password, or none: a SessionStoreError that says why, nothing hangs.
    # (Without retries: the default policy retries a failed AUTH with back-off, on
    # redis-py's own path as on ours.)
    for password in ("wrong", None):
        options = {"port": acl_server.port, "username": "app", "password": password}
        if password is None:
            options = {"port": acl_server.port}
        options["retry"] = no_retry(kind, client_library)
        async with store_on(kind, client_library, **options) as store:
            with pytest.raises(SessionStoreError) as failed:
                await store.get(store.create_session_id())
            message = str(failed.value).lower()
            assert "password" in message or "noauth" in message or "auth" in message


def tls_certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1/localhost, signed by it (openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make test certificates")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.crt", "-days", "2", "-subj", "/CN=rss-test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
        "server.csr", "-subj", "/CN=localhost")  # fmt: skip
    (folder / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext")  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, int, Path]]:
    """A server with a TLS port beside its plain one (the plain one for start-up checks),
    or a skip where the binary has no TLS built in."""
    folder = tls_certificates(tmp_path_factory.mktemp("tls"))
    tls_port = free_port()
    server = RedisServer(
        extra_args=(
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(folder / "server.crt"),
            "--tls-key-file", str(folder / "server.key"),
            "--tls-ca-cert-file", str(folder / "ca.crt"),
            "--tls-auth-clients", "no",
        )
    )  # fmt: skip
    try:
        server.start()
    except Exception as error:  # e.g. a binary built without TLS refuses --tls-port
        pytest.skip(f"this redis-server does not run TLS: {error}")
    yield server, tls_port, folder
    server.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_tls(
    tls_server: tuple[RedisServer, int, Path], client_library: str, kind: str
) -> None:
    _server, tls_port, folder = tls_server
    options = {"host": "localhost", "port": tls_port, "ssl": True}
    async with store_on(kind, client_library, ssl_ca_certs=str(folder / "ca.crt"), **options) as s:
        await exercise(s)
    # An untrusted certificate: refused, loudly (without retries: at once).
    retry = no_retry(kind, client_library)
    async with store_on(kind, client_library, retry=retry, **options) as store:
        with pytest.raises(SessionStoreError, match="certificate"):
            await store.get(store.create_session_id())


@pytest.mark.parametrize("variant", ["resp3", "decode_responses", "resp3+decode_responses"])
@pytest.mark.parametrize("kind", KINDS)
async def test_resp3_and_decoded_replies(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, kind: str, variant: str
) -> None:
    options: dict[str, Any] = {"port": redis_server.port}
    if "resp3" in variant:
        options["protocol"] = 3
    if "decode" in variant:
        options["decode_responses"] = True
    async with store_on(kind, client_library, **options) as store:
        await exercise(store)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pool_of_one_connection(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, kind: str
) -> None:
    """A BlockingConnectionPool of one connection: a burst shares it; while someone else
    holds it, calls fail after the pool's timeout (SessionStoreError), then work again."""
    if client_library == clients.VALKEY_PY:
        import valkey
        import valkey.asyncio

        pools: Any = valkey if kind == "sync" else valkey.asyncio
    else:
        import redis.asyncio

        pools = redis if kind == "sync" else redis.asyncio
    pool = pools.BlockingConnectionPool(port=redis_server.port, max_connections=1, timeout=0.5)
    async with store_on(kind, client_library, connection_pool=pool) as store:
        await exercise(store)
        session_id = store.create_session_id()
        await store.set(session_id, {"a": 1})
        if kind == "sync":
            held = pool.get_connection() if _no_name(pool) else pool.get_connection("PING")
        else:
            held = await (pool.get_connection() if _no_name(pool) else pool.get_connection("PING"))
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(store.get(session_id) for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, SessionStoreError) for r in results), results
            assert time.monotonic() - started < 20
        finally:
            if kind == "sync":
                pool.release(held)
            else:
                await pool.release(held)
        assert await asyncio.gather(*(store.get(session_id) for _ in range(5))) == [{"a": 1}] * 5


def _no_name(pool: Any) -> bool:
    from redis_session_sets._drivers.compat import takes_no_command_name

    return takes_no_command_name(pool)


class Interrupted(Exception):
    """What a worker's own timeout raises in the middle of a call (a signal handler)."""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_a_sync_call_interrupted_mid_read_leaves_no_reply_behind(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> None:
    """A sync worker whose request is interrupted while the Store waits for a reply (the
    server paused): the connection is dropped, not pooled with that reply still to come,
    so the next call on the pool (of one connection) gets its own reply."""
    client = clients.sync_client(client_library, port=redis_server.port, max_connections=1)
    store = Store(client)
    first, second = store.create_session_id(), store.create_session_id()
    store.set(first, {"who": "first"})
    store.set(second, {"who": "second"})

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        raw.client_pause(1000, all=True)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(Interrupted):
            store.get(first)  # sent; its reply would come when the pause ends
        raw.ping()  # the pause is over: the first reply would be on its way now
        assert store.get(second) == {"who": "second"}
        assert store.get(first) == {"who": "first"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        client.close()
