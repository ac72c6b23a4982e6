"""The operator's command line: ``redis-session-sets`` (also ``python -m redis_session_sets``).

Answers "which sessions does user 42 have?" and "sign user 42 out everywhere" from a
shell. Human output by default, ``--json`` for scripts. Exit codes: 0 ok, 1 not found,
2 usage, 3 Redis unreachable (or refusing); every failure is one line on stderr, never a
traceback. The command line is a third shell over the sans-IO core, beside ``Store`` and
``AsyncStore``: it drives the core's operations itself so it can show progress between
batches. rich (the ``cli`` extra) is imported only to draw a progress bar.

Sessions hold whatever visitors sent: nothing read from Redis reaches the operator's
terminal raw. Control characters (C0, DEL, C1: terminal escape sequences), line and
paragraph separators and bidirectional overrides are printed as ``\\uXXXX`` escapes, in
the human output and in ``--json`` (where such an escape is valid JSON for the same text).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import redis
from redis.exceptions import AuthenticationError, RedisError

from ._drivers.connect import DEFAULT_URL, redact
from ._drivers.sync import Store
from ._engine.codec import text
from ._engine.errors import SessionStoreError
from ._engine.keys import SESSION_ID
from ._engine.maintenance import INDEXES, SESSIONS, KeyStats, Maintenance
from ._engine.protocol import Command, Iteration, Operation

T = TypeVar("T")

PROG = "redis-session-sets"
OK, NOT_FOUND, USAGE, UNREACHABLE = 0, 1, 2, 3
# The reason `revoke` and `delete` leave by default, so a revoked device can tell why its
# session ended (the app reads it with end_reason()); --reason gives another.
DEFAULT_REASON = "revoked"
MAX_REASON = 64
# Below this many sessions (or index keys) a progress bar would only flicker.
PROGRESS_THRESHOLD = 1000
BATCH = 500


class UsageError(Exception):
    """Bad arguments: exit code 2."""


class NotFound(Exception):
    """No such session: exit code 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, as every other failure."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _parse_optional(self, arg_string: str) -> Any:
        # Session ids are base64url and may start with '-' or '--': never read one as an
        # option (no option of ours is 22 or more such characters long).
        if SESSION_ID.fullmatch(arg_string):
            return None
        return super()._parse_optional(arg_string)


# -- arguments --------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before and after the verb (after it they override nothing unless
    given, hence SUPPRESS there)."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--url",
        default=default,
        help=f"Redis URL (default: $REDIS_URL, then {DEFAULT_URL})",
    )
    parser.add_argument(
        "--prefix", default="rss" if top else default, help="key prefix (default: rss)"
    )
    parser.add_argument(
        "--references",
        default=default,
        metavar="FIELDS",
        help="the app's reference fields, comma- or space-separated (default: found from the data)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else default,
        help="machine-readable output",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto" if top else default,
        help="progress bar on long operations (auto: on a terminal, over many sessions)",
    )


def _reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reason",
        default=DEFAULT_REASON,
        metavar="TEXT",
        help=(
            f"why, as the ended device's app will tell it (1-{MAX_REASON} characters; "
            f"default: {DEFAULT_REASON})"
        ),
    )


