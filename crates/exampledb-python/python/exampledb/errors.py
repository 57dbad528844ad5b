"""The exceptions exampledb raises.

Every failure of a database is an :class:`ExampleDatabaseError`, of the subclass for its
kind. Its message is the Rust library's, unchanged: it names the backend, the operation
and where (a path or a server, never a secret). Where a kind resembles a built-in
exception the class derives from that too, so ``except ConnectionError`` or
``except TimeoutError`` work as they would with Hypothesis's own databases.

Attributes: ``kind`` (``"unavailable"``, ``"timed out"``, ...), ``backend``
(``"redis"``, ``"s3"``, ...), ``operation`` (``"save"``, ``"fetch"``, ... or ``None``)
and ``temporary`` (whether retrying the same call may succeed).
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthenticationError",
    "ClosedError",
    "ConfigurationError",
    "ExampleDatabaseError",
    "InternalError",
    "InvalidDataError",
    "NotFoundError",
    "NotSupportedError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitedError",
    "ReadOnlyError",
    "StorageIOError",
    "TimeoutError",
    "TooLargeError",
    "UnavailableError",
]


class ExampleDatabaseError(Exception):
    """Base class of every exampledb exception."""

    kind: str = "other"
    backend: str | None = None
    operation: str | None = None
    temporary: bool = False


class ConfigurationError(ExampleDatabaseError, ValueError):
    """A malformed URL, an unknown option, a bad value, a backend not built in."""


class NotSupportedError(ExampleDatabaseError, NotImplementedError):
    """The store cannot do this at all (listing the keys of a store with no index)."""


class ReadOnlyError(ExampleDatabaseError, RuntimeError):
    """A write to a read-only store (a ``RuntimeError``, as Hypothesis's
    ``GitHubArtifactDatabase`` raises)."""


class ClosedError(ExampleDatabaseError):
    """The database was closed."""


class TimeoutError(ExampleDatabaseError, builtins.TimeoutError):
    """The store did not answer in time."""


class TooLargeError(ExampleDatabaseError, ValueError):
    """A value (or archive, or entry) larger than the configured limit."""


class UnavailableError(ExampleDatabaseError, ConnectionError):
    """The server cannot be reached, or the connection broke."""


class AuthenticationError(ExampleDatabaseError):
    """Credentials were missing or refused."""


class PermissionDeniedError(ExampleDatabaseError, PermissionError):
    """The credentials (or file permissions) do not allow this."""


class RateLimitedError(ExampleDatabaseError):
    """The service throttled the requests."""


class NotFoundError(ExampleDatabaseError):
    """The bucket, table, repository or artifact does not exist."""


class InvalidDataError(ExampleDatabaseError):
    """What is stored is not what exampledb or Hypothesis writes."""


class ProtocolError(ExampleDatabaseError):
    """The server answered something the protocol does not allow."""


class StorageIOError(ExampleDatabaseError, OSError):
    """A local file-system (or socket) error."""


class InternalError(ExampleDatabaseError):
    """A bug in exampledb (a panic caught before it reached Python), or a misuse it
    cannot serve."""
