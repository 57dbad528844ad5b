//! # exampledb
//!
//! Example databases for property-based testing and fuzzing that read and write exactly
//! what Python Hypothesis does: a Python test and a Rust tool pointed at the same
//! directory (and, with the backend crates, the same Redis server or CI artifact) see
//! each other's examples and change events.
//!
//! This facade re-exports [`exampledb_core`] (the [`ExampleDatabase`] trait, the
//! in-memory and directory databases, the [`ReadOnly`], [`Multiplexed`] and
//! [`BackgroundWrite`] wrappers and the [`choices`] codec). Network backends are separate
//! crates, which can be used directly or enabled here by feature flags:
//!
//! | feature | backend | status |
//! |---|---|---|
//! | (always) | in-memory, directory, wrappers, choice codec | available |
//! | `redis` | `exampledb::redis::RedisDatabase`: Redis sets with TTL, pub/sub events | available (`exampledb-redis`) |
//! | `redis-cluster`, `redis-tls` | Redis Cluster; `rediss://` URLs | available |
//! | `github` | `exampledb::github::GitHubArtifactDatabase`: CI's GitHub Actions artifact, read-only, cached | available (`exampledb-github`) |
//!
//! ```
//! use exampledb::{DirectoryDatabase, ExampleDatabase};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let dir = tempfile_dir();
//! let db = DirectoryDatabase::open(dir.join("examples"))?;
//! db.save(b"key", b"value").await?;
//! assert_eq!(db.fetch(b"key").await?.len(), 1);
//! # Ok::<(), exampledb::Error>(()) }).unwrap();
//! # fn tempfile_dir() -> std::path::PathBuf {
//! #     let d = std::env::temp_dir().join(format!("exampledb-doc-{}", std::process::id()));
//! #     let _ = std::fs::remove_dir_all(&d); d
//! # }
//! ```
#![deny(missing_docs)]

pub use exampledb_core::*;

/// The Redis backend ([`exampledb_redis`]), with the `redis` feature.
#[cfg(feature = "redis")]
pub mod redis {
    pub use exampledb_redis::{RedisDatabase, RedisDatabaseBuilder};
}

/// The GitHub Actions artifact backend ([`exampledb_github`]), with the `github` feature.
#[cfg(feature = "github")]
pub mod github {
    pub use exampledb_github::{
        ArchiveLimits, GitHubArtifactDatabase, GitHubArtifactDatabaseBuilder, Problem, Status,
        Token,
    };
}
