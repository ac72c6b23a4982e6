"""How scripts are composed (docs/design.md, "Lean scripts"): the store's configuration
baked in as constants, only the helpers a script uses, one text per configuration."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import redis

from redis_session_sets import Store
from redis_session_sets._engine.core import StoreCore
from redis_session_sets._engine.scripts import bake, library, lua_literal
from tests.support.monitor import CommandLog

LUA = resources.files("redis_session_sets._engine") / "lua"
NAMES = sorted(
    p.name[:-4] for p in LUA.iterdir() if p.name.endswith(".lua") and p.name != "lib.lua"
)
DEFINED = re.compile(r"^local (?:function )?([A-Za-z_]\w*)", re.M)


def defined(source: str) -> list[str]:
    return DEFINED.findall(source)


@pytest.mark.parametrize("limits", [None, {"user_id": 3}])
@pytest.mark.parametrize("name", NAMES)
def test_a_script_holds_only_what_it_uses(name: str, limits: dict[str, int] | None) -> None:
    core = StoreCore(references=["user_id", "team"], limits=limits)
    source = core.script(name).source
    body = bake((LUA / f"{name}.lua").read_text(encoding="utf-8"), core.scripts.constants)
    head = source[: len(source) - len(body)]
    words = set(re.findall(r"[A-Za-z_]\w*", re.sub(r"--.*", "", source)))
    for definition in defined(head):
        # Each definition of the head is used: its name appears after its own definition.
        rest = head[head.index(f" {definition}") + len(definition) + 1 :] + body
        assert re.search(rf"\b{definition}\b", re.sub(r"--.*", "", rest)), (name, definition)
    helpers = {definition.name for definition in library()}
    assert not (words & helpers) - set(defined(head)), name  # nothing used is missing


def test_lean_scripts_leave_out_the_index_walk() -> None:
    core = StoreCore(references=["user_id"])
    set_script = core.script("set").source
    for unused in ("member_state", "destroy_by_id", "read_fields", "member_values"):
        assert unused not in set_script
    # A store without limits pays nothing for them.
    code = re.sub(r"--.*", "", set_script)
    for unused in ("enforce_limits", "enforce_limit", "end_session", "LIMITS", "ZCARD"):
        assert unused not in code, unused
    limited = StoreCore(references=["user_id"], limits={"user_id": 3}).script("set").source
    assert "enforce_limits" in limited and "LIMITS = { 3 }" in limited
    body = (LUA / "keyspace_stats.lua").read_text(encoding="utf-8")
    assert core.script("keyspace_stats").source == body  # needs nothing of the library


def test_one_script_text_per_configuration() -> None:
    def sha(**options: Any) -> str:
        return StoreCore(**options).script("set").sha

    assert sha(references=["user_id"]) == sha(references=["user_id"])
    assert len({
        sha(references=["user_id"]),
        sha(references=["team"]),
        sha(references=["user_id"], prefix="app"),
        sha(references=["user_id"], absolute_max_age=3600),
        sha(references=["user_id"], index_slack=60),
    }) == 5  # fmt: skip


def test_lua_literals_escape_everything_unsafe() -> None:
    assert lua_literal("rss") == "'rss'"
    assert lua_literal("a'b\\c") == "'a\\039b\\092c'"
    assert lua_literal("é") == "'\\195\\169'"
    assert lua_literal(("a", "b")) == "{ 'a', 'b' }"
    assert lua_literal(True) == "true" and lua_literal(12) == "12"


def test_the_configuration_is_not_sent_per_call(sync_client: redis.Redis, raw: redis.Redis) -> None:
    store = Store(sync_client, references=["user_id", "team"], prefix="cfg.prefix")
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 2})  # EVAL, then EVALSHA
    port = raw.connection_pool.connection_kwargs["port"]
    with CommandLog(port) as log:
        store.set(session_id, {"user_id": 1})
    (command,) = log.commands
    # EVALSHA sha 1 key max_age create field value: nothing else.
    key = store.get_session_key(session_id)
    assert command.split()[3:] == [key, "2419200000", "1", "user_id", "1"]


@pytest.mark.parametrize("prefix", ["a'b", 'q"x\\y', "ünï.côde", "p:s:{"[:-1] + "x"])
def test_any_prefix_works_end_to_end(sync_client: redis.Redis, prefix: str) -> None:
    store = Store(sync_client, references=["user_id"], prefix=prefix)
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 5, "a": 1})
    assert store.get(session_id) == {"user_id": 5, "a": 1}
    assert store.sessions("user_id", 5) == [session_id]
    new_id = store.regenerate(session_id)
    assert store.sessions("user_id", 5) == [new_id]
    assert store.delete_all("user_id", 5) == 1
    assert sync_client.keys(f"{prefix}*") == []
