//! `exampledb cp SRC DST` between directory databases (the other backends are covered by
//! `exampledb::open`'s own tests): a merge that removes nothing, `--dry-run`, `--delete`,
//! and a copy killed with SIGKILL midway that completes when run again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::Duration;

use exampledb::{DirectoryDatabase, ExampleDatabase};

fn exampledb(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .env_remove("EXAMPLEDB_DATABASE")
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every key's values (hex, as sets), keys without values left out.
async fn contents(db: &DirectoryDatabase) -> BTreeMap<String, BTreeSet<String>> {
    let keys = exampledb_testkit::interop::key_set(db).await;
    exampledb_testkit::interop::snapshot(db, &keys).await
}

#[tokio::test]
async fn cp_merges_dry_runs_and_deletes_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let (src_path, dst_path) = (tmp.path().join("src"), tmp.path().join("dst"));
    let src = DirectoryDatabase::open(&src_path).unwrap();
    for k in 0..20u8 {
        for v in 0..3u8 {
            src.save(&[k], &[k, v]).await.unwrap();
        }
    }
    let (s, d) = (
        src_path.display().to_string(),
        dst_path.display().to_string(),
    );
    // A dry run into a directory that does not exist yet changes nothing.
    let dry = exampledb(&["cp", &s, &d, "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("would copy 60 value(s) across 20 key(s)")
    );
    assert!(!dst_path.exists());

    let out = exampledb(&["cp", &s, &d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("copied 60 value(s) across 20 key(s)"));
    let dst = DirectoryDatabase::open(&dst_path).unwrap();
    assert_eq!(contents(&dst).await, contents(&src).await);

    // DST's own values stay; a second copy writes nothing.
    dst.save(b"only-in-dst", b"x").await.unwrap();
    dst.save(&[0], b"extra").await.unwrap();
    let again = exampledb(&["cp", &s, &d]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("copied 0 value(s)") && text.contains("60 already there"),
        "{text}"
    );
    assert_eq!(dst.fetch(b"only-in-dst").await.unwrap().len(), 1);

    // --delete --dry-run says what would go, and changes nothing; --delete makes them equal.
    let dry = exampledb(&["cp", &s, &d, "--delete", "--dry-run"]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would delete 2 value(s)"));
    assert_eq!(dst.fetch(b"only-in-dst").await.unwrap().len(), 1);
    let out = exampledb(&["cp", &s, &d, "--delete"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted 2 value(s)"));
    assert_eq!(contents(&dst).await, contents(&src).await);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_midway_completes_when_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (src_path, dst_path) = (tmp.path().join("src"), tmp.path().join("dst"));
    let src = DirectoryDatabase::open(&src_path).unwrap();
    for k in 0..500u16 {
        for v in 0..4u8 {
            src.save(&k.to_be_bytes(), &[v; 64]).await.unwrap();
        }
    }
    let (s, d) = (
        src_path.display().to_string(),
        dst_path.display().to_string(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(["cp", &s, &d])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has written something.
    let dst = DirectoryDatabase::open(&dst_path).unwrap();
    for _ in 0..400 {
        if dst_path.exists() && !dst.keys().await.unwrap_or_default().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let partial = contents(&dst).await;
    let out = exampledb(&["cp", &s, &d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(contents(&dst).await, contents(&src).await);
    // The kill landed midway: something, not everything, had been copied.
    let copied: usize = partial.values().map(BTreeSet::len).sum();
    assert!(
        copied > 0 && copied < 2000,
        "{copied} of 2000 values copied before the kill"
    );
}
