"""``SessionStore``: a Django session engine whose sessions are hashes of the store.

The cookie (Django's ``session_key``) carries a random secret token; the session lives
under the id derived from it (``base64url(SHA-256(token))``, docs/design.md), so the ids that
``user_sessions()`` lists, logs and Redis show can never be replayed as a cookie.

A save sends only the keys the request changed (see ``_dict_session``) in one atomic
script, so concurrent requests that change different keys keep both changes, and a
session that is not in Redis any more (logged out or revoked meanwhile) is never written
back: the save raises ``UpdateError``, with or without changes, which Django's middleware
answers with a 400 (``SessionInterrupted``).

Each sync method and its ``a*`` twin build the same operation of the core (``_*_op``)
and differ only in how they run it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from django.contrib.sessions.backends.base import SessionBase, UpdateError

from .._engine.protocol import Operation, done
from .._web.dict_session import Changes, changes, load, snapshot
from .._web.tokens import is_token, mint_token, session_id_for
from ._config import stores


class SessionStore(SessionBase):  # type: ignore[misc]
    """Django sessions in Redis hashes, with a per-user index (SESSION_ENGINE)."""

    _session_key: str | None  # a property of SessionBase; declared for the type checker
    # The device pairs (SESSION_REDIS_TRACK) written with every save: set per request by
    # the library's SessionMiddleware (redis_session_sets.django.SessionMiddleware).
    device: tuple[str, ...] = ()

    def __init__(self, session_key: str | None = None) -> None:
        # The JSON of the fields Redis holds under the current key, as last read or
        # written; None while they were not read.
        self._stored: dict[str, str] | None = None
        super().__init__(session_key)

    # -- keys --------------------------------------------------------------------------

    def _validate_session_key(self, key: object) -> bool:
        # Only a token of our own shape is taken from a cookie: junk never reaches Redis.
        return is_token(key)

    def _new_token(self) -> str:
        return mint_token(stores().core.id_bytes)

    @property
    def session_id(self) -> str | None:
        """The public id of this session (the one ``user_sessions()`` lists)."""
        key = self.session_key
        return None if key is None else session_id_for(key)

    # -- load ------------------------------------------------------------------------

    def _load_op(self) -> Operation[dict[str, Any]]:
        operation = load(stores().core, self.session_key)

        def run() -> Operation[dict[str, Any]]:
            found = yield from operation
            if found is None:
                # Strict ids: a cookie naming no live session is dropped, and the first
                # write goes to a fresh token (Django's db backend does the same).
                self._session_key = None
            values = {} if found is None else found.values
            self._stored = snapshot(values)
            return values

        return run()

    def load(self) -> dict[str, Any]:
        return stores().run(self._load_op())

    async def aload(self) -> dict[str, Any]:
        return await stores().arun(self._load_op())

    # -- save ----------------------------------------------------------------------------

    def _save_op(self, must_create: bool, age: int) -> Operation[None]:
        session_id = self.session_id
        assert session_id is not None  # save() sends a keyless session to create()
        core = stores().core
        pending: Changes | None
        if must_create:
            pending = changes(None, self._get_session(no_load=True))
        elif hasattr(self, "_session_cache"):
            # A dict emptied by clear() before it was read has _stored None: the save
            # then replaces every stored field (update.lua) instead of loading them.
            pending = changes(self._stored, self._session_cache)
        else:
            pending = None  # never read, so never changed

        if age <= 0:
            # An expiry in the past: the session ends now (as on Django's db backend,
            # where it would be written already expired).
            operation: Operation[bool] = _ignore(core.delete(session_id))
        elif pending or must_create:
            assert pending is not None
            operation = core.save_changes(
                session_id,
                pending.values,
                pending.removed,
                age,
                create=must_create,
                replace=pending.replace,
                device=self.device,
            )
        else:
            # Nothing changed, but Django asked for a save (the session was marked
            # modified, or SESSION_SAVE_EVERY_REQUEST) and its middleware re-sends the
            # cookie with a fresh expiry: renew the TTL to match, which also tells, in
            # the same round trip, whether the session still exists (UpdateError if not,
            # as Django's own backends raise).
            operation = core.touch(session_id, age, device=self.device)

        def run() -> Operation[None]:
            if not (yield from operation):
                raise UpdateError  # deleted meanwhile: never brought back
            if pending is not None:
                self._stored = pending.after

        return run()

    def save(self, must_create: bool = False) -> None:
        age = self.get_expiry_age()  # may load, and so find the session gone: then create
        if self.session_key is None:
            return self.create()
        stores().run(self._save_op(must_create, age))
        return None

    async def asave(self, must_create: bool = False) -> None:
        age = await self.aget_expiry_age()
        if self.session_key is None:
            return await self.acreate()
        await stores().arun(self._save_op(must_create, age))
        return None

    def create(self) -> None:
        # A 256-bit random token cannot collide, so unlike Django's backends there is no
        # exists() round trip before the write and no CreateError retry loop.
        self._get_session(no_load=True)  # an unread session starts empty, as in Django
        self._session_key = self._new_token()
        self.save(must_create=True)
        self.modified = True

    async def acreate(self) -> None:
        self._get_session(no_load=True)
        self._session_key = self._new_token()
        await self.asave(must_create=True)
        self.modified = True

    # -- exists, delete, clear -----------------------------------------------------------

    def _exists_op(self, session_key: object) -> Operation[bool]:
        if not is_token(session_key):
            return done(False)
        assert isinstance(session_key, str)
        return stores().core.exists(session_id_for(session_key))

    def exists(self, session_key: str | None) -> bool:
        return stores().run(self._exists_op(session_key))

    async def aexists(self, session_key: str | None) -> bool:
        return await stores().arun(self._exists_op(session_key))

    def _delete_op(self, session_key: str | None) -> Operation[Any]:
        if session_key is None:
            session_key = self.session_key
        if not is_token(session_key):
            return done(None)
        assert session_key is not None
        if session_key == self.session_key:
            self._stored = {}  # whatever the dict holds now must be written in full
        return stores().core.delete(session_id_for(session_key))

    def delete(self, session_key: str | None = None) -> None:
        stores().run(self._delete_op(session_key))

    async def adelete(self, session_key: str | None = None) -> None:
        await stores().arun(self._delete_op(session_key))

    # -- cycle_key -----------------------------------------------------------------------

    def _cycle_op(self, age: int) -> Operation[None]:
        """Moves the stored session, its index entries included, to a new token's id in
        one atomic step (the store's regenerate), instead of Django's create-then-delete
        which leaves a window with two sessions and writes the whole dict."""
        session_id = self.session_id
        assert session_id is not None
        token = self._new_token()
        operation = stores().core.regenerate(
            session_id, session_id_for(token), max(age, 1), device=self.device
        )

        def run() -> Operation[None]:
            yield from operation
            self._session_key = token
            # The middleware sends the cookie only for a modified session.
            self.modified = True

        return run()

    def cycle_key(self) -> None:
        age = self.get_expiry_age()  # may load, and so find the session gone: then create
        if self.session_key is None:
            return self.create()
        stores().run(self._cycle_op(age))
        return None

    async def acycle_key(self) -> None:
        age = await self.aget_expiry_age()
        if self.session_key is None:
            return await self.acreate()
        await stores().arun(self._cycle_op(age))
        return None

    # -- expiry ----------------------------------------------------------------------------

    @classmethod
    def clear_expired(cls) -> None:
        """Redis expires the hashes by itself; this prunes the indexes of every member
        that expired or whose hash is gone (``clearsessions`` calls it)."""
        from ._users import prune_indexes

        prune_indexes()

    @classmethod
    async def aclear_expired(cls) -> None:
        from ._users import aprune_indexes

        await aprune_indexes()


def _ignore(operation: Operation[Any]) -> Generator[Any, Any, bool]:
    yield from operation
    return True
