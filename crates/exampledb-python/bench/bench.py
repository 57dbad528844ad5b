"""`cargo xtask bench python`: the package measured from Python, beside Hypothesis's own
databases in the same run.

Usage:
  bench.py workload ANCHOR_DIR dir PATH | redis URL
      The standard workload (shared/bench/WORKLOAD.md), run by the peer's own `run()`
      from `anchor_python.py` in ANCHOR_DIR, so both do exactly the same work, on
      exampledb.DirectoryDatabase(PATH) or exampledb.RedisDatabase(URL). One JSON line.
  bench.py testrun exampledb|hypothesis PATH
      A Hypothesis test run of 1,000 examples that uses the database (a targeted test,
      whose Pareto front Hypothesis keeps in the database, then a failing test whose
      failure is shrunk, saved and replayed), on the package's directory database or on
      Hypothesis's own, at PATH. One JSON line with the seconds from opening the
      database (importing exampledb included) to the end of the tests (`test_run_s`).
"""

from __future__ import annotations

import json
import sys
import time


def workload(anchor_dir: str, kind: str, where: str) -> dict:
    sys.path.insert(0, anchor_dir)
    import anchor_python

    import exampledb

    if kind == "dir":
        db = exampledb.DirectoryDatabase(where)
    elif kind == "redis":
        db = exampledb.RedisDatabase(where)
    else:
        raise SystemExit(f"unknown workload target {kind!r}")
    result = anchor_python.run(db)
    result["backend"] = f"exampledb-python-{kind}"
    return result


def testrun(which: str, path: str) -> dict:
    from hypothesis import given, settings, strategies as st, target
    from hypothesis.database import DirectoryBasedExampleDatabase

    started = time.perf_counter()

    if which == "exampledb":
        import exampledb

        db = exampledb.DirectoryDatabase(path)
    else:
        db = DirectoryBasedExampleDatabase(path)

    # The same examples in every run, with the database on (`@seed` and `derandomize`
    # would turn it off): Hypothesis draws each test's seed from this Random.
    from random import Random

    from hypothesis import core

    core.threadlocal._hypothesis_global_random = Random(20261204)
    common = settings(database=db, deadline=None, max_examples=1000)

    @common
    @given(st.lists(st.integers(-1000, 1000), max_size=20))
    def targeted(xs):
        target(float(sum(xs)), label="sum")
        target(float(len(set(xs))), label="distinct")

    @common
    @given(st.lists(st.integers(0, 1000), max_size=30))
    def failing(xs):
        assert sum(xs) < 5000

    targeted()
    for _ in range(2):  # found, shrunk and saved; then replayed from the database
        try:
            failing()
        except AssertionError:
            pass
        else:
            raise SystemExit("the failing test passed")
    return {"backend": f"{which}-testrun", "test_run_s": time.perf_counter() - started}


if __name__ == "__main__":
    if sys.argv[1] == "workload":
        out = workload(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "testrun":
        out = testrun(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))
