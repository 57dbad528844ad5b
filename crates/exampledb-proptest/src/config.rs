//! [`DatabasePersistenceBuilder`]: where the seeds are kept and under which keys, following
//! exampledb's configuration convention (`builder()` reads no environment variable,
//! `from_env()` reads the documented ones, typed setters, `build()`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use exampledb::directory::DirectoryDatabaseBuilder;
use exampledb::{DirectoryDatabase, ExampleDatabase, DATABASE_ENV};

use crate::persistence::Store;
use crate::{DatabasePersistence, KeyScheme};

/// The environment variables that say the process runs on a CI machine: Python
/// Hypothesis's own table (`is_in_ci`), each with the value it must hold (`None`: any
/// value). GitHub Actions, GitLab CI, Travis and AppVeyor set `CI`, among others.
/// [`DatabasePersistenceBuilder::recipe`] writes to the shared store there.
pub const CI_ENVS: &[(&str, Option<&str>)] = &[
    ("CI", None),
    ("__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", None),
    ("TF_BUILD", Some("true")),
    ("bamboo.buildKey", None),
    ("BUILDKITE", Some("true")),
    ("CIRCLECI", Some("true")),
    ("CIRRUS_CI", Some("true")),
    ("CODEBUILD_BUILD_ID", None),
    ("GITHUB_ACTIONS", Some("true")),
    ("GITLAB_CI", None),
    ("HEROKU_TEST_RUN_ID", None),
    ("TEAMCITY_VERSION", None),
];

/// Whether this process runs on a CI machine, as Python Hypothesis decides it: one of
/// [`CI_ENVS`] is set (to its value, where one is given).
pub fn on_ci() -> bool {
    CI_ENVS
        .iter()
        .any(|(name, value)| match std::env::var_os(name) {
            Some(found) => value.is_none_or(|v| found == v),
            None => false,
        })
}

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
    /// [`exampledb::open`] takes, the recipe `LOCAL;readonly:SHARED` included (each member
    /// a store of its own); else Hypothesis's default directory
    /// (`$HYPOTHESIS_STORAGE_DIRECTORY/examples`, or `.hypothesis/examples` under the
    /// current directory, which `cargo test` sets to the package's own).
    ///
    /// So CI runs with `EXAMPLEDB_DATABASE=redis://ci-cache:6379/0` and saves there, and
    /// developers run with `EXAMPLEDB_DATABASE='.hypothesis/examples;readonly:redis://ci-cache:6379/0'`
    /// and replay CI's failures while keeping their own.
    pub fn from_env() -> Self {
        match exampledb::default_url() {
            Ok(Some(url)) => {
                Self::default().url_as(&url, &format!("the database {DATABASE_ENV} names"))
            }
            Ok(None) => Self::default().local_directory(None),
            Err(e) => Self::default().push(Store::broken(
                DATABASE_ENV,
                &format!("the database {DATABASE_ENV} names"),
                &e,
            )),
        }
    }

    /// The CI-to-developer recipe: Hypothesis's default directory (as in
    /// [`from_env`](Self::from_env)) and the shared store `shared_url`, read-only except on
    /// CI machines ([`on_ci`]), where new seeds are saved into it too. See
    /// [`recipe_with`](Self::recipe_with).
    pub fn recipe(shared_url: &str) -> Self {
        let on_ci = on_ci();
        tracing::info!(
            on_ci,
            "exampledb-proptest recipe: the shared store is {}",
            if on_ci { "written (CI)" } else { "read-only" }
        );
        Self::default()
            .local_directory(None)
            .shared(shared_url, on_ci)
    }

    /// The recipe with everything given, reading no environment variable: the directory
    /// database at `local` (made when first written), and the shared store `shared_url`,
    /// written only when `write_shared` (CI's side) and read-only otherwise (a
    /// developer's).
    ///
    /// A developer's new failures stay on their machine; CI's reach everyone. With CI's
    /// GitHub artifact as the shared store (`github://OWNER/REPO`, which takes no writes),
    /// CI saves into the directory it uploads as the artifact.
    pub fn recipe_with(local: impl AsRef<Path>, shared_url: &str, write_shared: bool) -> Self {
        Self::default()
            .local_directory(Some(local.as_ref()))
            .shared(shared_url, write_shared)
    }

    /// Adds the directory database at `root`, else Hypothesis's default location.
    fn local_directory(self, root: Option<&Path>) -> Self {
        let builder = match root {
            Some(root) => DirectoryDatabase::builder(root),
            None => DirectoryDatabaseBuilder::from_env(),
        };
        match builder.build() {
            Ok(db) => {
                let spec = format!("dir:{}", db.root().display());
                self.push(Store::opened(&spec, Arc::new(db)))
            }
            Err(e) => self.push(Store::broken(
                &format!("dir:{root:?}"),
                "the local directory database",
                &e,
            )),
        }
    }

    /// Adds the members of `url`, read-only unless `writable`.
    fn shared(self, url: &str, writable: bool) -> Self {
        if writable {
            return self.url_as(url, "the recipe's shared database");
        }
        match exampledb::split_members(url) {
            Ok(members) => members.into_iter().fold(self, |b, member| {
                b.url_as(
                    &format!("{}{member}", exampledb::READ_ONLY_PREFIX),
                    "the recipe's shared database",
                )
            }),
            Err(e) => self.push(Store::broken(url, "the recipe's shared database", &e)),
        }
    }

    /// Adds the store `db`.
    pub fn store(self, db: impl ExampleDatabase + 'static) -> Self {
        self.push(Store::object(Arc::new(db)))
    }

    /// Adds the stores `url` names (any URL [`exampledb::open`] takes; each member of a
    /// multiplexed URL becomes a store of its own, and one that cannot be opened does not
    /// keep the others out).
    pub fn url(self, url: &str) -> Self {
        self.url_as(url, "a database given by URL")
    }

    /// [`url`](Self::url), naming a member that cannot be opened `what` (and its number).
    fn url_as(self, url: &str, what: &str) -> Self {
        let members = match exampledb::split_members(url) {
            Ok(members) => members,
            Err(e) => return self.push(Store::broken(url, what, &e)),
        };
        let count = members.len();
        members
            .into_iter()
            .enumerate()
            .fold(self, |b, (i, member)| {
                let what = if count > 1 {
                    format!("{what} (member {} of {count})", i + 1)
                } else {
                    what.to_owned()
                };
                match exampledb::open(member) {
                    Ok(db) => b.push(Store::opened(member, Arc::from(db))),
                    Err(e) => b.push(Store::broken(member, &what, &e)),
                }
            })
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
