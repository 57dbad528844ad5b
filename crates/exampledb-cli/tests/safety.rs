//! What a second adversarial review of the CLI found: `cp --delete` after a partial read,
//! directories hidden behind `readonly:` and recipes, values DST refuses, text from a
//! store or server reaching the terminal raw, writes reported that never happened, and
//! `watch` on a root that was replaced. Directory databases only: no service needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use exampledb::{DirectoryDatabase, ExampleDatabase};

fn exampledb(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .env_remove("EXAMPLEDB_DATABASE")
        .env_remove("EXAMPLEDB_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No byte a terminal acts on (ESC, C1, BEL, CR) nor bidi or zero-width characters.
fn assert_terminal_safe(s: &str, what: &str) {
    let bad = s
        .chars()
        .find(|&c| c != '\n' && exampledb::choices::is_unprintable(u32::from(c)));
    assert_eq!(bad, None, "{what}: {s:?}");
}

async fn count(db: &DirectoryDatabase) -> usize {
    let mut n = 0;
    for key in db.keys().await.unwrap() {
        n += db.fetch(&key).await.unwrap().len();
    }
    n
}

#[tokio::test]
async fn cp_delete_deletes_nothing_when_the_source_was_read_only_in_part() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let src_db = DirectoryDatabase::open(&src).unwrap();
    let dst_db = DirectoryDatabase::open(&dst).unwrap();
    src_db.save(b"small", b"v").await.unwrap();
    src_db.save(b"big", &[7u8; 100]).await.unwrap();
    dst_db.save(b"big", &[7u8; 100]).await.unwrap();
    dst_db.save(b"other", b"x").await.unwrap();
    // SRC read with a limit its big value exceeds: that value is skipped with a warning,
    // so SRC looks as if it lacked it, and --delete must not act on that.
    let limited = format!("file:{}?max_value_size=10", src.display());
    let d = dst.display().to_string();
    for dry in [true, false] {
        let mut args = vec!["cp", "--delete", &limited, &d];
        if dry {
            args.insert(1, "--dry-run");
        }
        let out = exampledb(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("--delete deleted nothing"), "{stderr}");
        assert!(text(&out.stdout).contains("nothing deleted"));
        assert_eq!(dst_db.fetch(b"big").await.unwrap().len(), 1);
        assert_eq!(dst_db.fetch(b"other").await.unwrap().len(), 1);
    }
    // The small value was copied all the same.
    assert_eq!(dst_db.fetch(b"small").await.unwrap().len(), 1);

    // A key directory no meta-keys entry names (an older Hypothesis left it) is a
    // warning, and the same refusal.
    let lost = tmp.path().join("lost");
    let lost_db = DirectoryDatabase::open(&lost).unwrap();
    lost_db.save(b"kept", b"1").await.unwrap();
    lost_db.save(b"unnamed", b"2").await.unwrap();
    let entry = lost.join(exampledb::layout::metakey_path(b"unnamed"));
    std::fs::remove_file(entry).unwrap();
    let out = exampledb(&["ls", &lost.display().to_string()]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("no meta-keys entry names their key"),
        "{}",
        text(&out.stderr)
    );
    let out = exampledb(&["cp", "--delete", &lost.display().to_string(), &d]);
    assert!(!out.status.success());
    assert_eq!(dst_db.fetch(b"other").await.unwrap().len(), 1);

    // A key directory that is a symbolic link (not followed; Hypothesis would follow
    // it): a warning, and the same refusal.
    #[cfg(unix)]
    {
        let linked = tmp.path().join("linked");
        let linked_db = DirectoryDatabase::open(&linked).unwrap();
        linked_db.save(b"other", b"x").await.unwrap();
        let key_dir = linked.join(exampledb::layout::key_dir(b"other"));
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::rename(&key_dir, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &key_dir).unwrap();
        let out = exampledb(&["cp", "--delete", &linked.display().to_string(), &d]);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("not a directory (a symbolic link or a file)"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(dst_db.fetch(b"other").await.unwrap().len(), 1);
    }

    // A whole read: --delete does its work.
    let out = exampledb(&["cp", "--delete", &src.display().to_string(), &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dst_db.fetch(b"other").await.unwrap().is_empty());
}

#[test]
fn a_missing_directory_is_an_error_behind_readonly_and_in_a_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("typo").display().to_string();
    let there = tmp.path().join("there");
    std::fs::create_dir(&there).unwrap();
    let there = there.display().to_string();
    for url in [
        format!("readonly:{missing}"),
        format!("readonly:file:{missing}"),
        format!("{missing};memory:"),
        format!("{there};readonly:{missing}"),
        // A plain path is taken literally, `?` included, as the library takes it.
        format!("{there}?durable=true"),
    ] {
        for command in ["ls", "stats", "watch"] {
            let out = exampledb(&[command, &url]);
            assert_eq!(out.status.code(), Some(1), "{command} {url}");
            let stderr = text(&out.stderr);
            assert!(stderr.contains("no example database at"), "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
        // Nor can it be the source of a copy that deletes.
        let out = exampledb(&["cp", "--delete", &url, &there]);
        assert_eq!(out.status.code(), Some(1), "cp {url}");
    }
}

#[tokio::test]
async fn a_value_dst_refuses_is_named_and_the_rest_is_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let src_db = DirectoryDatabase::open(&src).unwrap();
    for k in 0..40u8 {
        src_db.save(&[k], b"small").await.unwrap();
    }
    src_db.save(b"\x05", &[9u8; 50]).await.unwrap();
    let limited = format!("file:{}?max_value_size=10", dst.display());
    for _ in 0..2 {
        let out = exampledb(&["cp", &src.display().to_string(), &limited]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("a value of 05 (50 bytes) not copied")
                && stderr.contains("1 key(s) or value(s) were not copied"),
            "{stderr}"
        );
        let dst_db = DirectoryDatabase::open(&dst).unwrap();
        assert_eq!(count(&dst_db).await, 40, "everything else is copied");
    }
}

#[tokio::test]
async fn decoded_json_and_errors_cannot_drive_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    let root = tmp.path().display().to_string();
    let corpus = exampledb::sub_key(&[0xab; 48], "hypofuzz.corpus");
    let hostile = "{\"a\": \"\\u202eevil\\u009b31m\\u007f\\u200b\\u001b[2J\"}";
    db.save(&corpus, hostile.as_bytes()).await.unwrap();
    let key = format!("{}.hypofuzz.corpus", "ab".repeat(48));
    let decoded = exampledb(&["cat", &root, &key, "--decode"]);
    let shown = text(&decoded.stdout);
    assert_terminal_safe(&shown, "cat --decode of JSON");
    // Still the same JSON document.
    let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(hostile).unwrap()
    );
    let json = exampledb(&["cat", &root, &key, "--json"]);
    let shown = text(&json.stdout);
    assert_terminal_safe(&shown, "cat --json");
    let rows: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        rows[0]["json"]["a"],
        "\u{202e}evil\u{9b}31m\u{7f}\u{200b}\u{1b}[2J"
    );

    // A value that is both a choice sequence and JSON: choices outside HypoFuzz's keys.
    let plain = [0xcd_u8; 48];
    let value = exampledb::choices::encode(&[exampledb::choices::Choice::Bytes(
        br#""aaaaaaaaaaaaaaaaaaa":1234}"#.to_vec(),
    )]);
    assert_eq!(value[0], b'{', "the encoding starts as JSON does");
    db.save(&plain, &value).await.unwrap();
    let shown = text(&exampledb(&["cat", &root, &"cd".repeat(48), "--decode"]).stdout);
    assert!(shown.starts_with("(b'"), "{shown}");

    // A server's error text with escape sequences and line breaks: one escaped line.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..4 {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            conn.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = [0u8; 4096];
            for _ in 0..8 {
                match conn.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = conn.write_all(
                            b"-ERR \x1b]0;pwned\x07\x1b[2J\xe2\x80\xae evil\nexampledb: forged\r\n",
                        );
                    }
                    _ => break,
                }
            }
        }
    });
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args([
            "ls",
            &format!("redis://127.0.0.1:{port}?connect_timeout=1s&operation_timeout=2s"),
        ])
        .output()
        .unwrap();
    drop(server);
    let stderr = text(&out.stderr);
    if cfg!(feature = "redis") || stderr.contains("evil") {
        assert!(!out.status.success());
        assert_terminal_safe(&stderr, "a hostile server's error");
        assert!(!stderr.contains("\nexampledb: forged"), "{stderr}");
    }
}

