"""Every backend, driven through the package by Hypothesis's stateful testing side by
side with Hypothesis's ``InMemoryExampleDatabase``: after each step both hold the same
values, and the events heard by a listener on each are the same (a ``("delete", (key,
None))`` from a backend that cannot know the value stands for any delete under that key).

These are the checks Hypothesis applies to its own databases (its
``DatabaseComparison`` state machine and its listener tests), written here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.database import InMemoryExampleDatabase
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import exampledb

# How long a backend has to deliver a step's events (pub/sub, streams, polling).
EVENT_DEADLINE = 15.0

Event = tuple


def unmatched(heard: list[Event], expected: list[Event]) -> tuple[list[Event], list[Event]]:
    """What remains of each side after pairing equal events; a heard delete with value
    None pairs with any expected delete under its key."""
    rest = list(expected)
    extra = []
    for event in heard:
        if event in rest:
            rest.remove(event)
            continue
        kind, (key, value) = event
        if kind == "delete" and value is None:
            match = next((e for e in rest if e[0] == "delete" and e[1][0] == key), None)
            if match is not None:
                rest.remove(match)
                continue
        extra.append(event)
    return extra, rest


def comparison(open_db: Callable[[], exampledb.Database]) -> type[RuleBasedStateMachine]:
    class DatabaseComparison(RuleBasedStateMachine):
        keys = Bundle("keys")
        values = Bundle("values")

        def __init__(self) -> None:
            super().__init__()
            self.db = open_db()
            self.model = InMemoryExampleDatabase()
            self.heard: list[Event] = []
            self.expected: list[Event] = []
            self.listener_threads: set[str] = set()
            self.all_keys: set[bytes] = set()

            def on_change(event: Event) -> None:
                self.listener_threads.add(threading.current_thread().name)
                self.heard.append(event)

            self.on_change = on_change
            self.db.add_listener(on_change)
            self.model.add_listener(self.expected.append)

        @rule(target=keys, k=st.binary(max_size=8))
        def key(self, k: bytes) -> bytes:
            self.all_keys.add(k)
            return k

        @rule(target=values, v=st.binary(max_size=8))
        def value(self, v: bytes) -> bytes:
            return v

        @rule(k=keys, v=values)
        def save(self, k: bytes, v: bytes) -> None:
            self.db.save(k, v)
            self.model.save(k, v)

        @rule(k=keys, v=values)
        def delete(self, k: bytes, v: bytes) -> None:
            self.db.delete(k, v)
            self.model.delete(k, v)

        @rule(src=keys, dest=keys, v=values)
        def move(self, src: bytes, dest: bytes, v: bytes) -> None:
            self.db.move(src, dest, v)
            self.model.move(src, dest, v)

        @invariant()
        def same_values(self) -> None:
            for k in self.all_keys:
                assert sorted(self.db.fetch(k)) == sorted(self.model.fetch(k)), k

        @invariant()
        def same_events(self) -> None:
            deadline = time.monotonic() + EVENT_DEADLINE
            while True:
                heard = list(self.heard)
                extra, missing = unmatched(heard, self.expected)
                if not extra and not missing:
                    break
                assert not extra, f"events no change made: {extra}; expected {self.expected}"
                assert time.monotonic() < deadline, f"events not heard: {missing}; heard {heard}"
                time.sleep(0.005)
            del self.heard[: len(heard)]
            self.expected.clear()
            assert self.listener_threads <= {"exampledb-listener-" + type(self.db).__name__}, (
                f"events delivered from {self.listener_threads}"
            )

        def teardown(self) -> None:
            # Late or doubled events show up here.
            time.sleep(0.2)
            extra, missing = unmatched(list(self.heard), self.expected)
            self.db.remove_listener(self.on_change)
            self.model.clear_listeners()
            assert not extra and not missing, (extra, missing)

    return DatabaseComparison


def test_backend_matches_hypothesis_in_memory_database(backend) -> None:
    machine = comparison(lambda: exampledb.open(backend.url()))
    network = backend.name in ("redis", "s3", "dynamodb")
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12 if network else 40,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
