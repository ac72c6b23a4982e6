"""The demo web app: sign in, see your sessions, sign other devices out.

A plain Starlette app on the library's ``SessionMiddleware``, rendered with Jinja2. Every
form carries a CSRF token made by the session (``create_csrf_token``) and is checked with
``verify_csrf_token``; sign-in regenerates the session id. The "your devices" list is the
store's index of the ``user_id`` reference field, read with its sessions' times and devices
(the middleware's ``track``) in one ``session_infos`` call. A user may be signed in on
``DEVICE_LIMIT`` devices (the store's ``limits``): a sign-in beyond that ends the least
recently active other session. Every ending leaves a reason, which the ended device's
sign-in page tells; and a live badge on the home page, over a WebSocket, turns to "signed
out" the moment its session is ended elsewhere (the middleware closes the socket, code 4001).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import AsyncSession, AsyncStore, SessionMiddleware, SessionStoreError, get_session
from .._engine.keys import SESSION_ID
from .._web.revocation import CLOSE_CODE
from ._browsers import describe_user_agent

COOKIE_NAME = "session-id"
# Set at sign-in, cleared at sign-out: tells a device whose session was ended elsewhere
# ("signed out", with the reason) from a visitor who merely loaded the sign-in form. Both
# carry a session cookie naming no session in Redis, since a visitor's CSRF token costs
# Redis nothing (no session is written for it), so the session cannot tell them apart.
SIGNED_IN_COOKIE = "demo-signed-in"
REFERENCE = "user_id"
# The most devices (live sessions) one user may have: the store's limit on ``user_id``.
# It also bounds the "your devices" page, which reads the whole index in one call (with no
# passwords, anyone can sign in as a user many times over: the limit ends the excess).
DEVICE_LIMIT = 3
# The WebSocket close code of the middleware for a session that ended (and the badge's,
# for a socket whose session is gone when it opens).
SESSION_ENDED = CLOSE_CODE
# Why a session was ended (end_reason); "limit" is the store's own for its limit.
SIGNED_OUT_ELSEWHERE = "signed out from another device"
PASSWORD_RESET = "password reset"
LIMIT = "limit"
# The built-in users: no passwords, sign in as anyone.
USERS: dict[int, str] = {
    1: "Ada Lovelace",
    2: "Grace Hopper",
    3: "Alan Turing",
    42: "Katherine Johnson",
}
MESSAGES = {
    "signed-out": "You signed out. Your session was deleted from Redis.",
    "ended": "This device is signed out: its session expired or was ended.",
    "reset": "Password reset: every session of your account was ended, this one included.",
    "ended-one": "That session was signed out. Its device will see the sign-in page next.",
    "ended-others": "All your other sessions were signed out.",
    "welcome": "Signed in. Sign-in gave this browser a new session id.",
}

# What the sign-in page of an ended device says, by the reason its session was ended with.
ENDED_BECAUSE = {
    SIGNED_OUT_ELSEWHERE: "This device was signed out from another device.",
    PASSWORD_RESET: "This device was signed out: the account's password was reset.",
    LIMIT: (
        "This device was signed out because the account signed in on another one: "
        "up to {limit} devices may be signed in at once, and this was the least recently "
        "used."
    ),
    "revoked": "This device's session was revoked by an administrator.",
}


def ended_message(reason: str | None, limit: int) -> str:
    """The sign-in page's message for a device whose session ended, ``reason`` being its
    ``end_reason()`` (None: it expired, or was ended without one)."""
    if reason is None:
        return MESSAGES["ended"]
    known = ENDED_BECAUSE.get(reason)
    if known is None:
        return f"This device was signed out ({reason})."  # autoescaped where shown
    return known.format(limit=limit)


templates = Environment(
    loader=PackageLoader("redis_session_sets.demo", "templates"),
    autoescape=select_autoescape(("html",)),
)


def local_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


templates.filters["time"] = local_time
templates.filters["ordinal"] = ordinal
templates.filters["ago"] = ago


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # 303: the browser follows with GET


@dataclass(frozen=True, slots=True)
class Device:
    """One row of "your devices"."""

    id: str
    browser: str
    ip: str | None
    created_at: datetime
    touched_at: datetime
    expires_at: datetime
    current: bool


def demo_store(client: Any, *, prefix: str = "rss") -> AsyncStore:
    """The store the demo is built for: ``user_id`` indexed, at most ``DEVICE_LIMIT``
    sessions a user. ``index_slack=0`` keeps each index score the exact expiry of its
    session's last write, so "least recently used" (what the limit ends) is exact to the
    millisecond; an app can keep the default slack and take activity to within it
    (docs/design.md, "Index slack")."""
    return AsyncStore(
        client,
        references=[REFERENCE],
        prefix=prefix,
        limits={REFERENCE: DEVICE_LIMIT},
        index_slack=0,
    )


def store_of(request: HTTPConnection) -> AsyncStore:
    store: AsyncStore = request.app.state.store
    return store


def device_limit(store: AsyncStore) -> int:
    return store.core.limits[REFERENCE]


async def current_user(session: AsyncSession) -> tuple[int, dict[str, Any]] | None:
    data = await session.get()
    user_id = data.get(REFERENCE)
    if isinstance(user_id, int) and user_id in USERS:
        return user_id, data
    return None


FormHandler = Callable[[Request, dict[str, str]], Awaitable[Response]]


def csrf_protected(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A form endpoint: ``handler(request, form)`` runs only when the posted form carries
    this session's CSRF token; anything else gets the 403 page and nothing is done."""

    async def endpoint(request: Request) -> Response:
        posted = await request.form()
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
        if not await get_session(request).verify_csrf_token(form.get("csrf_token", "")):
            return csrf_refused()
        return await handler(request, form)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def csrf_refused() -> HTMLResponse:
    return render(
        "error.html",
        status_code=403,
        title="Form refused",
        message=(
            "This form did not carry a valid CSRF token for your session, so nothing was "
            "done. Reload the page and try again."
        ),
    )


