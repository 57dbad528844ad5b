//! The directory database's own guarantees: Hypothesis's exact layout, its meta-keys
//! semantics, errors, temporary files, events from other writers, and several processes
//! sharing one root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use exampledb_core::bytes::Bytes;
use exampledb_core::{
    hypothesis_hash, ChangeEvent, DirectoryDatabase, Error, ExampleDatabase, Operation,
};
use exampledb_testkit::conformance::{assert_same_events, collect_events};
use exampledb_testkit::interop::change_sequence_events;
use exampledb_testkit::process::{check_patterned, child_role, child_test, patterned};

const METAKEYS: &str = "04e6b3400353b141";

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in fs::read_dir(root).unwrap().flatten() {
        for f in fs::read_dir(dir.path()).unwrap().flatten() {
            out.push(format!(
                "{}/{}",
                dir.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn writes_hypothesis_layout_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let db = DirectoryDatabase::open(&root).unwrap();
    assert!(!root.exists(), "nothing is created before the first write");
    db.save(b"k1", b"v1").await.unwrap();
    assert_eq!(
        files_under(&root),
        vec![
            format!("04a6304fb6fbd10a/a49554886eaec884"),
            format!("{METAKEYS}/04a6304fb6fbd10a"),
        ]
    );
    let value = root.join("04a6304fb6fbd10a/a49554886eaec884");
    assert_eq!(fs::read(&value).unwrap(), b"v1");
    assert_eq!(
        fs::read(root.join(METAKEYS).join("04a6304fb6fbd10a")).unwrap(),
        b"k1"
    );
    assert_eq!(
        fs::metadata(&value).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Directories get the umask's mode, as Python's mkdir gives them.
    let reference = tmp.path().join("reference");
    fs::create_dir(&reference).unwrap();
    let want = fs::metadata(&reference).unwrap().permissions().mode();
    assert_eq!(
        fs::metadata(root.join("04a6304fb6fbd10a"))
            .unwrap()
            .permissions()
            .mode(),
        want
    );
}

#[tokio::test]
async fn delete_and_move_follow_hypothesis_metakey_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let db = DirectoryDatabase::open(root).unwrap();
    let (ka, kb) = (hypothesis_hash(b"a"), hypothesis_hash(b"b"));
    db.save(b"a", b"1").await.unwrap();
    db.save(b"a", b"2").await.unwrap();
    db.delete(b"a", b"1").await.unwrap();
    assert!(root.join(&ka).is_dir(), "a still holds a value");
    // Moving the last value out removes a's directory but, as in Hypothesis, keeps its
    // meta-keys entry.
    db.move_value(b"a", b"b", b"2").await.unwrap();
    assert!(!root.join(&ka).exists());
    assert!(
        root.join(METAKEYS).join(&ka).exists(),
        "move leaves src's meta-keys entry"
    );
    assert!(root.join(&kb).join(hypothesis_hash(b"2")).exists());
    assert_eq!(
        db.keys().await.unwrap(),
        vec![Bytes::from("b")],
        "keys() skips the leftover"
    );
    // Deleting the last value removes the directory, then the meta-keys entry.
    db.delete(b"b", b"2").await.unwrap();
    assert!(!root.join(&kb).exists());
    assert!(!root.join(METAKEYS).join(&kb).exists());
    // A save after the directory went writes the meta-keys entry again.
    db.save(b"b", b"3").await.unwrap();
    assert!(root.join(METAKEYS).join(&kb).exists());
}

#[tokio::test]
async fn key_directory_removed_by_another_writer_is_recreated_with_metakey() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    db.save(b"k", b"1").await.unwrap();
    // Another process empties the key, as Hypothesis's delete does.
    let other = DirectoryDatabase::open(tmp.path()).unwrap();
    other.delete(b"k", b"1").await.unwrap();
    assert!(!tmp
        .path()
        .join(METAKEYS)
        .join(hypothesis_hash(b"k"))
        .exists());
    db.save(b"k", b"2").await.unwrap();
    assert!(tmp
        .path()
        .join(METAKEYS)
        .join(hypothesis_hash(b"k"))
        .exists());
    assert_eq!(db.keys().await.unwrap(), vec![Bytes::from("k")]);
}

#[tokio::test]
async fn storage_directory_env_and_gitignore() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("storage");
    // Only this test reads the variable (and nextest runs each test in its own process).
    std::env::set_var(exampledb_core::directory::STORAGE_DIRECTORY_ENV, &home);
    let db = DirectoryDatabase::default_location().unwrap();
    assert_eq!(db.root(), home.join("examples"));
    db.save(b"k", b"v").await.unwrap();
    let gitignore = fs::read_to_string(home.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "*"), "{gitignore}");
    assert!(home.join("examples").join(hypothesis_hash(b"k")).is_dir());
}

