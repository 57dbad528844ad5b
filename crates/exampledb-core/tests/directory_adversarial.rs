//! The directory database tried as an adversary would: writers killed mid-write while a
//! Rust and a Python reader run, processes racing on one key, FIFOs, links out of the root,
//! huge files, a damaged layout, a full disk, and change events at Hypothesis's default
//! (relative) location. Each test here failed before the fix it guards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use exampledb_core::bytes::Bytes;
use exampledb_core::directory::STORAGE_DIRECTORY_ENV;
use exampledb_core::layout::{key_dir, metakey_path, value_path, METAKEYS_DIR};
use exampledb_core::{ChangeEvent, DirectoryDatabase, Error, ExampleDatabase};
use exampledb_testkit::conformance::{assert_same_events, collect_events};
use exampledb_testkit::process::{
    check_patterned, child_role, child_test, patterned, PY_CHECK_PATTERNED,
};
use exampledb_testkit::python::Python;
use exampledb_testkit::{hex, unhex};
use futures_util::StreamExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Runs `f` on its own thread and waits at most `limit` for it: a call that hangs fails
/// the test instead of hanging it.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}

/// The lines a child prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// What follows `marker` in the next line that holds it (the test harness may print its
/// own text before a child's output on the same line).
fn next_line_with(rx: &mpsc::Receiver<String>, marker: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with {marker:?} within {limit:?}"));
        if let Some(at) = line.find(marker) {
            return line[at + marker.len()..].to_owned();
        }
    }
}

fn event_line(event: &ChangeEvent) -> String {
    match event {
        ChangeEvent::Saved { key, value } => format!("save {} {}", hex(key), hex(value)),
        ChangeEvent::Deleted { key, value } => format!(
            "delete {} {}",
            hex(key),
            value.as_ref().map_or("-".into(), |v| hex(v))
        ),
    }
}

fn parse_event(line: &str) -> ChangeEvent {
    let parts: Vec<&str> = line.split(' ').collect();
    let key = Bytes::from(unhex(parts[1]));
    match parts[0] {
        "save" => ChangeEvent::Saved {
            key,
            value: Bytes::from(unhex(parts[2])),
        },
        _ => ChangeEvent::Deleted {
            key,
            value: (parts[2] != "-").then(|| Bytes::from(unhex(parts[2]))),
        },
    }
}

// ---------------------------------------------------------------------------------------
// 1. Change events at the default, relative location.

/// Child of `default_relative_location_reports_other_processes_changes`: listens at
/// Hypothesis's default location, relative to its working directory, and prints each
/// event it hears.
#[test]
fn listen_at_default_location_entry() {
    let Some(count) = child_role() else { return };
    let count: usize = count.parse().unwrap();
    runtime().block_on(async {
        let db = DirectoryDatabase::default_location().unwrap();
        assert!(db.root().is_relative(), "{:?}", db.root());
        let mut events = db.subscribe().unwrap();
        println!("ready");
        for _ in 0..count {
            match tokio::time::timeout(Duration::from_secs(20), events.next()).await {
                Ok(Some(event)) => println!("event {}", event_line(&event)),
                _ => return,
            }
        }
    });
}

#[test]
fn default_relative_location_reports_other_processes_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    let want = vec![
        ChangeEvent::Saved {
            key: b("k"),
            value: b("v1"),
        },
        ChangeEvent::Saved {
            key: b("k"),
            value: b("v2"),
        },
        ChangeEvent::Deleted {
            key: b("k"),
            value: Some(b("v1")),
        },
        ChangeEvent::Deleted {
            key: b("k"),
            value: Some(b("v2")),
        },
        ChangeEvent::Saved {
            key: b("k.secondary"),
            value: b("v2"),
        },
    ];
    let mut child = child_test("listen_at_default_location_entry", &want.len().to_string())
        .current_dir(tmp.path())
        .env_remove(STORAGE_DIRECTORY_ENV)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    next_line_with(&lines, "ready", Duration::from_secs(30));
    runtime().block_on(async {
        // Another process, writing at the same place by its absolute path.
        let db = DirectoryDatabase::open(tmp.path().join(".hypothesis/examples")).unwrap();
        db.save(b"k", b"v1").await.unwrap();
        db.save(b"k", b"v2").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        db.delete(b"k", b"v1").await.unwrap();
        db.move_value(b"k", b"k.secondary", b"v2").await.unwrap();
    });
    let got: Vec<ChangeEvent> = (0..want.len())
        .map(|_| parse_event(&next_line_with(&lines, "event ", Duration::from_secs(20))))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_same_events(
        &got,
        &want,
        "changes heard at the relative default location",
    );
}

