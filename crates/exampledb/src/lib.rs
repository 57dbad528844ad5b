//! # exampledb
//!
//! Example databases for property-based testing and fuzzing that read and write exactly
//! what Python Hypothesis does: a Python test and a Rust tool pointed at the same
//! directory (and, with the backend crates, the same Redis server or CI artifact) see
//! each other's examples and change events.
//!
//! This facade re-exports [`exampledb_core`] (the [`ExampleDatabase`] trait, the
//! in-memory and directory databases, the [`ReadOnly`], [`Multiplexed`] and
//! [`BackgroundWrite`] wrappers and the [`choices`] codec) and opens any database from one
//! string with [`open`]. Network backends are separate crates, which can be used directly
//! or enabled here by feature flags (none is on by default):
//!
//! | feature | backend | URL | status |
//! |---|---|---|---|
//! | (always) | in-memory, directory, wrappers, choice codec | `memory:`, a path, `file:PATH` | available |
//! | `redis` | `exampledb::redis::RedisDatabase`: Redis sets with TTL, pub/sub events | `redis://` | available (`exampledb-redis`) |
//! | `redis-cluster`, `redis-tls` | Redis Cluster (`?cluster=true`); TLS | `rediss://` | available |
//! | `github` | `exampledb::github::GitHubArtifactDatabase`: CI's GitHub Actions artifact, read-only, cached | `github://OWNER/REPO[/ARTIFACT]` | available (`exampledb-github`) |
//! | `s3` | `exampledb::s3::S3Database`: the directory layout as objects in a bucket | `s3://BUCKET[/PREFIX]` | available (`exampledb-s3`) |
//! | `dynamodb` | `exampledb::dynamodb::DynamoDatabase`: one item per value, TTL, Streams events | `dynamodb://TABLE` | available (`exampledb-dynamodb`) |
//! | `full` | all of the above | | |
//!
//! ## Opening a database from a string
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("exampledb-facade-doc-{}", std::process::id()));
//! // A local directory, multiplexed with a read-only shared store: the recipe every team uses.
//! // (With the `github` feature the shared store would be `readonly:github://my-org/my-repo`.)
//! let db = exampledb::open(&format!("{};readonly:memory:", dir.display()))?;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! db.save(b"key", b"value").await?;
//! assert_eq!(db.fetch(b"key").await?.len(), 1);
//! # Ok::<(), exampledb::Error>(()) })?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), exampledb::Error>(())
//! ```
//!
//! See [`open_with`] for every form, and [`open_default`] / [`DATABASE_ENV`] for the
//! environment variable that names the default database for tools. Each backend's own
//! builder follows the convention in [`config`]: `builder(...)`, `from_env()`,
//! `from_url(url)`, `with_option(key, value)`, `build()`, and `check().await`.
//!
//! ## From code
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

mod open;

pub use exampledb_core::*;
pub use open::{
    default_url, open, open_default, open_with, split_members, DATABASE_ENV, MEMBER_SEPARATOR,
    READ_ONLY_PREFIX,
};

/// The Redis backend ([`exampledb_redis`]), with the `redis` feature.
#[cfg(feature = "redis")]
pub mod redis {
    pub use exampledb_redis::{RedisDatabase, RedisDatabaseBuilder, REDIS_URL_ENV};
}

/// The S3 backend ([`exampledb_s3`]), with the `s3` feature.
#[cfg(feature = "s3")]
pub mod s3 {
    pub use exampledb_s3::{S3Database, S3DatabaseBuilder};
}

/// The DynamoDB backend ([`exampledb_dynamodb`]), with the `dynamodb` feature.
#[cfg(feature = "dynamodb")]
pub mod dynamodb {
    pub use exampledb_dynamodb::{DynamoDatabase, DynamoDatabaseBuilder};
}

/// The GitHub Actions artifact backend ([`exampledb_github`]), with the `github` feature.
#[cfg(feature = "github")]
pub mod github {
    pub use exampledb_github::{
        ArchiveLimits, GitHubArtifactDatabase, GitHubArtifactDatabaseBuilder, Problem, Status,
        Token, API_URL_ENV, DEFAULT_API_URL, DEFAULT_ARTIFACT_NAME, DEFAULT_CACHE_TIMEOUT,
        DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_OPERATION_TIMEOUT,
        REPOSITORY_ENV, TOKEN_ENV,
    };
}
