//! `exampledb keys|show DB` with database URLs and `$EXAMPLEDB_DATABASE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use exampledb::{DirectoryDatabase, ExampleDatabase};
use exampledb_testkit::hex;

fn exampledb(args: &[&str], env: &[(&str, &Path)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exampledb"));
    cmd.args(args)
        .env_remove("EXAMPLEDB_DATABASE")
        .env_remove("HYPOTHESIS_STORAGE_DIRECTORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn keys_and_show_open_any_url_and_the_default_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let db = DirectoryDatabase::open(&root).unwrap();
    db.save(b"k1", &[0x01]).await.unwrap(); // the choice sequence [True]
    let listed = format!("{}  1 value(s)", hex(b"k1"));

    let path = root.display().to_string();
    let url = format!("file:{path}?max_value_size=1MiB");
    for db in [path.as_str(), url.as_str()] {
        let (ok, text) = exampledb(&["keys", db], &[]);
        assert!(ok && text.contains(&listed), "{db}: {text}");
    }
    // The default database, named by the environment.
    let (ok, text) = exampledb(&["keys"], &[("EXAMPLEDB_DATABASE", &root)]);
    assert!(ok && text.contains(&listed), "{text}");
    let (ok, text) = exampledb(&["show", &hex(b"k1")], &[("EXAMPLEDB_DATABASE", &root)]);
    assert!(ok && text.contains("(True,)"), "{text}");
}

#[test]
fn bad_databases_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_a_file = file.join("examples").display().to_string();
    for (db, expect) in [
        ("ftp://example.com/x", "unknown scheme"),
        (
            "dynamodb://table?bogus=1",
            if cfg!(feature = "dynamodb") {
                "unknown option"
            } else {
                "`dynamodb` feature"
            },
        ),
        (under_a_file.as_str(), "a-file"),
        ("memory:?x=1", "unknown option"),
    ] {
        let (ok, text) = exampledb(&["keys", db], &[]);
        assert!(!ok, "{db}: {text}");
        assert!(text.contains(expect), "{db}: {text}");
        assert!(
            !text.contains("0 key(s)"),
            "{db}: an error, not an empty database: {text}"
        );
    }
}
