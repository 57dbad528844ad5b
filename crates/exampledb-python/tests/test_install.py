"""`pip install ./crates/exampledb-python` in a fresh venv: pip fetches maturin from PyPI,
builds the extension and installs a package that works. (The build is the dev profile
here, through maturin's `MATURIN_PEP517_ARGS`, so it reuses what `maturin develop` built;
users get the release profile.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def test_pip_install_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "MATURIN_PEP517_ARGS": "--profile dev"}
    env.pop("VIRTUAL_ENV", None)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(PACKAGE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import exampledb, hypothesis.database as h, sys;"
            "db = exampledb.open(sys.argv[1]);"
            "assert isinstance(db, h.ExampleDatabase);"
            "db.save(b'k', b'v'); assert list(db.fetch(b'k')) == [b'v'];"
            "print(exampledb.__file__)",
            str(tmp_path / "db"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    # The installed copy, not the source tree.
    assert str(venv) in check.stdout, check.stdout
