"""CI's GitHub Actions artifact through the package, from a local stand-in for GitHub's
API serving a zip of a directory database real Hypothesis wrote; and the CI-to-developer
recipe on top of it."""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

import exampledb
from exampledb import errors


class GitHub:
    """Answers the artifact listing and the download, as GitHub's API does."""

    def __init__(self, archive: bytes, name: str = "hypothesis-example-db") -> None:
        self.archive, self.name, self.requests = archive, name, []
        github = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                github.requests.append((self.path, self.headers.get("Authorization")))
                port = self.server.server_address[1]
                if self.path.startswith("/repos/owner/repo/actions/artifacts?"):
                    body = json.dumps(
                        {
                            "total_count": 1,
                            "artifacts": [
                                {
                                    "id": 7,
                                    "name": github.name,
                                    "expired": False,
                                    "created_at": "2026-11-30T12:00:00Z",
                                    "archive_download_url": f"http://127.0.0.1:{port}/download/7",
                                }
                            ],
                        }
                    ).encode()
                elif self.path == "/download/7":
                    body = github.archive
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def hypothesis_archive(tmp: Path, contents: dict[bytes, list[bytes]]) -> bytes:
    """A zip of the directory database Hypothesis itself writes, as CI uploads it."""
    root = tmp / "ci-examples"
    db = DirectoryBasedExampleDatabase(root)
    for key, values in contents.items():
        for value in values:
            db.save(key, value)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(root).as_posix())
    return out.getvalue()


CONTENTS = {os.urandom(48): [b"\x41\x05", b"\x01"], b"\x00" * 48 + b".secondary": [b"\x80"]}


@pytest.fixture
def github(tmp_path: Path) -> GitHub:
    server = GitHub(hypothesis_archive(tmp_path, CONTENTS))
    yield server
    server.server.shutdown()


def ci_database(github: GitHub, cache: Path) -> exampledb.GitHubArtifactDatabase:
    return exampledb.GitHubArtifactDatabase(
        "owner", "repo", path=cache, api_url=github.url, allow_insecure_http=True, token="s3cr3t-token"
    )


def test_reads_what_hypothesis_wrote_and_is_read_only(github: GitHub, tmp_path: Path) -> None:
    db = ci_database(github, tmp_path / "cache")
    for key, values in CONTENTS.items():
        assert sorted(db.fetch(key)) == sorted(values)
    assert sorted(db.keys()) == sorted(CONTENTS)
    with pytest.raises(errors.ReadOnlyError) as refused:
        db.save(b"k", b"v")
    assert isinstance(refused.value, RuntimeError)  # as Hypothesis's own raises
    assert "s3cr3t-token" not in repr(db)
    # The token went to the API; the archive was downloaded once and cached.
    assert all(auth == "Bearer s3cr3t-token" for _, auth in github.requests if _.startswith("/repos"))
    downloads = [p for p, _ in github.requests if p.startswith("/download")]
    ci_database(github, tmp_path / "cache").fetch(next(iter(CONTENTS)))
    assert [p for p, _ in github.requests if p.startswith("/download")] == downloads


def test_the_ci_to_developer_recipe(github: GitHub, tmp_path: Path) -> None:
    local = exampledb.DirectoryDatabase(tmp_path / "local")
    recipe = exampledb.MultiplexedDatabase(local, exampledb.ReadOnlyDatabase(ci_database(github, tmp_path / "cache")))
    key = next(iter(CONTENTS))
    recipe.save(key, b"found here")
    assert sorted(recipe.fetch(key)) == sorted(CONTENTS[key] + [b"found here"])
    assert local.fetch(key) == [b"found here"], "writes go to the local member only"
    recipe.delete(key, b"\x01")  # a no-op on CI's read-only copy
    assert b"\x01" in recipe.fetch(key)
