//! The persistence from every place proptest may call it: a plain test thread, inside a
//! current-thread runtime, on a multi-thread runtime (in `block_on`, in a spawned task, in
//! `spawn_blocking`). In each, a failing property saves its seed and a second run replays
//! it first; nothing deadlocks or panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::FetchOnly;
use exampledb::ExampleDatabase;
use exampledb_proptest::DatabasePersistence;
use exampledb_testkit::services::redis_url;
use proptest::prelude::*;
use proptest::test_runner::{FailurePersistence, TestRunner};

/// Runs the planted property once with `persistence` under `source_file`; returns every
/// case it ran, in order.
fn run_planted(persistence: &DatabasePersistence, source_file: &'static str) -> Vec<u64> {
    let cases = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&cases);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 1000,
        source_file: Some(source_file),
        ..ProptestConfig::with_failure_persistence(persistence.clone())
    });
    let result = runner.run(&any::<u64>(), move |n| {
        seen.lock().unwrap().push(n);
        prop_assert!(n % 5 != 3);
        Ok(())
    });
    assert!(result.is_err(), "the planted bug is found");
    let cases = cases.lock().unwrap().clone();
    cases
}

/// A first run saves its seed, a second run with a fresh persistence on the same store
/// replays it first.
fn saved_and_replayed(make: impl Fn() -> DatabasePersistence, source_file: &'static str) {
    let first = run_planted(&make(), source_file);
    let failing = *first.iter().find(|&&n| n % 5 == 3).expect("a failing case");
    let replay = run_planted(&make(), source_file);
    assert_eq!(
        replay.first(),
        Some(&failing),
        "the saved seed is replayed first"
    );
}

fn directory(dir: &tempfile::TempDir) -> impl Fn() -> DatabasePersistence + '_ {
    move || {
        DatabasePersistence::builder()
            .url(&dir.path().join("examples").display().to_string())
            .build()
    }
}

#[test]
fn with_no_runtime() {
    let dir = tempfile::tempdir().unwrap();
    saved_and_replayed(directory(&dir), "no-runtime.rs");
}

#[tokio::test]
async fn inside_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    saved_and_replayed(directory(&dir), "current-thread.rs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_multi_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    saved_and_replayed(directory(&dir), "multi-thread.rs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn in_a_task_on_a_multi_thread_runtimes_only_worker() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let task = tokio::spawn({
        let dir = Arc::clone(&dir);
        async move { saved_and_replayed(directory(&dir), "task.rs") }
    });
    // The wait blocks the only worker; nothing it waits for runs there, and the runtime's
    // other tasks run once it is over.
    let ticker = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
    task.await.unwrap();
    ticker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_spawn_blocking() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let d = Arc::clone(&dir);
    tokio::task::spawn_blocking(move || saved_and_replayed(directory(&d), "blocking.rs"))
        .await
        .unwrap();
}

/// Redis, whose connections are tokio tasks: the same from each place.
fn redis(url: &str) -> impl Fn() -> DatabasePersistence + '_ {
    let ns = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    move || {
        DatabasePersistence::builder()
            .url(url)
            .crate_name(&ns)
            .build()
    }
}

#[test]
fn redis_with_no_runtime() {
    let Some(url) = redis_url("redis_with_no_runtime") else {
        return;
    };
    saved_and_replayed(redis(&url), "no-runtime.rs");
}

#[tokio::test]
async fn redis_inside_a_current_thread_runtime() {
    let Some(url) = redis_url("redis_inside_a_current_thread_runtime") else {
        return;
    };
    saved_and_replayed(redis(&url), "current-thread.rs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_inside_a_multi_thread_runtime() {
    let Some(url) = redis_url("redis_inside_a_multi_thread_runtime") else {
        return;
    };
    saved_and_replayed(redis(&url), "multi-thread.rs");
}

/// One persistence used from many runtimes in turn (each test's own, dropped at its end),
/// as a `static` configuration would be: its connections live on the crate's runtime, so
/// none dies with a test's runtime.
#[test]
fn one_persistence_outlives_the_runtimes_that_used_it() {
    let Some(url) = redis_url("one_persistence_outlives_the_runtimes_that_used_it") else {
        return;
    };
    let persistence = redis(&url)();
    for round in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let seeds = runtime.block_on(async { persistence.load("outlives.rs") });
        assert_eq!(seeds.len(), usize::from(round > 0), "round {round}");
        if round == 0 {
            let cases = runtime.block_on(async { run_planted(&persistence, "outlives.rs") });
            assert!(!cases.is_empty());
        }
        drop(runtime);
    }
}

