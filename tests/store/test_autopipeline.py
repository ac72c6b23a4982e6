"""AutoPipeline against real servers: a single Redis, a cluster, a Sentinel-managed primary;
each test with redis-py's clients and with valkey-py's.

Batches are held open where a test needs one in flight with a BLPOP on a key nobody
pushes to until the test says so: the commands queued behind it on the same connection
wait for their replies, so the test can cancel callers, kill the connection or stop the
server at a known point, without any timing assumption.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis

from redis_session_sets._drivers.compat import forget_connections
from redis_session_sets._drivers.pipelining import AutoPipeline
from redis_session_sets._drivers.wire import pack_commands
from tests.support import clients
from tests.support.servers import RedisServer
from tests.support.topologies import SENTINEL_MASTER, ClusterServers, SentinelServers

pytestmark = [
    pytest.mark.both_clients,
    # A test that hangs fails (rather than waiting for the suite's 5 minutes).
    pytest.mark.timeout(60),
]

INCR_SCRIPT = "return redis.call('INCR', KEYS[1])"


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def blocked_clients(raw: redis.Redis) -> list[dict[str, Any]]:
    return [c for c in raw.client_list() if c.get("cmd") == "blpop" and "b" in c["flags"]]


async def hold_batch(raw: redis.Redis) -> None:
    """Waits until a batch is held open by its BLPOP on "gate"."""

    async def blocked() -> bool:
        return len(blocked_clients(raw)) == 1

    await wait_until(blocked, "the batch to block on its BLPOP")


def connections_received(raw: redis.Redis) -> int:
    return int(raw.info("stats")["total_connections_received"])


@pytest.fixture
def errors(client_library: str) -> Any:
    """The exceptions module of the library under test (redis.exceptions, valkey.exceptions)."""
    return importlib.import_module(
        "valkey.exceptions" if client_library == clients.VALKEY_PY else "redis.exceptions"
    )


@pytest.fixture
def no_retry(client_library: str) -> Any:
    """A lost connection is an error at once, not sent again."""
    return clients.async_retry(client_library, 0)


@pytest.fixture
async def client(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> AsyncIterator[Any]:
    """A default client (redis-py's pool stops at 100 connections)."""
    client = clients.async_client(client_library, port=redis_server.port)
    yield client
    await client.aclose()


async def test_each_caller_gets_its_own_reply(raw: redis.Redis, client: Any) -> None:
    raw.hset("h", mapping={"a": "1", "b": "2"})
    pipe = AutoPipeline(client)
    before = connections_received(raw)

    async def one(i: int) -> tuple[Any, Any, Any]:
        return (
            await pipe.execute(("SET", f"k{i}", f"v{i}")),
            await pipe.execute(("GET", f"k{i}")),
            await pipe.execute(("INCRBY", "total", i)),
        )

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert [r[:2] for r in results] == [(True, f"v{i}".encode()) for i in range(200)]
    assert sorted(r[2] for r in results)[-1] == sum(range(200))
    # The client's response callbacks apply, as with client.execute_command.
    assert await pipe.execute(("HGETALL", "h")) == {b"a": b"1", b"b": b"2"}
    # 600 commands from 200 tasks, one connection: batches, not a connection per caller.
    assert connections_received(raw) - before == 1


async def test_an_error_fails_only_its_own_caller(
    raw: redis.Redis, client: Any, errors: Any
) -> None:
    raw.set("string", "not a hash")
    raw.set("word", "abc")
    pipe = AutoPipeline(client)
    unknown_sha = "0" * 40
    commands: list[tuple[Any, ...]] = []
    for i in range(10):
        commands += [
            ("SET", f"good{i}", i),
            ("HGETALL", "string"),  # WRONGTYPE
            ("EVAL", INCR_SCRIPT, 1, "word"),  # the script fails: not an integer
            ("EVALSHA", unknown_sha, 1, f"good{i}"),  # NOSCRIPT
            ("GET", f"good{i}"),
        ]
    # Started in one go: all in the same batch (and so on the same connection).
    results = await asyncio.gather(*(pipe.execute(c) for c in commands), return_exceptions=True)
    for i in range(10):
        ok, wrongtype, script, noscript, value = results[5 * i : 5 * i + 5]
        assert ok is True and value == str(i).encode()
        assert type(wrongtype) is errors.ResponseError and "WRONGTYPE" in str(wrongtype)
        assert type(script) is errors.ResponseError and "not an integer" in str(script)
        # NoScriptError itself, so that a caller can fall back to EVAL.
        assert type(noscript) is errors.NoScriptError
    assert raw.get("word") == b"abc"


async def test_noscript_after_script_flush_falls_back_to_eval(
    raw: redis.Redis, client: Any, errors: Any
) -> None:
    pipe = AutoPipeline(client)
    sha = raw.script_load(INCR_SCRIPT)
    raw.script_flush()

    async def incr(i: int) -> int:
        try:
            return int(await pipe.execute(("EVALSHA", sha, 1, f"n{i % 5}")))
        except errors.NoScriptError:
            return int(await pipe.execute(("EVAL", INCR_SCRIPT, 1, f"n{i % 5}")))

    await asyncio.gather(*(incr(i) for i in range(100)))
    assert [int(raw.get(f"n{i}") or 0) for i in range(5)] == [20] * 5


async def test_an_argument_the_client_cannot_encode_fails_alone(
    raw: redis.Redis, client: Any, errors: Any
) -> None:
    """The client refuses such a command before sending anything; the batch it was in is
    sent again one command at a time, so only its caller sees the DataError."""
    pipe = AutoPipeline(client)
    commands: list[tuple[Any, ...]] = [("SET", f"k{i}", i) for i in range(20)]
    commands.insert(7, ("SET", "bad", {"a": "dict"}))
    results = await asyncio.gather(*(pipe.execute(c) for c in commands), return_exceptions=True)
    assert isinstance(results.pop(7), errors.DataError)
    assert results == [True] * 20
    assert raw.get("k19") == b"19" and not raw.exists("bad")


async def test_a_reply_the_client_cannot_decode_fails_alone(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> None:
    """With decode_responses, bytes that are no UTF-8 (stored by some other program) fail
    the one command that read them with UnicodeDecodeError, as client.execute_command
    would; the replies around it, and the next batches on the connection, are right."""
    raw.set("bad", b"\xff\xfe")
    raw.hset("h", mapping={"f": "ü"})
    raw.hset("bad-hash", mapping={"f": b"\xff"})
    client = clients.async_client(client_library, port=redis_server.port, decode_responses=True)
    try:
        pipe = AutoPipeline(client)
        commands: list[tuple[Any, ...]] = []
        for i in range(5):
            commands += [("SET", f"k{i}", f"v{i}"), ("GET", "bad"), ("HGETALL", "h")]
            commands += [("HGETALL", "bad-hash"), ("GET", f"k{i}")]
        results = await asyncio.gather(*(pipe.execute(c) for c in commands), return_exceptions=True)
        for i in range(5):
            ok, bad, text, bad_hash, value = results[5 * i : 5 * i + 5]
            assert (ok, text, value) == (True, {"f": "ü"}, f"v{i}")
            assert isinstance(bad, UnicodeDecodeError)
            assert isinstance(bad_hash, UnicodeDecodeError)
        again = await asyncio.gather(*(pipe.execute(("GET", f"k{i}")) for i in range(5)))
        assert again == [f"v{i}" for i in range(5)]
    finally:
        await client.aclose()


async def test_order_of_commands_is_kept(raw: redis.Redis, client: Any) -> None:
    pipe = AutoPipeline(client, max_batch=7)  # many batches

    async def sequential(name: str) -> None:
        for i in range(50):
            await pipe.execute(("RPUSH", name, i))

    # Tasks that await each command, side by side with others...
    await asyncio.gather(*(sequential(f"list{t}") for t in range(20)))
    for t in range(20):
        assert raw.lrange(f"list{t}", 0, -1) == [str(i).encode() for i in range(50)]
    # ... and commands started in one go, across many batches: sent in the order started.
    await asyncio.gather(*(pipe.execute(("RPUSH", "burst", i)) for i in range(500)))
    assert raw.lrange("burst", 0, -1) == [str(i).encode() for i in range(500)]


async def test_cancelled_callers_leave_the_others_and_the_connection_in_sync(
    raw: redis.Redis, client: Any
) -> None:
    pipe = AutoPipeline(client)
    for i in range(60):
        raw.set(f"k{i}", f"v{i}")
    gate = asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))
    callers = [asyncio.ensure_future(pipe.execute(("GET", f"k{i}"))) for i in range(60)]
    await hold_batch(raw)  # the batch is out: its replies wait behind the BLPOP
    for i, caller in enumerate(callers):
        if i % 3 == 0:
            caller.cancel()
    # Queued while the batch is out, then cancelled before it is sent: never sent.
    unsent = asyncio.ensure_future(pipe.execute(("SET", "unsent", 1)))
    await asyncio.sleep(0)
    unsent.cancel()
    raw.rpush("gate", "open")
    assert list(await gate) == [b"gate", b"open"]
    for i, caller in enumerate(callers):
        if i % 3 == 0:
            assert caller.cancelled()
        else:
            assert await caller == f"v{i}".encode()
    # The same connection serves the next batches with the right replies.
    again = await asyncio.gather(*(pipe.execute(("GET", f"k{i}")) for i in range(60)))
    assert again == [f"v{i}".encode() for i in range(60)]
    assert not raw.exists("unsent")


