//! # exampledb-proptest
//!
//! [proptest](https://docs.rs/proptest)'s failing seeds kept in any
//! [exampledb](https://github.com/exampledb/exampledb) store: a local directory, Redis, S3,
//! DynamoDB, CI's GitHub artifact, or the CI-to-developer recipe. proptest on its own keeps
//! them in `proptest-regressions/` files next to the sources, which a team commits by hand
//! and which never bring CI's failures to developers.
//!
//! ## The CI-to-developer recipe, in one call
//!
//! ```no_run
//! use proptest::prelude::*;
//!
//! proptest! {
//!     // Developers: replay CI's seeds from Redis (read-only) and keep their own in
//!     // .hypothesis/examples. CI (CI=true): save new failures into Redis too.
//!     #![proptest_config(ProptestConfig::with_failure_persistence(
//!         exampledb_proptest::recipe("redis://ci-cache:6379/0"),
//!     ))]
//!
//!     #[test]
//!     fn parses_what_it_prints(n in 0u64..) {
//!         prop_assert_eq!(n.to_string().parse::<u64>().unwrap(), n);
//!     }
//! }
//! ```
//!
//! Or configure it from the environment with [`from_env`]: `EXAMPLEDB_DATABASE` holds any
//! URL [`exampledb::open`] takes, `redis://ci-cache:6379/0` on CI and
//! `.hypothesis/examples;readonly:redis://ci-cache:6379/0` on a developer's machine. The
//! example `ci_recipe` in this crate runs the whole cycle
//! (`cargo run -p exampledb-proptest --example ci_recipe`).
//!
//! | call | stores |
//! |---|---|
//! | [`recipe`]`(url)` | the local directory; `url` read-only, written on CI ([`on_ci`]) |
//! | [`DatabasePersistenceBuilder::recipe_with`]`(dir, url, write)` | the same, all given |
//! | [`from_env`]`()` | what `EXAMPLEDB_DATABASE` names, else the local directory |
//! | [`DatabasePersistence::new`]`(db)` | any [`ExampleDatabase`](exampledb::ExampleDatabase) |
//! | [`DatabasePersistence::builder`]`()` | several, with a crate name or branch in the keys ([`KeyScheme`]) and a timeout |
//!
//! What is stored: under `proptest:[CRATE][@BRANCH]:SOURCE_FILE`, the seeds in proptest's
//! own text form (`cc 4f1a...`): `exampledb ls` lists those keys as text, and `exampledb cat
//! DB KEY --decode` prints the seeds.
//!
//! A store that fails (a server down, bad credentials, a malformed URL) never fails a
//! test: it is warned about once, and the run goes on with the other stores. The calls
//! work from any test, `#[tokio::test]` on either runtime flavour included, and in
//! proptest's fork mode: see [`DatabasePersistence`]. The local directory is
//! `.hypothesis/examples` under the current directory, which `cargo test` sets to the
//! package's own (or `$HYPOTHESIS_STORAGE_DIRECTORY/examples`).
//!
//! ## Features
//!
//! The directory and in-memory databases are always there; network stores are features,
//! as in the `exampledb` facade: `redis`, `redis-cluster`, `redis-tls`, `s3`, `dynamodb`,
//! `github`, `full`.
#![deny(missing_docs)]

mod bridge;
mod config;
mod fork;
mod health;
mod key;
mod persistence;
mod seed;

pub use config::{on_ci, DatabasePersistenceBuilder, CI_ENVS, DEFAULT_OPERATION_TIMEOUT};
pub use key::{KeyScheme, KEY_PREFIX};
pub use persistence::DatabasePersistence;

/// The CI-to-developer recipe as one call: see [`DatabasePersistenceBuilder::recipe`].
/// Never fails; a bad `shared_url` is warned about at first use and the local directory
/// is used alone.
pub fn recipe(shared_url: &str) -> DatabasePersistence {
    DatabasePersistenceBuilder::recipe(shared_url).build()
}

/// The stores `EXAMPLEDB_DATABASE` names, else the local directory: see
/// [`DatabasePersistenceBuilder::from_env`]. Never fails; a bad URL is warned about at
/// first use.
pub fn from_env() -> DatabasePersistence {
    DatabasePersistenceBuilder::from_env().build()
}