/// A database whose connection was made on the test's own current-thread runtime, which
/// the test then blocks while it loads: the load returns (at the latest at the operation
/// timeout) instead of hanging.
#[tokio::test]
async fn a_database_first_used_on_the_blocked_runtime_never_hangs_the_load() {
    let Some(url) = redis_url("a_database_first_used_on_the_blocked_runtime_never_hangs_the_load")
    else {
        return;
    };
    let prefix = exampledb_testkit::unique_prefix();
    let db = exampledb::redis::RedisDatabase::builder(&url)
        .key_prefix(prefix)
        .build()
        .unwrap();
    let seed = "cc 0000000000000000000000000000000000000000000000000000000000000002";
    let key = DatabasePersistence::new(exampledb::InMemoryDatabase::new()).key("tied.rs");
    db.save(&key, seed.as_bytes()).await.unwrap();
    let persistence = DatabasePersistence::builder()
        .store(db)
        .operation_timeout(Duration::from_millis(500))
        .build();
    // Whether the store can answer while this runtime is blocked depends on the client;
    // the load returns either way, with the seed or without it (and a warning).
    for _ in 0..2 {
        let seeds: Vec<String> = persistence
            .load("tied.rs")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(seeds.is_empty() || seeds == [seed], "{seeds:?}");
    }
}

#[test]
fn clones_are_equal_and_separate_persistences_are_not() {
    let db: Arc<dyn ExampleDatabase> = Arc::new(exampledb::InMemoryDatabase::new());
    let a = DatabasePersistence::builder()
        .store(Arc::clone(&db))
        .build();
    let b = a.clone();
    assert!(FailurePersistence::eq(&a, &b));
    assert!(FailurePersistence::eq(&a, &*a.box_clone()));
    let other = DatabasePersistence::new(exampledb::InMemoryDatabase::new());
    assert!(!FailurePersistence::eq(&a, &other));
    let apart = DatabasePersistence::builder()
        .store(Arc::clone(&db))
        .build();
    assert!(!FailurePersistence::eq(&a, &apart), "built apart");
    let config = ProptestConfig::with_failure_persistence(a.clone());
    assert_eq!(config.clone(), config);
    assert!(a.as_any().downcast_ref::<DatabasePersistence>().is_some());
}

#[test]
fn values_that_are_not_seeds_are_skipped_and_real_seeds_still_load() {
    let db = Arc::new(exampledb::InMemoryDatabase::new());
    let persistence = DatabasePersistence::builder()
        .store(Arc::clone(&db))
        .build();
    let key = persistence.key("hostile.rs");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for value in [
            b"not a seed".as_slice(),
            b"\xff\xfe\x00",
            b"cc 12",
            b"xs 1 2 3",
            &vec![b'c'; 1 << 20],
            b"cc 0000000000000000000000000000000000000000000000000000000000000001",
            // The same seed written differently: one seed.
            b"cc 0000000000000000000000000000000000000000000000000000000000000001\n",
            b" cc 0000000000000000000000000000000000000000000000000000000000000001",
        ] {
            db.save(&key, value).await.unwrap();
        }
    });
    let seeds = persistence.load("hostile.rs");
    assert_eq!(seeds.len(), 1);
    assert_eq!(
        seeds[0].to_string(),
        "cc 0000000000000000000000000000000000000000000000000000000000000001"
    );
}

#[test]
fn a_runner_without_a_source_file_neither_loads_nor_saves() {
    let db = Arc::new(exampledb::InMemoryDatabase::new());
    let persistence = DatabasePersistence::builder()
        .store(Arc::clone(&db))
        .build();
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: None,
        ..ProptestConfig::with_failure_persistence(persistence)
    });
    assert!(runner
        .run(&any::<u8>(), |n| {
            prop_assert!(n < 100);
            Ok(())
        })
        .is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(db.keys()).unwrap().is_empty());
}

#[test]
fn check_reports_a_bad_url_and_a_store_that_is_down() {
    let bad = DatabasePersistence::builder()
        .url("ftp://example.com/x")
        .build();
    let err = bad.check().unwrap_err();
    assert!(err.to_string().contains("unknown scheme"), "{err}");
    let port = exampledb_testkit::services::free_port().unwrap();
    let down = DatabasePersistence::builder()
        .url(&format!("redis://127.0.0.1:{port}"))
        .build();
    assert!(down.check().is_err());
    let fine = DatabasePersistence::builder().url("memory:").build();
    fine.check().unwrap();
}

/// A `LocalSet` on a multi-thread runtime, where `block_in_place` would panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_local_set_on_a_multi_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async { saved_and_replayed(directory(&dir), "local-set.rs") })
        .await;
}

