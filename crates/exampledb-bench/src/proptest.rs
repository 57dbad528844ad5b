//! `exampledb-bench proptest ...`: what proptest's failure persistence costs a test, per
//! call, as a test suite makes the calls: every test loads its source file's seeds when it
//! starts (most files have none), a failing test saves one seed, and the next run loads it
//! back for replay. [`FILES`] source files, one seed each.
//!
//! - `proptest dir PATH` / `proptest redis URL PREFIX`: `exampledb_proptest::DatabasePersistence`
//!   on a directory database at PATH / on Redis, keys under PREFIX;
//! - `proptest file PATH`: the peer, proptest's own `FileFailurePersistence` (a
//!   `.regressions` file beside each source file, here under PATH);
//! - `proptest floor-dir PATH` / `proptest floor-redis URL PREFIX`: the floor, the same
//!   fetches and saves awaited on the database directly, with the keys and values
//!   precomputed: no hand-over between threads, no seed parsing.

use std::path::Path;
use std::time::Instant;

use exampledb_core::ExampleDatabase;
use exampledb_proptest::DatabasePersistence;
use proptest::test_runner::{FailurePersistence, PersistedSeed};
use serde_json::{Map, Value};

/// Source files (tests) per run.
const FILES: usize = 500;

/// The source files' paths, absolute under `root` (proptest's file persistence writes
/// beside them, so `root/src` is made).
fn sources(root: &Path) -> Vec<&'static str> {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    (0..FILES)
        .map(|i| {
            let path = src.join(format!("props_{i}.rs")).display().to_string();
            &*Box::leak(path.into_boxed_str())
        })
        .collect()
}

/// One ChaCha seed per file, in proptest's text form, made from the file's number.
fn seeds() -> Vec<PersistedSeed> {
    (0..FILES)
        .map(|i| {
            let hex: String = (0..32)
                .map(|b| format!("{:02x}", (i * 31 + b * 7) as u8))
                .collect();
            format!("cc {hex}").parse().unwrap()
        })
        .collect()
}

fn rate(ops: usize, started: Instant) -> Value {
    Value::from(ops as f64 / started.elapsed().as_secs_f64())
}

/// The three phases through proptest's trait, as its runner calls it.
pub(crate) fn through_trait(
    persistence: &mut dyn FailurePersistence,
    root: &Path,
) -> Map<String, Value> {
    let sources = sources(root);
    let seeds = seeds();
    let mut out = Map::new();
    let t = Instant::now();
    for &s in &sources {
        assert!(persistence.load_persisted_failures2(Some(s)).is_empty());
    }
    out.insert("load_ops_s".into(), rate(FILES, t));
    let t = Instant::now();
    for (&s, seed) in sources.iter().zip(&seeds) {
        persistence.save_persisted_failure2(Some(s), seed.clone(), &"shrunk");
    }
    out.insert("save_ops_s".into(), rate(FILES, t));
    let t = Instant::now();
    for (&s, seed) in sources.iter().zip(&seeds) {
        assert_eq!(
            persistence.load_persisted_failures2(Some(s)),
            vec![seed.clone()]
        );
    }
    out.insert("replay_ops_s".into(), rate(FILES, t));
    out
}

/// The same phases on `db` directly (the floor), with the keys the persistence makes.
pub(crate) async fn floor(db: &dyn ExampleDatabase, root: &Path) -> Map<String, Value> {
    let naming = DatabasePersistence::new(exampledb_core::InMemoryDatabase::new());
    let keys: Vec<Vec<u8>> = sources(root).iter().map(|s| naming.key(s)).collect();
    let values: Vec<Vec<u8>> = seeds().iter().map(|s| s.to_string().into_bytes()).collect();
    let mut out = Map::new();
    let t = Instant::now();
    for k in &keys {
        assert!(db.fetch(k).await.unwrap().is_empty());
    }
    out.insert("load_ops_s".into(), rate(FILES, t));
    let t = Instant::now();
    for (k, v) in keys.iter().zip(&values) {
        db.save(k, v).await.unwrap();
    }
    out.insert("save_ops_s".into(), rate(FILES, t));
    let t = Instant::now();
    for k in &keys {
        assert_eq!(db.fetch(k).await.unwrap().len(), 1);
    }
    out.insert("replay_ops_s".into(), rate(FILES, t));
    out
}