# -- pages ------------------------------------------------------------------------------


async def devices_of(store: AsyncStore, user_id: int, current: str) -> list[Device]:
    """The user's devices, this one first, then the most recently active: one
    ``session_infos`` call, one round trip (the limit keeps the index small)."""
    devices = [
        Device(
            id=info.id,
            browser=describe_user_agent(info.user_agent),
            ip=info.ip,
            created_at=info.created_at,
            touched_at=info.touched_at,
            expires_at=info.expires_at,
            current=info.id == current,
        )
        for info in await store.session_infos(REFERENCE, user_id)
    ]
    devices.sort(key=lambda device: not device.current)  # stable: most recent first after
    return devices


async def home(request: Request) -> Response:
    session = get_session(request)
    signed_in = await current_user(session)
    if signed_in is None:
        if SIGNED_IN_COOKIE in request.cookies:
            # This browser was signed in, and its session is gone: ended elsewhere (or
            # expired). A mere visitor has no such cookie.
            return redirect("/signin?m=ended")
        return redirect("/signin")
    user_id, data = signed_in
    # Atomic HINCRBY in Redis; as a write it also renews the session ("last active").
    data["page_views"] = await session.incr("page_views")
    store = store_of(request)
    devices = await devices_of(store, user_id, session.id)
    this = next((device for device in devices if device.current), None)
    return render(
        "home.html",
        user_id=user_id,
        user_name=USERS[user_id],
        session_id=session.id,
        session_key=session.get_key(),
        info=this,
        data=sorted(data.items()),
        devices=devices,
        limit=device_limit(store),
        csrf_token=await session.create_csrf_token(),
        message=MESSAGES.get(request.query_params.get("m", "")),
        prefix=store.core.prefix,
        shell_options=request.app.state.shell_options,
    )