#[tokio::test]
async fn bad_roots_give_typed_errors_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let err = DirectoryDatabase::open(&file).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");

    // A root below a file: every write fails with an I/O error naming the path, reads
    // see an empty database, nothing panics.
    let db = DirectoryDatabase::open(file.join("examples")).unwrap();
    let err = db.save(b"k", b"v").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                operation: Operation::Save,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("a-file"), "{err}");
    assert!(!err.is_temporary());
    assert!(db.fetch(b"k").await.unwrap().is_empty());
    db.delete(b"k", b"v").await.unwrap();
    assert!(db.keys().await.unwrap().is_empty());
    assert_eq!(fs::read(&file).unwrap(), b"x", "nothing stored was touched");
}

#[tokio::test]
async fn unreadable_value_file_is_skipped_and_others_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    db.save(b"k", b"good").await.unwrap();
    // A directory where a value file should be cannot be read as one.
    fs::create_dir(
        tmp.path()
            .join(hypothesis_hash(b"k"))
            .join("0123456789abcdef"),
    )
    .unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap(), vec![Bytes::from("good")]);
}

#[tokio::test]
async fn temporary_files_live_beside_the_root_and_leftovers_go_at_the_next_write() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let temp_dir = tmp.path().join(".exampledb-tmp-examples");
    let db = DirectoryDatabase::builder(&root)
        .unnamed_temp_files(false)
        .build()
        .unwrap();
    db.save(b"k", b"v").await.unwrap();
    assert!(
        temp_dir.is_dir(),
        "the temporary directory is beside the root"
    );
    assert_eq!(fs::read_dir(&temp_dir).unwrap().count(), 0);
    // A killed writer's leftover (nobody holds its lock) and a live writer's file.
    let leftover = temp_dir.join(".tmp-exampledb-999-0-0123456789abcdef");
    let live = temp_dir.join(".tmp-exampledb-999-1-0123456789abcdef");
    fs::write(&leftover, b"partial").unwrap();
    fs::write(&live, b"partial").unwrap();
    let held = fs::File::open(&live).unwrap();
    held.lock().unwrap();
    // A file that looks like a temporary file inside a key directory is never a value.
    let dir = root.join(hypothesis_hash(b"k"));
    fs::write(dir.join(".tmp-exampledb-1-2"), b"partial").unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap(), vec![Bytes::from("v")]);
    // Another process's first write through named temporary files sweeps leftovers.
    let other = DirectoryDatabase::builder(&root)
        .unnamed_temp_files(false)
        .build()
        .unwrap();
    other.save(b"k", b"w").await.unwrap();
    assert!(
        !leftover.exists(),
        "a killed writer's file is removed at once"
    );
    assert!(live.exists(), "a live writer's file stays");
    drop(held);
    assert_eq!(db.remove_stale_temp_files().unwrap(), 1);
    assert!(!live.exists());
}

