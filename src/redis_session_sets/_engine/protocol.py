"""What the sans-IO core asks the sync and async shells to send.

An operation of the core is a generator: it yields requests, receives each reply, and
returns the operation's result. The drivers (``_drivers/``) only send and receive, so
the logic of every operation exists once, whatever the client: ``store.run(operation)``
drives one, ``store.iterate(iteration)`` one that emits values batch by batch.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from .scripts import Script

T = TypeVar("T")

Arg = str | int | bytes


# Command and ScriptCall are made for every request an operation sends: plain slotted
# dataclasses, since a frozen one sets each field through object.__setattr__ (~0.15 us a
# field). Nothing changes them once made.
@dataclass(slots=True)
class Command:
    """One plain Redis command, e.g. ``("HGETALL", key)``."""

    args: tuple[Arg, ...]


@dataclass(slots=True)
class ScriptCall:
    """Run a script with EVALSHA (EVAL when the server answers NOSCRIPT)."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """Several requests sent together in one pipeline (not a transaction); the reply is
    the list of their replies, in order. On a cluster the client groups them per node, so
    a batch costs one round trip however many slots it touches."""

    requests: tuple[Command | ScriptCall, ...]


@dataclass(frozen=True, slots=True)
class Emit:
    """Not a request: values an iterating operation hands to its caller."""

    values: list[str]


Request = Command | ScriptCall | Batch

# An operation: yields requests, is sent their replies, returns a T.
Operation = Generator[Request, Any, T]
# An iteration: like an operation, but also yields Emit values to the caller.
Iteration = Generator[Request | Emit, Any, None]


def done(value: T) -> Operation[T]:
    """An operation that needs no Redis: it sends nothing and returns ``value``."""
    return value
    yield  # unreachable; makes this function a generator


def collect(iteration: Iteration) -> Operation[list[list[str]]]:
    """Runs an iteration inside an operation: its requests pass through, its emitted
    batches are gathered."""
    batches: list[list[str]] = []
    reply = None
    while True:
        try:
            request = iteration.send(reply)
        except StopIteration:
            return batches
        if isinstance(request, Emit):
            batches.append(request.values)
            reply = None
        else:
            reply = yield request
