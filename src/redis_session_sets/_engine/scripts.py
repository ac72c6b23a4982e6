"""The Lua scripts, loaded once from the ``lua/`` folder beside this module.

Each operation has its own ``<name>.lua``; ``lib.lua`` holds the helpers they share and
is prepended to each, so every script sent to Redis is self-contained.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


@cache
def load_script(name: str) -> Script:
    folder = resources.files(__package__) / "lua"
    library = (folder / "lib.lua").read_text(encoding="utf-8")
    source = library + "\n" + (folder / f"{name}.lua").read_text(encoding="utf-8")
    return Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())
