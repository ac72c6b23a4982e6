"""Fuzzing everything a client controls, through the example apps of ``examples/``.

Hypothesis plays a browser that mostly behaves (keeps its cookie, posts the CSRF token
of its page) and often does not: raw bytes as the Cookie header, its cookie mutated,
duplicated, quoted, 4 KB long or swapped for junk; CSRF tokens missing, mutated or junk;
form fields of any text; bodies that are not even UTF-8. Each app runs on its real stack
(a raw ASGI call for Starlette and FastAPI, the Flask test client), while MONITOR records
every command the Redis server receives.

Checked: never a 500 (or an exception out of the app); a POST without its page's CSRF
token is refused; a cookie the server did not issue is never signed in; and every key
the server saw is a session key built from a 22-character SHA-256 id or an index key of a
user id that a successful sign-in accepted. No token from a cookie (issued or forged)
ever appears in any command: the secret never reaches Redis.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import flask
import pytest
import redis
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples import fastapi_app, flask_app, starlette_app
from redis_session_sets import AsyncStore, SessionMiddleware, Store, get_session
from redis_session_sets.flask import RedisSessionInterface
from redis_session_sets.starlette import DictSessionMiddleware
from tests.support.monitor import CommandLog
from tests.support.servers import RedisServer
from tests.support.stress import budget

KEYS = ["fuzz-key"]
SESSION_KEY = re.compile(rb"rss:s:\{[A-Za-z0-9_-]{22}\}")
INDEX_KEY = re.compile(rb"rss:r:user_id:\{(.*)\}", re.S)
CSRF_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')
ROUTES = ["GET /", "GET /", "GET /sessions", "POST /sign-in", "POST /sign-in", "POST /sign-out"]
ROUTES += ["POST /sign-out-everywhere"]

junk_text = st.text(st.characters(codec="utf-8"), max_size=120)
cookies = st.one_of(
    st.just(("own",)),
    st.just(("own",)),
    st.just(("none",)),
    st.tuples(st.just("bytes"), st.binary(max_size=300)),
    st.tuples(st.just("value"), junk_text),
    st.tuples(st.just("mutate"), st.integers(0, 200), st.characters(codec="latin-1")),
    st.tuples(st.just("truncate"), st.integers(0, 200)),
    st.just(("duplicate",)),
    st.just(("quoted",)),
    st.just(("huge",)),
    st.just(("unsigned",)),
)
csrf_tokens = st.one_of(
    st.just(("valid",)),
    st.just(("valid",)),
    st.just(("missing",)),
    st.tuples(st.just("text"), junk_text),
    st.tuples(st.just("mutate"), st.integers(0, 70), st.characters(codec="latin-1")),
)
user_ids = st.one_of(
    junk_text,
    st.sampled_from(["ada", " ada ", "x" * 64, "x" * 65, "{", "}", "*", "\x00", "rss:s:{x}", ""]),
)


def behaved(route: str, user_id: str = "ada") -> tuple[Any, ...]:
    return (route, ("own",), ("valid",), user_id, {}, None)


requests = st.tuples(
    st.sampled_from(ROUTES),
    cookies,
    csrf_tokens,
    user_ids,
    st.dictionaries(junk_text, junk_text, max_size=3),
    st.none() | st.binary(max_size=200),  # a raw body instead of the encoded form
)
# Each example first signs in like a browser (with a fuzzed user id), then misbehaves.
scenarios = st.builds(
    lambda user_id, steps: [behaved("GET /"), behaved("POST /sign-in", user_id), *steps],
    user_ids,
    st.lists(requests, min_size=1, max_size=8),
)


@dataclass
class Browser:
    cookie: str | None = None  # the session cookie's value, as last set
    csrf: str | None = None  # the CSRF token of the last page seen
    issued: set[str] = field(default_factory=set)  # every cookie value the server set
    accepted: set[str] = field(default_factory=set)  # user ids a sign-in accepted
    name: str = "session-id"  # the session cookie's name

    def cookie_header(self, choice: tuple[Any, ...]) -> tuple[bytes | None, bool]:
        """The Cookie header to send, and whether it carries the browser's own cookie."""
        own = self.cookie
        kind = choice[0]
        if kind == "own" or (own is None and kind in ("mutate", "truncate", "duplicate")):
            return (None if own is None else f"{self.name}={own}".encode()), own is not None
        if kind == "none":
            return None, False
        if kind == "bytes":
            return choice[1], False
        if kind == "value":
            value = str(choice[1])
        elif kind == "mutate":
            assert own is not None
            at = choice[1] % len(own)
            value = own[:at] + choice[2] + own[at + 1 :]
        elif kind == "truncate":
            assert own is not None
            value = own[: choice[1] % len(own)]
        elif kind == "duplicate":
            header = f"{self.name}={own}; other=1; {self.name}={own}".encode()
            return header, False  # a cookie sent twice is no session (rule 4)
        elif kind == "quoted":
            value = f'"{own}"' if own else '""'
        elif kind == "huge":
            value = (own or "a") + "A" * 5000
        else:  # unsigned: a token-shaped value without the signature
            value = (own or "x" * 43).split(".")[0]
        header = f"theme=dark; {self.name}={value}".encode("utf-8", "surrogateescape")
        # RFC 6265 lets a cookie value be wrapped in double quotes: still the same cookie.
        return header, own is not None and value in (own, f'"{own}"')

    def form(self, choice: tuple[Any, ...], user_id: str, extra: dict[str, str]) -> bytes:
        fields = dict(extra)
        kind = choice[0]
        if kind == "valid" and self.csrf is not None:
            fields["csrf_token"] = self.csrf
        elif kind == "text":
            fields["csrf_token"] = choice[1]
        elif kind == "mutate" and self.csrf is not None:
            at = choice[1] % len(self.csrf)
            fields["csrf_token"] = self.csrf[:at] + choice[2] + self.csrf[at + 1 :]
        fields["user_id"] = user_id
        return urllib.parse.urlencode(fields).encode()

    def sends_valid_csrf(self, choice: tuple[Any, ...]) -> bool:
        return choice[0] == "valid" and self.csrf is not None

    def received(self, set_cookies: list[str], page: str) -> None:
        for line in set_cookies:
            name, _, rest = line.partition("=")
            value, _, attributes = rest.partition(";")
            if name.strip() != self.name:
                continue
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookie = None
            else:
                self.cookie = value
                self.issued.add(value)
        found = CSRF_IN_PAGE.search(page)
        if found:
            self.csrf = found.group(1)


