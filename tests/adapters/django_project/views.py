"""Views over ``request.session`` as any Django app writes them: nothing engine-specific
except the two user-index helpers."""

from __future__ import annotations

import threading

from django.contrib.auth import alogin, alogout, authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse

from redis_session_sets.django import aend_reason, end_reason, sign_out_everywhere, user_sessions

# Set by the concurrency test: both requests read the session before either writes.
BARRIER: threading.Barrier | None = None


def login_view(request: HttpRequest) -> HttpResponse:
    username, password = request.POST["username"], request.POST["password"]
    user = authenticate(request, username=username, password=password)
    if user is None:
        return HttpResponse("no", status=403)
    login(request, user)
    return HttpResponse("ok")


async def alogin_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import aauthenticate

    user = await aauthenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse("no", status=403)
    await alogin(request, user)
    return HttpResponse("ok")


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("ok")


async def alogout_view(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return HttpResponse("ok")


def set_view(request: HttpRequest, key: str, value: str) -> HttpResponse:
    request.session[key] = value
    return HttpResponse("ok")


async def aset_view(request: HttpRequest, key: str, value: str) -> HttpResponse:
    await request.session.aset(key, value)
    await request.session.asave()  # the sync middleware would save too; this is the a* path
    return HttpResponse("ok")


def del_view(request: HttpRequest, key: str) -> HttpResponse:
    request.session.pop(key, None)
    return HttpResponse("ok")


def get_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(dict(request.session.items()))


def nothing_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def cycle_view(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    return HttpResponse("ok")


def flush_view(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return HttpResponse("ok")


def bad_value_view(request: HttpRequest) -> HttpResponse:
    request.session["when"] = object()  # JSON cannot encode it
    return HttpResponse("ok")


def sessions_view(request: HttpRequest) -> HttpResponse:
    infos = user_sessions(request.user)
    current = getattr(request.session, "session_id", None)
    return JsonResponse({"ids": [info.id for info in infos], "current": current})


def signout_others_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"deleted": sign_out_everywhere(request.user, keep=request)})


def end_reason_view(request: HttpRequest) -> HttpResponse:
    """Where a signed-out device lands: why its session ended, if it was told."""
    return JsonResponse({"reason": end_reason(request)})


async def aend_reason_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"reason": await aend_reason(request)})


def together_view(request: HttpRequest, key: str, value: str) -> HttpResponse:
    request.session.get("anything")  # read (load) the session first
    assert BARRIER is not None
    BARRIER.wait(timeout=10)  # the other request has read it too
    request.session[key] = value
    return HttpResponse("ok")


def deleted_then_saved_view(request: HttpRequest, change: str) -> HttpResponse:
    """Django's ``test_session_update_error_redirect``: the session is saved, deleted,
    then saved again by the middleware (here with or without a change)."""
    request.session = request.session.__class__()
    request.session.save(must_create=True)
    request.session.delete()
    if change == "with":
        request.session["late"] = "value"
    return HttpResponse("ok")