async def test_a_cancellation_storm(raw: redis.Redis, client: Any) -> None:
    """Callers cancelled at every point of their life: before, during and after their
    batch's round trip. Every caller left gets its own value."""
    pipe = AutoPipeline(client, max_batch=16)
    for i in range(50):
        raw.set(f"k{i}", f"v{i}")

    async def reader(i: int) -> None:
        for _ in range(20):
            assert await pipe.execute(("GET", f"k{i}")) == f"v{i}".encode()

    tasks = [asyncio.ensure_future(reader(i)) for i in range(50)]
    for step in range(40):
        await asyncio.sleep(0)
        tasks[step % 50].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(o is None or isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert await pipe.execute(("GET", "k3")) == b"v3"


async def test_a_killed_connection_fails_exactly_the_batch_in_flight(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, errors: Any, no_retry: Any
) -> None:
    client = clients.async_client(client_library, port=redis_server.port, retry=no_retry)
    pipe = AutoPipeline(client)
    raw.set("k", "v")
    in_flight = [asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))]
    in_flight += [asyncio.ensure_future(pipe.execute(("GET", "k"))) for _ in range(10)]
    await hold_batch(raw)
    # Started while that batch is out: they wait for the next one.
    queued = [asyncio.ensure_future(pipe.execute(("INCR", "n"))) for _ in range(10)]
    await asyncio.sleep(0)
    raw.client_kill_filter(_id=blocked_clients(raw)[0]["id"])
    for caller in in_flight:
        with pytest.raises(errors.ConnectionError):
            await caller
    assert sorted(await asyncio.gather(*queued)) == list(range(1, 11))
    assert await pipe.execute(("GET", "k")) == b"v"  # the client reconnected
    await client.aclose()


