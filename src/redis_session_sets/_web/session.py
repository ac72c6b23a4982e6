"""The per-request session as handlers see it: ``AsyncSession`` and ``Session``, two thin
shells over one ``SessionState`` (see ``state``), differing only in ``await``.

The middlewares give every request a shell, and the shell makes its ``SessionState`` on
first use: a request that never touches its session pays for one small object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._engine.keys import MaxAge
from .state import SessionFactory, SessionState

if TYPE_CHECKING:
    from .._drivers.async_ import AsyncStore
    from .._drivers.sync import Store


class AsyncSession:
    """A request's session for async code (from ``SessionMiddleware``)."""

    __slots__ = ("_factory", "_made", "_source", "_store")

    def __init__(self, store: AsyncStore, factory: SessionFactory, source: Any) -> None:
        self._store = store
        self._factory = factory
        self._source = source  # the request's ASGI scope or WSGI environ
        self._made: SessionState | None = None

    @property
    def _state(self) -> SessionState:
        state = self._made
        if state is None:
            state = self._made = SessionState(self._factory, self._source)
        return state

    @property
    def id(self) -> str:
        """The session id: public, safe to show and log (the cookie's token is not)."""
        return self._state.id

    def get_key(self) -> str:
        return self._state.get_key()

    def set_cookie_header(self) -> str | None:
        """The ``Set-Cookie`` value the response must carry (None: leave the cookie)."""
        return self._state.set_cookie_header()

    async def get(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return await self._store.run(self._state.get(fields))

    async def set(self, values: Mapping[str, Any], max_age: MaxAge | None = None) -> None:
        await self._store.run(self._state.set(values, max_age))

    async def update(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
        incr: Mapping[str, int] | None = None,
        max_age: MaxAge | None = None,
    ) -> dict[str, int]:
        """``set`` + ``unset`` + ``incr`` in one atomic round trip; returns the new value
        of each incremented field."""
        return await self._store.run(
            self._state.update(values, unset=unset, incr=incr, max_age=max_age)
        )

    async def unset(self, fields: Iterable[str], max_age: MaxAge | None = None) -> bool:
        return await self._store.run(self._state.unset(fields, max_age))

    async def incr(self, field: str, amount: int = 1, max_age: MaxAge | None = None) -> int:
        return await self._store.run(self._state.incr(field, amount, max_age))

    async def touch(self, max_age: MaxAge | None = None) -> bool:
        return await self._store.run(self._state.touch(max_age))

    async def delete(self, *, reason: str | None = None) -> bool:
        """Deletes the session (the response clears the cookie); with a ``reason``, the
        ended session's ``end_reason`` tells it."""
        return await self._store.run(self._state.delete(reason))

    async def regenerate(self) -> str:
        return await self._store.run(self._state.regenerate())

    async def end_reason(self) -> str | None:
        """Why the cookie's session was ended ("signed out on another device", "limit"),
        if it was with a reason; a Redis call only when asked and the session is gone."""
        return await self._store.run(self._state.end_reason())

    async def create_csrf_token(self) -> str:
        return await self._store.run(self._state.create_csrf_token())

    async def verify_csrf_token(self, token: object) -> bool:
        return await self._store.run(self._state.verify_csrf_token(token))


class Session:
    """A request's session for sync code (from ``WSGISessionMiddleware``)."""

    __slots__ = ("_factory", "_made", "_source", "_store")

    def __init__(self, store: Store, factory: SessionFactory, source: Any) -> None:
        self._store = store
        self._factory = factory
        self._source = source  # the request's ASGI scope or WSGI environ
        self._made: SessionState | None = None

    @property
    def _state(self) -> SessionState:
        state = self._made
        if state is None:
            state = self._made = SessionState(self._factory, self._source)
        return state

    @property
    def id(self) -> str:
        """The session id: public, safe to show and log (the cookie's token is not)."""
        return self._state.id

    def get_key(self) -> str:
        return self._state.get_key()

    def set_cookie_header(self) -> str | None:
        """The ``Set-Cookie`` value the response must carry (None: leave the cookie)."""
        return self._state.set_cookie_header()

    def get(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return self._store.run(self._state.get(fields))

    def set(self, values: Mapping[str, Any], max_age: MaxAge | None = None) -> None:
        self._store.run(self._state.set(values, max_age))

    def update(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
        incr: Mapping[str, int] | None = None,
        max_age: MaxAge | None = None,
    ) -> dict[str, int]:
        """``set`` + ``unset`` + ``incr`` in one atomic round trip; returns the new value
        of each incremented field."""
        return self._store.run(self._state.update(values, unset=unset, incr=incr, max_age=max_age))

    def unset(self, fields: Iterable[str], max_age: MaxAge | None = None) -> bool:
        return self._store.run(self._state.unset(fields, max_age))

    def incr(self, field: str, amount: int = 1, max_age: MaxAge | None = None) -> int:
        return self._store.run(self._state.incr(field, amount, max_age))

    def touch(self, max_age: MaxAge | None = None) -> bool:
        return self._store.run(self._state.touch(max_age))

    def delete(self, *, reason: str | None = None) -> bool:
        """Deletes the session (the response clears the cookie); with a ``reason``, the
        ended session's ``end_reason`` tells it."""
        return self._store.run(self._state.delete(reason))

    def regenerate(self) -> str:
        return self._store.run(self._state.regenerate())

    def end_reason(self) -> str | None:
        """Why the cookie's session was ended ("signed out on another device", "limit"),
        if it was with a reason; a Redis call only when asked and the session is gone."""
        return self._store.run(self._state.end_reason())

    def create_csrf_token(self) -> str:
        return self._store.run(self._state.create_csrf_token())

    def verify_csrf_token(self, token: object) -> bool:
        return self._store.run(self._state.verify_csrf_token(token))


def state_if_made(session: AsyncSession | Session) -> SessionState | None:
    """The session's state, or None if the handler never used the session (for the
    middlewares: such a response needs neither a cookie nor ``Vary``)."""
    return session._made