// ---------------------------------------------------------------------------------------
// 2. Writers killed mid-write while a Rust and a Python reader run.

const KEY: &[u8] = b"shared";

/// Child of `killed_writers_never_expose_partial_values`: saves patterned values (and
/// deletes half of them) until it is killed.
#[test]
fn writer_until_killed_entry() {
    let Some(role) = child_role() else { return };
    let mut parts = role.split('|');
    let root = parts.next().unwrap().to_owned();
    let unnamed = parts.next().unwrap() == "unnamed";
    let seed: u32 = parts.next().unwrap().parse().unwrap();
    runtime().block_on(async {
        let db = DirectoryDatabase::builder(root)
            .unnamed_temp_files(unnamed)
            .build()
            .unwrap();
        for i in 0u32.. {
            let value = patterned(seed.wrapping_mul(7919).wrapping_add(i));
            db.save(KEY, &value).await.unwrap();
            if i == 0 {
                // The parent's clock for the kill starts here, not at process start (a
                // loaded machine can take longer to start a process than the kill delay).
                println!("writer-started");
            }
            if i % 2 == 1 {
                db.delete(KEY, &value).await.unwrap();
            }
        }
    });
}

const PY_READER: &str = r#"
import json, os, sys
from hypothesis.database import DirectoryBasedExampleDatabase
db = DirectoryBasedExampleDatabase(sys.argv[1])
key, stop = bytes.fromhex(sys.argv[2]), sys.argv[3]
reads = values = 0
bad = []
print("ready", flush=True)
while not os.path.exists(stop):
    for v in db.fetch(key):
        values += 1
        if not check_patterned(v):
            bad.append(len(v))
    reads += 1
print("result " + json.dumps({"reads": reads, "values": values, "bad": bad[:20], "bad_count": len(bad)}), flush=True)
"#;

