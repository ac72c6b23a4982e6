"""The command line against a real Redis: every verb, its --json output, every exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_session_sets import Store
from redis_session_sets._cli import main
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer, free_port
from tests.support.web import NOT_COUNTED

Run = tuple[int, str, str]


@pytest.fixture
def url(raw: redis.Redis, redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def store(sync_client: redis.Redis) -> Store:
    return Store(sync_client, references=["user_id", "tenant"])


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def sessions_of(store: Store, user: int, n: int, tenant: str = "acme") -> list[str]:
    ids = []
    for i in range(n):
        session_id = store.create_session_id()
        store.set(session_id, {"user_id": user, "tenant": tenant, "n": i})
        ids.append(session_id)
    return ids


# -- list / count ------------------------------------------------------------------------


def test_list_json_has_each_live_session_with_its_times(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    mine = sessions_of(store, 42, 3)
    sessions_of(store, 7, 2)
    document = cli_json(capsys, "--url", url, "list", "user_id", "42")
    assert document["field"] == "user_id"
    assert document["value"] == "42"
    assert document["count"] == 3
    assert {s["id"] for s in document["sessions"]} == set(mine)
    assert document["ids"] == [s["id"] for s in document["sessions"]]
    for session in document["sessions"]:
        created = datetime.fromisoformat(session["created_at"])
        expires = datetime.fromisoformat(session["expires_at"])
        assert created.tzinfo is not None
        assert expires > created
        assert session["user_agent"] is session["ip"] is None  # not tracked by this store


def test_list_shows_the_devices_most_recently_active_first(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    old, new = sessions_of(store, 42, 2)
    # What the middleware's track keeps (__ua, __ip), and an older last activity for `old`.
    raw.hset(store.get_session_key(new), mapping={"__ua": '"Firefox/128.0"', "__ip": '"10.0.0.7"'})
    raw.hset(store.get_session_key(old), "__touched", "1000000000000")
    with CommandLog(raw.connection_pool.connection_kwargs["port"]) as log:
        document = cli_json(capsys, "--url", url, "list", "user_id", "42")
    assert document["ids"] == [new, old]
    assert document["sessions"][0]["user_agent"] == "Firefox/128.0"
    assert document["sessions"][0]["ip"] == "10.0.0.7"
    assert document["sessions"][1]["touched_at"] == "2001-09-09T01:46:40.000Z"
    # One call for the whole list: the index read with every session's times and device.
    sent = [name for name in log.names if name not in NOT_COUNTED]
    assert len(sent) == 1 and sent[0].startswith("EVAL"), log.commands
    code, out, _ = cli(capsys, "--url", url, "list", "user_id", "42")
    assert code == 0
    header, first, second = out.splitlines()[1:]
    assert header.split() == [
        *("ID", "CREATED", "LAST", "ACTIVE", "EXPIRES", "IP", "USER", "AGENT")
    ]
    assert first.startswith(new) and first.endswith(" 10.0.0.7        Firefox/128.0")
    assert second.startswith(old) and second.endswith(" -               -")


def test_list_escapes_what_visitors_sent(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    agent = "Evil\x1b[2J\u202e/1.0"  # a user agent is whatever a visitor sends
    raw.hset(store.get_session_key(session_id), "__ua", json.dumps(agent))
    code, out, err = cli(capsys, "--url", url, "list", "user_id", "42")
    assert code == 0, err
    assert not RAW_CONTROLS.search(out), repr(out)
    assert out.splitlines()[2].endswith(" Evil\\u001b[2J\\u202e/1.0")
    code, out, err = cli(capsys, "--url", url, "list", "user_id", "42", "--json")
    assert not RAW_CONTROLS.search(out), repr(out)
    assert json.loads(out)["sessions"][0]["user_agent"] == agent


def test_list_human_output_is_a_table(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    mine = sessions_of(store, 42, 2)
    code, out, err = cli(capsys, "--url", url, "list", "user_id", "42")
    assert code == 0
    assert err == ""
    assert out.splitlines()[0] == "2 session(s) with user_id = 42"
    assert "LAST ACTIVE" in out
    assert all(session_id in out for session_id in mine)


def test_list_of_nobody_is_empty_not_an_error(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert cli_json(capsys, "--url", url, "list", "user_id", "nobody")["sessions"] == []


def test_count(capsys: pytest.CaptureFixture[str], url: str, store: Store) -> None:
    sessions_of(store, 42, 4)
    assert cli_json(capsys, "--url", url, "count", "user_id", "42")["count"] == 4
    assert cli(capsys, "--url", url, "count", "tenant", "acme") == (0, "4\n", "")
    assert cli(capsys, "--url", url, "count", "user_id", "7") == (0, "0\n", "")


def test_options_after_the_verb(capsys: pytest.CaptureFixture[str], url: str, store: Store) -> None:
    sessions_of(store, 42, 1)
    code, out, _ = cli(capsys, "count", "user_id", "42", "--url", url, "--json")
    assert code == 0
    assert json.loads(out)["count"] == 1


def test_prefix_selects_the_store(
    capsys: pytest.CaptureFixture[str], url: str, sync_client: redis.Redis
) -> None:
    sessions_of(Store(sync_client, references=["user_id"], prefix="app*"), 42, 2)
    sessions_of(Store(sync_client, references=["user_id"], prefix="appx"), 42, 3)
    assert (
        cli_json(capsys, "--url", url, "--prefix", "app*", "count", "user_id", "42")["count"] == 2
    )
    # SCAN patterns escape the prefix: "app*" does not also match "appx".
    assert cli_json(capsys, "--url", url, "--prefix", "app*", "stats")["sessions"] == 2


# -- show / delete -----------------------------------------------------------------------


def test_show_json(capsys: pytest.CaptureFixture[str], url: str, store: Store) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    store.set(session_id, {"cart": ["a", "b"]})
    document = cli_json(capsys, "--url", url, "show", session_id)
    assert document["id"] == session_id
    assert document["key"] == f"rss:s:{{{session_id}}}"
    assert document["fields"] == {"user_id": 42, "tenant": "acme", "n": 0, "cart": ["a", "b"]}
    assert sorted(map(tuple, (d.values() for d in document["indexed_by"]))) == [
        ("tenant", "acme"),
        ("user_id", "42"),
    ]
    datetime.fromisoformat(document["touched_at"])


def test_show_human(capsys: pytest.CaptureFixture[str], url: str, store: Store) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    code, out, _ = cli(capsys, "--url", url, "show", session_id)
    assert code == 0
    assert f"session      {session_id}" in out
    assert "user_id = 42" in out
    assert '  tenant   "acme"' in out


# Terminal escape sequences a visitor may put in a session: clear the screen, set the
# window title, C1's one-character CSI, DEL, a bidi override, a line separator, a newline
# that would fake a line of output.
HOSTILE = ["\x1b[2J", "\x1b]0;owned\x07", "\x9b31m", "\x7f", "\u202e", "\u2028", "x\nfake: 1"]
RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")


def test_show_escapes_control_characters(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    key = store.get_session_key(session_id)
    for i, hostile in enumerate(HOSTILE):
        raw.hset(key, f"name{i}{hostile}", json.dumps(f"value{hostile}"))
    raw.hset(key, "not json", "\x1b[31mred\\u001b")  # hand-written, read back as text
    code, out, err = cli(capsys, "--url", url, "show", session_id)
    assert code == 0, err
    assert not RAW_CONTROLS.search(out), repr(out)
    assert "fake: 1" not in out.splitlines()  # no line of output was faked
    assert "name0\\u001b[2J" in out  # shown escaped
    assert '"value\\u009b31m"' in out
    assert "\\u001b[31mred\\\\u001b" in out  # a literal backslash cannot fake an escape
    # --json: escaped too, and still the very same text once decoded.
    code, out, err = cli(capsys, "--url", url, "show", session_id, "--json")
    assert code == 0, err
    assert not RAW_CONTROLS.search(out), repr(out)
    fields = json.loads(out)["fields"]
    for i, hostile in enumerate(HOSTILE):
        assert fields[f"name{i}{hostile}"] == f"value{hostile}"
    assert fields["not json"] == "\x1b[31mred\\u001b"


def test_index_values_and_arguments_are_escaped_too(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    session_id = store.create_session_id()
    store.set(session_id, {"user_id": 1, "tenant": "\x1b]0;owned\x07"})
    outputs = {}
    for argv in (
        ("show", session_id),
        ("list", "tenant", "\x1b]0;owned\x07"),
        ("revoke", "tenant", "\x1b]0;owned\x07"),
        ("list", "bad\x1b[2J", "1"),  # a usage error, on stderr
    ):
        code, out, err = cli(capsys, "--url", url, *argv)
        assert not RAW_CONTROLS.search(out + err), (argv, out, err)
        outputs[argv[0] if code == 0 else "error"] = out + err
    assert "tenant = \\u001b]0;owned\\u0007" in outputs["show"]
    assert "revoked 1 session(s) with tenant = \\u001b]0;owned\\u0007" in outputs["revoke"]
    assert "bad" in outputs["error"]


def test_show_missing_is_exit_1(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = cli(capsys, "--url", url, "show", "A" * 43)
    assert (code, out) == (1, "")
    assert err == f"redis-session-sets: error: no session {'A' * 43}\n"


def test_show_of_an_ended_session_says_why(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    store.delete(session_id, reason="password reset")
    code, out, err = cli(capsys, "--url", url, "show", session_id)
    assert (code, out) == (1, "")
    assert err == f"redis-session-sets: error: no session {session_id} (ended: password reset)\n"


def test_show_has_the_device(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    raw.hset(store.get_session_key(session_id), mapping={"__ua": '"curl/8.5.0"', "__ip": '"::1"'})
    document = cli_json(capsys, "--url", url, "show", session_id)
    assert (document["user_agent"], document["ip"]) == ("curl/8.5.0", "::1")
    out = cli(capsys, "--url", url, "show", session_id)[1]
    assert "user agent   curl/8.5.0" in out
    assert "ip           ::1" in out


def test_delete_cleans_every_index_without_being_told_them(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    session_id, other = sessions_of(store, 42, 2)
    document = cli_json(capsys, "--url", url, "delete", session_id)
    assert document == {"id": session_id, "deleted": True, "reason": "revoked"}
    assert not raw.exists(store.get_session_key(session_id))
    for field, value in (("user_id", 42), ("tenant", "acme")):
        members = raw.zrange(store.get_reference_key(field, value), 0, -1)
        assert members == [other.encode()]
    code, _, err = cli(capsys, "--url", url, "delete", session_id)
    assert code == 1
    assert "no session" in err
    assert "(ended: revoked)" in err  # the default reason, left for the device to tell


def test_delete_and_revoke_leave_the_reason_given(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    first, second, third = sessions_of(store, 42, 3)
    code, out, _ = cli(capsys, "--url", url, "delete", first, "--reason", "stolen laptop")
    assert (code, out) == (0, f"deleted session {first} (reason: stolen laptop)\n")
    assert store.end_reason(first) == "stolen laptop"
    document = cli_json(
        capsys, "--url", url, "revoke", "user_id", "42", "--keep", third, "--reason", "x" * 64
    )
    assert (document["revoked"], document["reason"]) == (1, "x" * 64)
    assert store.end_reason(second) == "x" * 64
    assert store.end_reason(third) is None  # kept: not ended
    assert cli_json(capsys, "--url", url, "revoke", "user_id", "42")["reason"] == "revoked"
    assert store.end_reason(third) == "revoked"


@pytest.mark.parametrize("reason", ["", "x" * 65])
@pytest.mark.parametrize("verb", [["delete", "A" * 43], ["revoke", "user_id", "42"]])
def test_a_reason_of_the_wrong_length_is_exit_2_and_ends_nothing(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, verb: list[str], reason: str
) -> None:
    sessions_of(store, 42, 1)
    code, out, err = cli(capsys, "--url", url, *verb, "--reason", reason)
    assert (code, out) == (2, "")
    assert err == (
        f"redis-session-sets: error: --reason must be 1-64 characters, not {len(reason)}\n"
    )
    assert store.count("user_id", 42) == 1


def test_delete_with_explicit_references(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    (session_id,) = sessions_of(store, 42, 1)
    code, out, _ = cli(capsys, "--url", url, "--references", "user_id,tenant", "delete", session_id)
    assert code == 0
    assert out == f"deleted session {session_id} (reason: revoked)\n"
    assert raw.keys("rss:*") == [f"rss:e:{{{session_id}}}".encode()]  # only the reason
    # Space-separated works too; a field left out keeps its (now stale) index entry.
    (session_id,) = sessions_of(store, 42, 1)
    code, _, _ = cli(capsys, "--url", url, "--references", "user_id ", "delete", session_id)
    assert code == 0
    assert raw.keys("rss:[sr]:*") == [store.get_reference_key("tenant", "acme").encode()]


# -- revoke --------------------------------------------------------------------------------


def test_revoke_keeps_the_kept_and_cleans_other_indexes(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    mine = sessions_of(store, 42, 5)
    theirs = sessions_of(store, 7, 2)
    document = cli_json(capsys, "--url", url, "revoke", "user_id", "42", "--keep", mine[0])
    assert document == {
        "field": "user_id",
        "value": "42",
        "revoked": 4,
        "kept": [mine[0]],
        "reason": "revoked",
    }
    assert store.sessions("user_id", 42) == [mine[0]]
    assert sorted(store.sessions("user_id", 7)) == sorted(theirs)
    # The tenant index (found from the sessions, not from --references) lost them at once.
    assert raw.zcard(store.get_reference_key("tenant", "acme")) == 3


def test_ids_that_look_like_options(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    """base64url ids may start with '-' or '--'; they are still ids."""
    dash, dashes, plain = "-" + "A" * 42, "--" + "B" * 41, "C" * 43
    for session_id in (dash, dashes, plain):
        store.set(session_id, {"user_id": 42})
    assert cli_json(capsys, "--url", url, "show", dash)["id"] == dash
    assert cli(capsys, "--url", url, "delete", dashes)[0] == 0
    document = cli_json(capsys, "--url", url, "revoke", "user_id", "42", "--keep", dash)
    assert document["revoked"] == 1
    assert store.sessions("user_id", 42) == [dash]


def test_revoke_with_a_progress_bar(
    capsys: pytest.CaptureFixture[str], url: str, store: Store
) -> None:
    sessions_of(store, 42, 3)
    code, out, _ = cli(capsys, "--url", url, "--progress", "always", "revoke", "user_id", "42")
    assert code == 0
    assert out == "revoked 3 session(s) with user_id = 42 (reason: revoked)\n"
    assert store.count("user_id", 42) == 0


# -- stats / gc ----------------------------------------------------------------------------


def test_stats(capsys: pytest.CaptureFixture[str], url: str, store: Store) -> None:
    sessions_of(store, 42, 3)
    sessions_of(store, 7, 2, tenant="umbrella")
    document = cli_json(capsys, "--url", url, "stats")
    assert document["sessions"] == 5
    assert document["indexes"] == 4  # user 42, user 7, two tenants
    assert document["index_entries"] == 10
    memory = document["memory"]
    assert memory["used_memory_bytes"] > memory["sessions_bytes"] > 0
    assert memory["indexes_bytes"] > 0
    code, out, _ = cli(capsys, "--url", url, "stats")
    assert code == 0
    assert out.startswith("prefix         rss\nsessions       5  (")


def test_gc_prunes_dead_and_stale_members(
    capsys: pytest.CaptureFixture[str], url: str, store: Store, raw: redis.Redis
) -> None:
    live = sessions_of(store, 42, 3)
    index = store.get_reference_key("user_id", 42)
    raw.zadd(index, {"E" * 43: 1})  # expired long ago
    raw.zadd(index, {"G" * 43: 10**13})  # its hash is gone (eviction, FLUSHDB, ...)
    raw.hset(store.get_session_key(live[0]), "user_id", "7")  # edited by hand: stale here
    document = cli_json(capsys, "--url", url, "--progress", "always", "gc")
    assert document == {"indexes": 2, "removed": 3, "live": 5}
    assert sorted(raw.zrange(index, 0, -1)) == sorted(s.encode() for s in live[1:])
    assert cli_json(capsys, "--url", url, "gc")["removed"] == 0


def test_gc_leaves_foreign_keys_alone(
    capsys: pytest.CaptureFixture[str], url: str, raw: redis.Redis
) -> None:
    raw.zadd("rss:r:not an index", {"x": 1})
    document = cli_json(capsys, "--url", url, "gc")
    assert document["indexes"] == 0
    assert raw.exists("rss:r:not an index")


# -- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "user_id", "42"],
        ["count", "user_id", "42"],
        ["show", "A" * 43],
        ["delete", "A" * 43],
        ["revoke", "user_id", "42"],
        ["stats"],
        ["gc"],
    ],
)
def test_redis_unreachable_is_exit_3(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = cli(capsys, "--url", closed, *argv)
    assert (code, out) == (3, "")
    assert err.startswith(f"redis-session-sets: error: cannot reach Redis at {closed}")
    assert err.count("\n") == 1


def test_password_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    closed = f"redis://admin:s3cret@127.0.0.1:{free_port()}/0"
    code, _, err = cli(capsys, "--url", closed, "stats")
    assert code == 3
    assert "s3cret" not in err
    assert "admin:***@" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: VERB"),
        (["frobnicate"], "invalid choice"),
        (["count", "user_id"], "required: VALUE"),
        (["show", "not-an-id!"], "malformed session id"),
        (["count", "bad field", "1"], "reference field names must match"),
        (["--url", "foo://x", "stats"], "bad --url"),
        (["revoke", "user_id", "42", "--keep", "x"], "malformed session id"),
        (["--progress", "sometimes", "gc"], "invalid choice"),
    ],
)
def test_usage_errors_are_exit_2(
    capsys: pytest.CaptureFixture[str], url: str, argv: list[str], message: str
) -> None:
    if "--url" not in argv:
        argv = ["--url", url, *argv]
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("redis-session-sets: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_no_arguments_at_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys) == (
        2,
        "",
        "redis-session-sets: error: a verb is required (see redis-session-sets --help)\n",
    )


def test_help_is_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    for verb in ("list", "count", "show", "revoke", "delete", "stats", "gc", "demo"):
        assert verb in out


# -- the installed entry points ------------------------------------------------------------


def test_console_script_and_python_m(url: str, store: Store) -> None:
    sessions_of(store, 42, 2)
    script = Path(sys.executable).parent / "redis-session-sets"
    environment = {**os.environ, "REDIS_URL": url}
    for command in ([str(script)], [sys.executable, "-m", "redis_session_sets"]):
        done = subprocess.run(
            [*command, "count", "user_id", "42", "--json"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["count"] == 2  # the URL came from $REDIS_URL
    closed = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "redis_session_sets", "--url", closed, "gc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_output_cut_short_by_head_is_quiet(url: str, store: Store) -> None:
    sessions_of(store, 42, 1500)  # far more output than a pipe buffers
    process = subprocess.Popen(
        [sys.executable, "-m", "redis_session_sets", "--url", url, "list", "user_id", "42"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"1500 session(s)")
    process.stdout.close()  # what `| head -1` does
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
