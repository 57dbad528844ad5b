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
        let stderr = String::from_utf8_lossy(&out.stderr);
        // `-1` is an unknown option to the argument parser, the others bad keys.
        assert!(
            stderr.contains("not a key") || stderr.contains("unexpected argument '-1'"),
            "{bad}: {stderr}"
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
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "(True,)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains(&exampledb::hypothesis_hash(b"other")[..16]),
        "the skipped value is reported: {stderr:?}"
    );
}

/// ls, cat (hex, --decode, --json), rm and stats on a directory database, keys in
/// Hypothesis's form (digest hex plus a readable suffix).
#[tokio::test]
async fn ls_cat_rm_and_stats_on_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    let digest = [0xabu8; 48];
    let secondary = exampledb::sub_key(&digest, "secondary");
    // [True, 5], and a value that is JSON.
    db.save(&digest, &[0x01, 0x41, 0x05]).await.unwrap();
    db.save(&digest, br#"{"a":[1,2]}"#).await.unwrap();
    db.save(&secondary, &[0x00]).await.unwrap();
    let root = tmp.path().display().to_string();
    let run = |args: &[&str]| {
        let out = exampledb().args(args).output().unwrap();
        assert_no_panic(&out, &args.join(" "));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let shown_secondary = format!("{}.secondary", "ab".repeat(48));
    let listed = run(&["ls", &root]);
    assert!(
        listed.contains(&format!("{shown_secondary}  1 value(s)  1 bytes")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("{}  2 value(s)  14 bytes", "ab".repeat(48))),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_str(&run(&["ls", &root, "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    let key = "ab".repeat(48);
    assert_eq!(
        run(&["cat", &root, &key]),
        "014105\n7b2261223a5b312c325d7d\n"
    );
    let decoded = run(&["cat", &root, &key, "--decode"]);
    // `{"a":[1,2]}` is also a valid choice sequence (one bytes choice): outside HypoFuzz's
    // keys, that is how it is shown.
    assert_eq!(decoded, "(True, 5)\n(b'\"a\":[1,2]}',)\n", "{decoded}");
    assert_eq!(
        run(&["cat", &root, &shown_secondary, "--decode"]),
        "(False,)\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["cat", &root, &key, "--json"])).unwrap();
    assert_eq!(
        json[0]["choices"],
        serde_json::json!([{"value": {"bool": true}, "repr": "True"},
                           {"value": {"int": "5"}, "repr": "5"}])
    );

    let stats = run(&["stats", &root]);
    assert!(
        stats.contains(".secondary") && stats.contains("(none)"),
        "{stats}"
    );

    assert!(run(&["rm", &root, &key, "014105"]).contains("removed 1 value(s)"));
    assert_eq!(db.fetch(&digest).await.unwrap().len(), 1);
    assert!(run(&["rm", &root, &shown_secondary]).contains("removed 1 value(s)"));
    assert!(db.fetch(&secondary).await.unwrap().is_empty());
    let help = run(&["--help"]);
    for command in ["demo", "ls", "cat", "rm", "stats"] {
        assert!(help.contains(command), "{help}");
    }
}

/// `watch` prints another process's changes as they happen, one JSON object per line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_other_processes_changes() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    db.save(b"before", b"x").await.unwrap();
    let mut child = exampledb()
        .args(["watch", "--json"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .take(2)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    });
    // Save until the watcher has started and reported (it starts asynchronously).
    let mut saved = 0u32;
    while !lines.is_finished() && saved < 200 {
        db.save(b"k", &saved.to_be_bytes()).await.unwrap();
        saved += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let lines = lines.join().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["event"], "save", "{line}");
        assert_eq!(event["key_hex"], "6b", "{line}");
    }
    let _ = child.wait();
}
