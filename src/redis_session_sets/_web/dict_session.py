"""What the drop-in dict sessions (Django, Flask, Starlette) share: finding the keys a
request changed, so a save writes only those (HSET) and removes only those (HDEL).

A key counts as changed when its JSON differs from what was loaded, not merely when it
was assigned: that also catches a nested value mutated in place
(``session["cart"].append(3)``), which assignment tracking would miss and silently lose,
and it keeps a read-only request from writing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._engine.codec import encode_value
from .._engine.core import SessionRead, StoreCore
from .._engine.keys import MaxAge
from .._engine.protocol import Operation, done
from .tokens import is_token, mint_token, session_id_for

# The ways of reading a dict, and of changing it. A dict session records that either
# happened (``accessed``): the response then depends on the cookie (``Vary: Cookie``).
READ_METHODS = (
    "__getitem__", "__contains__", "__iter__", "__len__", "__repr__", "__eq__", "__ne__",
    "__or__", "get", "keys", "values", "items", "setdefault", "copy",
)  # fmt: skip
WRITE_METHODS = (
    "__setitem__", "__delitem__", "__ior__", "pop", "popitem", "update", "clear",
)  # fmt: skip


def record_access(cls: type, names: Iterable[str]) -> None:
    """Makes each named method of the dict class ``cls`` set ``self.accessed`` first (as
    Flask's ``SecureCookieSession`` does for ``[]``, ``get`` and ``setdefault``; here for
    every way to read the dict, so no response that shows session data lacks ``Vary``)."""

    def noting(method: Callable[..., Any]) -> Callable[..., Any]:
        def noted(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.accessed = True
            return method(self, *args, **kwargs)

        noted.__name__ = noted.__qualname__ = method.__name__
        noted.__doc__ = method.__doc__
        return noted

    for name in names:
        setattr(cls, name, noting(getattr(cls, name)))


def snapshot(data: Mapping[str, Any]) -> dict[str, str]:
    """The JSON of every field, to compare against at save time."""
    return {name: encode_value(name, value) for name, value in data.items()}


@dataclass(frozen=True, slots=True)
class Changes:
    """What a save must send: the fields to write, the ones to remove, and the snapshot
    that describes the stored session once the save succeeded."""

    values: dict[str, Any]
    removed: list[str]
    replace: bool
    after: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.values or self.removed or self.replace)


def changes(stored: Mapping[str, str] | None, data: Mapping[str, Any]) -> Changes:
    """The difference between the stored fields (their JSON; None when they were never
    read) and the session dict. Raises TypeError/ValueError, before anything is written,
    for a value JSON cannot encode or a key the store refuses."""
    after = snapshot(data)
    if stored is None:
        # The dict was emptied before its stored content was read: write everything it
        # holds now and let the store drop every other field.
        return Changes(dict(data), [], True, after)
    values = {name: data[name] for name, raw in after.items() if stored.get(name) != raw}
    removed = [name for name in stored if name not in after]
    return Changes(values, removed, False, after)


def keep_ids(keep: Iterable[str]) -> list[str]:
    """Ids to spare from a ``delete_all``: each given string may be a cookie token or a
    session id; both readings are kept, since an id can never be another session's token
    hash by accident (that would need a SHA-256 preimage)."""
    kept: list[str] = []
    for value in keep:
        if is_token(value):
            kept += (value, session_id_for(value))
    return kept


class DictSessionState:
    """What a dict session carries besides its data: the token it was loaded with (None
    for a new session), the JSON of what Redis holds, and whether to move it to a new id
    at the end of the request (``regenerate()``, at login)."""

    __slots__ = ("regenerate_on_save", "stored", "token")

    def __init__(self, token: str | None, data: Mapping[str, Any]) -> None:
        self.token = token
        self.stored = snapshot(data)
        self.regenerate_on_save = False

    @property
    def session_id(self) -> str | None:
        """The public id (safe to show and log); None until a new session is saved."""
        return None if self.token is None else session_id_for(self.token)


def load(core: StoreCore, token: str | None) -> Operation[SessionRead | None]:
    """The start of a request of a dict session: what the session of a verified cookie
    token holds, or None for no token (no Redis call) or a token naming no live session.
    Strict ids: such a token is not adopted, the first save goes to a fresh token."""
    if token is None:
        return done(None)
    read = core.read(session_id_for(token))

    def run() -> Operation[SessionRead | None]:
        found = yield from read
        return found if found.exists else None

    return run()


# What the response must do with the cookie after a save.
KEEP, SEND, EXPIRE = "keep", "send", "expire"


def save(
    core: StoreCore,
    state: DictSessionState,
    data: Mapping[str, Any],
    max_age: MaxAge,
    *,
    modified: bool = True,
    refresh: bool = False,
    device: Sequence[str] = (),
) -> Operation[str]:
    """The end of a request of a dict session (Flask, Starlette): writes what changed and
    says what to do with the cookie (KEEP, SEND ``state.token``, or EXPIRE).

    - emptied (``session.clear()`` at logout): the session is deleted, cookie expired;
    - new: a fresh token, and its fields written in one call;
    - ``regenerate_on_save``: the session moves to a fresh token's id, then the changes;
    - changed: only the changed keys, on the existing session only. One deleted meanwhile
      (signed out or revoked by another request) is not brought back: nothing is written
      and the cookie is expired;
    - unchanged: nothing, unless ``refresh`` asks to renew the TTL (and the cookie).

    ``device``: the pairs of ``core.device_fields`` (``track``), written with every write.
    Raises TypeError/ValueError before anything is written for a value JSON cannot
    encode or a reserved key.
    """
    token = state.token
    if not data:
        if token is None or not (modified or state.stored):
            return done(KEEP)
        return _outcome(core.delete(session_id_for(token)), state, None, {}, always=EXPIRE)
    pending = changes(state.stored, data)
    if token is None:
        token = mint_token(core.id_bytes)
        write = core.save_changes(session_id_for(token), pending.values, (), max_age, device=device)
        return _outcome(write, state, token, pending.after)
    if state.regenerate_on_save:
        new = mint_token(core.id_bytes)
        move = core.regenerate(session_id_for(token), session_id_for(new), max_age, device=device)
        return _regenerated(core, move, state, new, pending, max_age, device)
    if pending:
        update = _update(core, token, pending, max_age, device)
        return _outcome(update, state, token, pending.after)
    if refresh:
        touch = core.touch(session_id_for(token), max_age, device=device)
        return _outcome(touch, state, token, pending.after)
    return done(KEEP)


def _update(
    core: StoreCore, token: str, pending: Changes, max_age: MaxAge, device: Sequence[str] = ()
) -> Operation[bool]:
    return core.save_changes(
        session_id_for(token),
        pending.values,
        pending.removed,
        max_age,
        create=False,
        replace=pending.replace,
        device=device,
    )


def _outcome(
    operation: Operation[Any],
    state: DictSessionState,
    token: str | None,
    after: dict[str, str],
    always: str | None = None,
) -> Operation[str]:
    """Runs the write; on success the state describes the stored session."""
    ok = yield from operation
    if always is not None or ok:
        state.token, state.stored, state.regenerate_on_save = token, after, False
        return always or SEND
    state.token, state.stored = None, {}
    return EXPIRE  # deleted meanwhile: the other request's decision stands


def _regenerated(
    core: StoreCore,
    move: Operation[str],
    state: DictSessionState,
    token: str,
    pending: Changes,
    max_age: MaxAge,
    device: Sequence[str] = (),
) -> Operation[str]:
    yield from move
    if pending and not (yield from _update(core, token, pending, max_age, device)):
        state.token, state.stored = None, {}
        return EXPIRE  # the session vanished between the two steps
    state.token, state.stored, state.regenerate_on_save = token, pending.after, False
    return SEND
