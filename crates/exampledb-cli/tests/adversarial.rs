//! What an adversary tried on the CLI (issue 14): arguments that are not UTF-8, output
//! into a closed pipe, a mistyped root, hex keys with signs, and unreadable values. Each
//! is one clear line on stderr and a chosen exit status, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Output, Stdio};

use exampledb::{DirectoryDatabase, ExampleDatabase};

fn exampledb() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exampledb"));
    cmd.env_remove("EXAMPLEDB_DATABASE")
        .env_remove("HYPOTHESIS_STORAGE_DIRECTORY")
        .env_remove("EXAMPLEDB_LOG");
    cmd
}

/// No panic: Rust's exit status for one is 101, and its message names "panicked".
fn assert_no_panic(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_an_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let out = exampledb()
        .arg("keys")
        .arg(std::ffi::OsStr::from_bytes(b"/tmp/\xff"))
        .output()
        .unwrap();
    assert_no_panic(&out, "non-UTF-8 argument");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("argument 2 is not valid UTF-8"), "{stderr}");
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    for i in 0..3_000u32 {
        db.save(&i.to_be_bytes(), b"v").await.unwrap();
    }
    let mut child = exampledb()
        .arg("keys")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, as `head -1` does, and close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    let n = stdout.read(&mut first).unwrap();
    assert!(n > 0);
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_no_panic(&out, "closed pipe");
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_or_mistyped_root_is_an_error_not_an_empty_database() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-examples");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for (args, expect) in [
        (
            vec!["keys".to_owned(), missing.display().to_string()],
            "does not exist",
        ),
        (
            vec!["keys".to_owned(), format!("file:{}", missing.display())],
            "does not exist",
        ),
        (
            vec!["keys".to_owned(), file.display().to_string()],
            "not a directory",
        ),
        (
            vec![
                "show".to_owned(),
                "0102".to_owned(),
                missing.display().to_string(),
            ],
            "does not exist",
        ),
    ] {
        let out = exampledb().args(&args).output().unwrap();
        assert_no_panic(&out, &args.join(" "));
        let text = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {text}");
        assert!(!text.contains("key(s)"), "{args:?}: {text}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    // The default location, missing, in a fresh directory.
    let out = exampledb()
        .arg("keys")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".hypothesis"));
}

#[test]
fn hex_keys_are_hex_digits_only() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["+1+2", "-1", "0x12", "1 2", "zz", "123"] {
        let out = exampledb()
            .args(["show", bad])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert_no_panic(&out, bad);
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not a hex key"),
            "{bad}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_value_that_cannot_be_read_is_reported_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    db.save(b"k", &[0x01]).await.unwrap();
    // A FIFO where a value file should be: skipped by fetch (it would block a reader),
    // with a warning the user must see.
    let fifo = tmp
        .path()
        .join(exampledb::hypothesis_hash(b"k"))
        .join(exampledb::hypothesis_hash(b"other"));
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = exampledb()
        .args(["show", "6b"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_no_panic(&out, "a FIFO among the values");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "(True)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains(&exampledb::hypothesis_hash(b"other")[..16]),
        "the skipped value is reported: {stderr:?}"
    );
}
