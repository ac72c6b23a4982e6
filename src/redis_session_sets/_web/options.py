"""The options every session middleware of the library takes, checked once at start-up,
and the one rule that depends on them at request time: whether a renewal is due.

``SessionMiddleware``, ``WSGISessionMiddleware`` and ``DictSessionMiddleware`` spell these
options out as keywords (for discoverability and typing) and hand them to
``SessionOptions``; a test keeps their signatures in step with its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._engine.core import StoreCore
from .._engine.keys import MaxAge, duration_ms
from .cookies import CookieSettings, SecretKeys
from .device import check_track


@dataclass(frozen=True)
class SessionOptions:
    """The cookie's name, signing and flags, and the rolling-renewal interval.

    ``secret_keys``: the first key signs, all verify. ``secure=None``: ``Secure`` when the
    request came over https. ``touch_interval``: a read renews the session's TTL (and
    re-sends the cookie) at most once per interval; ``0`` renews on every read.
    ``track``: the device facts kept with the session's own writes, from ``"user_agent"``
    and ``"ip"`` (see ``device``; the address is personal data: off by default).
    """

    secret_keys: SecretKeys | None = field(default=None, repr=False)
    cookie_name: str = "session-id"
    signed: bool = True
    secure: bool | None = None
    same_site: str | None = "lax"
    http_only: bool = True
    domain: str | None = None
    path: str = "/"
    touch_interval: MaxAge | None = None
    track: tuple[str, ...] = ()

    def tracked(self) -> frozenset[str]:
        """The device facts to keep, checked (ValueError/TypeError for bad names)."""
        return check_track(self.track)

    def cookie(self) -> CookieSettings:
        """The cookie settings, checked (ValueError/TypeError for bad ones)."""
        return CookieSettings(
            cookie_name=self.cookie_name,
            secret_keys=self.secret_keys,
            signed=self.signed,
            secure=self.secure,
            same_site=self.same_site,
            http_only=self.http_only,
            domain=self.domain,
            path=self.path,
        )

    def touch_interval_ms(self, core: StoreCore) -> int | None:
        """The renewal interval in ms (None: no rolling renewal), checked against the
        store's max age."""
        if self.touch_interval is None:
            return None
        interval = duration_ms(self.touch_interval, "touch_interval", zero=True)
        if interval >= core.max_age_ms:
            raise ValueError(
                "touch_interval must be shorter than the store's max_age, or sessions of "
                "busy users would still expire"
            )
        return interval


def renewal_due(touched_ms: int | None, interval_ms: int | None, now_ms: float) -> bool:
    """Whether a read should renew the session's TTL (a rolling idle timeout).

    Never without an interval. A session without ``__touched`` (written by hand, or by an
    older version) is due: renewing writes the field, so the next read knows. Otherwise due
    once the last write or renewal is ``interval_ms`` old. ``__touched`` is Redis's clock,
    ``now_ms`` ours: a skew only moves the renewal earlier or later by that much, well
    inside the max age.
    """
    if interval_ms is None:
        return False
    return touched_ms is None or now_ms - touched_ms >= interval_ms