def check_reason(reason: str) -> str:
    if not 1 <= len(reason) <= MAX_REASON:
        raise UsageError(f"--reason must be 1-{MAX_REASON} characters, not {len(reason)}")
    return reason


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Inspect and revoke server-side sessions stored by redis-session-sets.",
    )
    _common(parser, top=True)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True

    def verb(name: str, help: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help, description=help)
        _common(sub, top=False)
        return sub

    for name, help in (
        ("list", "the live sessions whose FIELD holds VALUE"),
        ("count", "how many live sessions have FIELD = VALUE"),
        ("revoke", "delete every session whose FIELD holds VALUE"),
    ):
        sub = verb(name, help)
        sub.add_argument("field", metavar="FIELD")
        sub.add_argument("value", metavar="VALUE")
        if name == "revoke":
            sub.add_argument(
                "--keep",
                action="append",
                default=[],
                metavar="ID",
                help="a session id to keep (repeatable)",
            )
            _reason(sub)
    verb("show", "one session's fields, times and device").add_argument("id", metavar="ID")
    delete = verb("delete", "delete one session (and its index entries)")
    delete.add_argument("id", metavar="ID")
    _reason(delete)
    verb("stats", "number and memory of the prefix's sessions and indexes")
    verb("gc", "prune dead members from every index")
    demo = verb("demo", "run the demo web app (starts its own Redis without --url/$REDIS_URL)")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on")
    demo.add_argument("--port", type=int, default=8000, help="port to serve on")
    return parser


# -- driving the core ----------------------------------------------------------------


class Runner:
    """Runs core operations on a sync store and reports failures as exit codes."""

    def __init__(self, store: Store, progress: str, json_output: bool) -> None:
        self.store = store
        self.maintenance = Maintenance(store.core)
        self.progress_mode = progress
        self.json_output = json_output

    def run(self, operation: Operation[T]) -> T:
        return self.store.run(operation)

    def drive(self, operation: Operation[T], on_reply: Callable[[Any], None]) -> T:
        """Like ``run``, calling ``on_reply`` with each reply (for progress)."""
        return self.store.run(_observed(operation, on_reply))

    def iterate(self, iteration: Iteration) -> Iterator[list[str]]:
        """The batches an iterating operation emits."""
        return self.store.iterate(iteration)

    def bar(self, description: str, total: int | None) -> AbstractContextManager[Any]:
        """A rich progress bar on stderr, or a stand-in that draws nothing."""
        wanted = self.progress_mode == "always" or (
            self.progress_mode == "auto"
            and not self.json_output
            and sys.stderr.isatty()
            and (total is None or total >= PROGRESS_THRESHOLD)
        )
        if not wanted:
            return nullcontext(_NoBar())
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:  # the `cli` extra is not installed: no bar, same result
            return nullcontext(_NoBar())
        from rich.markup import escape

        progress = Progress(console=Console(stderr=True), transient=True)
        return _RichBar(progress, escape(shown(description)), total)


def _observed(operation: Operation[T], on_reply: Callable[[Any], None]) -> Operation[T]:
    """The same operation, showing each of its replies to ``on_reply`` on the way."""
    reply = None
    try:
        while True:
            reply = yield operation.send(reply)
            on_reply(reply)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class _NoBar:
    def advance(self, amount: int) -> None:
        pass


class _RichBar:
    def __init__(self, progress: Any, description: str, total: int | None) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=total)

    def __enter__(self) -> _RichBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, amount: int) -> None:
        self.progress.advance(self.task, amount)


# -- output ---------------------------------------------------------------------------