#[tokio::test]
async fn rm_and_cp_count_only_what_happened_and_refuse_read_only_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    db.save(b"k", b"v").await.unwrap();
    let root = tmp.path().display().to_string();
    let out = exampledb(&["rm", &root, "6b", "deadbeef"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("removed 0 value(s)"));
    assert!(text(&out.stderr).contains("no such value"));
    let out = exampledb(&["cat", &root, "0000"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("holds no values"));
    let read_only = format!("readonly:{root}");
    let out = exampledb(&["rm", &read_only, "6b", "76"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is read-only"));
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
    // In a recipe with a read-only member, what that member holds is not counted.
    let second = tempfile::tempdir().unwrap();
    let second_db = DirectoryDatabase::open(second.path()).unwrap();
    second_db.save(b"k", b"v").await.unwrap();
    db.save(b"k", b"w").await.unwrap();
    let recipe = format!("{root};readonly:{}", second.path().display());
    let out = exampledb(&["rm", &recipe, "6b"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("removed 1 value(s)"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("1 value(s) of 6b remain"),
        "{}",
        text(&out.stderr)
    );
    db.save(b"k", b"v").await.unwrap();
    // Summaries name the user's paths safely, and a plain path as it is, `?` included.
    let odd = tmp.path().join("ev\u{1b}[31m\u{202e}il?x=1");
    let odd = odd.display().to_string();
    let out = exampledb(&["cp", &root, &odd]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert_terminal_safe(&shown, "cp's summary");
    assert!(shown.contains("il?x=1"), "{shown}");
    let other = tempfile::tempdir().unwrap();
    let other = other.path().display().to_string();
    for dry in [false, true] {
        let mut args = vec!["cp", &root, &read_only];
        if dry {
            args.insert(1, "--dry-run");
        }
        let out = exampledb(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains("is read-only"));
    }
    let out = exampledb(&["cp", &other, &format!("readonly:{root};readonly:memory:")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_dry_run_checks_the_destination_url_and_never_echoes_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().display().to_string();
    let missing = tmp.path().join("new");
    let out = exampledb(&[
        "cp",
        "--dry-run",
        &src,
        &format!("file:{}?bogus=1", missing.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bogus"), "{}", text(&out.stderr));
    assert!(!missing.exists(), "a dry run creates nothing");
    for url in [
        "redis://:S3CRET@127.0.0.1:1/?connect_timeout=1s",
        "redis:/:S3CRET@127.0.0.1:1",
        "s3://bucket/p?endpoint=http://u:S3CRET@127.0.0.1:1",
    ] {
        let out = exampledb(&["cp", "--dry-run", &src, url]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("S3CRET"), "{url}: {all}");
    }
}

#[tokio::test]
async fn watch_fails_when_its_root_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("db");
    DirectoryDatabase::open(&root)
        .unwrap()
        .save(b"k", b"v")
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(["watch", &root.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Replaced once watch says it is watching (it knows which directory by then).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.contains("watching"), "{first}");
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("watch went on after its root was replaced");
    };
    assert_eq!(status.code(), Some(1));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("was removed or replaced"), "{rest}");
}

#[test]
fn no_command_prints_the_help_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .current_dir(tmp.path())
        .env_remove("HYPOTHESIS_STORAGE_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage"), "{}", text(&out.stderr));
    assert!(!tmp.path().join(".hypothesis").exists());
}

/// A third review: files Hypothesis would read that we do not (names that are not a
/// value's), and SRC and DST sharing storage, must not let `--delete` remove what SRC
/// holds.
#[tokio::test]
async fn cp_delete_refuses_odd_files_and_shared_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let src_db = DirectoryDatabase::open(&src).unwrap();
    let dst_db = DirectoryDatabase::open(&dst).unwrap();
    src_db.save(b"key1", b"keep").await.unwrap();
    dst_db.save(b"key1", b"keep").await.unwrap();
    dst_db.save(b"key1", b"precious").await.unwrap();
    // Python's fetch reads every file of the key directory, this one included.
    let key_dir = src.join(exampledb::layout::key_dir(b"key1"));
    std::fs::write(key_dir.join("ABCDEF0123456789"), b"precious").unwrap();
    let (s, d) = (src.display().to_string(), dst.display().to_string());
    let out = exampledb(&["cp", "--delete", &s, &d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a value's name"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(dst_db.fetch(b"key1").await.unwrap().len(), 2);
    // A key directory holding only such files, with no meta-keys entry: still a warning.
    std::fs::remove_dir_all(&key_dir).unwrap();
    std::fs::create_dir(&key_dir).unwrap();
    std::fs::write(key_dir.join("notes"), b"precious").unwrap();
    std::fs::remove_file(src.join(exampledb::layout::metakey_path(b"key1"))).unwrap();
    let out = exampledb(&["cp", "--delete", &s, &d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(dst_db.fetch(b"key1").await.unwrap().len(), 2);

    // Shared storage: refused before anything is opened.
    let nested = src.join("inner");
    std::fs::create_dir(&nested).unwrap();
    for (a, b) in [
        (s.clone(), s.clone()),
        (s.clone(), format!("{s};{d}")),
        (nested.display().to_string(), s.clone()),
        (
            "redis://127.0.0.1:1/0?key_prefix=p%3A".to_owned(),
            "redis://127.0.0.1:1?key_prefix=p%3Ax".to_owned(),
        ),
        (
            "s3://bucket/p?endpoint=http://127.0.0.1:1".to_owned(),
            "readonly:memory:;s3://bucket/p/?endpoint=http://127.0.0.1:1".to_owned(),
        ),
        (
            "dynamodb://t?endpoint=http://127.0.0.1:1".to_owned(),
            "dynamodb://t?endpoint=http://127.0.0.1:1&key_prefix=hypothesis-example%3Aold%3A"
                .to_owned(),
        ),
    ] {
        let out = exampledb(&["cp", "--delete", &a, &b]);
        assert_eq!(out.status.code(), Some(1), "{a} {b}");
        assert!(
            text(&out.stderr).contains("share storage"),
            "{a} {b}: {}",
            text(&out.stderr)
        );
    }
    // Other prefixes, buckets or servers are not shared.
    for (a, b) in [
        (
            "redis://127.0.0.1:1/0?key_prefix=a%3A",
            "redis://127.0.0.1:1/0?key_prefix=b%3A",
        ),
        ("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1"),
        (
            "s3://bucket/p?endpoint=http://127.0.0.1:1",
            "s3://bucket/q?endpoint=http://127.0.0.1:1",
        ),
    ] {
        let out = exampledb(&["cp", "--delete", "--dry-run", a, b]);
        assert!(
            !text(&out.stderr).contains("share storage"),
            "{a} {b}: {}",
            text(&out.stderr)
        );
    }
}
