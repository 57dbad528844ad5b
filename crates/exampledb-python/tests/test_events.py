"""Change events from other writers sharing the store: a listener on one database object
hears what another object (as another process would) saves and deletes, from its
dedicated thread."""

from __future__ import annotations

import os
import threading
import time

import pytest

import exampledb


def wait_for(heard: list, match, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(match(e) for e in heard):
        assert time.monotonic() < deadline, f"{what} not heard; heard {heard}"
        time.sleep(0.01)


@pytest.mark.parametrize("name", ["directory", "redis", "s3", "dynamodb"])
def test_a_listener_hears_another_writer(name, request, tmp_path_factory) -> None:
    from conftest import backend_named

    url = backend_named(request, name, tmp_path_factory).url()
    listening, writer = exampledb.open(url), exampledb.open(url)
    heard: list = []
    threads: set = set()

    def listener(event) -> None:
        threads.add(threading.current_thread().name)
        heard.append(event)

    listening.add_listener(listener)  # returns once the listener is ready
    key, value = os.urandom(48), os.urandom(20)
    writer.save(key, value)
    wait_for(heard, lambda e: e == ("save", (key, value)), "the other writer's save")
    writer.delete(key, value)
    wait_for(
        heard,
        lambda e: e[0] == "delete" and e[1][0] == key and e[1][1] in (value, None),
        "the other writer's delete",
    )
    listening.remove_listener(listener)
    assert threads == {"exampledb-listener-" + type(listening).__name__}
    # Stopped: nothing more is heard.
    count = len(heard)
    writer.save(key, b"after")
    time.sleep(1.0)
    assert len(heard) == count


def test_a_raising_listener_does_not_silence_the_others(tmp_path) -> None:
    db = exampledb.open(tmp_path)
    heard: list = []

    def broken(event) -> None:
        raise ValueError("a listener bug")

    db.add_listener(broken)
    db.add_listener(heard.append)
    db.save(b"k", b"1")
    db.save(b"k", b"2")
    wait_for(heard, lambda e: e == ("save", (b"k", b"2")), "events after a raising listener")
    db.clear_listeners()