# What a terminal may act on rather than show: C0, DEL and C1 controls (ESC starts escape
# sequences; C1's CSI is ESC [ in one character), line and paragraph separators, and the
# bidirectional controls that reorder what is shown ("Trojan Source").
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NOT_C0 = f"\x7f-\x9f\u2028\u2029{_BIDI}\ud800-\udfff"
UNSAFE = re.compile(f"[\x00-\x1f{_NOT_C0}]")
# JSON text: json.dumps escapes C0 inside strings already, and its own layout is newlines.
UNSAFE_IN_JSON = re.compile(f"[{_NOT_C0}]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal might act on as a ``\\uXXXX`` escape."""
    return UNSAFE.sub(_escape, text)


def json_text(document: Any) -> str:
    """``document`` as JSON that shows no unsafe character raw (the escapes are valid
    JSON for the same text: ``jq`` reads back exactly what Redis holds)."""
    return UNSAFE_IN_JSON.sub(_escape, json.dumps(document, indent=2, ensure_ascii=False))


def shown(value: object) -> str:
    """Text from Redis (a field name, an index value) for the human output: unsafe
    characters escaped, and backslashes doubled so that an escape cannot be faked."""
    return terminal_safe(str(value).replace("\\", "\\\\"))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def human_bytes(amount: int) -> str:
    size = float(amount)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def emit(args: argparse.Namespace, document: Any, lines: Sequence[str]) -> None:
    if args.json:
        print(json_text(document))
    else:
        for line in lines:
            print(terminal_safe(line))  # a last guard: the parts are escaped already


# -- the verbs --------------------------------------------------------------------------


def references_option(args: argparse.Namespace) -> list[str] | None:
    if args.references is None:
        return None
    return [name for name in re.split(r"[,\s]+", args.references) if name]


def make_store(client: redis.Redis, args: argparse.Namespace, references: Sequence[str]) -> Store:
    # The CLI never writes a session, so max_age is irrelevant; the prefix and the
    # reference fields decide which keys it touches and cleans.
    return Store(client, references=list(dict.fromkeys(references)), prefix=args.prefix)


def cmd_list(runner: Runner, args: argparse.Namespace) -> int:
    # One call: the index read with each session's times and device (one round trip for
    # up to BATCH sessions, batches of bounded work beyond), most recently active first.
    sessions = runner.run(runner.store.core.session_infos(args.field, args.value, BATCH))
    document = {
        "field": args.field,
        "value": args.value,
        "count": len(sessions),
        "ids": [info.id for info in sessions],  # for `jq -r '.ids[]'`
        "sessions": [
            {
                "id": info.id,
                "created_at": iso(info.created_at),
                "touched_at": iso(info.touched_at),
                "expires_at": iso(info.expires_at),
                "user_agent": info.user_agent,
                "ip": info.ip,
            }
            for info in sessions
        ],
    }
    lines = [f"{len(sessions)} session(s) with {shown(args.field)} = {shown(args.value)}"]
    if sessions:
        lines.append(
            f"{'ID':<44} {'CREATED':<24} {'LAST ACTIVE':<24} {'EXPIRES':<24} {'IP':<15} USER AGENT"
        )
        lines += [
            f"{info.id:<44} {human_time(info.created_at):<24} "
            f"{human_time(info.touched_at):<24} {human_time(info.expires_at):<24} "
            f"{shown(info.ip or '-'):<15} {shown(info.user_agent or '-')}"
            for info in sessions
        ]
    emit(args, document, lines)
    return OK


def cmd_count(runner: Runner, args: argparse.Namespace) -> int:
    count = runner.run(runner.store.core.count(args.field, args.value))
    document = {"field": args.field, "value": args.value, "count": count}
    emit(args, document, [str(count)])
    return OK


def cmd_show(runner: Runner, args: argparse.Namespace) -> int:
    core = runner.store.core
    info = runner.run(core.info(args.id))
    if info is None:
        raise NotFound(ended(runner, args.id))
    fields = runner.run(core.get(args.id))
    indexed = runner.run(runner.maintenance.session_references(args.id))
    document = {
        "id": info.id,
        "key": core.session_key(info.id),
        "created_at": iso(info.created_at),
        "touched_at": iso(info.touched_at),
        "expires_at": iso(info.expires_at),
        "user_agent": info.user_agent,
        "ip": info.ip,
        "fields": fields,
        "indexed_by": [{"field": field, "value": value} for field, value in indexed],
    }
    lines = [
        f"session      {info.id}",
        f"key          {document['key']}",
        f"created      {human_time(info.created_at)}",
        f"last active  {human_time(info.touched_at)}",
        f"expires      {human_time(info.expires_at)}",
        f"user agent   {shown(info.user_agent or '-')}",
        f"ip           {shown(info.ip or '-')}",
        "indexed by   " + (", ".join(f"{f} = {shown(v)}" for f, v in indexed) or "-"),
        "fields:",
    ]
    names = {name: shown(name) for name in fields}
    width = max((len(name) for name in names.values()), default=0)
    lines += [
        f"  {names[name]:<{width}}  {terminal_safe(json.dumps(value, ensure_ascii=False))}"
        for name, value in sorted(fields.items())
    ]
    emit(args, document, lines)
    return OK


def ended(runner: Runner, session_id: str) -> str:
    """ "no session ID", with why it ended when a reason was left."""
    reason = runner.run(runner.store.core.end_reason(session_id))
    return f"no session {session_id}" + ("" if reason is None else f" (ended: {shown(reason)})")


def cmd_delete(runner: Runner, args: argparse.Namespace) -> int:
    reason = check_reason(args.reason)
    store = runner.store
    if references_option(args) is None:
        # Clean exactly the indexes the session is in, whatever the app configured.
        found = runner.run(runner.maintenance.session_references(args.id))
        store = make_store(store.client, args, [field for field, _ in found])  # type: ignore[arg-type]
    if not runner.run(store.core.delete(args.id, reason=reason)):
        raise NotFound(ended(runner, args.id))
    document = {"id": args.id, "deleted": True, "reason": reason}
    emit(args, document, [f"deleted session {args.id} (reason: {shown(reason)})"])
    return OK


def cmd_revoke(runner: Runner, args: argparse.Namespace) -> int:
    reason = check_reason(args.reason)
    core = runner.store.core
    store = runner.store
    total = runner.run(core.count(args.field, args.value))
    if total and references_option(args) is None:
        # The app's other reference fields, read from one of the sessions, so each
        # deleted session also leaves its other indexes at once.
        first = next(iter(runner.iterate(core.iter_sessions(args.field, args.value, 1))), [])
        if first:
            found = runner.run(runner.maintenance.session_references(first[0]))
            fields = [args.field, *(field for field, _ in found)]
            store = make_store(store.client, args, fields)  # type: ignore[arg-type]
            runner = Runner(store, runner.progress_mode, runner.json_output)
    operation = store.core.delete_all(
        args.field, args.value, keep=args.keep, reason=reason, batch_size=BATCH
    )
    with runner.bar(f"revoking {args.field} = {args.value}", total) as bar:
        revoked = runner.drive(operation, lambda reply: bar.advance(int(reply[1])))
    document = {
        "field": args.field,
        "value": args.value,
        "revoked": revoked,
        "kept": args.keep,
        "reason": reason,
    }
    line = f"revoked {revoked} session(s) with {shown(args.field)} = {shown(args.value)}"
    if args.keep:
        line += f" (kept {', '.join(shown(kept) for kept in args.keep)})"
    line += f" (reason: {shown(reason)})"
    emit(args, document, [line])
    return OK


def cmd_stats(runner: Runner, args: argparse.Namespace) -> int:
    sessions: KeyStats = runner.run(runner.maintenance.stats(SESSIONS))
    indexes: KeyStats = runner.run(runner.maintenance.stats(INDEXES))
    info = runner.run(_info_memory())
    used = int(info.get("used_memory", 0))
    document = {
        "prefix": args.prefix,
        "sessions": sessions.keys,
        "indexes": indexes.keys,
        "index_entries": indexes.members,
        "memory": {
            "sessions_bytes": sessions.bytes,
            "indexes_bytes": indexes.bytes,
            "used_memory_bytes": used,
        },
    }
    per = f", {sessions.bytes // sessions.keys} B each" if sessions.keys else ""
    lines = [
        f"prefix         {shown(args.prefix)}",
        f"sessions       {sessions.keys}  ({human_bytes(sessions.bytes)}{per})",
        f"indexes        {indexes.keys}  ({human_bytes(indexes.bytes)}, {indexes.members} entries)",
        f"redis memory   {human_bytes(used)} in use by the whole server",
    ]
    emit(args, document, lines)
    return OK


def _info_memory() -> Operation[dict[str, str]]:
    reply = yield Command(("INFO", "memory"))
    if isinstance(reply, dict):  # redis-py parses INFO into a dict
        return {str(k): str(v) for k, v in reply.items()}
    pairs = (line.split(":", 1) for line in text(reply).splitlines() if ":" in line)
    return {k: v.strip() for k, v in pairs}


def cmd_gc(runner: Runner, args: argparse.Namespace) -> int:
    maintenance = runner.maintenance
    indexes = removed = live = 0
    with runner.bar("pruning indexes", None) as bar:
        for batch in runner.iterate(maintenance.keys(INDEXES)):
            for key in batch:
                if maintenance.parse_reference_key(key) is None:
                    continue  # someone else's key under our prefix: not ours to prune
                pruned = runner.run(maintenance.prune_index(key, BATCH))
                indexes += 1
                removed += pruned.removed
                live += pruned.live
                bar.advance(1)
    document = {"indexes": indexes, "removed": removed, "live": live}
    lines = [f"pruned {removed} dead entr{'y' if removed == 1 else 'ies'} from {indexes} index(es)"]
    lines.append(f"{live} live entries remain")
    emit(args, document, lines)
    return OK


def cmd_demo(args: argparse.Namespace, url: str | None) -> int:
    try:
        # Imported only here: the demo needs the `demo` extra, the other verbs do not.
        demo = importlib.import_module("redis_session_sets.demo")
    except ImportError as error:
        raise UsageError(
            f"the demo needs the `demo` extra: pip install 'redis-session-sets[demo]' ({error})"
        ) from None
    code: int = demo.serve(url=url, host=args.host, port=args.port, prefix=args.prefix)
    return code


VERBS: dict[str, Callable[[Runner, argparse.Namespace], int]] = {
    "list": cmd_list,
    "count": cmd_count,
    "show": cmd_show,
    "delete": cmd_delete,
    "revoke": cmd_revoke,
    "stats": cmd_stats,
    "gc": cmd_gc,
}


# -- entry point ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    try:
        return _main(argv)
    except UsageError as error:
        return fail(USAGE, str(error))
    except NotFound as error:
        return fail(NOT_FOUND, str(error))
    except KeyboardInterrupt:
        return fail(130, "interrupted")


def fail(code: int, message: str) -> int:
    print(f"{PROG}: error: {terminal_safe(message)}", file=sys.stderr)
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    if argv is None:
        argv = sys.argv[1:]
    if not argv:
        return fail(USAGE, f"a verb is required (see {PROG} --help)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help printed and exited 0
        return int(done.code or 0)
    explicit_url = args.url or os.environ.get("REDIS_URL") or None
    if args.verb == "demo":
        return cmd_demo(args, explicit_url)
    url = explicit_url or DEFAULT_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=60)
    except ValueError as error:
        raise UsageError(f"bad --url {redact(url)}: {error}") from None
    try:
        fields = references_option(args) or []
        if args.verb in ("list", "count", "revoke"):
            fields = [args.field, *fields]
        try:
            store = make_store(client, args, fields)
        except (ValueError, TypeError) as error:
            raise UsageError(str(error)) from None
        runner = Runner(store, args.progress, args.json)
        try:
            return VERBS[args.verb](runner, args)
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return OK
        except (ValueError, TypeError) as error:
            raise UsageError(str(error)) from None
        except (SessionStoreError, RedisError, OSError) as error:
            return fail(UNREACHABLE, redis_failure(url, error))
    finally:
        client.close()


def redis_failure(url: str, error: BaseException) -> str:
    cause = error.__cause__ or error
    detail = " ".join(str(cause).split()) or type(cause).__name__
    if isinstance(cause, AuthenticationError):
        return f"Redis at {redact(url)} refused the credentials: {detail}"
    if isinstance(cause, redis.ConnectionError | redis.TimeoutError | OSError):
        return f"cannot reach Redis at {redact(url)}: {detail}"
    return f"Redis at {redact(url)} failed: {detail}"