/// A small deterministic random source (xorshift), seeded from the clock.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn killed_writers_on(py: &Python, unnamed: bool, run_for: Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let stop = tmp.path().join("stop");
    let path_name = if unnamed { "unnamed" } else { "named" };

    let script = format!("{PY_CHECK_PATTERNED}\n{PY_READER}");
    let mut python = py
        .command(
            &script,
            &[root.to_str().unwrap(), &hex(KEY), stop.to_str().unwrap()],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let py_lines = lines_of(&mut python);
    next_line_with(&py_lines, "ready", Duration::from_secs(60));

    // The Rust reader: another database handle, as another process would have.
    let done = Arc::new(AtomicBool::new(false));
    let (rust_values, rust_bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (root, done, values, bad) = (
            root.clone(),
            Arc::clone(&done),
            Arc::clone(&rust_values),
            Arc::clone(&rust_bad),
        );
        std::thread::spawn(move || {
            runtime().block_on(async {
                let db = DirectoryDatabase::open(&root).unwrap();
                while !done.load(Ordering::Relaxed) {
                    for v in db.fetch(KEY).await.unwrap() {
                        values.fetch_add(1, Ordering::Relaxed);
                        if !check_patterned(&v) {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
    };

    let mut rng = Rng::new();
    let started = Instant::now();
    let mut kills = 0u32;
    while started.elapsed() < run_for {
        let mut writers: Vec<Child> = (0..2)
            .map(|_| {
                child_test(
                    "writer_until_killed_entry",
                    &format!("{}|{path_name}|{}", root.display(), rng.below(1 << 20)),
                )
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for w in &mut writers {
            let mut lines = std::io::BufReader::new(w.stdout.take().unwrap());
            let mut line = String::new();
            while std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) > 0
                && !line.contains("writer-started")
            {
                line.clear();
            }
        }
        std::thread::sleep(Duration::from_millis(5 + rng.below(40)));
        for w in &mut writers {
            w.kill().unwrap(); // SIGKILL
            w.wait().unwrap();
            kills += 1;
        }
    }
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    fs::write(&stop, b"").unwrap();
    let result: serde_json::Value = serde_json::from_str(&next_line_with(
        &py_lines,
        "result ",
        Duration::from_secs(30),
    ))
    .unwrap();
    python.wait().unwrap();

    let context = format!("{path_name} temporary files, {kills} writers killed");
    assert_eq!(
        result["bad_count"], 0,
        "Python read partial values ({context}): {result}"
    );
    assert_eq!(
        rust_bad.load(Ordering::Relaxed),
        0,
        "Rust read partial values ({context})"
    );
    assert!(
        result["values"].as_u64().unwrap() > 0 && rust_values.load(Ordering::Relaxed) > 0,
        "the readers overlapped the writers ({context}): {result}"
    );
    // Nothing but values in the key directory, and no killed writer's leftover survives
    // the next writer's first write.
    let key_dir_path = root.join(key_dir(KEY));
    for entry in fs::read_dir(&key_dir_path).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            exampledb_core::is_hash_name(name.to_str().unwrap()),
            "{name:?} in the key directory ({context})"
        );
    }
    runtime().block_on(async {
        let next = DirectoryDatabase::builder(&root)
            .unnamed_temp_files(unnamed)
            .build()
            .unwrap();
        next.save(b"after", b"x").await.unwrap();
    });
    let temp_dir = tmp.path().join(".exampledb-tmp-examples");
    let left: Vec<_> = fs::read_dir(&temp_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "leftovers after the next write ({context}): {left:?}"
    );
}

#[test]
fn killed_writers_never_expose_partial_values() {
    let Some(py) = Python::for_test("killed_writers_never_expose_partial_values") else {
        return;
    };
    for unnamed in [false, true] {
        killed_writers_on(&py, unnamed, Duration::from_millis(2500));
    }
}

// ---------------------------------------------------------------------------------------
// 3. Two processes racing: every key that holds a value keeps its meta-keys entry.

fn race_key(i: u64) -> Vec<u8> {
    format!("race-{i}").into_bytes()
}

/// Child of `racing_processes_keep_every_key_listed`: saves, deletes and moves its own
/// value among `keys` random keys for the given time, on the given write path. Every
/// call must succeed: contention is no reason for a save to fail.
#[test]
fn racer_entry() {
    let Some(role) = child_role() else { return };
    let parts: Vec<&str> = role.split('|').collect();
    let [root, me, keys, millis, path_name] = parts[..] else {
        panic!("bad role {role}")
    };
    let keys: u64 = keys.parse().unwrap();
    let millis: u64 = millis.parse().unwrap();
    runtime().block_on(async {
        let db = DirectoryDatabase::builder(root)
            .unnamed_temp_files(path_name == "unnamed")
            .build()
            .unwrap();
        let mut rng = Rng::new();
        let until = Instant::now() + Duration::from_millis(millis);
        while Instant::now() < until {
            let key = race_key(rng.below(keys));
            let result = match rng.below(3) {
                0 => db.save(&key, me.as_bytes()).await,
                1 => db.delete(&key, me.as_bytes()).await,
                _ => {
                    let dest = race_key(rng.below(keys));
                    db.move_value(&key, &dest, me.as_bytes()).await
                }
            };
            if let Err(e) = result {
                panic!("{me}: {e}");
            }
        }
    });
}

#[test]
fn racing_processes_keep_every_key_listed() {
    // (racers, keys): many keys for many chances to lose an entry, few for contention.
    for (round, (racers, keys, path_name)) in [
        (2, 24, "unnamed"),
        (3, 2, "unnamed"),
        (2, 24, "named"),
        (3, 2, "named"),
    ]
    .into_iter()
    .enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("examples");
        let children: Vec<Child> = (0..racers)
            .map(|me| {
                child_test(
                    "racer_entry",
                    &format!("{}|racer{me}|{keys}|900|{path_name}", root.display()),
                )
                .spawn()
                .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(
                c.wait().unwrap().success(),
                "round {round} ({path_name}): a racer's call failed"
            );
        }
        runtime().block_on(async {
            let db = DirectoryDatabase::open(&root).unwrap();
            let listed = db.keys().await.unwrap();
            for i in 0..keys {
                let key = race_key(i);
                let holds = !db.fetch(&key).await.unwrap().is_empty();
                let is_listed = listed.contains(&Bytes::from(key.clone()));
                if holds {
                    assert!(
                        root.join(metakey_path(&key)).is_file(),
                        "round {round}: key {i} holds a value but lost its meta-keys entry"
                    );
                }
                assert_eq!(holds, is_listed, "round {round}: key {i}: keys() is wrong");
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// 4. Special files and links.

const SOME_HASH: &str = "0123456789abcdef";

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn fifos_never_hang_fetch_keys_or_the_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db.save(b"k", b"good")).unwrap();
    let mut events = db.subscribe().unwrap();
    // A FIFO where a value goes, and one where a meta-keys entry goes.
    mkfifo(&root.join(key_dir(b"k")).join(SOME_HASH));
    mkfifo(&root.join(METAKEYS_DIR).join(SOME_HASH));
    let reader = db.clone();
    let (values, keys) = within(Duration::from_secs(10), "fetch and keys", move || {
        runtime().block_on(async {
            (
                reader.fetch(b"k").await.unwrap(),
                reader.keys().await.unwrap(),
            )
        })
    });
    assert_eq!(values, vec![Bytes::from("good")]);
    assert_eq!(keys, vec![Bytes::from("k")]);
    // The watcher saw both FIFOs appear; it must still report the next change.
    let other = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(other.save(b"k", b"after")).unwrap();
    let got = rt.block_on(collect_events(&mut events, b"", 1, Duration::from_secs(10)));
    assert_same_events(
        &got,
        &[ChangeEvent::Saved {
            key: Bytes::from("k"),
            value: Bytes::from("after"),
        }],
        "after FIFOs appeared",
    );
}

#[test]
fn device_links_and_oversized_files_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::builder(&root)
        .max_value_size(64 * 1024)
        .build()
        .unwrap();
    rt.block_on(db.save(b"k", b"good")).unwrap();
    let dir = root.join(key_dir(b"k"));
    // An endless device behind a link, and a regular file over the limit.
    symlink("/dev/zero", dir.join(SOME_HASH)).unwrap();
    fs::write(dir.join("fedcba9876543210"), vec![1u8; 65 * 1024]).unwrap();
    let reader = db.clone();
    let values = within(Duration::from_secs(10), "fetch", move || {
        runtime().block_on(reader.fetch(b"k")).unwrap()
    });
    assert_eq!(values, vec![Bytes::from("good")]);
    // A value over the limit is refused before anything is written.
    let err = rt
        .block_on(db.save(b"k2", &vec![0u8; 65 * 1024]))
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(err.kind(), exampledb_core::ErrorKind::TooLarge);
    assert!(!root.join(key_dir(b"k2")).exists());
    assert!(!root.join(metakey_path(b"k2")).exists());
}

/// A directory outside the root holding what a key directory would hold.
fn outside_key_dir(tmp: &Path, value: &[u8]) -> PathBuf {
    let outside = tmp.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join(exampledb_core::hypothesis_hash(value)), value).unwrap();
    outside
}

#[test]
fn links_out_of_the_root_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db.save(b"k", b"seed")).unwrap();
    rt.block_on(db.delete(b"k", b"seed")).unwrap();
    let outside = outside_key_dir(tmp.path(), b"secret");
    let outside_file = outside.join(exampledb_core::hypothesis_hash(b"secret"));
    // The key's directory is a link out of the root (its meta-keys entry is in place).
    symlink(&outside, root.join(key_dir(b"k"))).unwrap();
    fs::create_dir_all(root.join(METAKEYS_DIR)).unwrap();
    fs::write(root.join(metakey_path(b"k")), b"k").unwrap();

    rt.block_on(async {
        assert!(
            db.fetch(b"k").await.unwrap().is_empty(),
            "fetch read through the link"
        );
        assert!(
            db.keys().await.unwrap().is_empty(),
            "keys() listed a linked directory"
        );
        db.delete(b"k", b"secret").await.unwrap();
        assert!(
            outside_file.exists(),
            "delete removed a file outside the root"
        );
        db.move_value(b"k", b"k2", b"secret").await.unwrap();
        assert!(
            outside_file.exists(),
            "move took a file from outside the root"
        );
        let err = db.save(b"k", b"new").await.unwrap_err();
        assert!(err.to_string().contains(&key_dir(b"k")), "{err}");
    });
    let outside_names = |dir: &Path| -> Vec<_> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        names
    };

    // A link whose target happens to hold the value: a save is not "already done", and a
    // move into it does not lose the value.
    let value_outside = outside.join(exampledb_core::hypothesis_hash(b"moved"));
    fs::write(&value_outside, b"moved").unwrap();
    let before = outside_names(&outside);
    rt.block_on(async {
        let err = db.save(b"k", b"moved").await.unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        db.save(b"m", b"moved").await.unwrap();
        let err = db.move_value(b"m", b"k", b"moved").await.unwrap_err();
        assert!(err.to_string().contains(&key_dir(b"k")), "{err}");
        assert_eq!(
            db.fetch(b"m").await.unwrap(),
            vec![Bytes::from("moved")],
            "the value stays where it was"
        );
    });

    assert_eq!(
        outside_names(&outside),
        before,
        "nothing was written outside the root"
    );

    // A value file that is a link to a regular file outside is not read either.
    let db2 = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db2.save(b"j", b"real")).unwrap();
    symlink(&outside_file, root.join(key_dir(b"j")).join(SOME_HASH)).unwrap();
    assert_eq!(
        rt.block_on(db2.fetch(b"j")).unwrap(),
        vec![Bytes::from("real")]
    );
}

#[test]
fn the_watcher_does_not_follow_links_out_of_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db.save(b"k", b"v")).unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    // A link to the outside directory, under the name of the key's directory would-be.
    let linked_key = b"linked";
    symlink(&outside, root.join(key_dir(linked_key))).unwrap();
    fs::write(root.join(metakey_path(linked_key)), linked_key).unwrap();
    let mut events = db.subscribe().unwrap();
    // Changes outside the root, through the link: not the database's.
    fs::write(outside.join(SOME_HASH), b"outside").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let other = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(other.save(b"k", b"w")).unwrap();
    let got = rt.block_on(collect_events(&mut events, b"", 1, Duration::from_secs(10)));
    assert_same_events(
        &got,
        &[ChangeEvent::Saved {
            key: Bytes::from("k"),
            value: Bytes::from("w"),
        }],
        "only the change inside the root",
    );
}

#[test]
fn a_root_that_is_a_link_is_watched_where_it_points() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("examples");
    symlink(&real, &link).unwrap();
    let rt = runtime();
    let db = DirectoryDatabase::open(&link).unwrap();
    let mut events = db.subscribe().unwrap();
    let other = DirectoryDatabase::open(&link).unwrap();
    rt.block_on(other.save(b"k", b"v")).unwrap();
    let got = rt.block_on(collect_events(&mut events, b"", 1, Duration::from_secs(10)));
    assert_same_events(
        &got,
        &[ChangeEvent::Saved {
            key: Bytes::from("k"),
            value: Bytes::from("v"),
        }],
        "a linked root",
    );
}

