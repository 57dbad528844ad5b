//! Every database and wrapper in this crate through the shared conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use exampledb_core::{
    BackgroundWrite, DirectoryDatabase, ExampleDatabase, InMemoryDatabase, Multiplexed, ReadOnly,
};
use exampledb_testkit::conformance::{self, Capabilities};

const DIRECTORY: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
    max_key: None,
    max_value: None,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory() {
    conformance::run_all(Arc::new(InMemoryDatabase::new()), Capabilities::ALL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(dir.path().join("examples")).unwrap();
    conformance::run_all(Arc::new(db), DIRECTORY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directory_named_temp_files_durable_offloaded() {
    // The portable write path, with fsync and the blocking pool: the same behaviour.
    let dir = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::builder(dir.path().join("examples"))
        .unnamed_temp_files(false)
        .durable(true)
        .offload_to_blocking_pool(true)
        .build()
        .unwrap();
    conformance::run_all(Arc::new(db), DIRECTORY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_directory() {
    // Two databases on one root behave as one store (as two processes would).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("examples");
    let a = DirectoryDatabase::open(&root).unwrap();
    let b = DirectoryDatabase::open(&root).unwrap();
    let both = Multiplexed::new([
        Arc::new(a) as Arc<dyn ExampleDatabase>,
        Arc::new(ReadOnly::new(b)),
    ]);
    conformance::basic_semantics(&both).await;
    conformance::model_based(&both, DIRECTORY, 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multiplexed_memory_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = Multiplexed::new([
        Arc::new(InMemoryDatabase::new()) as Arc<dyn ExampleDatabase>,
        Arc::new(DirectoryDatabase::open(dir.path()).unwrap()),
    ]);
    // Each member reports its own change, so events come twice: the listener check is
    // for single stores; the rest of the suite holds.
    let db: Arc<dyn ExampleDatabase> = Arc::new(db);
    conformance::basic_semantics(&*db).await;
    conformance::edge_cases(&*db, DIRECTORY).await;
    conformance::model_based(&*db, DIRECTORY, 32).await;
    conformance::concurrent_writers(Arc::clone(&db)).await;
    conformance::keys_listing(&*db, DIRECTORY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multiplexed_of_one_is_transparent() {
    let db = Multiplexed::new([Arc::new(InMemoryDatabase::new()) as Arc<dyn ExampleDatabase>]);
    conformance::run_all(Arc::new(db), Capabilities::ALL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_write_memory() {
    let db = BackgroundWrite::new(InMemoryDatabase::new());
    // Events come from the background task, after the call returned.
    let caps = Capabilities {
        async_events: true,
        max_key: None,
        max_value: None,
        ..Capabilities::ALL
    };
    conformance::run_all(Arc::new(db), caps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_write_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = BackgroundWrite::new(DirectoryDatabase::open(dir.path()).unwrap());
    conformance::run_all(Arc::new(db), DIRECTORY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boxed_and_arced_forward_everything() {
    let db: Box<dyn ExampleDatabase> = Box::new(InMemoryDatabase::new());
    conformance::run_all(Arc::new(db), Capabilities::ALL).await;
}
