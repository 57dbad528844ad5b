//! Interop with Python Hypothesis both ways, through a local directory: what
//! `S3Database` writes, synced down by `sync_to_directory` and by `aws s3 sync` (awscli
//! from the testkit's venv), is what Python's `DirectoryBasedExampleDatabase` reads; a
//! directory Python wrote, synced up by `sync_from_directory` and by `aws s3 sync`, is
//! what `S3Database` reads. Each side is compared with the in-memory model of the shared
//! interop workload, and `aws s3 sync` round trips come back `diff -r`-identical
//! (FORMATS.md, "S3 layout").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use exampledb_core::{ExampleDatabase, InMemoryDatabase};
use exampledb_testkit::interop::{
    apply, key_set, ops_json, snapshot, workload, workload_keys, PY_DIRECTORY_APPLY,
    PY_DIRECTORY_READ,
};
use exampledb_testkit::python::Python;
use exampledb_testkit::{hex, services::s3_endpoint};
use serde_json::{json, Value};

/// `aws s3 sync FROM TO` with the venv's awscli against the test server; panics with its
/// output if it fails. The credentials go in the child's environment only, and no
/// config file of the user's is read.
fn aws_sync(py: &Python, endpoint: &str, from: &str, to: &str, scratch: &Path) {
    let aws = py.exe().parent().unwrap().join("aws");
    let out = Command::new(&aws)
        .args([
            "s3",
            "sync",
            from,
            to,
            "--endpoint-url",
            endpoint,
            "--no-progress",
        ])
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", aws.display()));
    assert!(
        out.status.success(),
        "aws s3 sync {from} {to} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `diff -r a b` finds no difference.
fn assert_same_tree(a: &Path, b: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "diff -r {} {}:\n{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// What Python's `DirectoryBasedExampleDatabase(dir)` fetches under `keys`, and which keys
/// its meta-keys entries name.
fn python_reads(
    py: &Python,
    dir: &Path,
    keys: &BTreeSet<Vec<u8>>,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let keys_json = Value::Array(keys.iter().map(|k| json!(hex(k))).collect()).to_string();
    let out: Value =
        serde_json::from_str(&py.run(PY_DIRECTORY_READ, &[dir.to_str().unwrap()], &keys_json))
            .unwrap();
    (
        serde_json::from_value(out["state"].clone()).unwrap(),
        serde_json::from_value(out["metakeys"].clone()).unwrap(),
    )
}

/// Files under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn s3_database_writes_python_reads() {
    let Some(endpoint) = s3_endpoint("s3_python_interop_down") else {
        return;
    };
    let Some(py) = Python::for_test("s3_python_interop_down") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let db = common::builder(&endpoint, &bucket, "team/examples")
        .build()
        .unwrap();
    let ops = workload();
    apply(&db, &ops).await;
    let model = InMemoryDatabase::new();
    apply(&model, &ops).await;
    let all_keys = workload_keys(&ops);
    let want = snapshot(&model, &all_keys).await;
    assert_eq!(snapshot(&db, &all_keys).await, want, "S3Database itself");
    assert_eq!(key_set(&db).await, key_set(&model).await);

    let tmp = tempfile::tempdir().unwrap();
    let by_helper = tmp.path().join("helper");
    let by_aws = tmp.path().join("awscli");
    let copied = db.sync_to_directory(&by_helper).await.unwrap();
    assert_eq!(
        copied,
        want.values().map(|v| v.len() as u64).sum::<u64>(),
        "sync_to_directory copies every value once"
    );
    let s3_url = format!("s3://{bucket}/team/examples");
    aws_sync(
        &py,
        &endpoint,
        &s3_url,
        by_aws.to_str().unwrap(),
        tmp.path(),
    );

    for dir in [&by_helper, &by_aws] {
        let (state, meta) = python_reads(&py, dir, &all_keys);
        assert_eq!(state, want, "Python's view of {}", dir.display());
        for k in state.keys() {
            assert!(
                meta.contains(k),
                "{}: key {k} has no meta-keys entry",
                dir.display()
            );
        }
    }
    // awscli copies the objects as they are: one file per object, same names.
    let names: Vec<String> = common::object_names(&endpoint, &bucket, "team/examples/")
        .await
        .into_iter()
        .map(|n| n["team/examples/".len()..].to_owned())
        .collect();
    assert_eq!(files(&by_aws), names);

    // Round trip through a second prefix: the tree comes back diff -r-identical.
    let round = format!("s3://{bucket}/round/trip");
    aws_sync(&py, &endpoint, by_aws.to_str().unwrap(), &round, tmp.path());
    let back = tmp.path().join("back");
    aws_sync(&py, &endpoint, &round, back.to_str().unwrap(), tmp.path());
    assert_same_tree(&by_aws, &back);
    // And S3Database reads the round trip's prefix as the original.
    let again = common::builder(&endpoint, &bucket, "round/trip")
        .build()
        .unwrap();
    assert_eq!(snapshot(&again, &all_keys).await, want);
}

#[tokio::test]
async fn python_writes_s3_database_reads() {
    let Some(endpoint) = s3_endpoint("s3_python_interop_up") else {
        return;
    };
    let Some(py) = Python::for_test("s3_python_interop_up") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let tmp = tempfile::tempdir().unwrap();
    let written = tmp.path().join("python");
    let ops = workload();
    py.run(
        PY_DIRECTORY_APPLY,
        &[written.to_str().unwrap()],
        &ops_json(&ops),
    );
    let model = InMemoryDatabase::new();
    apply(&model, &ops).await;
    let all_keys = workload_keys(&ops);
    let want = snapshot(&model, &all_keys).await;
    let want_keys = key_set(&model).await;

    // Up by the crate's helper.
    let by_helper = common::builder(&endpoint, &bucket, "helper")
        .build()
        .unwrap();
    let offered = by_helper.sync_from_directory(&written).await.unwrap();
    assert_eq!(offered, want.values().map(|v| v.len() as u64).sum::<u64>());
    // Up by awscli, the objects as the files are.
    aws_sync(
        &py,
        &endpoint,
        written.to_str().unwrap(),
        &format!("s3://{bucket}/awscli"),
        tmp.path(),
    );
    let by_aws = common::builder(&endpoint, &bucket, "awscli")
        .build()
        .unwrap();
    for db in [&by_helper, &by_aws] {
        assert_eq!(snapshot(db, &all_keys).await, want, "{}", db.location());
        assert_eq!(key_set(db).await, want_keys, "keys() of {}", db.location());
    }
    // Down again: the same tree Python wrote (FORMATS.md: diff -r-identical), which
    // Python reads as before.
    let back = tmp.path().join("back");
    aws_sync(
        &py,
        &endpoint,
        &format!("s3://{bucket}/awscli"),
        back.to_str().unwrap(),
        tmp.path(),
    );
    assert_same_tree(&written, &back);
    // What S3Database then writes there, Python reads too (the database is shared).
    by_aws.save(b"plain", b"from rust").await.unwrap();
    by_aws.delete(b"plain", &[0]).await.unwrap();
    model.save(b"plain", b"from rust").await.unwrap();
    model.delete(b"plain", &[0]).await.unwrap();
    let back2 = tmp.path().join("back2");
    by_aws.sync_to_directory(&back2).await.unwrap();
    let (state, _) = python_reads(&py, &back2, &all_keys);
    assert_eq!(state, snapshot(&model, &all_keys).await);
}
