"""exampledb: every exampledb backend as an example database for Python Hypothesis and
HypoFuzz, byte for byte compatible with Hypothesis's own databases.

>>> import exampledb
>>> from hypothesis import settings
>>> settings.register_profile("fuzz", database=exampledb.open("s3://my-bucket/examples"))

:func:`open` takes the same URLs as the ``exampledb`` command; each backend also has a
class with Hypothesis's keyword arguments (:class:`RedisDatabase`, :class:`S3Database`,
...). Errors are :mod:`exampledb.errors` exceptions.
"""

from . import errors
from ._database import (
    Database,
    DirectoryDatabase,
    DynamoDBDatabase,
    GitHubArtifactDatabase,
    InMemoryDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
    RedisDatabase,
    S3Database,
    open,
)
from ._native import __version__
from .errors import ExampleDatabaseError

__all__ = [
    "Database",
    "DirectoryDatabase",
    "DynamoDBDatabase",
    "ExampleDatabaseError",
    "GitHubArtifactDatabase",
    "InMemoryDatabase",
    "MultiplexedDatabase",
    "ReadOnlyDatabase",
    "RedisDatabase",
    "S3Database",
    "__version__",
    "errors",
    "open",
]
