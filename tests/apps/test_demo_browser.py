"""The demo end to end: real uvicorn (``redis-session-sets demo``), real Redis, and Debian's
chromium driven by Playwright, with two browser contexts as two devices.

Screenshots go to ``test-artifacts/``. ``make test`` installs chromium; where it cannot be
installed this module is skipped, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import RedisServer, free_port

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Two devices of one user, told apart on the sessions page by their User-Agent.
LAPTOP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"{CHROMIUM} is missing and could not be installed (make test runs "
        "`apt-get install -y chromium`); the browser test needs it",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """``python -m redis_session_sets demo`` under real uvicorn, on its own Redis."""
    server = RedisServer()
    server.start()
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "redis_session_sets"),
            *("--url", server.url, "demo", "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/about", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the demo did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, url: str, user_id: int = 1) -> None:
    page.goto(f"{url}/")
    assert page.url == f"{url}/signin"
    page.click(f"button[data-user='{user_id}']")
    page.wait_for_url(f"{url}/?m=welcome")


def session_rows(page: Any) -> Any:
    return page.locator("#sessions tbody tr")


# How long a page may take to show what its WebSocket was told (a bound, never a measure).
LIVE_WAIT_MS = 15_000


def badge_is(page: Any, state: str) -> str:
    """Waits until the live badge (a WebSocket) is in ``state``; returns its text."""
    badge = page.locator(f"#live-badge[data-state='{state}']")
    badge.wait_for(timeout=LIVE_WAIT_MS)
    return str(badge.inner_text())


def test_two_devices_sign_each_other_out(browser: Any, demo_url: str) -> None:
    laptop = browser.new_context(user_agent=LAPTOP, viewport={"width": 1000, "height": 760})
    phone = browser.new_context(user_agent=PHONE, viewport={"width": 420, "height": 860})
    one, two = laptop.new_page(), phone.new_page()
    try:
        sign_in(one, demo_url)
        sign_in(two, demo_url)
        one.reload()
        # Both devices list the same two sessions, each marking its own.
        for page, mine, other in ((one, "macOS", "Android"), (two, "Android", "macOS")):
            rows = session_rows(page)
            assert rows.count() == 2
            assert "This device" in page.locator("#sessions tr.current").inner_text()
            assert mine in page.locator("#sessions tr.current").inner_text()
            assert other in page.locator("#sessions tr.other").inner_text()
        assert "Up to 3 devices" in one.inner_text("#device-limit")
        # The phone's live badge is connected: who, and when the session ends.
        assert "Signed in as Ada Lovelace" in badge_is(two, "live")
        assert "session ends in 27 d" in badge_is(two, "live")
        shot(one, "1-laptop-two-sessions")
        shot(two, "1-phone-two-sessions")

        # The laptop signs the phone out.
        one.locator("#sessions tr.other button").click()
        one.wait_for_url(f"{demo_url}/?m=ended-one")
        assert session_rows(one).count() == 1
        shot(one, "2-laptop-signed-phone-out")

        # The phone's badge flips at once, without a reload: its socket was closed (4001).
        assert badge_is(two, "ended") == "Signed out"
        shot(two, "2-phone-badge-signed-out")
        # Its next page tells why.
        two.reload()
        two.wait_for_url(f"{demo_url}/signin?m=ended")
        assert "This device was signed out from another device." in two.inner_text("main")
        shot(two, "2-phone-signed-out")

        # Signed in again on the phone; a password reset there ends both.
        sign_in(two, demo_url)
        one.reload()
        assert session_rows(one).count() == 2
        badge_is(one, "live")
        two.click("#reset-password")
        two.wait_for_url(f"{demo_url}/signin?m=reset")
        assert badge_is(one, "ended") == "Signed out"
        one.reload()
        one.wait_for_url(f"{demo_url}/signin?m=ended")
        assert "the account's password was reset" in one.inner_text("main")
        shot(two, "3-phone-after-reset")
    finally:
        laptop.close()
        phone.close()


def test_a_fourth_device_signs_out_the_least_recently_used(browser: Any, demo_url: str) -> None:
    contexts = [browser.new_context(user_agent=agent) for agent in (LAPTOP, PHONE, PHONE, LAPTOP)]
    pages = [context.new_page() for context in contexts]
    try:
        for page in pages[:3]:
            sign_in(page, demo_url, user_id=3)
        pages[1].reload()
        pages[2].reload()  # the first device is now the least recently active
        badge_is(pages[0], "live")
        assert session_rows(pages[2]).count() == 3
        sign_in(pages[3], demo_url, user_id=3)
        assert session_rows(pages[3]).count() == 3
        assert badge_is(pages[0], "ended") == "Signed out"
        pages[0].reload()
        pages[0].wait_for_url(f"{demo_url}/signin?m=ended")
        assert "up to 3 devices may be signed in at once" in pages[0].inner_text("main")
        shot(pages[0], "5-signed-out-by-the-limit")
    finally:
        for context in contexts:
            context.close()


def test_a_form_without_its_csrf_token_is_refused(browser: Any, demo_url: str) -> None:
    context = browser.new_context(user_agent=LAPTOP)
    page = context.new_page()
    try:
        sign_in(page, demo_url, user_id=2)
        # A forged post: the real form, stripped of its token, submitted by the browser.
        page.locator("form[action='/reset-password'] input[name=csrf_token]").evaluate(
            "input => input.remove()"
        )
        with page.expect_navigation() as navigation:
            page.click("#reset-password")
        assert navigation.value.status == 403
        assert "Form refused" in page.inner_text("main")
        shot(page, "4-forged-form-refused")
        page.goto(f"{demo_url}/")
        assert page.url == f"{demo_url}/"  # still signed in: nothing was done
        assert session_rows(page).count() == 1
    finally:
        context.close()
