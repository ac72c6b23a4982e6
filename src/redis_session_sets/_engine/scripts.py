"""The Lua scripts, composed once per store configuration from the ``lua/`` folder.

Each operation has its own ``<name>.lua``; ``lib.lua`` holds the helpers they share, each
a top-level ``local function name`` or ``local NAME = ...`` definition. A script sent to
Redis is self-contained and lean (docs/design.md, "Lean scripts"):

- the store's constant configuration (prefix, reference names, topology, absolute max
  age, index slack) is baked into the text, not sent as ARGV on every call: one script
  text (and SHA) per configuration. Each constant's name is replaced by its value (a
  variable would be an upvalue of every helper that reads it, made on every call);
  ``#REFS`` and ``unpack(REFS)`` become the count and the list of names; the lines
  between ``--#if NAME`` and ``--#end`` are kept only when NAME is true or non-zero
  (``--#if not NAME``: only when it is not);
- only the helpers the operation uses, directly or through another helper, are included:
  Redis runs a script's top-level chunk on every call, so every unused definition would
  cost every call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

LuaValue = str | int | bool | tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


# A top-level definition of lib.lua: `local function name(` or `local NAME =`.
DEFINITION = re.compile(r"^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)\b")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMMENT = re.compile(r"--.*$", re.M)


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    text: str
    uses: frozenset[str]


def _uses(text: str) -> frozenset[str]:
    return frozenset(IDENTIFIER.findall(COMMENT.sub("", text)))


@cache
def _read(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


@cache
def library() -> tuple[Definition, ...]:
    """lib.lua cut into its definitions, each with the comment lines just above it.

    Layout rules of lib.lua: a definition starts at column 0 with ``local``; the comment
    lines right above it (column 0, no blank line between) describe it; a blank line
    drops a pending comment block (the file's header); everything else (indented lines,
    ``end``) continues the current definition."""
    definitions: list[Definition] = []
    pending: list[str] = []
    current: tuple[str, list[str]] | None = None
    for line in _read("lib").splitlines():
        match = DEFINITION.match(line)
        if match:
            if current is not None:
                definitions.append(_definition(*current))
            current = (match.group(1), [*pending, line])
            pending = []
        elif line.startswith("--"):
            pending.append(line)
        elif not line.strip():
            pending = []
        elif current is not None:
            current[1].append(line)
    if current is not None:
        definitions.append(_definition(*current))
    return tuple(definitions)


def _definition(name: str, lines: list[str]) -> Definition:
    text = "\n".join(lines).rstrip() + "\n"
    return Definition(name, text, _uses(text) - {name})


def lua_literal(value: LuaValue) -> str:
    """A Python constant as Lua source: strings with every unsafe byte escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return "{ " + ", ".join(lua_literal(item) for item in value) + " }"
    escaped = "".join(
        char if char.isascii() and (char.isalnum() or char in "_-.:/ ") else _escape(char)
        for char in value
    )
    return f"'{escaped}'"


def _escape(char: str) -> str:
    """Lua's decimal escapes of a character's UTF-8 bytes (quotes, backslashes, ...)."""
    return "".join(f"\\{byte:03d}" for byte in char.encode("utf-8"))


CONDITIONAL = re.compile(r"^[ \t]*--#if (not )?([A-Z_]+)\n(.*?)^[ \t]*--#end\n", re.M | re.S)


def bake(text: str, constants: Mapping[str, LuaValue]) -> str:
    """``text`` with the constants' values in place of their names (but tables such as
    REFS stay names where they are indexed or iterated)."""
    text = CONDITIONAL.sub(
        lambda m: m.group(3) if bool(constants[m.group(2)]) != bool(m.group(1)) else "", text
    )
    refs = constants.get("REFS", ())
    assert isinstance(refs, tuple)
    text = text.replace("unpack(REFS)", ", ".join(map(lua_literal, refs)) or "unpack({})")
    text = text.replace("#REFS", str(len(refs)))
    scalars = {key: value for key, value in constants.items() if not isinstance(value, tuple)}
    if not scalars:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, scalars)) + r")\b")
    lines = []
    for line in text.split("\n"):
        code, dashes, comment = line.partition("--")  # comments keep the names
        code = pattern.sub(lambda m: lua_literal(scalars[m.group(1)]), code)
        lines.append(code + dashes + comment)
    return "\n".join(lines)


def compose(name: str, constants: Mapping[str, LuaValue]) -> str:
    """The source of one operation: the helpers it needs, then its body, constants baked."""
    body = bake(_read(name), constants)
    pool = [
        Definition(d.name, text, _uses(text) - {d.name})
        for d in library()
        for text in [bake(d.text, constants)]
    ]
    # Tables (REFS, LIMITS) stay variables, defined first where a script uses them.
    tables = [
        Definition(name, f"local {name} = {lua_literal(value)}\n", frozenset())
        for name, value in constants.items()
        if isinstance(value, tuple)
    ]
    pool[:0] = tables
    by_name = {definition.name: definition for definition in pool}
    needed: set[str] = set()
    todo = [word for word in _uses(body) if word in by_name]
    while todo:
        word = todo.pop()
        if word not in needed:
            needed.add(word)
            todo += [used for used in by_name[word].uses if used in by_name]
    # In the library's order, so each definition comes after those it calls.
    head = "".join(definition.text for definition in pool if definition.name in needed)
    return f"{head}\n{body}" if head else body


class Scripts:
    """The scripts of one store configuration, each composed on first use."""

    def __init__(self, constants: Mapping[str, LuaValue]) -> None:
        self.constants = dict(constants)
        self._scripts: dict[str, Script] = {}

    def __getitem__(self, name: str) -> Script:
        script = self._scripts.get(name)
        if script is None:
            source = compose(name, self.constants)
            script = Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())
            self._scripts[name] = script
        return script
