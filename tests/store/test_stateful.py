"""Model-based test: random sequences of store operations against a plain-Python model.

A hypothesis ``RuleBasedStateMachine`` drives a real ``Store`` on a throwaway Redis with
set, unset, touch, delete, regenerate, delete_all, incr and real time passing over short
max ages (0.2-0.4 s), across several sessions and two reference fields. After every step
it checks ``get``, ``exists``, ``info``, ``sessions``, ``iter_sessions`` and ``count`` for
every session and every indexed value against the model, and the raw indexes (scores and
members) against the model too.

Time: the model knows each session's expiry only as an interval (the script's clock lies
between the instants before and after the call). Before every step the machine waits
out any session whose expiry is within ``margin`` of now, so every step sees each session
clearly alive or clearly gone; a step that ran so slowly that it might have crossed an
expiry is discarded rather than judged. That keeps the test exact and never flaky.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from redis.cluster import RedisCluster

from redis_session_sets import Store
from tests.support.stress import budget

REFS = ("user_id", "team")
PLAIN = ("x", "n")
FIELDS = (*REFS, *PLAIN)
INDEX_VALUES = ("a", "b", "0", "1", "2", "3")
STORE_MAX_AGE = 0.4  # the store's default, used by regenerate and max_age=None
ABSOLUTE = 0.9  # the absolute max age of the second machine

ref_values = st.sampled_from(["a", "b", "1", "2", 1, 2, None])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
field_values = {
    "user_id": ref_values,
    "team": ref_values,
    "x": json_values,
    "n": st.integers(-5, 5) | st.sampled_from(["7", 1.5, True, None]),
}
value_maps = st.sets(st.sampled_from(FIELDS), max_size=4).flatmap(
    lambda names: st.fixed_dictionaries({name: field_values[name] for name in sorted(names)})
)
max_ages = st.sampled_from([None, 0.2, 0.3, 30])
slots = st.integers(0, 7)


def normal(value: Any) -> Any:
    """What reading a value back gives: its JSON round trip."""
    return json.loads(json.dumps(value))


def indexed(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


@dataclass
class Model:
    """A session as the model sees it; times are Unix seconds, known within an interval."""

    fields: dict[str, Any] = field(default_factory=dict)
    created: tuple[float, float] = (0.0, 0.0)
    expires: tuple[float, float] = (0.0, 0.0)


class StoreMachine(RuleBasedStateMachine):
    absolute: float | None = None
    margin = 0.08  # seconds around an expiry in which the model does not judge
    # Single server: an index score is its session's expiry, exactly. (A cluster only ever
    # raises scores, so that late index updates cannot undo newer ones.)
    exact_scores = True

    def __init__(self, client: redis.Redis | RedisCluster) -> None:
        super().__init__()
        client.flushdb()
        self.raw = client
        self.store = Store(
            client,
            references=REFS,
            max_age=STORE_MAX_AGE,
            absolute_max_age=self.absolute,
        )
        self.ids = [self.store.create_session_id() for _ in range(3)]
        self.live: dict[str, Model] = {}

    # -- time -----------------------------------------------------------------------

    def settle(self) -> None:
        """Waits until no session's expiry is within self.margin of now, forgetting the expired."""
        while True:
            now = time.time()
            for session_id, model in list(self.live.items()):
                if now > model.expires[1] + self.margin:
                    del self.live[session_id]
            near = [m.expires[1] for m in self.live.values() if now >= m.expires[0] - self.margin]
            if not near:
                return
            time.sleep(max(near) + self.margin - now + 0.005)

    def call(self, operation: Callable[[], Any]) -> tuple[Any, float, float]:
        """Runs one store call; returns its result and the instants around it. Discards
        the example if the call was slow enough to straddle an expiry."""
        self.settle()
        start = time.time()
        result = operation()
        end = time.time()
        self.still_clear(end)
        return result, start, end

    def still_clear(self, end: float) -> None:
        assume(all(end < m.expires[0] - self.margin / 2 for m in self.live.values()))

    def renewed(self, model: Model, max_age: float | None, start: float, end: float) -> None:
        age = STORE_MAX_AGE if max_age is None else max_age
        low, high = start + age, end + age
        if self.absolute is not None:
            low = min(low, model.created[0] + self.absolute)
            high = min(high, model.created[1] + self.absolute)
        model.expires = (low, high)

    def opened(self, session_id: str, start: float, end: float) -> Model:
        """The model of a session a write creates when it is missing."""
        return self.live.get(session_id) or Model(created=(start, end))

    def pick(self, slot: int) -> str:
        return self.ids[slot % len(self.ids)]

    # -- rules ----------------------------------------------------------------------

    @rule()
    def new_id(self) -> None:
        if len(self.ids) < 8:
            self.ids.append(self.store.create_session_id())

    @rule(seconds=st.sampled_from([0.05, 0.15, 0.3]))
    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    @rule(slot=slots, values=value_maps, max_age=max_ages)
    def set_values(self, slot: int, values: dict[str, Any], max_age: float | None) -> None:
        session_id = self.pick(slot)
        _, start, end = self.call(lambda: self.store.set(session_id, values, max_age))
        model = self.opened(session_id, start, end)
        model.fields.update({name: normal(value) for name, value in values.items()})
        self.renewed(model, max_age, start, end)
        self.live[session_id] = model

    @rule(slot=slots, names=st.sets(st.sampled_from((*FIELDS, "nothing"))), max_age=max_ages)
    def unset(self, slot: int, names: set[str], max_age: float | None) -> None:
        session_id = self.pick(slot)
        _, start, end = self.call(lambda: self.store.unset(session_id, sorted(names), max_age))
        model = self.live.get(session_id)
        if model is not None:  # unset never creates a session
            for name in names:
                model.fields.pop(name, None)
            self.renewed(model, max_age, start, end)

    @rule(
        slot=slots,
        name=st.sampled_from(("n", "n", "user_id", "x")),
        amount=st.integers(-3, 3),
        max_age=max_ages,
    )
    def incr(self, slot: int, name: str, amount: int, max_age: float | None) -> None:
        session_id = self.pick(slot)
        self.settle()  # first: the session may expire now
        fields = self.live[session_id].fields if session_id in self.live else {}
        if name in fields and type(fields[name]) is not int:
            # A non-integer (even a bool or a float): TypeError, and nothing is written.
            with pytest.raises(TypeError):
                self.store.incr(session_id, name, amount, max_age)
            return
        result, start, end = self.call(lambda: self.store.incr(session_id, name, amount, max_age))
        model = self.opened(session_id, start, end)
        expected = model.fields.get(name, 0) + amount
        assert result == expected
        model.fields[name] = expected
        self.renewed(model, max_age, start, end)
        self.live[session_id] = model

    @rule(slot=slots, max_age=max_ages)
    def touch(self, slot: int, max_age: float | None) -> None:
        session_id = self.pick(slot)
        result, start, end = self.call(lambda: self.store.touch(session_id, max_age))
        model = self.live.get(session_id)
        assert result is (model is not None)
        if model is not None:
            self.renewed(model, max_age, start, end)

    @rule(slot=slots)
    def delete(self, slot: int) -> None:
        session_id = self.pick(slot)
        result, _, _ = self.call(lambda: self.store.delete(session_id))
        assert result is (self.live.pop(session_id, None) is not None)

    @rule(slot=slots)
    def regenerate(self, slot: int) -> None:
        session_id = self.pick(slot)
        new_id, start, end = self.call(lambda: self.store.regenerate(session_id))
        assert new_id != session_id and new_id not in self.ids
        model = self.live.pop(session_id, None) or Model(created=(start, end))
        self.renewed(model, None, start, end)
        self.live[new_id] = model
        self.ids[self.ids.index(session_id)] = new_id
        self.ids.append(session_id)  # the old id stays known: it must read as gone
        del self.ids[:-8]

    @rule(
        name=st.sampled_from(REFS),
        value=st.sampled_from(["a", "b", "1", 2]),
        keep=st.sets(slots, max_size=2),
    )
    def delete_all(self, name: str, value: str | int, keep: set[int]) -> None:
        kept = {self.pick(slot) for slot in keep}
        deleted, _, _ = self.call(lambda: self.store.delete_all(name, value, keep=kept))
        doomed = [
            session_id
            for session_id, model in self.live.items()
            if indexed(model.fields.get(name)) == str(value) and session_id not in kept
        ]
        assert deleted == len(doomed)
        for session_id in doomed:
            del self.live[session_id]

    # -- the check after every step ---------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        self.settle()
        read: dict[str, Any] = {}
        for session_id in self.ids:
            read[session_id] = (
                self.store.get(session_id),
                self.store.get(session_id, ["x", "user_id", "nothing"]),
                self.store.exists(session_id),
                self.store.info(session_id),
            )
        listed: dict[tuple[str, str], Any] = {}
        for name in REFS:
            for value in INDEX_VALUES:
                listed[name, value] = (
                    self.store.sessions(name, value),
                    self.store.count(name, value),
                    list(self.store.iter_sessions(name, value, batch_size=2)),
                )
        raw_indexes: dict[tuple[str, str], list[tuple[bytes, float]]] = {
            (name, value): self.raw.zrange(  # type: ignore[misc]
                self.store.get_reference_key(name, value), 0, -1, withscores=True
            )
            for name in REFS
            for value in INDEX_VALUES
        }
        end = time.time()
        if not all(end < m.expires[0] - self.margin / 2 for m in self.live.values()):
            return  # the checks were too slow to be judged; the next step checks again

        for session_id, (everything, some, exists, info) in read.items():
            model = self.live.get(session_id)
            fields = {} if model is None else model.fields
            assert everything == fields, session_id
            assert some == {k: v for k, v in fields.items() if k in ("x", "user_id")}
            assert exists is (model is not None)
            if model is None:
                assert info is None
            else:
                assert info is not None
                expires = info.expires_at.timestamp()
                assert model.expires[0] - 0.01 <= expires <= model.expires[1] + 0.01
                created = info.created_at.timestamp()
                assert model.created[0] - 0.01 <= created <= model.created[1] + 0.01

        for (name, value), (ids, count, streamed) in listed.items():
            expected = {
                session_id
                for session_id, model in self.live.items()
                if indexed(model.fields.get(name)) == value
            }
            assert sorted(ids) == sorted(expected), (name, value)
            assert count == len(expected)
            assert sorted(streamed) == sorted(expected)
            # The reads pruned the index: it holds exactly the live members, each scored
            # with its session's expiry (on a cluster: never before it).
            members = {m.decode(): score / 1000 for m, score in raw_indexes[name, value]}
            assert set(members) == expected, (name, value)
            for session_id, score in members.items():
                low, high = self.live[session_id].expires
                assert low - 0.005 <= score, (session_id, score, low, high)  # never early
                if self.exact_scores:
                    assert score <= high + 0.005, (session_id, score, low, high)


class AbsoluteMachine(StoreMachine):
    """The same, with an absolute max age that caps every renewal."""

    absolute = ABSOLUTE


def run(machine: type[StoreMachine], client: redis.Redis | RedisCluster, examples: int = 8) -> None:
    run_state_machine_as_test(
        lambda: machine(client),  # type: ignore[arg-type]  # any factory works
        settings=settings(
            max_examples=budget(examples, 150),
            stateful_step_count=budget(25, 50),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_store_agrees_with_model(raw: redis.Redis) -> None:
    run(StoreMachine, raw)


def test_store_with_absolute_max_age_agrees_with_model(raw: redis.Redis) -> None:
    run(AbsoluteMachine, raw)
