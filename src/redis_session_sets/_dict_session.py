"""What the drop-in dict sessions (Django, Flask, Starlette) share: finding the keys a
request changed, so a save writes only those (HSET) and removes only those (HDEL).

A key counts as changed when its JSON differs from what was loaded, not merely when it
was assigned: that also catches a nested value mutated in place
(``session["cart"].append(3)``), which assignment tracking would miss and silently lose,
and it keeps a read-only request from writing anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._core import encode_value
from ._tokens import is_token, session_id_for


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