async def signin_page(request: Request) -> Response:
    session = get_session(request)
    if await current_user(session) is not None:
        return redirect("/")
    kind = request.query_params.get("m", "")
    message = MESSAGES.get(kind)
    if kind == "ended":
        # Why this device's session ended, if it was ended with a reason: one GET, and
        # only here, where the cookie's session is known to be gone.
        message = ended_message(await session.end_reason(), device_limit(store_of(request)))
    # The form's token costs Redis nothing: a visitor's first page mints a session token
    # for the cookie, and nothing is written until sign-in (docs/design.md, "CSRF tokens").
    response = render(
        "signin.html",
        users=sorted(USERS.items()),
        csrf_token=await session.create_csrf_token(),
        message=message,
        limit=device_limit(store_of(request)),
    )
    if SIGNED_IN_COOKIE in request.cookies:
        response.delete_cookie(SIGNED_IN_COOKIE)  # told once: signed out now
    return response


def signed_in_marker(response: Response, store: AsyncStore) -> Response:
    response.set_cookie(
        SIGNED_IN_COOKIE,
        "1",
        max_age=int(store.max_age.total_seconds()),
        httponly=True,
        samesite="lax",
    )
    return response


@csrf_protected
async def signin(request: Request, form: dict[str, str]) -> Response:
    try:
        user_id = int(form.get("user_id", ""))
    except ValueError:
        user_id = 0
    if user_id not in USERS:
        return render("error.html", 400, title="No such user", message="Pick a user from the list.")
    session = get_session(request)
    # A new id at the moment privileges change: a session id planted or seen before
    # sign-in is worthless after it (session fixation).
    await session.regenerate()
    # The device (user agent, address) is kept by the middleware's track, with this write.
    # Beyond DEVICE_LIMIT sessions, the same atomic write ends the least recently active
    # other one, with the reason "limit".
    await session.set(
        {
            REFERENCE: user_id,
            "name": USERS[user_id],
            "signed_in_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "page_views": 0,
        }
    )
    return signed_in_marker(redirect("/?m=welcome"), store_of(request))


@csrf_protected
async def signout(request: Request, form: dict[str, str]) -> Response:
    await get_session(request).delete()
    response = redirect("/signin?m=signed-out")
    response.delete_cookie(SIGNED_IN_COOKIE)
    return response


@csrf_protected
async def end_session(request: Request, form: dict[str, str]) -> Response:
    """Signs out one other session of the same user."""
    session = get_session(request)
    signed_in = await current_user(session)
    if signed_in is None:
        return redirect("/signin?m=ended")
    target = form.get("session_id", "")
    # Only another session of this user can be ended from here: one call that reads the
    # target's user (what its index entry says, rule 6), however many sessions the user has.
    store = store_of(request)
    if (
        target == session.id
        or not SESSION_ID.fullmatch(target)
        or (await store.get(target, [REFERENCE])).get(REFERENCE) != signed_in[0]
    ):
        return render(
            "error.html",
            404,
            title="No such session",
            message="That session is not one of your other active sessions (any more).",
        )
    await store.delete(target, reason=SIGNED_OUT_ELSEWHERE)
    return redirect("/?m=ended-one")


@csrf_protected
async def end_other_sessions(request: Request, form: dict[str, str]) -> Response:
    session = get_session(request)
    signed_in = await current_user(session)
    if signed_in is None:
        return redirect("/signin?m=ended")
    await store_of(request).delete_all(
        REFERENCE, signed_in[0], keep=[session.id], reason=SIGNED_OUT_ELSEWHERE
    )
    return redirect("/?m=ended-others")


