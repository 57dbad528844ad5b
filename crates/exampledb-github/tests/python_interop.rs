//! Interop with real Python Hypothesis: an artifact zipped from a directory that Python's
//! `DirectoryBasedExampleDatabase` wrote reads the same here, and Python's
//! `GitHubArtifactDatabase` and this crate share one cache directory in both directions.
//! Under `cargo xtask integration-test` a missing Python fails these tests; under plain
//! `cargo test` they skip and say why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use exampledb_core::InMemoryDatabase;
use exampledb_github::{GitHubArtifactDatabase, Status};
use exampledb_testkit::github::{Endpoint, MockArtifact, MockGitHub, MOCK_TOKEN};
use exampledb_testkit::interop::{apply, key_set, ops_json, snapshot, workload, workload_keys};
use exampledb_testkit::python::Python;
use exampledb_testkit::{hex, unhex};

/// Applies the ops on stdin to a directory database at argv[1] and zips it to argv[2] as
/// actions/upload-artifact does (no directory entries) or, with argv[3] == "dirs", with
/// directory entries as `zip -r` and `shutil.make_archive` write them.
const PY_WRITE_AND_ZIP: &str = r#"
import json, os, sys, zipfile
from hypothesis.database import DirectoryBasedExampleDatabase
root, out, style = sys.argv[1], sys.argv[2], sys.argv[3]
db = DirectoryBasedExampleDatabase(root)
for op, *args in json.load(sys.stdin):
    getattr(db, op)(*[bytes.fromhex(a) for a in args])
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if style == "dirs" and rel != ".":
            z.write(dirpath, rel)
        for f in files:
            p = os.path.join(dirpath, f)
            z.write(p, os.path.relpath(p, root))
"#;

/// Reads keys (hex JSON on stdin) through Python's GitHubArtifactDatabase on the cache
/// directory argv[1] (no network: the cache must be fresh) and prints what it sees.
const PY_READ_CACHE: &str = r#"
import json, sys, warnings
from datetime import timedelta
from hypothesis.database import GitHubArtifactDatabase
warnings.simplefilter("error")  # a fallback or a download attempt would warn
db = GitHubArtifactDatabase("octo", "repo", path=sys.argv[1], cache_timeout=timedelta(days=1))
keys = [bytes.fromhex(k) for k in json.load(sys.stdin)]
state = {k.hex(): sorted(v.hex() for v in db.fetch(k)) for k in keys}
print(json.dumps({k: v for k, v in state.items() if v}))
"#;

/// Writes `<now isoformat>.zip` into the cache directory argv[2] from the zip argv[1],
/// named exactly as Python's GitHubArtifactDatabase names a download.
const PY_PUT_IN_CACHE: &str = r#"
import os, shutil, sys
from datetime import datetime, timezone
name = datetime.now(timezone.utc).isoformat().replace(":", "_") + ".zip"
os.makedirs(sys.argv[2], exist_ok=True)
shutil.copy(sys.argv[1], os.path.join(sys.argv[2], name))
print(name)
"#;

fn keys_json(keys: &BTreeSet<Vec<u8>>) -> String {
    serde_json::to_string(&keys.iter().map(|k| hex(k)).collect::<Vec<_>>()).unwrap()
}

fn python_state(out: &str) -> BTreeMap<String, BTreeSet<String>> {
    let parsed: BTreeMap<String, Vec<String>> = serde_json::from_str(out.trim()).unwrap();
    parsed
        .into_iter()
        .map(|(k, vs)| (k, vs.into_iter().collect()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_of_a_python_written_directory_reads_the_same_and_python_shares_the_cache() {
    let Some(py) = Python::for_test("artifact_of_a_python_written_directory") else {
        return;
    };
    let ops = workload();
    let all_keys = workload_keys(&ops);
    let model = InMemoryDatabase::new();
    apply(&model, &ops).await;
    let want = snapshot(&model, &all_keys).await;
    assert!(!want.is_empty());

    for style in ["upload-artifact", "dirs"] {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("examples");
        let zip_path = work.path().join("artifact.zip");
        py.run(
            PY_WRITE_AND_ZIP,
            &[root.to_str().unwrap(), zip_path.to_str().unwrap(), style],
            &ops_json(&ops),
        );
        let mock = MockGitHub::start().await;
        mock.add(MockArtifact::new(
            42,
            "hypothesis-example-db",
            "2026-11-22T08:00:00Z",
            std::fs::read(&zip_path).unwrap(),
        ));
        let cache = work.path().join("cache");
        let db = GitHubArtifactDatabase::builder("octo", "repo")
            .api_url(mock.api_url())
            .token(MOCK_TOKEN)
            .cache_dir(&cache)
            .build()
            .unwrap();
        assert_eq!(snapshot(&db, &all_keys).await, want, "{style}");
        assert!(matches!(
            db.status(),
            Status::Downloaded {
                artifact_id: 42,
                ..
            }
        ));
        let listed = key_set(&db).await;
        let want_keys: BTreeSet<Vec<u8>> = want.keys().map(|k| unhex(k)).collect();
        assert_eq!(
            listed, want_keys,
            "{style}: keys() from Python's meta-keys entries"
        );

        // Python's GitHubArtifactDatabase takes the zip this crate downloaded as its own
        // fresh cache (and would warn, failing the script, if it tried to download).
        let seen = py.run(
            PY_READ_CACHE,
            &[cache.to_str().unwrap()],
            &keys_json(&all_keys),
        );
        let from_python = python_state(&seen);
        assert_eq!(from_python, want, "{style}: Python reading our cache");
    }
}

#[tokio::test]
async fn a_cache_python_filled_is_used_without_the_network() {
    let Some(py) = Python::for_test("a_cache_python_filled") else {
        return;
    };
    let ops = workload();
    let all_keys = workload_keys(&ops);
    let model = InMemoryDatabase::new();
    apply(&model, &ops).await;
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("examples");
    let zip_path = work.path().join("artifact.zip");
    py.run(
        PY_WRITE_AND_ZIP,
        &[
            root.to_str().unwrap(),
            zip_path.to_str().unwrap(),
            "upload-artifact",
        ],
        &ops_json(&ops),
    );
    let cache = work.path().join("cache");
    let name = py.run(
        PY_PUT_IN_CACHE,
        &[zip_path.to_str().unwrap(), cache.to_str().unwrap()],
        "",
    );
    let mock = MockGitHub::start().await;
    let db = GitHubArtifactDatabase::builder("octo", "repo")
        .api_url(mock.api_url())
        .cache_dir(&cache)
        .cache_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    assert_eq!(
        snapshot(&db, &all_keys).await,
        snapshot(&model, &all_keys).await
    );
    assert_eq!(
        db.status(),
        Status::Cached {
            archive: cache.join(name.trim())
        }
    );
    assert_eq!(mock.count(Endpoint::List), 0, "{:?}", mock.seen());
}