// ---------------------------------------------------------------------------------------
// 5. A damaged layout.

#[test]
fn a_meta_keys_directory_that_is_a_file_does_not_stop_saves() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    fs::create_dir(&root).unwrap();
    fs::write(root.join(METAKEYS_DIR), b"not a directory").unwrap();
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(async {
        // As in Hypothesis: the value is saved; only its key cannot be listed.
        db.save(b"k", b"v").await.unwrap();
        db.save(b"k2", b"v").await.unwrap();
        assert_eq!(db.fetch(b"k").await.unwrap(), vec![Bytes::from("v")]);
        assert!(db.keys().await.unwrap().is_empty());
    });
    assert_eq!(
        fs::read(root.join(METAKEYS_DIR)).unwrap(),
        b"not a directory"
    );
}

#[test]
fn a_meta_keys_entry_that_is_a_directory_is_repaired_by_the_next_save() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db.save(b"k", b"v")).unwrap();
    let entry = root.join(metakey_path(b"k"));
    fs::remove_file(&entry).unwrap();
    fs::create_dir(&entry).unwrap();
    assert!(rt.block_on(db.keys()).unwrap().is_empty());
    // Another process (one that has not recorded the key) saves under it.
    let other = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(other.save(b"k", b"w")).unwrap();
    assert_eq!(fs::read(&entry).unwrap(), b"k");
    assert_eq!(rt.block_on(db.keys()).unwrap(), vec![Bytes::from("k")]);
}