@csrf_protected
async def reset_password(request: Request, form: dict[str, str]) -> Response:
    """What an app does after a password change: end every session of the user."""
    session = get_session(request)
    signed_in = await current_user(session)
    if signed_in is None:
        return redirect("/signin?m=ended")
    await store_of(request).delete_all(REFERENCE, signed_in[0], reason=PASSWORD_RESET)
    await session.delete()  # already gone from Redis; this clears the cookie too
    response = redirect("/signin?m=reset")
    response.delete_cookie(SIGNED_IN_COOKIE)
    return response


async def badge(websocket: WebSocket) -> None:
    """The home page's live badge: who is signed in, and when the session ends (sent on
    open, and again for each message the page sends, "refresh"). The middleware closes
    this socket (code 4001) the moment the session is ended, from any browser or process,
    and the badge turns to "signed out"."""
    session = get_session(websocket)
    store = store_of(websocket)
    try:
        # Read before accepting: a renewal's cookie (touch_interval) rides on the accept.
        signed_in = await current_user(session)
    except SessionStoreError:
        signed_in = None
        failed = True
    else:
        failed = False
    await websocket.accept()
    try:
        if failed:
            await websocket.close(1011)  # the badge says "offline" and tries again later
            return
        while signed_in is not None:
            info = await store.info(session.id)
            if info is None:
                break  # ended meanwhile
            remaining = (info.expires_at - datetime.now(UTC)).total_seconds()
            state = {"name": USERS[signed_in[0]], "expires_in": max(0, int(remaining))}
            await websocket.send_json(state)
            await websocket.receive_text()  # the page asks again (or the socket closes)
        # No session (a browser sees no reason in a refused handshake: close as ended).
        await websocket.close(SESSION_ENDED)
    except WebSocketDisconnect:
        pass
    except SessionStoreError:
        await websocket.close(1011)


async def about(request: Request) -> Response:
    """A page that never touches the session: it works even while Redis is down."""
    return render("about.html", limit=device_limit(store_of(request)))


async def store_unavailable(request: Request, error: Exception) -> Response:
    return render(
        "error.html",
        status_code=503,
        title="Session store unavailable",
        message=(
            "Redis cannot be reached, so pages that need your session cannot be shown. "
            "Nothing is lost on this side: reload once Redis is back."
        ),
        detail=str(error),
    )


def create_app(
    store: AsyncStore,
    *,
    secret_keys: list[str] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    redis_url: str | None = None,
) -> Starlette:
    """The demo app on ``store`` (``demo_store``: its reference fields must include
    ``user_id``, with a limit). ``redis_url`` only fills in the command-line examples the
    home page shows."""
    if REFERENCE not in store.references:
        raise ValueError(f"the demo's store needs {REFERENCE!r} among its reference fields")
    if REFERENCE not in store.core.limits:
        # The devices page reads the whole index: the limit is what bounds it.
        raise ValueError(f"the demo's store needs a limit on {REFERENCE!r} (see demo_store)")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await on_shutdown()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/signin", signin_page, methods=["GET"]),
            Route("/signin", signin, methods=["POST"]),
            Route("/signout", signout, methods=["POST"]),
            Route("/sessions/end", end_session, methods=["POST"]),
            Route("/sessions/end-others", end_other_sessions, methods=["POST"]),
            Route("/reset-password", reset_password, methods=["POST"]),
            Route("/about", about),
            WebSocketRoute("/ws/badge", badge),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                store=store,
                secret_keys=secret_keys or [secrets.token_urlsafe(32)],
                cookie_name=COOKIE_NAME,
                touch_interval=timedelta(minutes=1),
                track=("user_agent", "ip"),
                close_ended_websockets=True,  # the default, named: the badge relies on it
            )
        ],
        exception_handlers={SessionStoreError: store_unavailable},
        lifespan=lifespan,
    )
    app.state.store = store
    options = [] if redis_url is None else [f"--url {redis_url}"]
    if store.core.prefix != "rss":
        options.append(f"--prefix {store.core.prefix}")
    app.state.shell_options = "".join(f" {option}" for option in options)
    return app