Reply = tuple[int, list[str], str]  # status, Set-Cookie lines, page
Send = Callable[[str, str, bytes | None, bytes, str], Awaitable[Reply]]


async def play(send: Send, browser: Browser, steps: list[tuple[Any, ...]]) -> None:
    for route, cookie_choice, csrf_choice, user_id, extra, raw_body in steps:
        method, path = route.split(" ")
        header, own = browser.cookie_header(cookie_choice)
        body = b""
        content_type = "application/x-www-form-urlencoded"
        if method == "POST":
            body = raw_body if raw_body is not None else browser.form(csrf_choice, user_id, extra)
        valid_csrf = browser.sends_valid_csrf(csrf_choice) and raw_body is None and own
        status, set_cookies, page = await send(method, path, header, body, content_type)
        assert status < 500, (route, header, body, status, page[:300])
        if method == "POST" and not valid_csrf:
            assert status in (400, 403, 422), (route, header, body, status)
        if path == "/sessions" and not own:
            assert status == 401, (header, status)  # a forged cookie is nobody's session
        if path == "/sign-in" and status == 303:
            browser.accepted |= {user_id, user_id.strip()}
        browser.received(set_cookies, page)


def check_keys(log: CommandLog, browser: Browser) -> None:
    accepted = {user_id.encode("utf-8", "surrogateescape") for user_id in browser.accepted}
    for key in log.keys:
        if SESSION_KEY.fullmatch(key):
            continue
        index = INDEX_KEY.fullmatch(key)
        assert index and index.group(1) in accepted, f"a key from unvalidated input: {key!r}"
    tokens = {value.split(".")[0].encode() for value in browser.issued}
    for args in log.all_commands:
        for arg in args:
            assert not any(token in arg for token in tokens), f"a token reached Redis: {args}"


async def asgi_call(
    app: Any, method: str, path: str, cookie: bytes | None, body: bytes, content_type: str
) -> Reply:
    """One request through an ASGI app, with the Cookie header exactly as given."""
    headers = [(b"host", b"t"), (b"content-type", content_type.encode())]
    headers.append((b"content-length", str(len(body)).encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("t", 80),
    }
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.get_running_loop().create_future()  # a client that stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    lines = [v.decode("latin-1") for k, v in start["headers"] if k == b"set-cookie"]
    page = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], lines, page.decode("utf-8", "replace")