#[test]
fn an_empty_key_directory_is_not_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let db = DirectoryDatabase::open(&root).unwrap();
    rt.block_on(db.save(b"k", b"v")).unwrap();
    // What a failed save leaves in Hypothesis: a directory and entry, no value.
    fs::create_dir(root.join(key_dir(b"empty"))).unwrap();
    fs::write(root.join(metakey_path(b"empty")), b"empty").unwrap();
    fs::write(root.join(key_dir(b"empty")).join(".partial"), b"x").unwrap();
    assert_eq!(rt.block_on(db.keys()).unwrap(), vec![Bytes::from("k")]);
}

/// Child of `a_save_that_fails_for_lack_of_space_leaves_nothing`: runs under a file size
/// limit of one block, so writing the value fails as on a full disk.
#[test]
fn save_under_file_size_limit_entry() {
    let Some(role) = child_role() else { return };
    let (root, path_name) = role.split_once('|').unwrap();
    runtime().block_on(async {
        let db = DirectoryDatabase::builder(root)
            .unnamed_temp_files(path_name == "unnamed")
            .build()
            .unwrap();
        db.save(b"existing", b"small").await.unwrap();
        let err = db.save(b"big", &vec![7u8; 256 * 1024]).await.unwrap_err();
        println!("failed {err}");
    });
}

