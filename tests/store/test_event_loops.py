"""An AsyncStore keeps working when it is used from a new event loop.

redis.asyncio connections belong to the loop that opened them; Starlette's and FastAPI's
``TestClient`` without ``with`` runs every request in a loop of its own, and so do
repeated ``asyncio.run`` calls. The store must not hand a new loop a dead connection.
"""

from __future__ import annotations

import asyncio

import redis.asyncio
import redis.asyncio.cluster
from fastapi import FastAPI
from fastapi.testclient import TestClient

from redis_session_sets import AsyncStore, SessionMiddleware
from redis_session_sets.fastapi import SessionDep
from tests.support.servers import RedisServer
from tests.support.topologies import ClusterServers


def test_store_survives_a_new_event_loop(redis_server: RedisServer) -> None:
    store = AsyncStore(redis.asyncio.Redis(port=redis_server.port), references=["user_id"])
    session_id = store.create_session_id()
    asyncio.run(store.set(session_id, {"user_id": 1}))
    for _ in range(3):  # each run is a new loop; the first loop's connection is dead
        assert asyncio.run(store.get(session_id)) == {"user_id": 1}
        assert asyncio.run(store.sessions("user_id", 1)) == [session_id]


def test_blocking_pool_survives_a_new_event_loop(redis_server: RedisServer) -> None:
    pool = redis.asyncio.BlockingConnectionPool(port=redis_server.port, max_connections=2)
    store = AsyncStore(redis.asyncio.Redis(connection_pool=pool))
    session_id = store.create_session_id()

    async def many() -> None:  # contends for the pool, so its primitives bind to the loop
        await asyncio.gather(*(store.incr(session_id, "n") for _ in range(10)))

    asyncio.run(many())
    asyncio.run(many())
    assert asyncio.run(store.get(session_id)) == {"n": 20}


def test_cluster_store_survives_a_new_event_loop(cluster: ClusterServers) -> None:
    cluster.flush()
    nodes = [redis.asyncio.cluster.ClusterNode("127.0.0.1", node.port) for node in cluster.nodes]
    store = AsyncStore(redis.asyncio.RedisCluster(startup_nodes=nodes), references=["user_id"])
    session_id = store.create_session_id()
    asyncio.run(store.set(session_id, {"user_id": 7}))
    assert asyncio.run(store.get(session_id)) == {"user_id": 7}
    assert asyncio.run(store.sessions("user_id", 7)) == [session_id]


def test_fastapi_test_client_without_with(redis_server: RedisServer) -> None:
    store = AsyncStore(redis.asyncio.Redis(port=redis_server.port), references=["user_id"])
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=store, secret_keys=["key"])

    @app.post("/sign-in")
    async def sign_in(session: SessionDep) -> dict[str, str]:
        await session.regenerate()
        await session.set({"user_id": 42})
        return {"id": session.id}

    @app.get("/me")
    async def me(session: SessionDep) -> dict[str, object]:
        return await session.get()

    client = TestClient(app)  # the FastAPI docs' style: a new event loop per request
    signed_in = client.post("/sign-in")
    assert signed_in.status_code == 200
    for _ in range(3):
        answer = client.get("/me")
        assert answer.status_code == 200
        assert answer.json() == {"user_id": 42}
    assert asyncio.run(store.sessions("user_id", 42)) == [signed_in.json()["id"]]
