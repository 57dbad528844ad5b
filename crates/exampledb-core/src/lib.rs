//! # exampledb-core
//!
//! The heart of [exampledb](https://github.com/exampledb/exampledb): Hypothesis's *example
//! database* as an async Rust trait, with the databases and wrappers that need no network.
//!
//! An example database maps a byte-string key (one per test) to a **set** of byte-string
//! values (failing or interesting inputs), so that a failure found once is replayed on the
//! next run, on another machine or by another fuzz worker. Everything here reads and writes
//! exactly the bytes Python Hypothesis does, so a Python test and a Rust tool pointed at the
//! same store see each other's examples and change events.
//!
//! | type | what it is | Hypothesis's peer |
//! |---|---|---|
//! | [`ExampleDatabase`] | the async trait (`dyn`-safe) | `ExampleDatabase` |
//! | [`InMemoryDatabase`] | process-lifetime sets | `InMemoryExampleDatabase` |
//! | [`DirectoryDatabase`] | files under `.hypothesis/examples`, same layout | `DirectoryBasedExampleDatabase` |
//! | [`ReadOnly`] | writes become no-ops | `ReadOnlyDatabase` |
//! | [`Multiplexed`] | several stores as one | `MultiplexedDatabase` |
//! | [`BackgroundWrite`] | writes queued to a task | `BackgroundWriteDatabase` |
//! | [`choices`] | the stored value format | `choices_to_bytes` / `choices_from_bytes` |
//!
//! Network backends live in their own crates (`exampledb-redis`, ...), so this crate pulls
//! in no network client.
//!
//! ## Example
//!
//! ```
//! use exampledb_core::{choices, DirectoryDatabase, ExampleDatabase};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! # let root = dir.path().join("examples");
//! // What Hypothesis would write for a test that failed on (True, 42, "é"):
//! let value = choices::encode(&[true.into(), 42.into(), "é".into()]);
//! let db = DirectoryDatabase::open(&root)?;
//! db.save(b"my-test-key", &value).await?;
//!
//! for stored in db.fetch(b"my-test-key").await? {
//!     let replay = choices::decode(&stored).expect("a choice sequence");
//!     assert_eq!(replay.len(), 3);
//! }
//! # Ok::<(), exampledb_core::Error>(()) }).unwrap();
//! ```
//!
//! ## Change events
//!
//! [`ExampleDatabase::subscribe`] returns a stream of [`ChangeEvent`]s. For the directory
//! database they come from file-system notifications, so changes made by other processes
//! (Python Hypothesis included) are reported too.
//!
//! ## Errors
//!
//! Every fallible call returns [`Error`], which names the backend, the operation and the
//! location, and says through [`Error::is_temporary`] whether a retry may help.
#![deny(missing_docs)]

pub mod backend;
mod background;
pub mod choices;
pub mod config;
mod database;
pub mod directory;
mod error;
mod events;
pub mod layout;
mod memory;
mod multiplexed;
mod read_only;

pub use background::BackgroundWrite;
pub use database::{sub_key, ExampleDatabase, ExampleDatabaseExt};
pub use directory::DirectoryDatabase;
pub use error::{BoxError, Error, ErrorKind, Operation, Result};
pub use events::{ChangeEvent, ChangeStream};
pub use layout::{hypothesis_hash, is_hash_name, METAKEYS_KEY};
pub use memory::InMemoryDatabase;
pub use multiplexed::Multiplexed;
pub use read_only::ReadOnly;

/// Re-exported so that users and backends share one version.
pub use async_trait::async_trait;
/// Re-exported: keys, values and events carry [`bytes::Bytes`].
pub use bytes;