#[test]
fn a_save_that_fails_for_lack_of_space_leaves_nothing() {
    for path_name in ["unnamed", "named"] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("examples");
        let entry = child_test(
            "save_under_file_size_limit_entry",
            &format!("{}|{path_name}", root.display()),
        );
        // The shell sets the limit and ignores SIGXFSZ (kept across exec), so the write
        // fails with EFBIG as it would with ENOSPC.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -f 8; trap '' XFSZ; exec \"$0\" \"$@\"")
            .arg(entry.get_program())
            .args(entry.get_args())
            .envs(entry.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdout(Stdio::piped());
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("failed "),
            "{stdout}"
        );
        assert!(
            !root.join(key_dir(b"big")).exists(),
            "{path_name}: key directory left"
        );
        assert!(
            !root.join(metakey_path(b"big")).exists(),
            "{path_name}: entry left"
        );
        assert!(root.join(value_path(b"existing", b"small")).exists());
        let db = DirectoryDatabase::open(&root).unwrap();
        assert_eq!(
            runtime().block_on(db.keys()).unwrap(),
            vec![Bytes::from("existing")],
            "{path_name}"
        );
    }
}

/// Two databases on one root (as two processes would be) move one value in opposite
/// directions at the same moment, again and again: the value always ends under one of the
/// two keys. (Each move used to find the value already under its destination and delete
/// its own copy, so both copies went.)
#[test]
fn opposite_moves_at_once_never_lose_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        Arc::new(DirectoryDatabase::open(tmp.path()).unwrap()),
        Arc::new(DirectoryDatabase::open(tmp.path()).unwrap()),
    );
    let rt = runtime();
    for trial in 0..300u32 {
        let value = trial.to_be_bytes().to_vec();
        rt.block_on(async {
            a.save(b"k1", &value).await.unwrap();
            a.save(b"k2", &value).await.unwrap();
        });
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = [
            (Arc::clone(&a), b"k1", b"k2"),
            (Arc::clone(&b), b"k2", b"k1"),
        ]
        .into_iter()
        .map(|(db, src, dest)| {
            let (barrier, value) = (Arc::clone(&barrier), value.clone());
            std::thread::spawn(move || {
                barrier.wait();
                runtime()
                    .block_on(db.move_value(src, dest, &value))
                    .unwrap();
            })
        })
        .collect();
        for t in threads {
            t.join().unwrap();
        }
        let held = rt.block_on(async {
            let k1 = a.fetch(b"k1").await.unwrap();
            let k2 = a.fetch(b"k2").await.unwrap();
            a.delete(b"k1", &value).await.unwrap();
            a.delete(b"k2", &value).await.unwrap();
            k1.len() + k2.len()
        });
        assert!(
            held >= 1,
            "trial {trial}: the value was lost by two opposite moves"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Key directories' descriptors kept between calls (moves and deletes go through them).

/// The file names under `dir` (empty when it is not there).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Another process removes two key directories whose descriptors this database keeps (by
/// deleting their last values) and creates them again with other values: moves and
/// deletes act on the new directories, never on the removed ones.
#[test]
fn key_directories_removed_and_created_again_are_used_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let (a, other) = two_databases(&root);
    rt_block(async {
        keep_descriptors(&a, b"a", b"b", &[b"v0", b"v1", b"v2"]).await;
        a.delete(b"b", b"v2").await.unwrap();
        // Both directories go, and come back as new directories.
        other.delete(b"a", b"v1").await.unwrap();
        other.delete(b"b", b"v0").await.unwrap();
        assert!(!root.join(key_dir(b"a")).exists() && !root.join(key_dir(b"b")).exists());
        other.save(b"a", b"v3").await.unwrap();
        other.save(b"b", b"v9").await.unwrap();

        a.move_value(b"a", b"b", b"v3").await.unwrap();
        assert!(other.fetch(b"a").await.unwrap().is_empty());
        let mut b = other.fetch(b"b").await.unwrap();
        b.sort();
        assert_eq!(b, [Bytes::from("v3"), Bytes::from("v9")]);
        a.delete(b"b", b"v9").await.unwrap();
        assert_eq!(other.fetch(b"b").await.unwrap(), [Bytes::from("v3")]);
    });
}

/// The root is renamed away and a new one made at its path while a database keeps
/// descriptors of key directories under the old one: its next move and delete act under
/// the path, as Hypothesis's would, and leave the renamed directory alone.
#[test]
fn a_root_renamed_away_is_not_written_through_kept_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let old = tmp.path().join("examples-old");
    let a = DirectoryDatabase::open(&root).unwrap();
    rt_block(async {
        keep_descriptors(&a, b"a", b"b", &[b"v", b"w", b"x", b"y"]).await;
        fs::rename(&root, &old).unwrap();
        let fresh = DirectoryDatabase::open(&root).unwrap();
        fresh.save(b"a", b"w").await.unwrap();
        fresh.save(b"a", b"x").await.unwrap();
        let old_a = names_in(&old.join(key_dir(b"a")));
        let old_b = names_in(&old.join(key_dir(b"b")));

        a.move_value(b"a", b"b", b"w").await.unwrap();
        a.delete(b"a", b"x").await.unwrap();
        assert_eq!(fresh.fetch(b"b").await.unwrap(), [Bytes::from("w")]);
        assert!(fresh.fetch(b"a").await.unwrap().is_empty());
        assert_eq!(
            names_in(&old.join(key_dir(b"a"))),
            old_a,
            "the old root changed"
        );
        assert_eq!(
            names_in(&old.join(key_dir(b"b"))),
            old_b,
            "the old root changed"
        );
    });
}

