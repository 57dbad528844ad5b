//! exampledb-proptest's seeds in the command: `ls` shows their keys as text, `cat` takes
//! that text back, and `cat --decode` shows the seeds in proptest's text form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use exampledb::{DirectoryDatabase, ExampleDatabase};

const KEY: &str = "proptest:my-crate@main:tests/props.rs";
const SEED: &str = "cc 0000000000000000000000000000000000000000000000000000000000000001";

fn exampledb(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn proptest_keys_and_seeds_read_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let db = DirectoryDatabase::open(&root).unwrap();
    db.save(KEY.as_bytes(), SEED.as_bytes()).await.unwrap();
    // Not shown as text: white space would make the listing ambiguous.
    db.save(b"proptest:a b", b"cc 00").await.unwrap();
    let dir = root.display().to_string();

    let (listing, _) = exampledb(&["ls", &dir]);
    assert!(listing.lines().any(|l| l.starts_with(KEY)), "{listing}");
    assert!(!listing.contains("proptest:a b"), "{listing}");
    assert!(
        listing.contains(&exampledb_testkit::hex(b"proptest:a b")),
        "{listing}"
    );

    let (values, _) = exampledb(&["cat", &dir, KEY, "--decode"]);
    assert_eq!(values.trim(), format!("proptest seed {SEED}"));
    let (raw, _) = exampledb(&["cat", &dir, KEY]);
    assert_eq!(raw.trim(), exampledb_testkit::hex(SEED.as_bytes()));
}