def retrying_client(client_library: str, port: int, errors: Any) -> Any:
    """A client that retries a connection error three times."""
    return clients.async_client(
        client_library,
        port=port,
        retry=clients.async_retry(client_library, 3),
        retry_on_error=[errors.ConnectionError],
    )


async def kill_the_blocked_batch(raw: redis.Redis) -> None:
    """Kills the connection of the batch held by a BLPOP, and waits until its retry is
    blocked again on a new connection."""
    killed = blocked_clients(raw)[0]["id"]
    raw.client_kill_filter(_id=killed)

    async def blocked_again() -> bool:
        return [c["id"] for c in blocked_clients(raw)] not in ([], [killed])

    await wait_until(blocked_again, "the retried batch to block again")


async def test_a_killed_connection_is_retried_as_the_client_is_configured(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, errors: Any
) -> None:
    """A client configured to retry sends the pipeline again on a new connection: the
    callers get their replies (the retry policy is the client's, not ours). valkey-py
    retries only the errors named in ``retry_on_error``; redis-py's default retries too."""
    client = retrying_client(client_library, redis_server.port, errors)
    pipe = AutoPipeline(client)
    raw.set("k", "v")
    gate = asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))
    callers = [asyncio.ensure_future(pipe.execute(("GET", "k"))) for _ in range(10)]
    await hold_batch(raw)
    await kill_the_blocked_batch(raw)
    raw.rpush("gate", "open")
    assert list(await gate) == [b"gate", b"open"]
    assert await asyncio.gather(*callers) == [b"v"] * 10
    await client.aclose()


