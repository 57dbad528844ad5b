//! [`DatabasePersistenceBuilder`]: where the seeds are kept and under which keys, following
//! exampledb's configuration convention (`builder()` reads no environment variable,
//! `from_env()` reads the documented ones, typed setters, `build()`).

use std::sync::Arc;
use std::time::Duration;

use exampledb::directory::DirectoryDatabaseBuilder;
use exampledb::{ExampleDatabase, ReadOnly, DATABASE_ENV};

use crate::persistence::Store;
use crate::{DatabasePersistence, KeyScheme};

/// The environment variable that says the process runs on a CI machine: set to anything
/// but the empty string, `0` or `false` (GitHub Actions, GitLab CI, CircleCI, Buildkite
/// and Travis set `CI=true`). [`DatabasePersistenceBuilder::recipe`] then writes to the
/// shared store.
pub const CI_ENV: &str = "CI";

/// The longest a load or a save waits for the stores, unless set: enough for a first
/// download of CI's artifact, short enough that a store that never answers costs one wait.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`DatabasePersistence`]: its stores, its keys ([`KeyScheme`]) and how long an
/// operation may wait.
///
/// Stores are used side by side: a load reads every store and replays each seed once; a
/// save writes every store that takes writes (a `readonly:` one keeps nothing). A store
/// that is down does not hide the others' seeds, unlike one
/// [`Multiplexed`](exampledb::Multiplexed) database, whose fetch fails when a member
/// does; so URLs with several members (`LOCAL;readonly:SHARED`) are opened as separate
/// stores here.
///
/// Configuration problems (a malformed URL, a scheme whose feature is off) do not fail
/// the build: the store is kept as one that failed, warned about once at first use like a
/// server that is down, so that a test run goes on. [`DatabasePersistence::check`] returns
/// them for a suite that would rather stop.
///
/// ```
/// use std::time::Duration;
/// use exampledb_proptest::DatabasePersistence;
///
/// let persistence = DatabasePersistence::builder()
///     .url("memory:")
///     .crate_name(env!("CARGO_PKG_NAME"))
///     .branch("main")
///     .operation_timeout(Duration::from_secs(5))
///     .build();
/// assert_eq!(
///     persistence.key("tests/props.rs"),
///     b"proptest:exampledb-proptest@main:tests/props.rs"
/// );
/// persistence.check()?;
/// # Ok::<(), exampledb::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DatabasePersistenceBuilder {
    stores: Vec<Store>,
    keys: KeyScheme,
    operation_timeout: Duration,
}

impl Default for DatabasePersistenceBuilder {
    fn default() -> Self {
        Self {
            stores: Vec::new(),
            keys: KeyScheme::default(),
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
        }
    }
}

impl DatabasePersistenceBuilder {
    /// The stores [`DATABASE_ENV`] (`EXAMPLEDB_DATABASE`) names, any URL
    /// [`exampledb::open`] takes, the recipe `LOCAL;readonly:SHARED` included; else
    /// Hypothesis's default directory (`$HYPOTHESIS_STORAGE_DIRECTORY/examples` or
    /// `.hypothesis/examples`), which the `exampledb` command also uses by default.
    ///
    /// So CI runs with `EXAMPLEDB_DATABASE=redis://ci-cache:6379/0` and saves there, and
    /// developers run with `EXAMPLEDB_DATABASE='.hypothesis/examples;readonly:redis://ci-cache:6379/0'`
    /// and replay CI's failures while keeping their own.
    pub fn from_env() -> Self {
        let what = format!("the database {DATABASE_ENV} names");
        match exampledb::open_default_members() {
            Ok(members) => members
                .into_iter()
                .fold(Self::default(), |b, db| b.push(Store::open(db))),
            Err(e) => Self::default().push(Store::broken(&what, &e)),
        }
    }

    /// The CI-to-developer recipe: Hypothesis's default directory (as in
    /// [`from_env`](Self::from_env)) and the shared store `shared_url`, read-only except on
    /// CI machines ([`CI_ENV`]), where new seeds are saved into it too.
    ///
    /// A developer's new failures stay on their machine; CI's reach everyone. With CI's
    /// GitHub artifact as the shared store (`github://OWNER/REPO`, which takes no writes),
    /// CI saves into the directory it uploads as the artifact.
    pub fn recipe(shared_url: &str) -> Self {
        let on_ci = std::env::var(CI_ENV)
            .is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"));
        let local = match DirectoryDatabaseBuilder::from_env().build() {
            Ok(db) => Store::open(Arc::new(db)),
            Err(e) => Store::broken("the local directory database", &e),
        };
        let builder = Self::default().push(local);
        match exampledb::open_members(shared_url) {
            Ok(members) => members.into_iter().fold(builder, |b, db| {
                let db: Arc<dyn ExampleDatabase> = if on_ci {
                    db
                } else {
                    Arc::new(ReadOnly::new(db))
                };
                b.push(Store::open(db))
            }),
            Err(e) => builder.push(Store::broken("the recipe's shared database", &e)),
        }
    }

    /// Adds the store `db`.
    pub fn store(self, db: impl ExampleDatabase + 'static) -> Self {
        self.push(Store::open(Arc::new(db)))
    }

    /// Adds the stores `url` names (any URL [`exampledb::open`] takes; each member of a
    /// multiplexed URL becomes a store of its own).
    pub fn url(self, url: &str) -> Self {
        match exampledb::open_members(url) {
            Ok(members) => members
                .into_iter()
                .fold(self, |b, db| b.push(Store::open(db))),
            Err(e) => self.push(Store::broken("a database given by URL", &e)),
        }
    }

    /// Keys under the crate name `name`: see [`KeyScheme::crate_name`].
    pub fn crate_name(mut self, name: &str) -> Self {
        self.keys = self.keys.crate_name(name);
        self
    }

    /// Keys under the branch `name`: see [`KeyScheme::branch`].
    pub fn branch(mut self, name: &str) -> Self {
        self.keys = self.keys.branch(name);
        self
    }

    /// The longest a load or a save waits for the stores (default
    /// [`DEFAULT_OPERATION_TIMEOUT`]). A store that has not answered by then is warned
    /// about and not asked again in this process.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The persistence. Connects to nothing.
    pub fn build(self) -> DatabasePersistence {
        DatabasePersistence::from_parts(self.stores, self.keys, self.operation_timeout)
    }

    fn push(mut self, store: Store) -> Self {
        self.stores.push(store);
        self
    }
}
