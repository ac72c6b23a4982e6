"""The store on a real 3-primary Redis Cluster (sync and asyncio RedisCluster clients).

On a cluster a write is a single-slot session script, then one pipelined batch of index
updates; every read of an index checks its members against their hashes.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from redis.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redis_session_sets import AsyncStore, SessionMiddleware, SessionStoreError, Store, get_session
from redis_session_sets._engine.protocol import Batch, Operation
from redis_session_sets._engine.protocol import Request as StoreRequest
from tests.support import clients
from tests.support.topologies import ClusterServers

REFERENCES = ["user_id", "org"]

pytestmark = pytest.mark.both_clients  # the store given redis-py's and valkey-py's clients


@pytest.fixture
def cluster_client(cluster: ClusterServers, client_library: str) -> Iterator[RedisCluster]:
    cluster.flush()
    client = clients.sync_cluster(client_library, cluster.addresses)
    yield client
    client.close()


@pytest.fixture
async def async_cluster_client(
    cluster: ClusterServers, client_library: str
) -> AsyncIterator[redis.asyncio.RedisCluster]:
    cluster.flush()
    client = clients.async_cluster(client_library, cluster.addresses)
    yield client
    await client.aclose()


@pytest.fixture(params=["sync", "async"])
def store(
    request: pytest.FixtureRequest,
    cluster_client: RedisCluster,
    async_cluster_client: redis.asyncio.RedisCluster,
) -> Store | AsyncStore:
    if request.param == "sync":
        return Store(cluster_client, references=REFERENCES)
    return AsyncStore(async_cluster_client, references=REFERENCES)


async def call(store: Store | AsyncStore, method: str, *args: Any, **kwargs: Any) -> Any:
    """Calls a method of either store, awaiting and collecting as needed."""
    result = getattr(store, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    if method == "iter_sessions":
        return list(result)
    return result


def truth(client: RedisCluster, prefix: str = "rss") -> dict[tuple[str, str], set[str]]:
    """(field, value) -> ids, computed from the session hashes alone."""
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key in client.scan_iter(match=f"{prefix}:s:*", count=1000):
        session_id = cast(bytes, key).decode().split("{", 1)[1].rstrip("}")
        for name, raw in zip(REFERENCES, client.hmget(key, REFERENCES), strict=True):
            if raw is not None:
                value = cast(bytes, raw).decode()
                expected[(name, value.strip('"'))].add(session_id)
    return expected


def zmembers(client: RedisCluster, key: str) -> set[str]:
    return {member.decode() for member in cast(list[bytes], client.zrange(key, 0, -1))}


def index_keys(client: RedisCluster, prefix: str = "rss") -> set[tuple[str, str]]:
    found = set()
    for key in client.scan_iter(match=f"{prefix}:r:*", count=1000):
        _, _, name, rest = cast(bytes, key).decode().split(":", 3)
        found.add((name, rest[1:-1]))
    return found


async def test_every_method(store: Store | AsyncStore, cluster_client: RedisCluster) -> None:
    a, b, c = (store.create_session_id() for _ in range(3))
    key = store.get_session_key(a)
    assert key == f"rss:s:{{{a}}}"
    assert store.get_reference_key("user_id", 42) == "rss:r:user_id:{42}"

    await call(store, "set", a, {"user_id": 42, "org": "acme", "name": "ada"})
    await call(store, "set", b, {"user_id": 42, "n": 1})
    await call(store, "set", c, {"user_id": 7})
    assert await call(store, "get", a) == {"user_id": 42, "org": "acme", "name": "ada"}
    assert await call(store, "get", a, ["name", "missing"]) == {"name": "ada"}
    assert sorted(await call(store, "sessions", "user_id", 42)) == sorted([a, b])
    assert await call(store, "count", "user_id", "42") == 2
    assert sorted(await call(store, "iter_sessions", "user_id", 42, batch_size=1)) == sorted([a, b])
    assert await call(store, "sessions", "org", "acme") == [a]

    # A changed value moves the session between indexes.
    await call(store, "set", a, {"user_id": 7})
    assert cluster_client.zscore("rss:r:user_id:{42}", a) is None  # removed by the write
    assert await call(store, "sessions", "user_id", 42) == [b]
    assert sorted(await call(store, "sessions", "user_id", 7)) == sorted([a, c])

    # unset leaves the field's index; incr moves like set.
    await call(store, "unset", a, ["org"])
    assert await call(store, "sessions", "org", "acme") == []
    assert await call(store, "incr", b, "n", 5) == 6
    assert await call(store, "incr", b, "user_id", 1) == 43
    assert await call(store, "sessions", "user_id", 43) == [b]
    assert await call(store, "sessions", "user_id", 42) == []

    # touch, exists, info
    assert await call(store, "touch", a, timedelta(hours=1)) is True
    assert await call(store, "touch", store.create_session_id()) is False
    assert await call(store, "exists", a) is True
    info = await call(store, "info", a)
    assert info is not None and info.id == a
    assert timedelta(minutes=59) < info.expires_at - info.touched_at <= timedelta(hours=1)
    assert await call(store, "info", store.create_session_id()) is None

    # regenerate: copy then delete, index memberships moved, an old __csrf dropped.
    cluster_client.hset(key, "__csrf", '"old-secret"')
    new = await call(store, "regenerate", a)
    assert new != a
    assert await call(store, "get", a) == {}
    assert await call(store, "exists", a) is False
    assert await call(store, "get", new) == {"user_id": 7, "name": "ada"}
    assert sorted(await call(store, "sessions", "user_id", 7)) == sorted([new, c])
    assert cluster_client.zscore("rss:r:user_id:{7}", a) is None
    assert cluster_client.hget(store.get_session_key(new), "__csrf") is None
    assert cluster_client.pttl(store.get_session_key(new)) > 0
    # A missing session regenerates into a new, empty one.
    fresh = await call(store, "regenerate", store.create_session_id())
    assert await call(store, "exists", fresh) is True
    assert await call(store, "get", fresh) == {}

    # delete and delete_all
    assert await call(store, "delete", b) is True
    assert await call(store, "delete", b) is False
    assert await call(store, "sessions", "user_id", 43) == []
    assert not cluster_client.exists("rss:r:user_id:{43}")
    assert await call(store, "delete_all", "user_id", 7, keep=[c]) == 1
    assert await call(store, "sessions", "user_id", 7) == [c]
    assert await call(store, "exists", new) is False
    assert await call(store, "delete_all", "user_id", 7) == 1
    assert await call(store, "count", "user_id", 7) == 0
    assert await call(store, "delete_all", "user_id", 7) == 0


async def test_incr_on_a_non_integer_raises(store: Store | AsyncStore) -> None:
    session_id = store.create_session_id()
    await call(store, "set", session_id, {"s": "text", "user_id": 1})
    with pytest.raises(TypeError):
        await call(store, "incr", session_id, "s", 1)
    assert await call(store, "get", session_id) == {"s": "text", "user_id": 1}


async def test_bad_arguments_raise_before_anything_is_sent(store: Store | AsyncStore) -> None:
    with pytest.raises(ValueError):
        await call(store, "sessions", "not_a_reference", 1)
    with pytest.raises(TypeError):
        await call(store, "count", "user_id", 1.5)
    with pytest.raises(ValueError):
        await call(store, "get", "not a valid id")


class CountingStore(Store):
    """A store that counts its round trips (each request it sends; a Batch is one)."""

    sent: list[StoreRequest]

    def _send(self, request: StoreRequest) -> Any:
        self.sent.append(request)
        return super()._send(request)


def test_round_trips_per_write(cluster_client: RedisCluster) -> None:
    store = CountingStore(cluster_client, references=REFERENCES)
    session_id = store.create_session_id()
    for operation in (
        lambda: store.set(session_id, {"user_id": 1, "org": "a"}),
        lambda: store.set(session_id, {"user_id": 2, "org": "b", "x": 1}),
        lambda: store.incr(session_id, "user_id"),
        lambda: store.unset(session_id, ["org"]),
        lambda: store.touch(session_id),
        lambda: store.delete(session_id),
    ):
        store.sent = []
        operation()
        assert 1 <= len(store.sent) <= 2
    # regenerate: read, write the copy, then delete the old one (never losing the session).
    store.set(session_id, {"user_id": 1})
    store.sent = []
    store.regenerate(session_id)
    assert len(store.sent) == 3
    store.sent = []
    store.set(store.create_session_id(), {"plain": 1})  # no reference: no index half
    assert len(store.sent) == 1


def test_regenerate_never_loses_the_session_when_the_copy_fails(
    cluster: ClusterServers, cluster_client: RedisCluster
) -> None:
    store = Store(cluster_client, references=REFERENCES)
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 5, "cart": [1, 2]})

    def port(key: str) -> int:
        return int(cluster_client.get_node_from_key(key).port)  # type: ignore[no-untyped-call]

    old_port = port(store.get_session_key(session_id))
    new_id = next(i for i in iter(store.create_session_id, "") if port(f"{{{i}}}") != old_port)
    full = next(node for node in cluster.nodes if node.port == port(f"{{{new_id}}}"))
    with full.client() as admin:
        # Without a replica, that node now refuses every write (NOREPLICAS).
        admin.config_set("min-replicas-to-write", 1)
        try:
            with pytest.raises(SessionStoreError):
                store.run(store.core.regenerate(session_id, new_id=new_id))
        finally:
            admin.config_set("min-replicas-to-write", 0)
    assert store.get(session_id) == {"user_id": 5, "cart": [1, 2]}
    assert store.sessions("user_id", 5) == [session_id]
    assert store.exists(new_id) is False


def test_single_server_stays_one_round_trip(sync_client: redis.Redis) -> None:
    store = CountingStore(sync_client, references=REFERENCES)
    session_id = store.create_session_id()
    store.sent = []
    store.set(session_id, {"user_id": 1})
    store.set(session_id, {"user_id": 2})
    store.regenerate(session_id)
    store.sessions("user_id", 2)
    store.delete_all("user_id", 2)
    # One each; delete_all: one per batch, then one that finds nothing left.
    assert len(store.sent) == 6
    assert not any(type(r).__name__ == "Batch" for r in store.sent)


async def test_many_users_indexes_equal_the_truth(
    async_cluster_client: redis.asyncio.RedisCluster, cluster_client: RedisCluster
) -> None:
    """1,000 users over all slots; random value changes, unsets, deletes, regenerates."""
    store = AsyncStore(async_cluster_client, references=REFERENCES)
    rng = random.Random(5)
    users = list(range(1000))
    sessions = [store.create_session_id() for _ in range(1500)]

    async def chunked(coroutines: list[Any]) -> None:
        for start in range(0, len(coroutines), 100):
            await asyncio.gather(*coroutines[start : start + 100])

    await chunked(
        [
            store.set(
                session_id,
                {"user_id": users[i % 1000], "org": f"org-{rng.randrange(50)}", "i": i},
            )
            for i, session_id in enumerate(sessions)
        ]
    )
    keyslot = cluster_client.keyslot
    slots = {keyslot(store.get_session_key(s)) for s in sessions}  # type: ignore[no-untyped-call]
    assert len(slots) > 1000  # spread over the slots of all three primaries

    async def churn(session_id: str) -> None:
        for _ in range(3):
            action = rng.random()
            if action < 0.4:
                await store.set(session_id, {"user_id": rng.choice(users)})
            elif action < 0.5:
                await store.unset(session_id, [rng.choice(REFERENCES)])
            elif action < 0.6:
                await store.incr(session_id, "i")
            elif action < 0.7:
                await store.delete(session_id)
            elif action < 0.85:
                session_id = await store.regenerate(session_id)
            else:
                await store.set(session_id, {"org": f"org-{rng.randrange(50)}"})

    await chunked([churn(session_id) for session_id in sessions])

    expected = truth(cluster_client)
    assert len(expected) > 500
    stale = 0
    for pair in expected.keys() | index_keys(cluster_client):
        name, value = pair
        index = f"rss:r:{name}:{{{value}}}"
        raw_members = zmembers(cluster_client, index)
        assert expected[pair] <= raw_members, f"missing members in {index}"
        stale += len(raw_members - expected[pair])
        assert set(await store.sessions(name, value)) == expected[pair], index
        assert await store.count(name, value) == len(expected[pair])
        # The read removed every stale member: the index now equals the truth.
        assert zmembers(cluster_client, index) == expected[pair]
    # The writes themselves keep the indexes exact; a stale member is left only when two
    # writes of one session fall in the same millisecond (the guard then prefers a stale
    # member, which reads remove, to a missing one).
    assert stale <= sum(len(ids) for ids in expected.values()) // 100


async def test_stale_members_are_never_reported_and_are_removed(
    store: Store | AsyncStore, cluster_client: RedisCluster
) -> None:
    live, moved, gone = (store.create_session_id() for _ in range(3))
    await call(store, "set", live, {"user_id": 1})
    await call(store, "set", moved, {"user_id": 1})
    # A crash between the two halves of a write, or a manual edit: the hash moved on.
    cluster_client.hset(store.get_session_key(moved), "user_id", "2")
    index = store.get_reference_key("user_id", 1)
    far = 2**41  # a score far in the future
    cluster_client.zadd(index, {gone: far, "not an id!": far})

    assert await call(store, "sessions", "user_id", 1) == [live]
    assert zmembers(cluster_client, index) == {live}

    cluster_client.zadd(index, {gone: far, moved: far})
    assert await call(store, "count", "user_id", 1) == 1
    cluster_client.zadd(index, {gone: far, moved: far})
    assert await call(store, "iter_sessions", "user_id", 1) == [live]
    assert zmembers(cluster_client, index) == {live}

    # delete_all never deletes a session that no longer holds the value.
    cluster_client.zadd(index, {gone: far, moved: far})
    assert await call(store, "delete_all", "user_id", 1) == 1
    assert await call(store, "get", moved) == {"user_id": 2}
    assert await call(store, "exists", live) is False
    assert not cluster_client.exists(index)


async def test_absolute_max_age_on_a_cluster(
    cluster_client: RedisCluster, async_cluster_client: redis.asyncio.RedisCluster
) -> None:
    for store in (
        Store(cluster_client, references=REFERENCES, absolute_max_age=timedelta(hours=1)),
        AsyncStore(async_cluster_client, references=REFERENCES, absolute_max_age=3600),
    ):
        old, met_in_index, young = (store.create_session_id() for _ in range(3))
        for session_id in (old, met_in_index, young):
            await call(store, "set", session_id, {"user_id": 9, "org": "o"})
        for session_id in (old, met_in_index):  # created two hours ago
            cluster_client.hset(store.get_session_key(session_id), "__created", 0)
        assert await call(store, "get", old) == {}
        assert not cluster_client.exists(store.get_session_key(old))
        assert cluster_client.zscore("rss:r:org:{o}", old) is None  # its indexes followed
        assert await call(store, "sessions", "user_id", 9) == [young]
        assert not cluster_client.exists(store.get_session_key(met_in_index))
        assert await call(store, "sessions", "org", "o") == [young]
        assert await call(store, "delete_all", "user_id", 9) == 1


async def test_unknown_scripts_are_loaded_again(store: Store | AsyncStore) -> None:
    session_id = store.create_session_id()
    await call(store, "set", session_id, {"user_id": 3})
    client = store.client
    flushed = client.script_flush()
    if inspect.isawaitable(flushed):
        await flushed
    await call(store, "set", session_id, {"user_id": 4})  # batch of index updates: NOSCRIPT
    assert await call(store, "sessions", "user_id", 4) == [session_id]
    assert await call(store, "sessions", "user_id", 3) == []


def test_a_dead_primary_fails_its_slots_only(client_library: str) -> None:
    servers = ClusterServers()
    try:
        servers.start()
        client = clients.sync_cluster(
            client_library,
            servers.addresses,
            require_full_coverage=False,
            # A dead node refuses connections at once; the timeouts only bound a hang.
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=clients.retry(client_library, 0),
        )
        store = Store(client, references=["user_id"])
        dead = servers.nodes[0]

        def on_dead_node(key: str) -> bool:
            node = client.get_node_from_key(key)
            return node is not None and node.port == dead.port

        # Sessions and users on the dead node's slots and on the others.
        doomed = next(s for s in iter(store.create_session_id, "") if on_dead_node(f"{{{s}}}"))
        safe = next(s for s in iter(store.create_session_id, "") if not on_dead_node(f"{{{s}}}"))
        users = iter(range(10**6))
        doomed_user = next(u for u in users if on_dead_node(f"{{{u}}}"))
        safe_user = next(u for u in users if not on_dead_node(f"{{{u}}}"))
        store.set(doomed, {"user_id": safe_user})
        store.set(safe, {"user_id": safe_user})

        dead.stop()
        with pytest.raises(SessionStoreError):
            store.get(doomed)
        with pytest.raises(SessionStoreError):
            store.set(doomed, {"x": 1})
        with pytest.raises(SessionStoreError):  # the index lives on the dead node
            store.set(safe, {"user_id": doomed_user})
        with pytest.raises(SessionStoreError):  # a member's hash is on the dead node
            store.sessions("user_id", safe_user)

        # The other slots keep working, with the same store and client.
        other = next(s for s in iter(store.create_session_id, "") if not on_dead_node(f"{{{s}}}"))
        store.set(other, {"user_id": safe_user + 0, "n": 1})
        assert store.incr(other, "n") == 2
        assert store.get(other) == {"user_id": safe_user, "n": 2}
        assert store.delete(other) is True
        client.close()
    finally:
        servers.close()


async def test_concurrent_writers_of_one_session_leave_no_member_missing(
    async_cluster_client: redis.asyncio.RedisCluster, cluster_client: RedisCluster
) -> None:
    """Index updates of one session race each other (many connections): the guards keep
    every live session in its index; what is left stale, a read removes."""
    store = AsyncStore(async_cluster_client, references=REFERENCES)
    sessions = [store.create_session_id() for _ in range(5)]
    rng = random.Random(11)

    async def flipper() -> None:
        for _ in range(40):
            session_id = rng.choice(sessions)
            action = rng.random()
            if action < 0.6:
                await store.set(session_id, {"user_id": rng.choice([1, 2, 3, "x"])})
            elif action < 0.7:
                await store.unset(session_id, ["user_id"])
            elif action < 0.8:
                await store.incr(session_id, "n")
            else:
                await store.delete(session_id)

    for _ in range(3):
        await asyncio.gather(*(flipper() for _ in range(20)))
        expected = truth(cluster_client)
        for value in ("1", "2", "3", "x"):
            index = store.get_reference_key("user_id", value)
            assert expected[("user_id", value)] <= zmembers(cluster_client, index)
            assert set(await store.sessions("user_id", value)) == expected[("user_id", value)]
            assert zmembers(cluster_client, index) == expected[("user_id", value)]


# -- index updates arriving out of order ---------------------------------------------
# Two requests writing one session send their index halves over different connections,
# so they can arrive in either order. These tests hold a write's index batch back and
# deliver it after a later write's, through the sans-IO core.


def hold(store: Store, operation: Operation[Any]) -> tuple[Operation[Any], Batch]:
    """Runs the session script of a write; returns its index batch, not yet sent."""
    reply = store._send(next(operation))
    batch = operation.send(reply)
    assert isinstance(batch, Batch)
    return operation, batch


def deliver(store: Store, held: tuple[Operation[Any], Batch]) -> None:
    operation, batch = held
    with pytest.raises(StopIteration):
        operation.send(store._send(batch))


def test_a_late_removal_never_undoes_a_newer_add(cluster_client: RedisCluster) -> None:
    store = Store(cluster_client, references=REFERENCES)
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1})
    away = hold(store, store.core.set(session_id, {"user_id": 2}))  # 1 -> 2
    back = hold(store, store.core.set(session_id, {"user_id": 1}))  # 2 -> 1
    deliver(store, back)
    deliver(store, away)  # late: "remove from 1" must not undo "add to 1"
    assert session_id in zmembers(cluster_client, store.get_reference_key("user_id", 1))
    assert store.sessions("user_id", 1) == [session_id]
    assert store.sessions("user_id", 2) == []  # the late "add to 2" left a stale member


def test_a_late_deletion_never_removes_a_recreated_session(cluster_client: RedisCluster) -> None:
    store = Store(cluster_client, references=REFERENCES)
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1})
    deletion = hold(store, store.core.delete(session_id))
    recreation = hold(store, store.core.set(session_id, {"user_id": 1}))
    deliver(store, recreation)
    deliver(store, deletion)
    assert session_id in zmembers(cluster_client, store.get_reference_key("user_id", 1))
    assert store.sessions("user_id", 1) == [session_id]


def test_a_late_add_never_shortens_a_members_life(cluster_client: RedisCluster) -> None:
    store = Store(cluster_client, references=REFERENCES)
    session_id = store.create_session_id()
    first = hold(store, store.core.set(session_id, {"user_id": 1}, timedelta(hours=1)))
    second = hold(store, store.core.touch(session_id, timedelta(days=2)))
    deliver(store, second)
    deliver(store, first)
    score = cluster_client.zscore(store.get_reference_key("user_id", 1), session_id)
    expires = cluster_client.pttl(store.get_session_key(session_id))
    assert score is not None
    assert score - time.time() * 1000 > expires - 5000  # the two-day expiry, not one hour


# -- the per-request session and the dict-session save, on the cluster -----------------


async def test_middleware_login_flow_on_a_cluster(
    async_cluster_client: redis.asyncio.RedisCluster, cluster_client: RedisCluster
) -> None:
    store = AsyncStore(async_cluster_client, references=["user_id"])

    async def login(request: Request) -> Response:
        session = get_session(request)
        await session.set({"visits": 1})
        await session.regenerate()  # at login: a new id, the CSRF secret rotated
        await session.set({"user_id": request.path_params["user"]})
        return JSONResponse({"id": session.id, "csrf": await session.create_csrf_token()})

    async def check(request: Request) -> Response:
        session = get_session(request)
        ok = await session.verify_csrf_token(request.query_params.get("csrf"))
        return JSONResponse({"ok": ok, "session": await session.get()})

    async def sign_out_everywhere(request: Request) -> Response:
        session = get_session(request)
        user = (await session.get(["user_id"]))["user_id"]
        return JSONResponse({"deleted": await store.delete_all("user_id", user, keep=[session.id])})

    app = SessionMiddleware(
        Starlette(
            routes=[
                Route("/login/{user}", login, methods=["POST"]),
                Route("/check", check),
                Route("/out", sign_out_everywhere, methods=["POST"]),
            ]
        ),
        store=store,
        secret_keys=["k"],
    )
    browsers = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for _ in range(3)
    ]
    ids, tokens = [], []
    for browser in browsers:
        reply = (await browser.post("/login/ada")).json()
        ids.append(reply["id"])
        tokens.append(reply["csrf"])
    assert sorted(await store.sessions("user_id", "ada")) == sorted(ids)
    for browser, token in zip(browsers, tokens, strict=True):
        reply = (await browser.get("/check", params={"csrf": token})).json()
        assert reply == {"ok": True, "session": {"visits": 1, "user_id": "ada"}}
    assert (await browsers[0].get("/check", params={"csrf": tokens[1]})).json()["ok"] is False

    assert (await browsers[0].post("/out")).json() == {"deleted": 2}
    assert await store.sessions("user_id", "ada") == [ids[0]]
    assert (await browsers[1].get("/check")).json()["session"] == {}
    for browser in browsers:
        await browser.aclose()


async def test_core_operations_of_the_adapters(store: Store | AsyncStore) -> None:
    """save_changes (the dict sessions' save) and read (the per-request session)."""
    core = store.core
    session_id = store.create_session_id()

    async def run(operation: Operation[Any]) -> Any:
        return await call(store, "run", operation)

    assert await run(core.save_changes(session_id, {"user_id": 1, "a": 1}, create=False)) is False
    assert await run(core.save_changes(session_id, {"user_id": 1, "a": 1, "b": 2})) is True
    assert await call(store, "sessions", "user_id", 1) == [session_id]
    assert await run(core.save_changes(session_id, {"org": "o"}, removed=["user_id", "a"])) is True
    assert await call(store, "sessions", "user_id", 1) == []
    assert await call(store, "sessions", "org", "o") == [session_id]
    assert await run(core.save_changes(session_id, {"user_id": 2}, replace=True)) is True
    assert await call(store, "get", session_id) == {"user_id": 2}
    assert await call(store, "sessions", "org", "o") == []
    assert await call(store, "sessions", "user_id", 2) == [session_id]

    read = await run(core.read(session_id))
    assert read.exists and read.values == {"user_id": 2} and read.touched_ms
    assert await call(store, "sessions", "user_id", 2) == [session_id]
