"""Save and replay: a real failing Hypothesis test, run with
``settings(database=exampledb.open(URL))``, saves its failure; a second process replays
it first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import exampledb

SCRIPT = r'''
import json, os, sys
import exampledb
from hypothesis import given, settings, strategies as st

seen = []

@settings(database=exampledb.open(os.environ["EXAMPLEDB_TEST_URL"]), max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_planted_bug(n):
    seen.append(n)
    assert n < 777_777, n

try:
    test_planted_bug()
    failed = False
except AssertionError:
    failed = True
print(json.dumps({"failed": failed, "first": seen[0], "calls": len(seen)}))
'''


def run(url: str) -> dict:
    env = {**os.environ, "EXAMPLEDB_TEST_URL": url}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["directory", "redis", "s3", "dynamodb", "multiplexed"])
def test_failure_is_saved_and_replayed_first(name, request, tmp_path_factory) -> None:
    from conftest import backend_named

    url = backend_named(request, name, tmp_path_factory).url()
    first = run(url)
    assert first["failed"]
    db = exampledb.open(url)
    saved = [k for k in db.keys() if db.fetch(k)]
    assert saved, "nothing was saved"

    second = run(url)
    assert second["failed"]
    # The shrunk failure, replayed before anything is generated.
    assert second["first"] == 777_777, second
    assert second["calls"] < first["calls"], (first, second)
