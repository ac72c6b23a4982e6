from __future__ import annotations

import redis

from redis_session_sets import Store


def test_set_then_get_round_trips(sync_client: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id"])
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 42, "name": "ada"})
    assert store.get(session_id) == {"user_id": 42, "name": "ada"}
    assert store.sessions("user_id", "42") == [session_id]
