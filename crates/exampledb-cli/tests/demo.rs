//! `exampledb demo`, the README's first command: finds, shrinks and stores a failure in
//! Hypothesis's default location, then replays it from there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use exampledb::{DirectoryDatabase, ExampleDatabase};

fn demo(cwd: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .arg("demo")
        .current_dir(cwd)
        .env_remove("HYPOTHESIS_STORAGE_DIRECTORY")
        .env_remove("EXAMPLEDB_DATABASE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn demo_stores_a_failure_and_replays_it() {
    let tmp = tempfile::tempdir().unwrap();
    let first = demo(tmp.path());
    assert!(first.contains("found a failure"), "{first}");
    assert!(first.contains("saved"), "{first}");
    // Stored where and as Hypothesis stores it: one key, one choice sequence.
    let db = DirectoryDatabase::open(tmp.path().join(".hypothesis/examples")).unwrap();
    let keys = db.keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    let values = db.fetch(&keys[0]).await.unwrap();
    assert_eq!(values.len(), 1);
    let choices = exampledb::choices::decode(&values[0]).unwrap();
    assert_eq!(
        choices.last(),
        Some(&exampledb::choices::Choice::Boolean(false))
    );
    let second = demo(tmp.path());
    assert!(
        second.contains("replayed the stored failure in 1 run"),
        "{second}"
    );
    assert_eq!(db.fetch(&keys[0]).await.unwrap(), values, "replay keeps it");
}