/// A key directory whose descriptor is kept is removed and a link out of the root put in
/// its place: a move into it and a delete in it fail or do nothing, and nothing outside
/// the root is touched.
#[test]
fn a_kept_key_directory_replaced_by_a_link_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let (a, other) = two_databases(&root);
    rt_block(async {
        keep_descriptors(&a, b"k", b"k2", &[b"v1", b"v2", b"v3"]).await;
        a.delete(b"k2", b"v3").await.unwrap();
        other.delete(b"k2", b"v1").await.unwrap();
        let outside = outside_key_dir(tmp.path(), b"v1");
        symlink(&outside, root.join(key_dir(b"k2"))).unwrap();

        a.move_value(b"k", b"k2", b"v2").await.unwrap_err();
        assert_eq!(a.fetch(b"k").await.unwrap(), [Bytes::from("v2")]);
        a.delete(b"k2", b"v1").await.unwrap();
        assert_eq!(
            names_in(&outside),
            [exampledb_core::hypothesis_hash(b"v1")],
            "a file outside the root was moved or removed"
        );
    });
}

/// Two databases on one root, as two processes would have.
fn two_databases(root: &Path) -> (DirectoryDatabase, DirectoryDatabase) {
    (
        DirectoryDatabase::open(root).unwrap(),
        DirectoryDatabase::open(root).unwrap(),
    )
}

fn rt_block<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// Saves `values` under `src` and moves the first and the last of them to `dest`: the
/// first move creates dest's directory (by path), the second goes through descriptors of
/// both key directories, which `db` keeps from then on.
async fn keep_descriptors(db: &DirectoryDatabase, src: &[u8], dest: &[u8], values: &[&[u8]]) {
    for v in values {
        db.save(src, v).await.unwrap();
    }
    db.move_value(src, dest, values[0]).await.unwrap();
    db.move_value(src, dest, values[values.len() - 1])
        .await
        .unwrap();
}

/// A key directory whose descriptor is kept is renamed out of the root (onto the same
/// file system) and a link to where it went put at its name: a delete and a move through
/// that name must neither remove nor write anything there (the path-based code refuses
/// the link), and the moved value stays under its source key.
#[test]
fn a_kept_key_directory_renamed_out_of_the_root_behind_a_link_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let outside = tmp.path().join("outside");
    let a = DirectoryDatabase::open(&root).unwrap();
    rt_block(async {
        keep_descriptors(&a, b"k", b"k2", &[b"v1", b"v2", b"v3"]).await;
        a.delete(b"k2", b"v3").await.unwrap();
        fs::rename(root.join(key_dir(b"k2")), &outside).unwrap();
        symlink(&outside, root.join(key_dir(b"k2"))).unwrap();
        let before = names_in(&outside);
        assert_eq!(before, [exampledb_core::hypothesis_hash(b"v1")]);

        a.delete(b"k2", b"v1").await.unwrap();
        assert_eq!(
            names_in(&outside),
            before,
            "a delete removed a file outside the root (behind a link)"
        );
        let _ = a.move_value(b"k", b"k2", b"v2").await;
        assert_eq!(
            names_in(&outside),
            before,
            "a move wrote a file outside the root (behind a link)"
        );
        assert_eq!(
            a.fetch(b"k").await.unwrap(),
            [Bytes::from("v2")],
            "the value left its key for a directory outside the root"
        );
    });
}

