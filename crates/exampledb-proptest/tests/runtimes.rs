//! The persistence from every place proptest may call it: a plain test thread, inside a
//! current-thread runtime, on a multi-thread runtime (in `block_on`, in a spawned task, in
//! `spawn_blocking`). In each, a failing property saves its seed and a second run replays
//! it first; nothing deadlocks or panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    // Meanwhile the runtime's other tasks still run (the wait is in block_in_place).
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
/// the test then blocks: its operations cannot finish. The load gives up at the operation
/// timeout instead of hanging, and says so.
#[tokio::test]
async fn a_database_tied_to_the_blocked_runtime_times_out_instead_of_hanging() {
    let Some(url) =
        redis_url("a_database_tied_to_the_blocked_runtime_times_out_instead_of_hanging")
    else {
        return;
    };
    let prefix = exampledb_testkit::unique_prefix();
    let db = exampledb::redis::RedisDatabase::builder(&url)
        .key_prefix(prefix)
        .build()
        .unwrap();
    db.save(b"warm", b"up").await.unwrap();
    let persistence = DatabasePersistence::builder()
        .store(db)
        .operation_timeout(Duration::from_millis(500))
        .build();
    assert!(persistence.load("tied.rs").is_empty());
    assert!(
        persistence.load("tied.rs").is_empty(),
        "given up: no second wait"
    );
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
