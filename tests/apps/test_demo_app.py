"""The demo app through the real ASGI stack (httpx's ASGITransport) on a real Redis."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
import redis.asyncio

from redis_session_sets import AsyncStore
from redis_session_sets._cli import main
from redis_session_sets.demo import create_app, describe_user_agent
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter, id_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_ID = re.compile(r'<code id="session-id">([^<]+)</code>')


@pytest.fixture
async def store(async_client: redis.asyncio.Redis) -> AsyncStore:
    return AsyncStore(async_client, references=["user_id"])


def device(
    store: AsyncStore, agent: str = "pytest", redis_url: str | None = None
) -> httpx.AsyncClient:
    """One browser: its own cookie jar."""
    app = create_app(store, secret_keys=["test-key"], redis_url=redis_url)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://demo.test", headers={"user-agent": agent}
    )


def csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, user_id: int = 1) -> str:
    """Signs in; returns the session id the home page shows."""
    page = await client.get("/signin")
    assert page.status_code == 200
    answer = await client.post("/signin", data={"user_id": str(user_id), "csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/?m=welcome"
    home = await client.get("/")
    assert home.status_code == 200
    found = SESSION_ID.search(home.text)
    assert found
    return found.group(1)


async def rows(client: httpx.AsyncClient) -> list[str]:
    """The session ids listed under "your active sessions"."""
    page = await client.get("/")
    assert page.status_code == 200
    return re.findall(r'<tr class="(?:current|other)" data-session="([^"]+)"', page.text)


async def test_signed_out_visitors_are_sent_to_sign_in(store: AsyncStore) -> None:
    async with device(store) as client:
        answer = await client.get("/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin"
        assert "set-cookie" not in answer.headers  # nothing written for a mere visit
        page = await client.get("/signin")
        assert "Grace Hopper" in page.text
        assert csrf(page)


async def test_sign_in_regenerates_the_id(store: AsyncStore, raw: redis.Redis) -> None:
    async with device(store, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") as client:
        page = await client.get("/signin")
        assert raw.dbsize() == 0  # the form's CSRF token is derived, never stored
        anonymous = client.cookies["session-id"]  # minted for the form's token
        answer = await client.post("/signin", data={"user_id": "1", "csrf_token": csrf(page)})
        assert answer.status_code == 303
        assert client.cookies["session-id"] != anonymous  # sign-in regenerated the id
        (signed_in,) = raw.keys("rss:s:*")
        assert signed_in != f"rss:s:{{{id_of(anonymous.rsplit('.', 1)[0])}}}".encode()
        home = await client.get("/")
        session_id = SESSION_ID.search(home.text)
        assert session_id
        assert signed_in == f"rss:s:{{{session_id.group(1)}}}".encode()
        assert await store.sessions("user_id", 1) == [session_id.group(1)]
        assert "Hello, Ada Lovelace" in home.text
        assert "Firefox 128 on Linux" in home.text
        assert "This device" in home.text
        assert (await store.get(session_id.group(1)))["page_views"] == 1
        await client.get("/")
        assert (await store.get(session_id.group(1)))["page_views"] == 2


async def test_two_devices_and_signing_one_out(store: AsyncStore) -> None:
    async with device(store) as laptop, device(store) as phone:
        first = await sign_in(laptop)
        second = await sign_in(phone)
        assert sorted(await rows(laptop)) == sorted([first, second])
        assert sorted(await rows(phone)) == sorted([first, second])
        page = await laptop.get("/")
        answer = await laptop.post(
            "/sessions/end", data={"session_id": second, "csrf_token": csrf(page)}
        )
        assert answer.status_code == 303
        assert await rows(laptop) == [first]
        # The phone's next page: signed out, and told why.
        answer = await phone.get("/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin?m=ended"
        assert "This device is signed out" in (await phone.get("/signin?m=ended")).text
        assert await store.sessions("user_id", 1) == [first]


async def test_sign_out_all_other_sessions(store: AsyncStore) -> None:
    async with device(store) as a, device(store) as b, device(store) as c, device(store) as d:
        mine = await sign_in(a)
        await sign_in(b)
        await sign_in(c)
        theirs = await sign_in(d, user_id=2)
        page = await a.get("/")
        answer = await a.post("/sessions/end-others", data={"csrf_token": csrf(page)})
        assert answer.headers["location"] == "/?m=ended-others"
        assert await store.sessions("user_id", 1) == [mine]
        assert await store.sessions("user_id", 2) == [theirs]
        assert (await b.get("/")).status_code == 303


async def test_reset_password_ends_every_session_of_the_user(store: AsyncStore) -> None:
    async with device(store) as laptop, device(store) as phone:
        await sign_in(laptop)
        await sign_in(phone)
        page = await phone.get("/")
        answer = await phone.post("/reset-password", data={"csrf_token": csrf(page)})
        assert answer.headers["location"] == "/signin?m=reset"
        assert "Max-Age=0" in answer.headers["set-cookie"]  # the cookie is cleared too
        assert await store.count("user_id", 1) == 0
        assert (await laptop.get("/")).headers["location"] == "/signin?m=ended"
        assert (await phone.get("/")).status_code == 303


async def test_sign_out(store: AsyncStore, raw: redis.Redis) -> None:
    async with device(store) as client:
        await sign_in(client)
        page = await client.get("/")
        answer = await client.post("/signout", data={"csrf_token": csrf(page)})
        assert answer.headers["location"] == "/signin?m=signed-out"
        assert raw.keys("rss:*") == []


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/signin", {"user_id": "1"}),
        ("/signout", {}),
        ("/sessions/end", {"session_id": "x"}),
        ("/sessions/end-others", {}),
        ("/reset-password", {}),
    ],
)
async def test_forms_without_the_csrf_token_are_refused(
    store: AsyncStore, path: str, data: dict[str, str]
) -> None:
    async with device(store) as victim, device(store) as other:
        mine = await sign_in(victim)
        await sign_in(other)
        for forged in (data, {**data, "csrf_token": "forged"}):
            answer = await victim.post(path, data=forged)
            assert answer.status_code == 403
            assert "Form refused" in answer.text
        assert mine in await rows(victim)
        assert await store.count("user_id", 1) == 2


async def test_a_token_of_another_session_is_refused(store: AsyncStore) -> None:
    async with device(store) as victim, device(store) as attacker:
        await sign_in(victim)
        stolen = csrf(await attacker.get("/signin"))  # valid, but for the attacker's session
        answer = await victim.post("/reset-password", data={"csrf_token": stolen})
        assert answer.status_code == 403
        assert await store.count("user_id", 1) == 1


async def test_bad_form_values_get_clean_answers(store: AsyncStore) -> None:
    async with device(store) as client, device(store) as stranger:
        strangers = await sign_in(stranger, user_id=2)
        page = await client.get("/signin")
        token = csrf(page)
        for user_id in ("7", "abc", "", "9" * 5000):
            answer = await client.post("/signin", data={"user_id": user_id, "csrf_token": token})
            assert answer.status_code == 400
        await sign_in(client)
        token = csrf(await client.get("/"))
        # Another user's session, a malformed id, one's own id: none can be ended here.
        for target in (strangers, "../../etc", "", "x" * 5000):
            answer = await client.post(
                "/sessions/end", data={"session_id": target, "csrf_token": token}
            )
            assert answer.status_code == 404
        assert await store.sessions("user_id", 2) == [strangers]


async def test_the_command_line_sees_the_demo_sessions(
    store: AsyncStore, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async with device(store, redis_url=redis_server.url) as laptop, device(store) as phone:
        first = await sign_in(laptop)
        second = await sign_in(phone)
        page = await laptop.get("/")
        assert f"redis-session-sets --url {redis_server.url} list user_id 1" in page.text
    assert main(["--url", redis_server.url, "list", "user_id", "1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {session["id"] for session in listed["sessions"]} == {first, second}


# -- Redis down ------------------------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
async def own_store(own_server: RedisServer) -> AsyncIterator[AsyncStore]:
    from redis_session_sets.demo._serve import client_for

    client = client_for(own_server.url)
    yield AsyncStore(client, references=["user_id"])
    await client.aclose()


async def test_redis_down_is_503_and_the_app_recovers(
    own_server: RedisServer, own_store: AsyncStore
) -> None:
    async with device(own_store) as client:
        await sign_in(client)
        own_server.stop()
        for path in ("/", "/signin"):
            answer = await client.get(path)
            assert answer.status_code == 503
            assert "Session store unavailable" in answer.text
        assert (await client.get("/about")).status_code == 200  # does not use the session
        own_server.start()  # empty again: no persistence
        answer = await client.get("/")
        assert answer.status_code == 303  # the session did not survive; the app did
        await sign_in(client)


def test_describe_user_agent() -> None:
    cases = {
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36": "Chrome 126 on macOS",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0": (
            "Firefox 128 on Windows"
        ),
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari 17 on iPhone",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.0.0": "Edge 126 on Android",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/156.0.0.0 Safari/537.36": "Chrome 156 on Linux",
        "curl/8.5.0": "curl 8",
        "": "Unknown browser",
        "\x00" * 10_000: "Unknown browser",
    }
    for agent, expected in cases.items():
        assert describe_user_agent(agent) == expected
    assert describe_user_agent(None) == "Unknown browser"


# -- a bounded home page -----------------------------------------------------------------


@pytest.mark.parametrize("others", [3, 50, 200])
async def test_the_home_page_costs_a_bounded_number_of_commands(
    store: AsyncStore, raw: redis.Redis, others: int
) -> None:
    from redis_session_sets.demo._app import INDEX_BATCHES, LISTED

    for _ in range(others):  # the same user signed in on many devices (no passwords here)
        await store.set(store.create_session_id(), {"user_id": 1, "user_agent": "curl/8"})
    async with device(store) as client:
        mine = await sign_in(client)
        with CommandCounter(raw) as count:
            page = await client.get("/")
    assert page.status_code == 200
    listed = re.findall(r'<tr class="(?:current|other)" data-session="([^"]+)"', page.text)
    assert listed[0] == mine  # this device first, always
    assert len(listed) == min(others + 1, LISTED)
    assert ('id="more-sessions"' in page.text) == (others + 1 > LISTED)
    # The session's read and write, a few index batches, two calls per listed session:
    # the same bound at 50 or 200 sessions (before: two calls per session of the index).
    bound = 2 + INDEX_BATCHES + 2 * LISTED
    assert count.value <= bound, count.commands
