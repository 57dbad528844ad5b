"""HypoFuzz (``hypothesis fuzz``, from PyPI, in its own venv named by
``EXAMPLEDB_HYPOFUZZ_PYTHON``) with its settings profile's database on S3
through the package: its workers find a planted bug, the failure lands in S3, and plain
pytest replays it from there first."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import exampledb

CONFTEST = '''
import os
import exampledb
from hypothesis import settings

# derandomize=False: on a CI machine (CI=true and the like) Hypothesis loads its "ci"
# profile, whose derandomize=True new profiles inherit, and HypoFuzz skips derandomized
# tests ("sets_derandomize").
settings.register_profile(
    "shared",
    database=exampledb.open(os.environ["EXAMPLEDB_TEST_URL"]),
    deadline=None,
    derandomize=False,
)
settings.load_profile("shared")
'''

# Parametrized: HypoFuzz 25.11.1 adds the pytest node id to every test's database key,
# and Hypothesis's pytest plugin only to parametrized tests', so only for those do the
# two agree on the key a failure is saved under (a HypoFuzz quirk, whatever the database).
PLANTED = '''
import os
import pytest
from hypothesis import given, strategies as st

@pytest.mark.parametrize("limit", [1000])
@given(st.integers(min_value=0, max_value=10**6))
def test_planted(limit, n):
    with open(os.environ["EXAMPLEDB_SEEN"], "a") as seen:
        seen.write(f"{n}\\n")
    assert n < limit, n
'''

# How long the workers may take to find, shrink and save the failure.
FUZZ_LIMIT = 180.0


def failures(db: exampledb.Database) -> dict[bytes, list[bytes]]:
    """The values under test keys (48-byte digests, no sub-key), where Hypothesis and
    HypoFuzz keep shrunk failures."""
    found = {}
    for key in db.keys():
        if len(key) == 48:
            values = db.fetch(key)
            if values:
                found[key] = values
    return found


def _decoded(found: dict[bytes, list[bytes]]) -> list[int]:
    """The integers of the saved failures (one-integer choice sequences)."""
    from hypothesis.database import choices_from_bytes

    return [choices[0] for values in found.values() for v in values if (choices := choices_from_bytes(v))]


def test_hypofuzz_workers_save_to_s3_and_pytest_replays(tmp_path: Path, request) -> None:
    from conftest import backend_named, service

    # HypoFuzz's own venv (an older Hypothesis than the other tests'), with this package.
    python = service("EXAMPLEDB_HYPOFUZZ_PYTHON")
    url = backend_named(request, "s3", request.getfixturevalue("tmp_path_factory")).url()
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_planted.py").write_text(PLANTED)
    env = {**os.environ, "EXAMPLEDB_TEST_URL": url, "EXAMPLEDB_SEEN": os.devnull}
    hypothesis_cli = Path(python).with_name("hypothesis")
    log = (tmp_path / "fuzz.log").open("w")
    fuzz = subprocess.Popen(
        [str(hypothesis_cli), "fuzz", "-n", "2", "--no-dashboard", "--", "-p", "no:cacheprovider", "test_planted.py"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    db = exampledb.open(url)
    try:
        deadline = time.monotonic() + FUZZ_LIMIT
        found: dict[bytes, list[bytes]] = {}
        while time.monotonic() < deadline and fuzz.poll() is None:
            found = failures(db)
            if found:
                break
            time.sleep(1)
    finally:
        try:
            os.killpg(fuzz.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # HypoFuzz stops by itself once every test has failed
        fuzz.wait()
        log.close()
    output = (tmp_path / "fuzz.log").read_text()
    assert found, f"no failure reached S3 within {FUZZ_LIMIT} s; HypoFuzz said:\n{output[-4000:]}"
    assert "hypofuzz.test_keys" in {k.decode("latin-1") for k in db.keys()}, "HypoFuzz's own keys are in S3 too"

    seen = tmp_path / "replayed.txt"
    replay = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_planted.py"],
        cwd=tmp_path,
        env={**env, "EXAMPLEDB_SEEN": str(seen)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 1, replay.stdout + replay.stderr
    first = int(seen.read_text().split()[0])
    assert first >= 1000, f"pytest's first example was {first}, not HypoFuzz's failure"
    assert first in {int(v) for v in _decoded(found)}, (first, found)
