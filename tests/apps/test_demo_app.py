"""The demo app through the real ASGI stack (httpx's ASGITransport) on a real Redis."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
import redis.asyncio

from redis_session_sets import AsyncStore
from redis_session_sets._cli import main
from redis_session_sets.demo import create_app, demo_store, describe_user_agent
from redis_session_sets.demo._app import ENDED_BECAUSE, LIMIT, PASSWORD_RESET, SIGNED_OUT_ELSEWHERE
from tests.support.servers import RedisServer
from tests.support.web import CommandCounter, id_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_ID = re.compile(r'<code id="session-id">([^<]+)</code>')


@pytest.fixture
async def store(async_client: redis.asyncio.Redis) -> AsyncStore:
    return demo_store(async_client)


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
    """The session ids listed under "your devices"."""
    page = await client.get("/")
    assert page.status_code == 200
    return listed(page)


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr class="(?:current|other)" data-session="([^"]+)"', page.text)


async def told_why(client: httpx.AsyncClient) -> str:
    """The next page of a device whose session was ended: the sign-in page's message."""
    answer = await client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?m=ended"
    page = await client.get(answer.headers["location"])
    assert page.status_code == 200
    found = re.search(r'<p class="flash" role="status">([^<]*)</p>', page.text)
    assert found, page.text  # [^<]: whatever the reason, no markup of its own
    return html.unescape(found.group(1))


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
        assert "Firefox 128 on Linux" in home.text  # kept by the middleware's track
        assert "127.0.0.1" in home.text  # httpx's ASGITransport's client address
        assert "This device" in home.text
        # The device is the library's (__ua), not an app field of the session.
        assert "user_agent" not in await store.get(session_id.group(1))
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
        assert await store.end_reason(second) == SIGNED_OUT_ELSEWHERE
        # The phone's next page: signed out, and told why.
        assert await told_why(phone) == ENDED_BECAUSE[SIGNED_OUT_ELSEWHERE]
        assert await store.sessions("user_id", 1) == [first]
        # Told once: the marker cookie is gone, a later visit is a plain sign-in page.
        assert (await phone.get("/")).headers["location"] == "/signin"


async def test_sign_out_all_other_sessions(store: AsyncStore) -> None:
    async with device(store) as a, device(store) as b, device(store) as c, device(store) as d:
        mine = await sign_in(a)
        others = [await sign_in(b), await sign_in(c)]
        theirs = await sign_in(d, user_id=2)
        page = await a.get("/")
        answer = await a.post("/sessions/end-others", data={"csrf_token": csrf(page)})
        assert answer.headers["location"] == "/?m=ended-others"
        assert await store.sessions("user_id", 1) == [mine]
        assert await store.sessions("user_id", 2) == [theirs]
        assert [await store.end_reason(ended) for ended in others] == [SIGNED_OUT_ELSEWHERE] * 2
        assert await store.end_reason(mine) is None
        for ended_device in (b, c):
            assert await told_why(ended_device) == ENDED_BECAUSE[SIGNED_OUT_ELSEWHERE]


async def test_reset_password_ends_every_session_of_the_user(store: AsyncStore) -> None:
    async with device(store) as laptop, device(store) as phone:
        first = await sign_in(laptop)
        second = await sign_in(phone)
        page = await phone.get("/")
        answer = await phone.post("/reset-password", data={"csrf_token": csrf(page)})
        assert answer.headers["location"] == "/signin?m=reset"
        assert "Max-Age=0" in answer.headers["set-cookie"]  # the cookie is cleared too
        assert await store.count("user_id", 1) == 0
        assert await store.end_reason(first) == await store.end_reason(second) == PASSWORD_RESET
        assert await told_why(laptop) == ENDED_BECAUSE[PASSWORD_RESET]
        assert (await phone.get("/")).status_code == 303


async def test_a_fourth_device_signs_out_the_least_recently_used(store: AsyncStore) -> None:
    async with (
        device(store, "Firefox/128.0") as a,
        device(store) as b,
        device(store) as c,
        device(store) as d,
    ):
        first = await sign_in(a)
        second = await sign_in(b)
        third = await sign_in(c)
        page = await a.get("/")  # a is active again: b is now the least recently used
        assert "Up to 3 devices; signing in on a 4th signs out the least recently used" in (
            page.text
        )
        assert 'class="count">3 of 3<' in page.text
        fourth = await sign_in(d)
        assert sorted(await store.sessions("user_id", 1)) == sorted([first, third, fourth])
        assert await store.end_reason(second) == LIMIT
        assert await told_why(b) == ENDED_BECAUSE[LIMIT].format(limit=3)
        # The devices page: this device first, then the others, most recently active first.
        assert await rows(d) == [fourth, first, third]
        # Another user's devices are not counted against this one's.
        async with device(store) as e:
            await sign_in(e, user_id=2)
        assert await store.count("user_id", 1) == 3


async def test_the_sign_in_page_of_an_ended_device(store: AsyncStore) -> None:
    """Each reason has its text; an unknown one is shown escaped; none: the plain one."""
    async with device(store) as client:
        for reason, expected in [
            ("revoked", ENDED_BECAUSE["revoked"]),
            ("<b>moved</b>", "This device was signed out (<b>moved</b>)."),  # escaped
            (None, "This device is signed out: its session expired or was ended."),
        ]:
            session_id = await sign_in(client)
            await store.delete(session_id, reason=reason)
            assert await told_why(client) == expected


async def test_a_store_without_the_limit_is_refused(async_client: redis.asyncio.Redis) -> None:
    with pytest.raises(ValueError, match="limit"):
        create_app(AsyncStore(async_client, references=["user_id"]))


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
    yield demo_store(client)
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
        about = await client.get("/about")  # does not use the session
        assert about.status_code == 200
        assert "up to 3 devices" in about.text
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


# -- one call for the devices page ----------------------------------------------------


async def test_the_devices_page_is_one_session_infos_call(
    store: AsyncStore, raw: redis.Redis
) -> None:
    async with device(store) as laptop, device(store) as phone:
        await sign_in(phone)
        mine = await sign_in(laptop)
        with CommandCounter(raw) as count:
            page = await laptop.get("/")
    assert page.status_code == 200
    assert listed(page)[0] == mine  # this device first, always
    assert len(listed(page)) == 2
    # The session's read, its counter (a write, which renews it), and the devices: one
    # index script that reads every member's times and device (before: a call per
    # session, and an app field for the user agent).
    assert count.value == 3, count.commands


async def test_many_sign_ins_never_list_more_than_the_limit(
    store: AsyncStore, raw: redis.Redis
) -> None:
    for _ in range(50):  # the same user signed in on many devices (no passwords here)
        await store.set(store.create_session_id(), {"user_id": 1})
    assert await store.count("user_id", 1) == 3
    async with device(store) as client:
        mine = await sign_in(client)
        page = await client.get("/")
    assert listed(page)[0] == mine
    assert len(listed(page)) == 3