async def test_a_retried_batch_sends_again_only_the_commands_left_unanswered(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, errors: Any
) -> None:
    """The INCR before the held BLPOP was answered when the connection was killed: the
    retry must not run it again (``client.execute_command`` would not: its reply came).
    The BLPOP and the GET after it had no reply, so they go out again, as they would."""
    client = retrying_client(client_library, redis_server.port, errors)
    pipe = AutoPipeline(client)
    incr = asyncio.ensure_future(pipe.execute(("INCR", "n")))
    gate = asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))
    after = asyncio.ensure_future(pipe.execute(("GET", "n")))
    await hold_batch(raw)  # INCR has run and its reply is on its way (or read)
    await kill_the_blocked_batch(raw)
    raw.rpush("gate", "open")
    assert (await incr, list(await gate), await after) == (1, [b"gate", b"open"], b"1")
    assert raw.get("n") == b"1"
    await client.aclose()


async def test_a_server_restart_fails_the_batch_in_flight_then_recovers(
    client_library: str, errors: Any, no_retry: Any
) -> None:
    server = RedisServer()
    server.start()
    client = clients.async_client(
        client_library, port=server.port, retry=no_retry, socket_connect_timeout=1
    )
    try:
        pipe = AutoPipeline(client)
        assert await pipe.execute(("SET", "k", "v")) is True
        in_flight = [asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))]
        in_flight += [asyncio.ensure_future(pipe.execute(("GET", "k"))) for _ in range(10)]
        with server.client() as raw:
            await hold_batch(raw)
        server.stop()
        for caller in in_flight:
            with pytest.raises(errors.ConnectionError):
                await caller
        # While it is down: an error at once, not a hang.
        with pytest.raises(errors.ConnectionError):
            await pipe.execute(("GET", "k"))
        server.start()
        assert await pipe.execute(("SET", "k", "again")) is True
        replies = await asyncio.gather(*(pipe.execute(("GET", "k")) for _ in range(50)))
        assert replies == [b"again"] * 50
    finally:
        await client.aclose()
        server.close()


async def test_more_callers_than_the_pool_has_connections(raw: redis.Redis, client: Any) -> None:
    pipe = AutoPipeline(client)
    before = connections_received(raw)
    results = await asyncio.gather(
        *(pipe.execute(("INCR", f"n{i % 50}")) for i in range(500)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert [int(raw.get(f"n{i}") or 0) for i in range(50)] == [10] * 50
    assert connections_received(raw) - before == 1


async def test_batches_are_bounded(raw: redis.Redis, client: Any) -> None:
    """With batches of at most 10 and two out at a time, a batch held open by its BLPOP
    keeps exactly its own 9 other commands waiting; the 20 others are served meanwhile."""
    pipe = AutoPipeline(client, max_batch=10, max_in_flight=2)
    gate = asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))
    callers = [asyncio.ensure_future(pipe.execute(("INCR", "n"))) for _ in range(29)]

    async def others_done() -> bool:
        return sum(c.done() for c in callers) >= 20

    await wait_until(others_done, "the batches behind the held one")
    await hold_batch(raw)
    assert [c.done() for c in callers] == [False] * 9 + [True] * 20
    assert raw.get("n") == b"20"
    raw.rpush("gate", "open")
    await gate
    assert sorted(await asyncio.gather(*callers)) == list(range(1, 30))


async def test_a_new_event_loop_starts_afresh(
    raw: redis.Redis, redis_server: RedisServer, client_library: str
) -> None:
    """The first loop stops with a batch out and a command queued behind it; the same
    object (and client) then serves a new loop. Loops run in threads: pytest-asyncio owns
    this one."""
    client = clients.async_client(client_library, port=redis_server.port)
    pipe = AutoPipeline(client)
    first = asyncio.new_event_loop()
    left: list[asyncio.Task[Any]] = []

    def stop_first_loop_midway() -> None:
        async def midway() -> None:
            left.append(first.create_task(pipe.execute(("BLPOP", "gate", 0))))
            await hold_batch(raw)
            left.append(first.create_task(pipe.execute(("INCR", "n"))))  # behind the batch
            await asyncio.sleep(0)

        first.run_until_complete(midway())  # then the loop stops, its tasks unfinished

    def second_loop() -> list[Any]:
        async def work() -> list[Any]:
            # What AsyncStore does on a new loop: the pool's connections are the old one's.
            forget_connections(client, cluster=False)
            calls = asyncio.gather(*(pipe.execute(("INCR", "m")) for _ in range(10)))
            return await asyncio.wait_for(calls, 30)  # a stale state would wait forever

        return asyncio.run(work())

    def finish_first_loop() -> list[Any]:
        return first.run_until_complete(asyncio.gather(*left, return_exceptions=True))

    try:
        await asyncio.to_thread(stop_first_loop_midway)
        assert not any(task.done() for task in left)
        assert sorted(await asyncio.to_thread(second_loop)) == list(range(1, 11))
        assert not raw.exists("n")  # the stopped loop's queued command was not sent
        # Should the old loop ever run again, its callers end (redis-py may fail them: the
        # pool forgot their connection), nothing hangs, and the new loop is not disturbed.
        raw.rpush("gate", "open")
        assert len(await asyncio.to_thread(finish_first_loop)) == 2
        assert sorted(await asyncio.to_thread(second_loop)) == list(range(11, 21))
    finally:
        first.close()