def fuzz_settings() -> settings:
    return settings(
        max_examples=budget(25, 400),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize("module", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_fuzzed_clients_of_the_asgi_examples(module: Any, redis_server: RedisServer) -> None:
    browser = Browser()

    async def scenario(steps: list[tuple[Any, ...]]) -> None:
        client = redis.asyncio.Redis(port=redis_server.port)
        app = module.create_app(client, KEYS)

        async def call(*args: Any) -> Reply:
            return await asgi_call(app, *args)

        try:
            await play(call, browser, steps)
        finally:
            await client.aclose()

    @fuzz_settings()
    @given(steps=scenarios)
    def run(steps: list[tuple[Any, ...]]) -> None:
        browser.cookie = browser.csrf = None
        asyncio.run(scenario(steps))

    with CommandLog(redis_server.port) as log:
        run()
    check_keys(log, browser)


def test_fuzzed_clients_of_the_flask_example(redis_server: RedisServer) -> None:
    browser = Browser()
    client = redis.Redis(port=redis_server.port)
    app = flask_app.create_app(client, KEYS)

    async def send(
        method: str, path: str, cookie: bytes | None, body: bytes, content_type: str
    ) -> Reply:
        environ = {} if cookie is None else {"HTTP_COOKIE": cookie.decode("latin-1")}
        # use_cookies=False: a cookie jar would replace (or drop) the raw header.
        with app.test_client(use_cookies=False) as tester:
            response = tester.open(
                path,
                method=method,
                data=body,
                content_type=content_type,
                environ_overrides=environ,
            )
            lines = response.headers.getlist("Set-Cookie")
            return response.status_code, lines, response.get_data(as_text=True)

    @fuzz_settings()
    @given(steps=scenarios)
    def run(steps: list[tuple[Any, ...]]) -> None:
        browser.cookie = browser.csrf = None
        asyncio.run(play(send, browser, steps))

    try:
        with CommandLog(redis_server.port) as log:
            run()
        check_keys(log, browser)
    finally:
        client.close()


async def counter_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Reads the session; on /write also writes it (a bare ASGI app under the middleware)."""
    session = get_session(scope)
    data = await session.get()
    if scope["path"] == "/write":
        await session.incr("n")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": repr(data).encode()})


@fuzz_settings()
@given(
    cookie=st.binary(max_size=300)
    | st.builds(lambda v: f"session-id={v}".encode("utf-8", "surrogateescape"), junk_text)
    | st.builds(lambda v: f"session-id={v}".encode(), st.from_regex(r"[A-Za-z0-9_-]{20,130}")),
    path=st.sampled_from(["/", "/write"]),
)
def test_unsigned_cookies_are_validated_before_any_key_is_built(
    redis_server: RedisServer, cookie: bytes, path: str
) -> None:
    """With ``signed=False`` no signature screens the cookie: its shape is all that is
    checked, so fuzz the value itself. Only ids derived from token-shaped values may
    name keys, and the cookie's own text never reaches Redis."""

    async def scenario() -> Reply:
        client = redis.asyncio.Redis(port=redis_server.port)
        store = AsyncStore(client)
        app = SessionMiddleware(counter_app, store=store, signed=False)
        try:
            return await asgi_call(app, "GET", path, cookie, b"", "text/plain")
        finally:
            await client.aclose()

    with CommandLog(redis_server.port) as log:
        status, _, _ = asyncio.run(scenario())
    assert status == 200
    assert all(SESSION_KEY.fullmatch(key) for key in log.keys), log.keys
    value = cookie.partition(b"=")[2].strip()
    if len(value) >= 8:
        assert not any(value in arg for args in log.all_commands for arg in args[1:])


# -- the drop-in dict sessions ------------------------------------------------------

adapter_steps = st.lists(
    st.tuples(st.sampled_from(["/", "/write"]), cookies, st.binary(max_size=200)),
    min_size=1,
    max_size=6,
)


async def dict_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Reads ``scope["session"]``; on /write stores the raw body (any bytes) in it."""
    session = scope["session"]
    if scope["path"] == "/write":
        body = (await receive())["body"]
        session["note"] = body.decode("utf-8", "replace")
        session["user_id"] = "ada"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": repr(sorted(session)).encode()})


async def play_adapter(send: Send, browser: Browser, steps: list[tuple[Any, ...]]) -> None:
    browser.cookie = None
    for path, cookie_choice, body in [("/write", ("own",), b"first"), *steps]:
        header, own = browser.cookie_header(cookie_choice)
        method = "POST" if path == "/write" else "GET"
        status, set_cookies, page = await send(method, path, header, body, "text/plain")
        assert status == 200, (path, header, status, page[:300])
        if path == "/" and not own:
            assert page == "[]", (header, page)  # a cookie not issued is nobody's session
        browser.received(set_cookies, "")
    browser.accepted.add("ada")
    assert browser.issued, "the server never issued a cookie: the test proved nothing"


def test_fuzzed_cookies_of_the_starlette_dict_sessions(redis_server: RedisServer) -> None:
    browser = Browser()

    async def scenario(steps: list[tuple[Any, ...]]) -> None:
        client = redis.asyncio.Redis(port=redis_server.port)
        store = AsyncStore(client, references=["user_id"])
        app = DictSessionMiddleware(dict_app, store=store, secret_keys=KEYS)
        try:
            await play_adapter(lambda *args: asgi_call(app, *args), browser, steps)
        finally:
            await client.aclose()

    @fuzz_settings()
    @given(steps=adapter_steps)
    def run(steps: list[tuple[Any, ...]]) -> None:
        asyncio.run(scenario(steps))

    with CommandLog(redis_server.port) as log:
        run()
    check_keys(log, browser)


def test_fuzzed_cookies_of_the_flask_dict_sessions(redis_server: RedisServer) -> None:
    browser = Browser(name="session")  # Flask's SESSION_COOKIE_NAME
    client = redis.Redis(port=redis_server.port)
    app = flask.Flask(__name__)
    app.secret_key = KEYS[0]
    app.session_interface = RedisSessionInterface(Store(client, references=["user_id"]))

    @app.route("/", methods=["GET"])
    def read() -> str:
        return repr(sorted(flask.session))

    @app.route("/write", methods=["POST"])
    def write() -> str:
        flask.session["note"] = flask.request.get_data().decode("utf-8", "replace")
        flask.session["user_id"] = "ada"
        return repr(sorted(flask.session))

    async def send(
        method: str, path: str, cookie: bytes | None, body: bytes, content_type: str
    ) -> Reply:
        environ = {} if cookie is None else {"HTTP_COOKIE": cookie.decode("latin-1")}
        with app.test_client(use_cookies=False) as tester:
            response = tester.open(
                path, method=method, data=body, content_type=content_type, environ_overrides=environ
            )
            lines = response.headers.getlist("Set-Cookie")
            return response.status_code, lines, response.get_data(as_text=True)

    @fuzz_settings()
    @given(steps=adapter_steps)
    def run(steps: list[tuple[Any, ...]]) -> None:
        asyncio.run(play_adapter(send, browser, steps))

    try:
        with CommandLog(redis_server.port) as log:
            run()
        check_keys(log, browser)
    finally:
        client.close()


def test_fuzzed_cookies_of_the_django_engine(django_redis: redis.Redis) -> None:
    """The Django engine (tests/adapters/django_project) through Django's test client: its cookie
    carries the bare token, so its shape is all that screens it."""
    from django.test import Client

    browser = Browser(name="sessionid")
    port = django_redis.connection_pool.connection_kwargs["port"]

    async def send(
        method: str, path: str, cookie: bytes | None, body: bytes, content_type: str
    ) -> Reply:
        client = Client()
        extra = {} if cookie is None else {"HTTP_COOKIE": cookie.decode("latin-1")}
        if path == "/write":
            response = client.get(f"/set/note/{len(body)}/", **extra)
        else:
            response = client.get("/get/", **extra)
        lines = [morsel.OutputString() for morsel in response.cookies.values()]
        page = response.content.decode()
        return response.status_code, lines, "[]" if page == "{}" else page

    @fuzz_settings()
    @given(steps=adapter_steps)
    def run(steps: list[tuple[Any, ...]]) -> None:
        asyncio.run(play_adapter(send, browser, steps))

    with CommandLog(port) as log:
        run()
    browser.accepted.clear()  # no sign-in here: no index key may appear at all
    check_keys(log, browser)
