"""Fixtures: the services `cargo xtask integration-test` starts, and one fresh database
per backend.

The services are named by the same variables as for the Rust tests:
``EXAMPLEDB_REDIS_URL`` (a redis-server) and ``EXAMPLEDB_S3_ENDPOINT`` (moto: S3,
DynamoDB and DynamoDB Streams). A test whose service is missing is skipped, or fails when
``EXAMPLEDB_REQUIRE_SERVICES=1`` (as the xtask sets it).
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import exampledb

REQUIRE_SERVICES = os.environ.get("EXAMPLEDB_REQUIRE_SERVICES") == "1"

# moto accepts any credentials; the AWS chain reads these.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def service(env: str) -> str:
    """The service's address from ``env``, or skip (fail when services are required)."""
    value = os.environ.get(env, "")
    if not value:
        message = f"{env} is not set (run the tests through `cargo xtask integration-test`)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return value


def unique(label: str = "t") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session", autouse=True)
def _aws_credentials() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def redis_url() -> str:
    return service("EXAMPLEDB_REDIS_URL")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return service("EXAMPLEDB_S3_ENDPOINT")


def make_bucket(endpoint: str) -> str:
    import boto3

    name = unique("exampledb-py")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    return make_bucket(s3_endpoint)


@pytest.fixture(scope="session")
def dynamodb_table(s3_endpoint: str) -> str:
    """One table for the session (databases share it through key prefixes)."""
    table = unique("exampledb-py")
    exampledb.DynamoDBDatabase(table, endpoint=s3_endpoint).ensure_table()
    return table


@dataclass
class Backend:
    """How to open a fresh database of one backend: ``url()`` gives a URL (for
    ``exampledb.open`` in this process or another) naming a store no other test uses."""

    name: str
    url: Callable[[], str]


BACKENDS = ["directory", "memory", "redis", "s3", "dynamodb", "multiplexed"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return backend_named(request, request.param, tmp_path_factory)


def backend_named(request: pytest.FixtureRequest, name: str, tmp: pytest.TempPathFactory) -> Backend:
    if name == "directory":
        return Backend(name, lambda: f"file:{tmp.mktemp('db')}")
    if name == "memory":
        return Backend(name, lambda: "memory:")
    if name == "redis":
        url = request.getfixturevalue("redis_url")
        return Backend(name, lambda: f"{url}?key_prefix={unique('py')}:")
    if name == "s3":
        endpoint = quote(request.getfixturevalue("s3_endpoint"), safe="")
        bucket = request.getfixturevalue("s3_bucket")
        return Backend(
            name,
            lambda: f"s3://{bucket}/{unique('p')}?endpoint={endpoint}&path_style=true&poll_interval=100ms",
        )
    if name == "dynamodb":
        endpoint = quote(request.getfixturevalue("s3_endpoint"), safe="")
        table = request.getfixturevalue("dynamodb_table")
        return Backend(
            name,
            lambda: f"dynamodb://{table}?endpoint={endpoint}&key_prefix={unique('p')}:&poll_interval=100ms",
        )
    if name == "multiplexed":
        # The recipe: a local directory, and a shared store read-only.
        return Backend(name, lambda: f"file:{tmp.mktemp('db')};readonly:memory:")
    raise ValueError(name)