# --- Cluster ------------------------------------------------------------------------------


@pytest.fixture
async def cluster_client(cluster: ClusterServers, client_library: str) -> AsyncIterator[Any]:
    cluster.flush()
    nodes = [("127.0.0.1", node.port) for node in cluster.nodes]
    client = clients.async_cluster(client_library, nodes)
    await client.initialize()  # an asyncio cluster client must know its nodes first
    yield client
    await client.aclose()


async def test_cluster_batches_split_per_node(cluster: ClusterServers, cluster_client: Any) -> None:
    pipe = AutoPipeline(cluster_client)
    sha = await cluster_client.script_load(INCR_SCRIPT)

    async def one(i: int) -> tuple[Any, Any, Any]:
        return (
            await pipe.execute(("SET", f"k{i}", i)),
            await pipe.execute(("GET", f"k{i}")),
            await pipe.execute(("EVALSHA", sha, 1, f"n{i % 7}")),
        )

    results = await asyncio.gather(*(one(i) for i in range(300)))
    assert [r[:2] for r in results] == [(True, str(i).encode()) for i in range(300)]
    # The keys are spread over the three primaries.
    assert all(node.client().dbsize() > 50 for node in cluster.nodes)
    assert sorted(r[2] for r in results)[-1] >= 300 // 7


async def test_cluster_errors_fail_only_their_callers(cluster_client: Any, errors: Any) -> None:
    pipe = AutoPipeline(cluster_client)
    await cluster_client.set("string", "x")
    commands: list[tuple[Any, ...]] = [("SET", f"k{i}", i) for i in range(30)]
    commands[5] = ("HGETALL", "string")  # WRONGTYPE from its node
    commands[10] = ("EVALSHA", "0" * 40, 1, "k10")  # NOSCRIPT from its node
    commands[15] = ("MGET", "k1", "k2", "k3")  # keys of several slots: the client refuses it
    results = await asyncio.gather(*(pipe.execute(c) for c in commands), return_exceptions=True)
    assert isinstance(results[5], errors.ResponseError) and "WRONGTYPE" in str(results[5])
    assert type(results[10]) is errors.NoScriptError
    cluster_error = getattr(errors, "RedisClusterException", None) or errors.ValkeyClusterException
    assert isinstance(results[15], cluster_error)
    assert [r for i, r in enumerate(results) if i not in (5, 10, 15)] == [True] * 27


async def test_cluster_a_killed_node_connection_fails_only_that_nodes_commands(
    cluster: ClusterServers, cluster_client: Any, errors: Any
) -> None:
    pipe = AutoPipeline(cluster_client)
    held_node = cluster_client.get_node_from_key("gate")
    assert held_node is not None
    same = [f"k{i}" for i in range(100) if cluster_client.get_node_from_key(f"k{i}") == held_node]
    other = [f"k{i}" for i in range(100) if cluster_client.get_node_from_key(f"k{i}") != held_node]
    for key in same[:5] + other[:5]:
        await cluster_client.set(key, key)
    on_held = [asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))]
    on_held += [asyncio.ensure_future(pipe.execute(("GET", key))) for key in same[:5]]
    elsewhere = [asyncio.ensure_future(pipe.execute(("GET", key))) for key in other[:5]]
    server = next(node for node in cluster.nodes if node.port == held_node.port)
    with server.client() as raw:
        await hold_batch(raw)
        raw.client_kill_filter(_id=blocked_clients(raw)[0]["id"])
    for caller in on_held:
        with pytest.raises(errors.ConnectionError):
            await caller
    assert await asyncio.gather(*elsewhere) == [key.encode() for key in other[:5]]
    again = await asyncio.gather(*(pipe.execute(("GET", key)) for key in same[:5] + other[:5]))
    assert again == [key.encode() for key in same[:5] + other[:5]]


# --- Sentinel -----------------------------------------------------------------------------