#[test]
fn the_longest_operation_timeout_does_not_overflow() {
    let persistence = DatabasePersistence::builder()
        .store(exampledb::InMemoryDatabase::new())
        .operation_timeout(Duration::MAX)
        .build();
    assert!(persistence.load("max.rs").is_empty());
    let memory: Arc<dyn ExampleDatabase> = Arc::new(exampledb::InMemoryDatabase::new());
    saved_and_replayed(
        || {
            DatabasePersistence::builder()
                .store(Arc::clone(&memory))
                .operation_timeout(Duration::MAX)
                .build()
        },
        "max.rs",
    );
}

#[test]
fn a_store_that_blocks_its_thread_holds_up_no_other_store() {
    let memory: Arc<dyn ExampleDatabase> = Arc::new(exampledb::InMemoryDatabase::new());
    let persistence = DatabasePersistence::builder()
        // A fetch that blocks its thread (synchronous I/O on a stalled disk) for longer
        // than the operation timeout.
        .store(FetchOnly(|_: &[u8]| {
            std::thread::sleep(Duration::from_secs(3));
            Vec::new()
        }))
        .store(Arc::clone(&memory))
        .operation_timeout(Duration::from_secs(1))
        .build();
    let first = run_planted(&persistence, "stall.rs");
    let failing = *first.iter().find(|&&n| n % 5 == 3).unwrap();
    // The stalled store was given up; the memory store kept and gives the seed.
    let replay = run_planted(&persistence, "stall.rs");
    assert_eq!(replay.first(), Some(&failing));
}

/// Two stores that print the same (the wrong password is not shown) are told apart: the
/// one with bad credentials is given up, the good one still keeps seeds.
#[test]
fn a_store_given_up_does_not_take_a_look_alike_with_it() {
    let Some(url) = redis_url("a_store_given_up_does_not_take_a_look_alike_with_it") else {
        return;
    };
    let server = url.trim_start_matches("redis://").trim_end_matches('/');
    let prefix = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    let bad = DatabasePersistence::builder()
        .url(&format!(
            "redis://nobody:wrong@{server}/0?key_prefix={prefix}"
        ))
        .build();
    assert!(bad.load("lookalike.rs").is_empty());
    let good = || {
        DatabasePersistence::builder()
            .url(&format!("redis://{server}/0?key_prefix={prefix}"))
            .build()
    };
    saved_and_replayed(good, "lookalike.rs");
}

/// A URL with one member that cannot be opened keeps the others.
#[test]
fn a_bad_member_of_a_url_leaves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "{};readonly:redis://ci-cache:notaport/0",
        dir.path().join("examples").display()
    );
    saved_and_replayed(
        || DatabasePersistence::builder().url(&url).build(),
        "bad-member.rs",
    );
    let err = DatabasePersistence::builder()
        .url(&url)
        .build()
        .check()
        .unwrap_err();
    assert!(err.to_string().contains("member 2 of 2"), "{err}");
}

/// A value of the wrong type under one key (Redis WRONGTYPE) is about that key: the store
/// still keeps the seeds of other files.
#[tokio::test]
async fn an_error_on_one_key_does_not_give_up_the_store() {
    let Some(url) = redis_url("an_error_on_one_key_does_not_give_up_the_store") else {
        return;
    };
    let prefix = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    let url = format!("{}/0?key_prefix={prefix}", url.trim_end_matches('/'));
    let persistence = DatabasePersistence::builder().url(&url).build();
    let key = [prefix.as_bytes(), &persistence.key("wrongtype.rs")].concat();
    set_a_string(&url, &key).await;
    // The premise: that key now gives the store an error.
    let direct = exampledb::open(&url).unwrap();
    let err = direct
        .fetch(&persistence.key("wrongtype.rs"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), exampledb::ErrorKind::InvalidData, "{err}");
    let loaded = tokio::task::spawn_blocking(move || {
        let empty = persistence.load("wrongtype.rs").is_empty();
        saved_and_replayed(
            || DatabasePersistence::builder().url(&url).build(),
            "other-file.rs",
        );
        empty
    })
    .await
    .unwrap();
    assert!(loaded);
}

/// `SET key oops` on the server of `url`, over a plain connection.
async fn set_a_string(url: &str, key: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut cmd = format!("*3\r\n$3\r\nSET\r\n${}\r\n", key.len()).into_bytes();
    cmd.extend_from_slice(key);
    cmd.extend_from_slice(b"\r\n$4\r\noops\r\n");
    conn.write_all(&cmd).await.unwrap();
    let mut reply = [0u8; 5];
    conn.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"+OK\r\n");
}