#[tokio::test]
async fn no_temporary_files_are_left_behind() {
    for unnamed in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("examples");
        let db = DirectoryDatabase::builder(&root)
            .unnamed_temp_files(unnamed)
            .build()
            .unwrap();
        for i in 0..50u8 {
            db.save(b"k", &[i]).await.unwrap();
        }
        let names = files_under(&root);
        assert_eq!(names.len(), 51);
        assert!(names.iter().all(|n| !n.contains("/.")), "{names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_by_another_writer_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let watcher = DirectoryDatabase::open(tmp.path()).unwrap();
    // A second handle has its own state, exactly as another process would.
    let other = DirectoryDatabase::open(tmp.path()).unwrap();
    other.save(b"pre-existing", b"x").await.unwrap();
    let mut events = watcher.subscribe().unwrap();
    other.save(b"k", b"v1").await.unwrap();
    other.save(b"k", b"v2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.move_value(b"k", b"k.secondary", b"v1").await.unwrap();
    other.delete(b"k", b"v2").await.unwrap();
    other.save(b"pre-existing", b"y").await.unwrap();
    // A value the watcher never read: its delete carries no value.
    other.delete(b"pre-existing", b"x").await.unwrap();
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    // The delete of v2 carries its value although the file is gone: the watcher read it
    // when it was saved, and a value file's name is its content's hash.
    let mut want = change_sequence_events();
    want.extend([
        ChangeEvent::Saved {
            key: b("pre-existing"),
            value: b("y"),
        },
        ChangeEvent::Deleted {
            key: b("pre-existing"),
            value: None,
        },
    ]);
    let got = collect_events(&mut events, b"", want.len(), Duration::from_secs(10)).await;
    assert_same_events(&got, &want, "another writer's changes");
}

/// Entry point for the writer processes of `processes_never_see_partial_values`.
#[test]
fn writer_process_entry() {
    let Some(role) = child_role() else {
        return; // only runs as a child
    };
    let (root, id) = role.split_once('|').unwrap();
    let id: u32 = id.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = DirectoryDatabase::open(root).unwrap();
        for i in 0..60u32 {
            let value = patterned(id * 1000 + i);
            db.save(b"shared", &value).await.unwrap();
            if i % 2 == 0 {
                db.delete(b"shared", &value).await.unwrap();
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_never_see_partial_values() {
    let tmp = tempfile::tempdir().unwrap();
    let mut children: Vec<_> = (0..4)
        .map(|id| {
            child_test(
                "writer_process_entry",
                &format!("{}|{id}", tmp.path().display()),
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    let mut reads = 0usize;
    let mut seen_values = 0usize;
    while children.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
        for v in db.fetch(b"shared").await.unwrap() {
            assert!(
                check_patterned(&v),
                "read a partial value of {} bytes",
                v.len()
            );
            seen_values += 1;
        }
        reads += 1;
    }
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    let last = db.fetch(b"shared").await.unwrap();
    assert_eq!(last.len(), 4 * 30, "every odd value of every writer stays");
    assert!(last.iter().all(|v| check_patterned(v)));
    assert!(
        reads > 0 && seen_values > 0,
        "the reader overlapped the writers"
    );
}

#[tokio::test]
async fn check_reports_an_unusable_root_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let good = DirectoryDatabase::open(tmp.path().join("examples")).unwrap();
    good.check().await.unwrap();
    assert!(
        tmp.path().join("examples").is_dir(),
        "check creates the root"
    );
    assert_eq!(
        fs::read_dir(tmp.path().join("examples")).unwrap().count(),
        0,
        "and leaves nothing in it"
    );
    let file = tmp.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let bad = DirectoryDatabase::open(file.join("examples")).unwrap();
    let err = bad.check().await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");
    // Through the wrappers, as a tool holding a `dyn ExampleDatabase` sees it.
    let both = exampledb_core::Multiplexed::new([
        std::sync::Arc::new(good) as std::sync::Arc<dyn ExampleDatabase>,
        std::sync::Arc::new(exampledb_core::ReadOnly::new(bad)),
    ]);
    assert!(both.check().await.is_err());
}