@pytest.fixture
def sentinel_servers() -> Iterator[SentinelServers]:
    servers = SentinelServers()
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


async def test_sentinel_master_client_across_a_failover(
    sentinel_servers: SentinelServers, client_library: str, no_retry: Any
) -> None:
    sentinels = [("127.0.0.1", sentinel_servers.sentinel_port)]
    options: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
    sentinel_client = clients.async_sentinel(client_library, sentinels, **options)
    client = sentinel_client.master_for(SENTINEL_MASTER, retry=no_retry, **options)
    pipe = AutoPipeline(client)
    assert await asyncio.gather(*(pipe.execute(("INCR", "n")) for _ in range(100)))
    with sentinel_servers.primary.client() as primary:
        assert primary.get("n") == b"100"
    with redis.Redis(port=sentinel_servers.sentinel_port) as sentinel:
        assert sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)

        async def switched() -> bool:
            address = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            with sentinel_servers.replica.client() as replica:
                promoted = replica.info("replication")["role"] == "master"
            return promoted and int(address[1]) == sentinel_servers.replica.port

        await wait_until(switched, "the sentinel to switch to the new primary", timeout=30)

    attempt = 0

    async def writes_reach_the_new_primary() -> bool:
        # The old primary takes writes until the sentinel makes it a replica (writes that
        # Redis then drops: any client's); after that it answers READONLY, the client drops
        # the connection and asks the sentinel again. Until then, batches fail.
        nonlocal attempt
        attempt += 1
        results = await asyncio.gather(
            *(pipe.execute(("SET", f"after{attempt}:{i}", i)) for i in range(10)),
            return_exceptions=True,
        )
        if [r for r in results if isinstance(r, BaseException)]:
            return False
        with sentinel_servers.replica.client() as new_primary:
            return bool(new_primary.exists(*(f"after{attempt}:{i}" for i in range(10))) == 10)

    await wait_until(writes_reach_the_new_primary, "writes on the new primary", timeout=30)
    await client.aclose()


async def test_replies_that_outlast_socket_timeout_fail_the_batch_then_it_recovers(
    raw: redis.Redis, redis_server: RedisServer, client_library: str, errors: Any, no_retry: Any
) -> None:
    # The batch's replies are read under one deadline of socket_timeout (or, where the
    # client cannot read without a timer of its own, one per reply): either way a reply
    # that never comes is a TimeoutError of the client's library, for exactly that batch.
    raw.set("k", "v")
    client = clients.async_client(
        client_library, port=redis_server.port, retry=no_retry, socket_timeout=0.5
    )
    try:
        pipe = AutoPipeline(client)
        assert await pipe.execute(("GET", "k")) == b"v"
        callers = [asyncio.ensure_future(pipe.execute(("BLPOP", "gate", 0)))]
        callers += [asyncio.ensure_future(pipe.execute(("GET", "k"))) for _ in range(5)]
        for caller in callers:
            with pytest.raises(errors.TimeoutError):
                await caller
        # The connection whose replies were not all read was dropped, not reused.
        assert await asyncio.gather(*(pipe.execute(("GET", "k")) for _ in range(20))) == [b"v"] * 20
    finally:
        await client.aclose()


PACKABLE = (
    ("HGETALL", "rss:s:{abc}"),
    ("EVALSHA", "0" * 40, 1, "rss:s:{x}", 1209600000, "1", "name", '"Ada"'),
    ("SET", b"bytes\x00key", "naïve ünïcode", -17, 2**70),
    ("SET", "k", 1.5, memoryview(b"view")),
    ("CONFIG GET", "maxmemory"),  # redis-py splits a name with a space
    (b"GET", "k"),
    ("SET", "big", "x" * 100_000),
)


@pytest.mark.parametrize("library", [clients.REDIS_PY, clients.VALKEY_PY])
def test_pack_commands_packs_as_the_client_does(library: str) -> None:
    if library == clients.VALKEY_PY:
        pytest.importorskip("valkey")
    connection = clients.async_client(library).connection_pool.make_connection()
    expected = b"".join(connection.pack_commands(PACKABLE))
    assert b"".join(pack_commands(connection, list(PACKABLE))) == expected
    errors = importlib.import_module(
        "valkey.exceptions" if library == clients.VALKEY_PY else "redis.exceptions"
    )
    for bad in (True, None, object()):
        with pytest.raises(errors.DataError):
            pack_commands(connection, [("SET", "k", bad)])
