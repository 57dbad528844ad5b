"""The package's interface: Hypothesis accepts its objects, equality and repr, errors,
threads, the GIL, and processes made by fork and spawn."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis.database import ExampleDatabase

import exampledb
from exampledb import errors


def test_every_class_is_a_hypothesis_database(tmp_path, redis_url, s3_endpoint) -> None:
    dbs = [
        exampledb.open(tmp_path / "a"),
        exampledb.DirectoryDatabase(tmp_path / "b"),
        exampledb.RedisDatabase(redis_url),
        exampledb.S3Database("some-bucket", "prefix", endpoint=s3_endpoint, path_style=True),
        exampledb.DynamoDBDatabase("some-table", endpoint=s3_endpoint),
        exampledb.GitHubArtifactDatabase("owner", "repo", path=tmp_path / "cache"),
        exampledb.InMemoryDatabase(),
    ]
    dbs.append(exampledb.MultiplexedDatabase(dbs[0], exampledb.ReadOnlyDatabase(dbs[-1])))
    for db in dbs:
        assert isinstance(db, ExampleDatabase), db
        assert db._listeners == [], "super().__init__() was not called"
        assert settings(database=db).database is db
    assert [type(db).__name__ for db in dbs] == [
        "DirectoryDatabase",
        "DirectoryDatabase",
        "RedisDatabase",
        "S3Database",
        "DynamoDBDatabase",
        "GitHubArtifactDatabase",
        "InMemoryDatabase",
        "MultiplexedDatabase",
    ]


def test_open_returns_the_backend_class(tmp_path) -> None:
    assert type(exampledb.open("redis://127.0.0.1:1/0")) is exampledb.RedisDatabase
    assert type(exampledb.open("s3://bucket/p")) is exampledb.S3Database
    assert type(exampledb.open("dynamodb://table")) is exampledb.DynamoDBDatabase
    assert type(exampledb.open("github://o/r")) is exampledb.GitHubArtifactDatabase
    assert type(exampledb.open(f"{tmp_path};readonly:memory:")) is exampledb.MultiplexedDatabase
    assert type(exampledb.open("readonly:memory:")) is exampledb.ReadOnlyDatabase


def test_databases_compare_by_settings(tmp_path, redis_url) -> None:
    import redis

    assert exampledb.open(tmp_path) == exampledb.DirectoryDatabase(tmp_path)
    assert exampledb.open(tmp_path) != exampledb.open(tmp_path / "other")
    assert exampledb.open(redis_url) == exampledb.RedisDatabase(redis_url)
    # Settings as written: the client's server is spelled with its database number.
    assert exampledb.RedisDatabase(f"{redis_url}/0") == exampledb.RedisDatabase(redis.Redis.from_url(redis_url))
    assert exampledb.RedisDatabase(redis_url, key_prefix=b"a") != exampledb.RedisDatabase(redis_url, key_prefix=b"b")
    assert exampledb.RedisDatabase(redis_url, expire_after=timedelta(days=1)) == exampledb.open(
        redis_url, expire_after=timedelta(days=1)
    )
    assert exampledb.open("redis://:one@127.0.0.1:1/0") != exampledb.open("redis://:two@127.0.0.1:1/0")
    assert len({exampledb.open(tmp_path), exampledb.DirectoryDatabase(tmp_path)}) == 1
    # What HypoFuzz does: a test's database must equal the profile's.
    assert settings(database=exampledb.open(redis_url)).database == exampledb.open(redis_url)
    assert exampledb.open(tmp_path) != exampledb.InMemoryDatabase()
    assert exampledb.open("memory:") != object()


def test_repr_shows_no_secret() -> None:
    shown = [
        repr(exampledb.open("redis://user:hunter2@127.0.0.1:1/0?key_prefix=x")),
        repr(exampledb.RedisDatabase("redis://:hunter2@127.0.0.1:1/0")),
        repr(exampledb.GitHubArtifactDatabase("o", "r", token="hunter2")),
        repr(exampledb.open("github://o/r", token="hunter2")),
        repr(exampledb.open("memory:;readonly:redis://:hunter2@127.0.0.1:1")),
    ]
    for text in shown:
        assert "hunter2" not in text, text
    assert shown[0] == "RedisDatabase('redis://127.0.0.1:1/0')"
    assert "token='***'" in shown[2]


def test_errors_are_typed_and_keep_the_rust_message(tmp_path) -> None:
    with pytest.raises(errors.ConfigurationError) as bad:
        exampledb.open("ftp://example.com/db")
    assert isinstance(bad.value, ValueError) and isinstance(bad.value, exampledb.ExampleDatabaseError)
    assert str(bad.value).startswith('exampledb database: invalid configuration: unknown scheme "ftp"')
    assert (bad.value.kind, bad.value.backend, bad.value.temporary) == ("invalid configuration", "exampledb", False)

    with pytest.raises(errors.ConfigurationError, match="colour"):
        exampledb.open("redis://127.0.0.1:1/0", colour="red")
    with pytest.raises(ValueError, match="not UTF-8"):
        exampledb.RedisDatabase("redis://127.0.0.1:1", key_prefix=b"\xff")
    with pytest.raises(TypeError, match="expire_after"):
        exampledb.RedisDatabase("redis://127.0.0.1:1", expire_after=object())

    # Nothing listens on port 1: refused at once.
    db = exampledb.RedisDatabase("redis://127.0.0.1:1/0")
    with pytest.raises(errors.UnavailableError) as down:
        db.fetch(b"key")
    assert isinstance(down.value, ConnectionError)
    assert down.value.temporary and down.value.backend == "redis" and down.value.operation == "fetch"
    assert str(down.value).startswith("redis database: fetch failed at 127.0.0.1:1")

    # A file where the directory should be.
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(errors.ExampleDatabaseError) as not_a_dir:
        exampledb.DirectoryDatabase(blocker).save(b"k", b"v")
    assert "directory database" in str(not_a_dir.value)

    with pytest.raises(TypeError, match="MultiplexedDatabase"):
        from hypothesis.database import InMemoryExampleDatabase

        exampledb.MultiplexedDatabase(InMemoryExampleDatabase())


def test_read_only_writes_are_no_ops(tmp_path) -> None:
    inner = exampledb.open(tmp_path)
    inner.save(b"k", b"v")
    ro = exampledb.ReadOnlyDatabase(inner)
    ro.save(b"k", b"w")
    ro.delete(b"k", b"v")
    assert ro.fetch(b"k") == [b"v"] and inner.fetch(b"k") == [b"v"]


def test_a_panic_becomes_internal_error() -> None:
    with pytest.raises(errors.InternalError, match="deliberate panic"):
        exampledb._native._panic_for_tests()
    # The runtime still works afterwards.
    db = exampledb.InMemoryDatabase()
    db.save(b"k", b"v")
    assert db.fetch(b"k") == [b"v"]


@pytest.mark.parametrize("name", ["directory", "redis"])
def test_many_threads_at_once(name, tmp_path, request) -> None:
    url = str(tmp_path) if name == "directory" else request.getfixturevalue("redis_url") + "?key_prefix=threads:"
    db = exampledb.open(url)
    key = os.urandom(8)

    def work(t: int) -> None:
        for i in range(100):
            db.save(key, b"%d-%d" % (t, i))
            assert db.fetch(key)
            if i % 3 == 0:
                db.move(key, key + b".secondary", b"%d-%d" % (t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moved = {b"%d-%d" % (t, i) for t in range(8) for i in range(100) if i % 3 == 0}
    everything = {b"%d-%d" % (t, i) for t in range(8) for i in range(100)}
    assert set(db.fetch(key)) == everything - moved
    assert set(db.fetch(key + b".secondary")) == moved


def test_the_gil_is_released_while_waiting() -> None:
    # A server that accepts and never answers: the fetch waits for its time-out.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    db = exampledb.RedisDatabase(f"redis://127.0.0.1:{port}/0", operation_timeout=1.5, connect_timeout=1.5)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.1)
    before = ticks
    started = time.monotonic()
    with pytest.raises(errors.ExampleDatabaseError):
        db.fetch(b"key")
    waited = time.monotonic() - started
    during = ticks - before
    stop.set()
    counter.join()
    server.close()
    assert waited >= 1.0, waited
    # With the GIL held the counter would stand still for the whole wait.
    assert during > 100_000, during


def _child_saves(url: str, value: bytes) -> None:
    db = exampledb.open(url)
    db.save(b"from-children", value)


@pytest.mark.parametrize("name", ["directory", "redis", "s3"])
def test_fork_and_spawn_children(name, tmp_path, request) -> None:
    from conftest import backend_named

    url = backend_named(request, name, request.getfixturevalue("tmp_path_factory")).url()
    db = exampledb.open(url)
    db.save(b"from-parent", b"before fork")  # the parent's runtime and connections exist
    heard: list = []
    db.add_listener(heard.append)

    pid = os.fork()
    if pid == 0:  # the child: uses the inherited object, and listens
        code = 1
        try:
            child_heard: list = []
            db.add_listener(child_heard.append)
            assert db.fetch(b"from-parent") == [b"before fork"]
            db.save(b"from-children", b"forked")
            deadline = time.monotonic() + 10
            while ("save", (b"from-children", b"forked")) not in child_heard and time.monotonic() < deadline:
                time.sleep(0.01)
            code = 0 if ("save", (b"from-children", b"forked")) in child_heard else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    spawned = multiprocessing.get_context("spawn").Process(target=_child_saves, args=(url, b"spawned"))
    spawned.start()
    spawned.join(60)
    assert spawned.exitcode == 0

    assert sorted(db.fetch(b"from-children")) == [b"forked", b"spawned"]
    # The parent's own objects still work after the fork.
    db.save(b"from-parent", b"after fork")
    assert sorted(db.fetch(b"from-parent")) == [b"after fork", b"before fork"]
    deadline = time.monotonic() + 10
    while ("save", (b"from-parent", b"after fork")) not in heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("save", (b"from-parent", b"after fork")) in heard
    db.clear_listeners()


def test_wrappers_share_the_database_they_wrap() -> None:
    a = exampledb.InMemoryDatabase()
    a.save(b"k", b"v")
    assert exampledb.ReadOnlyDatabase(a).fetch(b"k") == [b"v"]
    b = exampledb.InMemoryDatabase()
    both = exampledb.MultiplexedDatabase(a, b)
    both.save(b"k2", b"w")
    assert a.fetch(b"k2") == [b"w"] and b.fetch(b"k2") == [b"w"]
    # Separate stores are separate databases, as Hypothesis's InMemoryExampleDatabase.
    assert exampledb.InMemoryDatabase() != exampledb.InMemoryDatabase()
    assert exampledb.open("memory:") != exampledb.open("memory:")
    assert a == a and hash(a) == hash(a)


def test_paths_are_taken_as_written(tmp_path) -> None:
    from pathlib import Path

    odd = tmp_path / "proj;v2" / "exa:mples?x=1"
    db = exampledb.open(odd)
    assert type(db) is exampledb.DirectoryDatabase
    db.save(b"k", b"v")
    assert odd.is_dir() and not (tmp_path / "proj").exists()
    assert exampledb.DirectoryDatabase(odd).fetch(b"k") == [b"v"]
    assert exampledb.DirectoryDatabase(f"{tmp_path}/x/") == exampledb.DirectoryDatabase(Path(tmp_path) / "x")
    assert exampledb.DirectoryDatabase(f"{tmp_path}/./x") == exampledb.open(f"{tmp_path}/x")


def test_option_values_are_spelled_for_exampledb() -> None:
    # Tiny and fractional durations, as timedelta or seconds.
    exampledb.RedisDatabase("redis://127.0.0.1:1", operation_timeout=timedelta(microseconds=10))
    exampledb.RedisDatabase("redis://127.0.0.1:1", connect_timeout=0.25, expire_after=timedelta(hours=1.5))
    with pytest.raises(errors.ConfigurationError, match="expire_after"):
        exampledb.RedisDatabase("redis://127.0.0.1:1", expire_after=timedelta(seconds=-1))
    shown = repr(
        exampledb.GitHubArtifactDatabase("o", "r", api_url="https://user:s3cretpw@api.example.com/x")
    )
    assert "s3cretpw" not in shown, shown


def test_listeners_added_from_many_threads_make_one_listener(tmp_path) -> None:
    import sys

    db = exampledb.open(tmp_path)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            barrier = threading.Barrier(8)
            listeners = [lambda e: None for _ in range(8)]

            def add(f):
                barrier.wait()
                db.add_listener(f)

            threads = [threading.Thread(target=add, args=(f,)) for f in listeners]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            running = [t for t in threading.enumerate() if t.name.startswith("exampledb-listener")]
            assert len(running) == 1, running
            db.clear_listeners()
            deadline = time.monotonic() + 5
            while any(t.name.startswith("exampledb-listener") for t in threading.enumerate()):
                assert time.monotonic() < deadline, "the listener thread outlived its listeners"
                time.sleep(0.01)
    finally:
        sys.setswitchinterval(switch)


def test_listening_to_a_store_that_is_down_warns_at_once(s3_endpoint) -> None:
    from hypothesis.errors import HypothesisWarning

    down = [
        exampledb.RedisDatabase("redis://127.0.0.1:1/0"),
        exampledb.S3Database("no-such-bucket-here", endpoint=s3_endpoint, path_style=True),
    ]
    for db in down:
        started = time.monotonic()
        with pytest.warns(HypothesisWarning, match="cannot listen for changes now"):
            db.add_listener(lambda e: None)
        assert time.monotonic() - started < 10, db
        db.clear_listeners()


CTRL_C = r"""
import os, signal, socket, sys, threading, time
import exampledb
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
db = exampledb.RedisDatabase(f"redis://127.0.0.1:{server.getsockname()[1]}/0", operation_timeout=60, connect_timeout=60)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
started = time.monotonic()
try:
    db.fetch(b"key")
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.2f}")
"""


def test_ctrl_c_interrupts_a_waiting_call() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    waited = float(out.stdout.split()[-1])
    assert waited < 5, out.stdout
