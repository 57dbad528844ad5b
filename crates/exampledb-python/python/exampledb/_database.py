"""The database classes: subclasses of Hypothesis's ``ExampleDatabase`` that hold an
exampledb database (``exampledb._native.Database``) and run its listener thread."""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
import weakref
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Callable, Union

from hypothesis.database import ExampleDatabase
from hypothesis.errors import HypothesisWarning

from . import _native
from .errors import NotSupportedError, TimeoutError

__all__ = [
    "Database",
    "DirectoryDatabase",
    "DynamoDBDatabase",
    "GitHubArtifactDatabase",
    "InMemoryDatabase",
    "MultiplexedDatabase",
    "ReadOnlyDatabase",
    "RedisDatabase",
    "S3Database",
    "open",
]

_log = logging.getLogger("exampledb")

#: How long ``add_listener`` waits for a listener to be ready (a Redis subscription
#: active, a DynamoDB stream position found, S3's first listing) before it warns and
#: goes on listening in the background.
LISTEN_READY_TIMEOUT = 30.0

#: How often the listener thread looks whether it was stopped, in seconds.
_LISTENER_POLL = 0.25

OptionValue = Union[str, bytes, bool, int, float, timedelta, "os.PathLike[str]", None]


def _option_text(name: str, value: Any) -> str:
    """An option's value as exampledb's URL options spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format(value.total_seconds(), "f") + "s"
    if isinstance(value, float):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{name}: {value!r} is not UTF-8, which exampledb requires") from None
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    raise TypeError(
        f"{name}: expected str, bytes, bool, int, float, timedelta or a path, "
        f"got {type(value).__name__}"
    )


def _options(**options: OptionValue) -> list[tuple[str, str]]:
    """The options that were given (``None`` leaves exampledb's default)."""
    return [(k, _option_text(k, v)) for k, v in options.items() if v is not None]


# Databases listening for changes in this process: after a fork, the child starts its own
# listener (threads do not survive a fork).
_listening: weakref.WeakSet[Database] = weakref.WeakSet()


class Database(ExampleDatabase):
    """An exampledb database for Hypothesis: pass it to ``settings(database=...)``.

    Made by :func:`open` or by one of the subclasses. ``save``, ``fetch``, ``delete``
    and ``move`` behave exactly as Hypothesis's own databases; ``keys`` and ``check``
    are extras. Safe to use from many threads at once: the GIL is released while a call
    waits. Usable in processes made by ``fork`` or ``spawn`` (each process opens its own
    connections). Change listeners are called from a dedicated thread, with Hypothesis's
    events ``("save", (key, value))`` and ``("delete", (key, value_or_None))``; changes
    made by other processes sharing the store are reported too, where the backend can
    see them.

    Two databases are equal when they were made with the same settings, so HypoFuzz's
    workers agree on them. ``repr`` never shows a secret.
    """

    def __init__(self, native: _native.Database) -> None:
        super().__init__()
        if not isinstance(native, _native.Database):
            raise TypeError(
                "exampledb.Database is made by exampledb.open(url) or a backend's class"
            )
        self._native = native
        self._listen_lock = threading.Lock()
        self._subscription: _native.Subscription | None = None
        self._thread: threading.Thread | None = None
        # Set in a child made by fork while listening: its listener starts again (ready)
        # at the child's first call.
        self._resume_after_fork = False

    # -- Hypothesis's interface ---------------------------------------------------------

    def save(self, key: bytes, value: bytes) -> None:
        """Adds ``value`` to ``key``'s set (nothing happens if it is there)."""
        if self._resume_after_fork:
            self._resume_listening()
        self._native.save(key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        """Every value under ``key``, in no particular order."""
        if self._resume_after_fork:
            self._resume_listening()
        return self._native.fetch(key)

    def delete(self, key: bytes, value: bytes) -> None:
        """Removes ``value`` from ``key``'s set (nothing happens if it is not there)."""
        if self._resume_after_fork:
            self._resume_listening()
        self._native.delete(key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        """Moves ``value`` from ``src`` to ``dest``, in one step where the backend can;
        ``value`` ends up under ``dest`` even if it was not under ``src``."""
        if self._resume_after_fork:
            self._resume_listening()
        self._native.move(src, dest, value)

    # -- extras -------------------------------------------------------------------------

    def keys(self) -> list[bytes]:
        """Every key holding a value. Raises :class:`~exampledb.errors.NotSupportedError`
        where the store cannot list them."""
        if self._resume_after_fork:
            self._resume_listening()
        return self._native.keys()

    def check(self) -> None:
        """Raises what is wrong if the store cannot be used now (a missing bucket, a
        server down, bad credentials), instead of at the first operation."""
        if self._resume_after_fork:
            self._resume_listening()
        self._native.check()

    # -- listening ------------------------------------------------------------------------

    def _start_listening(self) -> None:
        with self._listen_lock:
            # Hypothesis's add_listener may call this from two threads at once: one
            # listener is enough.
            if self._subscription is not None or not self._listeners:
                return
            try:
                subscription = self._subscribe()
            except NotSupportedError as e:
                warnings.warn(
                    f"{self!r} cannot listen for changes: {e}", HypothesisWarning, stacklevel=4
                )
                return
            self._run_listener(subscription)
            _listening.add(self)

    def _stop_listening(self) -> None:
        with self._listen_lock:
            if self._listeners:  # added again meanwhile, from another thread
                return
            _listening.discard(self)
            subscription, thread = self._subscription, self._thread
            self._subscription = self._thread = None
        if subscription is not None:
            subscription.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _subscribe(self) -> _native.Subscription:
        """A subscription that hears every change made after it returns, where the store
        can be reached now; else (said in a warning, without waiting) one that keeps
        trying in the background."""
        try:
            self._native.check()
        except NotSupportedError:
            raise
        except Exception as e:
            warnings.warn(
                f"{self!r} cannot listen for changes now ({e}); the listener keeps trying "
                "in the background, and changes made meanwhile may not be reported",
                HypothesisWarning,
                stacklevel=5,
            )
            return self._native.subscribe(None)
        try:
            return self._native.subscribe(LISTEN_READY_TIMEOUT)
        except TimeoutError as e:
            warnings.warn(
                f"{self!r}: the change listener is not ready after {LISTEN_READY_TIMEOUT} s "
                f"({e}); it keeps trying in the background, and changes made meanwhile "
                "may not be reported",
                HypothesisWarning,
                stacklevel=5,
            )
            return self._native.subscribe(None)

    def _run_listener(self, subscription: _native.Subscription) -> None:
        thread = threading.Thread(
            target=self._deliver,
            args=(subscription,),
            name=f"exampledb-listener-{type(self).__name__}",
            daemon=True,
        )
        self._subscription, self._thread = subscription, thread
        thread.start()

    def _deliver(self, subscription: _native.Subscription) -> None:
        """The listener thread: hands each event to the listeners until closed."""
        while True:
            event = subscription.next(_LISTENER_POLL)
            if event is None:
                if subscription.closed:
                    return
                continue
            self._broadcast_change(event)

    def _broadcast_change(self, event: Any) -> None:
        """Calls every listener with ``event``; one that raises is logged, and the
        others still hear it."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _log.exception("a change listener of %r raised; the others still hear events", self)

    def _forget_listener_after_fork(self) -> None:
        """In a child made by fork: the parent's listener thread is gone. Ours starts at
        the child's first call (no I/O in a fork handler)."""
        self._listen_lock = threading.Lock()
        self._subscription = self._thread = None
        self._resume_after_fork = True

    def _resume_listening(self) -> None:
        with self._listen_lock:
            if not self._resume_after_fork:
                return
            self._resume_after_fork = False
            if self._listeners and self._subscription is None:
                self._run_listener(self._subscribe())

    def add_listener(self, f: Callable[[Any], None], /) -> None:
        """Hypothesis's ``add_listener``; ``f`` is called from the listener thread."""
        if self._resume_after_fork:
            self._resume_listening()
        super().add_listener(f)

    # -- value semantics ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Database):
            return NotImplemented
        return type(self) is type(other) and self._native.identity() == other._native.identity()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._native.identity()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._native.describe()})"

    def __reduce__(self) -> tuple[Callable[..., Database], tuple[Any, ...]]:
        raise TypeError(
            f"{type(self).__name__} cannot be pickled (its settings may hold secrets): "
            "make it again in the other process, from the same settings"
        )


def _after_fork_in_child() -> None:
    for db in list(_listening):
        db._forget_listener_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _wrap(cls: type[Database], native: _native.Database) -> Database:
    db = cls.__new__(cls)
    Database.__init__(db, native)
    return db


def open(url: str | os.PathLike[str], **options: OptionValue) -> Database:  # noqa: A001
    """The database ``url`` names, as the ``exampledb`` command and the Rust crate open it.

    - a path (or ``file:PATH``): Hypothesis's directory database; a path object
      (``pathlib.Path``) is always taken as a path;
    - ``redis://[user:password@]host[:port][/db]``, ``rediss://...``;
    - ``s3://BUCKET[/PREFIX]``; ``dynamodb://TABLE``;
    - ``github://OWNER/REPO[/ARTIFACT]`` (CI's artifact, read-only);
    - ``memory:``; ``readonly:URL``;
    - the recipe ``URL;readonly:URL``: writes go to the first, fetches see all.

    Options are the URL's query options as keyword arguments (``expire_after=
    timedelta(days=8)``, ``key_prefix=b"..."``, ``region="eu-west-1"``, ...). Nothing
    connects until first use; a bad URL or option raises
    :class:`~exampledb.errors.ConfigurationError` here.

    >>> import exampledb
    >>> from hypothesis import settings
    >>> settings.register_profile("ci", database=exampledb.open("s3://my-bucket/examples"))
    """
    if not isinstance(url, str):
        # A path object is a path, never a URL (it may hold `;`, `?` or `:`).
        return _wrap(DirectoryDatabase, _native.Database.directory(os.fsdecode(url), _options(**options)))
    native = _native.Database.open(url, _options(**options))
    return _wrap(_CLASSES[native.class_name], native)


class DirectoryDatabase(Database):
    """Hypothesis's directory database (``DirectoryBasedExampleDatabase``'s layout),
    written atomically: a reader never sees half a value, and a crash never leaves one.

    ``path`` is taken literally (made absolute). ``durable=True`` fsyncs each write.
    """

    def __init__(
        self,
        path: str | bytes | os.PathLike[str],
        *,
        durable: bool | None = None,
        max_value_size: int | None = None,
        unnamed_temp_files: bool | None = None,
        offload_to_blocking_pool: bool | None = None,
    ) -> None:
        native = _native.Database.directory(
            os.fsdecode(path),
            _options(
                durable=durable,
                max_value_size=max_value_size,
                unnamed_temp_files=unnamed_temp_files,
                offload_to_blocking_pool=offload_to_blocking_pool,
            ),
        )
        super().__init__(native)


def _redis_url(client: Any) -> str:
    """The URL of a ``redis.Redis`` client's server, from its connection settings."""
    from urllib.parse import quote

    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        raise ValueError("exampledb.RedisDatabase: Unix-socket Redis clients are not supported")
    scheme = "rediss" if client.connection_pool.connection_class.__name__ == "SSLConnection" else "redis"
    user, password = kwargs.get("username"), kwargs.get("password")
    auth = ""
    if user or password:
        auth = f"{quote(user or '', safe='')}:{quote(password or '', safe='')}@"
    host = kwargs.get("host", "localhost")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{auth}{host}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class RedisDatabase(Database):
    """Hypothesis's Redis layout (``RedisExampleDatabase``): one set per key, a TTL
    renewed on use, change events on a pub/sub channel; one round trip per operation.

    ``redis`` is a URL (``redis://[user:password@]host[:port][/db]``) or a
    ``redis.Redis`` client, whose server is used (through exampledb's own connections).
    ``expire_after``, ``key_prefix`` and ``listener_channel`` default to Hypothesis's
    (8 days, ``b"hypothesis-example:"``, ``"hypothesis-changes"``), so both see the same
    values and events.
    """

    def __init__(
        self,
        redis: Any,
        *,
        expire_after: timedelta | None = None,
        key_prefix: bytes | None = None,
        listener_channel: str | None = None,
        pool_size: int | None = None,
        connect_timeout: timedelta | float | None = None,
        operation_timeout: timedelta | float | None = None,
        cluster: bool | None = None,
    ) -> None:
        url = redis if isinstance(redis, str) else _redis_url(redis)
        native = _native.Database.open(
            url,
            _options(
                expire_after=expire_after,
                key_prefix=key_prefix,
                listener_channel=listener_channel,
                pool_size=pool_size,
                connect_timeout=connect_timeout,
                operation_timeout=operation_timeout,
                cluster=cluster,
            ),
        )
        if native.class_name != "RedisDatabase":
            raise ValueError(f"RedisDatabase needs a redis:// or rediss:// URL, got {native!r}")
        super().__init__(native)


def _aws_options(
    region: str | None,
    endpoint: str | None,
    profile: str | None,
    connect_timeout: timedelta | float | None,
    operation_timeout: timedelta | float | None,
    max_attempts: int | None,
) -> dict[str, OptionValue]:
    return {
        "region": region,
        "endpoint": endpoint,
        "profile": profile,
        "connect_timeout": connect_timeout,
        "operation_timeout": operation_timeout,
        "max_attempts": max_attempts,
    }


class S3Database(Database):
    """The directory layout as objects under ``s3://bucket/prefix/`` (what ``aws s3
    sync`` of a Hypothesis directory gives). Credentials and region come from the
    standard AWS chain (environment, profile, instance role) unless given.

    Change events: this process's own at once; other processes' found by listing the
    prefix every ``poll_interval`` while someone listens.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str | None = None,
        endpoint: str | None = None,
        profile: str | None = None,
        path_style: bool | None = None,
        fetch_concurrency: int | None = None,
        poll_interval: timedelta | float | None = None,
        max_value_size: int | None = None,
        metakeys_refresh: timedelta | float | None = None,
        connect_timeout: timedelta | float | None = None,
        operation_timeout: timedelta | float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        from urllib.parse import quote

        if not isinstance(bucket, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise ValueError(f"S3Database: {bucket!r} is not a valid bucket name")
        url = f"s3://{bucket}/{quote(prefix, safe='/')}" if prefix else f"s3://{bucket}"
        options = _aws_options(region, endpoint, profile, connect_timeout, operation_timeout, max_attempts)
        native = _native.Database.open(
            url,
            _options(
                **options,
                path_style=path_style,
                fetch_concurrency=fetch_concurrency,
                poll_interval=poll_interval,
                max_value_size=max_value_size,
                metakeys_refresh=metakeys_refresh,
            ),
        )
        super().__init__(native)


class DynamoDBDatabase(Database):
    """One item per value in a DynamoDB table (made with ``exampledb`` or by hand: see
    the README), with a TTL renewed on use and change events from DynamoDB Streams.
    ``key_prefix`` shares one table between several databases."""

    def __init__(
        self,
        table: str,
        *,
        key_prefix: bytes | None = None,
        expire_after: timedelta | None = None,
        poll_interval: timedelta | float | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        profile: str | None = None,
        connect_timeout: timedelta | float | None = None,
        operation_timeout: timedelta | float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        if not isinstance(table, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", table):
            raise ValueError(f"DynamoDBDatabase: {table!r} is not a valid table name")
        options = _aws_options(region, endpoint, profile, connect_timeout, operation_timeout, max_attempts)
        native = _native.Database.open(
            f"dynamodb://{table}",
            _options(**options, key_prefix=key_prefix, expire_after=expire_after, poll_interval=poll_interval),
        )
        super().__init__(native)

    def ensure_table(self) -> None:
        """Creates the table if it does not exist, as the database needs it (keys ``k``
        and ``h``, binary; on-demand billing; a stream with new and old images; time to
        live on ``exp``), or raises saying how an existing one differs. Safe to call
        from many workers at once."""
        self._native.ensure_table()


class GitHubArtifactDatabase(Database):
    """CI's database, read from the newest GitHub Actions artifact of the repository
    (Hypothesis's ``GitHubArtifactDatabase``, with the same arguments and cache): read-
    only, the archive downloaded at most once per ``cache_timeout`` and checked against
    size limits. The token comes from ``GITHUB_TOKEN`` unless given."""

    def __init__(
        self,
        owner: str,
        repo: str,
        artifact_name: str = "hypothesis-example-db",
        cache_timeout: timedelta = timedelta(days=1),
        path: str | os.PathLike[str] | None = None,
        *,
        token: str | None = None,
        api_url: str | None = None,
        strict: bool | None = None,
        allow_insecure_http: bool | None = None,
        connect_timeout: timedelta | float | None = None,
        operation_timeout: timedelta | float | None = None,
        download_timeout: timedelta | float | None = None,
        max_entries: int | None = None,
        max_entry_size: int | None = None,
        max_total_size: int | None = None,
        max_download_size: int | None = None,
    ) -> None:
        for what, name in (("owner", owner), ("repo", repo)):
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
                raise ValueError(f"GitHubArtifactDatabase: {name!r} is not a valid {what}")
        native = _native.Database.open(
            f"github://{owner}/{repo}",
            _options(
                artifact_name=artifact_name,
                cache_timeout=cache_timeout,
                cache_dir=path,
                token=token,
                api_url=api_url,
                strict=strict,
                allow_insecure_http=allow_insecure_http,
                connect_timeout=connect_timeout,
                operation_timeout=operation_timeout,
                download_timeout=download_timeout,
                max_entries=max_entries,
                max_entry_size=max_entry_size,
                max_total_size=max_total_size,
                max_download_size=max_download_size,
            ),
        )
        super().__init__(native)


class InMemoryDatabase(Database):
    """exampledb's in-memory database (this process only; for tests)."""

    def __init__(self) -> None:
        super().__init__(_native.Database.open("memory:", []))


class MultiplexedDatabase(Database):
    """The members as one database: saves, deletes and moves go to each, fetches see
    all (Hypothesis's ``MultiplexedDatabase``). The members must be exampledb
    databases; use Hypothesis's own ``MultiplexedDatabase`` to mix in others.

    The recipe: ``MultiplexedDatabase(DirectoryDatabase(".hypothesis/examples"),
    ReadOnlyDatabase(S3Database("ci-bucket")))``, or as one string,
    ``open(".hypothesis/examples;readonly:s3://ci-bucket")``.
    """

    def __init__(self, *dbs: Database) -> None:
        for db in dbs:
            if not isinstance(db, Database):
                raise TypeError(
                    f"exampledb.MultiplexedDatabase takes exampledb databases, not {type(db).__name__}: "
                    "use hypothesis.database.MultiplexedDatabase to mix in other databases"
                )
        super().__init__(_native.Database.multiplexed([db._native for db in dbs]))


class ReadOnlyDatabase(Database):
    """``db`` with writes turned into no-ops (Hypothesis's ``ReadOnlyDatabase``)."""

    def __init__(self, db: Database) -> None:
        if not isinstance(db, Database):
            raise TypeError(
                f"exampledb.ReadOnlyDatabase takes an exampledb database, not {type(db).__name__}: "
                "use hypothesis.database.ReadOnlyDatabase for others"
            )
        super().__init__(_native.Database.read_only(db._native))


_CLASSES: dict[str, type[Database]] = {
    cls.__name__: cls
    for cls in (
        DirectoryDatabase,
        DynamoDBDatabase,
        GitHubArtifactDatabase,
        InMemoryDatabase,
        MultiplexedDatabase,
        ReadOnlyDatabase,
        RedisDatabase,
        S3Database,
    )
}