/// A key directory whose descriptor is kept is moved out of the root (to a backup or a
/// trash on the same file system), so its key holds nothing: a move to that key puts the
/// value under the key, in the root, not into the directory that was moved away.
#[test]
fn a_move_into_a_key_whose_directory_was_moved_away_lands_in_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let away = tmp.path().join("trash");
    let a = DirectoryDatabase::open(&root).unwrap();
    rt_block(async {
        keep_descriptors(&a, b"k", b"k2", &[b"v1", b"v2", b"v3"]).await;
        fs::rename(root.join(key_dir(b"k2")), &away).unwrap();
        let before = names_in(&away);

        a.move_value(b"k", b"k2", b"v2").await.unwrap();
        assert_eq!(
            a.fetch(b"k2").await.unwrap(),
            [Bytes::from("v2")],
            "the moved value is in neither key"
        );
        assert!(a.fetch(b"k").await.unwrap().is_empty());
        assert_eq!(
            names_in(&away),
            before,
            "the moved-away directory was written"
        );
        assert!(a.keys().await.unwrap().contains(&Bytes::from_static(b"k2")));
    });
}

/// The descriptors open in this process.
fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Many databases in one process (as a test suite with a database per test has) each move
/// values between a few keys, under a descriptor limit that leaves room for a few dozen
/// more files: every call succeeds, and the process can still open a file afterwards.
/// (Descriptors kept per database, with no bound for the process, would use the limit up:
/// then the path-based fallback cannot open a directory either.)
#[cfg(target_os = "linux")]
#[test]
fn many_databases_do_not_use_up_the_process_descriptors() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: no prlimit");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let rt = runtime();
    let keys: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'k', i]).collect();
    let databases: Vec<_> = (0..64)
        .map(|_| DirectoryDatabase::open(&root).unwrap())
        .collect();
    rt.block_on(async {
        for k in &keys {
            databases[0].save(k, b"stays").await.unwrap();
        }
    });
    // Room for 96 more descriptors than are open now.
    let pid = std::process::id().to_string();
    let hard = fs::read_to_string("/proc/self/limits").unwrap();
    let hard = hard
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .unwrap()
        .to_owned();
    let soft = open_descriptors() + 96;
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={soft}:{hard}")])
        .status()
        .unwrap();
    assert!(status.success());
    let result = rt.block_on(async {
        for (i, db) in databases.iter().enumerate() {
            let value = format!("v{i}").into_bytes();
            db.save(&keys[0], &value).await?;
            for step in keys.windows(2) {
                db.move_value(&step[0], &step[1], &value).await?;
            }
            db.delete(&keys[3], &value).await?;
        }
        Ok::<_, Error>(())
    });
    let file = tempfile::tempfile();
    let _ = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .status();
    result.unwrap();
    file.expect("the process has no descriptor left to open a file");
}

/// Two databases on one root (as two processes would be), two threads each, move a few
/// values around three keys at random, emptying and removing key directories all the
/// time (so that kept descriptors keep going stale): no value is ever in no key, and every
/// key directory that holds a value keeps its meta-keys entry.
#[test]
fn racing_moves_through_kept_descriptors_lose_nothing_and_keep_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let dbs = [
        Arc::new(DirectoryDatabase::open(&root).unwrap()),
        Arc::new(DirectoryDatabase::open(&root).unwrap()),
    ];
    let keys: [&[u8]; 3] = [b"k0", b"k1", b"k2"];
    let values: [&[u8]; 3] = [b"v0", b"v1", b"v2"];
    rt_block(async {
        for (k, v) in keys.iter().zip(values) {
            dbs[0].save(k, v).await.unwrap();
        }
    });
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let db = Arc::clone(&dbs[(t % 2) as usize]);
            std::thread::spawn(move || {
                let rt = runtime();
                let mut seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t + 1);
                for _ in 0..1500 {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let r = (seed >> 33) as usize;
                    let (src, dest, value) = (keys[r % 3], keys[(r / 3) % 3], values[(r / 9) % 3]);
                    rt.block_on(db.move_value(src, dest, value)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rt_block(async {
        let fresh = DirectoryDatabase::open(&root).unwrap();
        let mut held = Vec::new();
        for k in keys {
            let in_key = fresh.fetch(k).await.unwrap();
            if !in_key.is_empty() {
                assert!(
                    root.join(metakey_path(k)).is_file(),
                    "key {k:?} holds {in_key:?} but has no meta-keys entry"
                );
            }
            held.extend(in_key);
        }
        for v in values {
            assert!(held.iter().any(|h| h == v), "{v:?} is in no key");
        }
    });
}
