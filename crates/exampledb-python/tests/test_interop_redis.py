"""The package's Redis database and Hypothesis's own ``RedisExampleDatabase`` on one
server see each other's values and change events."""

from __future__ import annotations

import os
import time

import redis
from hypothesis.extra.redis import RedisExampleDatabase

import exampledb


def wait_for(events: list, event: tuple, pump=None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while event not in events:
        assert time.monotonic() < deadline, f"{event} not heard; heard {events}"
        if pump is not None:
            pump()
        time.sleep(0.01)


def pump(db: RedisExampleDatabase):
    """Hypothesis's listener subscribes but starts no thread of its own: its handler runs
    when someone reads the pub/sub connection, as Hypothesis's own tests do."""
    return lambda: db._pubsub.get_message(timeout=0.05)


def test_values_and_events_cross_both_ways(redis_url) -> None:
    prefix = b"interop-%s:" % os.urandom(4).hex().encode()
    ours = exampledb.RedisDatabase(redis_url, key_prefix=prefix)
    theirs = RedisExampleDatabase(redis.Redis.from_url(redis_url), key_prefix=prefix)
    key = os.urandom(48)  # a test's key: a SHA-384 digest
    ours_heard: list = []
    theirs_heard: list = []
    ours.add_listener(ours_heard.append)
    theirs.add_listener(theirs_heard.append)

    ours.save(key, b"\x00from-rust")
    assert list(theirs.fetch(key)) == [b"\x00from-rust"]
    wait_for(theirs_heard, ("save", (key, b"\x00from-rust")), pump(theirs))

    theirs.save(key, b"\xfffrom-python")
    assert sorted(ours.fetch(key)) == [b"\x00from-rust", b"\xfffrom-python"]
    wait_for(ours_heard, ("save", (key, b"\xfffrom-python")))

    theirs.move(key, key + b".secondary", b"\x00from-rust")
    assert ours.fetch(key + b".secondary") == [b"\x00from-rust"]
    wait_for(ours_heard, ("delete", (key, b"\x00from-rust")))
    wait_for(ours_heard, ("save", (key + b".secondary", b"\x00from-rust")))

    ours.delete(key, b"\xfffrom-python")
    assert list(theirs.fetch(key)) == []
    wait_for(theirs_heard, ("delete", (key, b"\xfffrom-python")), pump(theirs))

    ours.clear_listeners()
    theirs.clear_listeners()


def test_a_client_object_reaches_the_same_server(redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    key = os.urandom(48)
    exampledb.RedisDatabase(client).save(key, b"v")
    assert list(RedisExampleDatabase(client).fetch(key)) == [b"v"]
    RedisExampleDatabase(client).delete(key, b"v")
