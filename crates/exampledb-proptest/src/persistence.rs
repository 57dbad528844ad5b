//! [`DatabasePersistence`]: proptest's [`FailurePersistence`] on example databases.

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use exampledb::{Error, ErrorKind, ExampleDatabase};
use proptest::test_runner::{FailurePersistence, PersistedSeed};

use crate::bridge::{self, Job, Outcome};
use crate::health::{self, Verdict};
use crate::{fork, seed, DatabasePersistenceBuilder, KeyScheme};

/// proptest's failing seeds kept in example databases (any [`ExampleDatabase`]: a
/// directory, Redis, S3, DynamoDB, CI's GitHub artifact, or several at once).
///
/// Put it in proptest's configuration; the tests then replay the seeds the stores hold for
/// their source file first, and save the seed of each new failure into every store that
/// takes writes:
///
/// ```
/// use exampledb::InMemoryDatabase;
/// use exampledb_proptest::DatabasePersistence;
/// use proptest::prelude::*;
///
/// let persistence = DatabasePersistence::new(InMemoryDatabase::new());
/// let config = ProptestConfig::with_failure_persistence(persistence.clone());
/// let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
///     source_file: Some("tests/doc.rs"),
///     ..config
/// });
/// let failed = runner.run(&(0u32..1000), |n| {
///     prop_assert!(n < 500);
///     Ok(())
/// });
/// assert!(failed.is_err());
/// // The failing case's seed is stored, in proptest's own text form, under the file's key:
/// let seeds = persistence.load("tests/doc.rs");
/// assert_eq!(seeds.len(), 1);
/// assert!(seeds[0].to_string().starts_with("cc "));
/// ```
///
/// - **Keys** come from the source file proptest hands over ([`KeyScheme`]):
///   `proptest:[CRATE][@BRANCH]:PATH`, listed as text by `exampledb ls` and never one of
///   Hypothesis's keys. All the tests of one file share its seeds, as they share
///   proptest's own `proptest-regressions` file.
/// - **Values** are seeds in proptest's text form (`cc 4f1a...`), readable in `exampledb
///   cat --decode`. A value that is not a seed is skipped with a warning.
/// - **Failures never fail the tests.** A store that errors or does not answer within
///   the operation timeout gives one warning per process (on standard error, past the
///   test harness's capture), and the run goes on with the others; one that cannot work
///   in this run (bad configuration or credentials, a missing bucket, no answer in time)
///   is not asked again.
/// - **Any thread, any runtime.** The calls block the calling thread, whether it is a
///   plain test thread, a multi-thread runtime's worker, inside a current-thread
///   runtime or a `LocalSet`; each store's work runs on a runtime of this crate's own.
///   Give it a database it opens itself (a URL, [`from_env`](crate::from_env),
///   [`recipe`](crate::recipe)) or one not used on a current-thread runtime the test then
///   blocks: such a database's connections may wait on that runtime, and its operations
///   then time out.
/// - **proptest's fork mode** (`fork`, or a `timeout`): the test's processes share the
///   list its first child loaded (waiting at most a second, or the operation timeout if
///   shorter, to start its first case within proptest's timeout), so proptest's replay of
///   the children's results stays aligned.
///
/// Clones share everything, and a persistence is equal only to its clones (proptest
/// compares configurations; two built apart are not equal, whatever they hold).
///
/// Build it once where the stores are objects ([`store`](DatabasePersistenceBuilder::store)):
/// proptest evaluates a test's configuration for each test, and each object is a store of
/// its own, warned about and given up on its own. Stores opened from a URL (and the
/// recipe) are known by their URL, so a configuration built again for every test still
/// warns once and waits once per process.
#[derive(Clone)]
pub struct DatabasePersistence {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Vec<Store>,
    keys: KeyScheme,
    operation_timeout: Duration,
}

/// One store, or the configuration problem that kept it from being opened.
#[derive(Clone)]
pub(crate) struct Store {
    db: Result<Arc<dyn ExampleDatabase>, Arc<str>>,
    /// How messages name it: its `Debug` form when it was added (which holds no secret),
    /// or what it was meant to be.
    label: Arc<str>,
    /// What tells it apart in the process-wide health table (see [`health`]): the URL it
    /// was opened from, secrets included (never shown), so that persistences built again
    /// from one configuration (proptest evaluates the configuration once per test) share
    /// one warning; or a number for a database object.
    id: Arc<str>,
}

impl Store {
    /// A store opened from `spec` (a URL or a path).
    pub(crate) fn opened(spec: &str, db: Arc<dyn ExampleDatabase>) -> Self {
        Self {
            label: format!("{db:?}").into(),
            id: format!("url:{spec}").into(),
            db: Ok(db),
        }
    }

    /// A database object the caller made: a store of its own.
    pub(crate) fn object(db: Arc<dyn ExampleDatabase>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            label: format!("{db:?}").into(),
            id: format!("object:{}", NEXT.fetch_add(1, Ordering::Relaxed)).into(),
            db: Ok(db),
        }
    }

    /// A store that could not be opened from `spec`: `what` names it without its URL
    /// (which may hold a password), `error` says why.
    pub(crate) fn broken(spec: &str, what: &str, error: &Error) -> Self {
        Self {
            db: Err(error.to_string().into()),
            label: what.into(),
            id: format!("broken:{spec}").into(),
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.db {
            Ok(_) => f.write_str(&self.label),
            Err(problem) => write!(f, "{} (not opened: {problem})", self.label),
        }
    }
}

impl fmt::Debug for DatabasePersistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabasePersistence")
            .field("stores", &self.inner.stores)
            .field("keys", &self.inner.keys)
            .field("operation_timeout", &self.inner.operation_timeout)
            .finish()
    }
}

impl DatabasePersistence {
    /// Seeds kept in `db`, with the default key settings and timeout.
    pub fn new(db: impl ExampleDatabase + 'static) -> Self {
        Self::builder().store(db).build()
    }

    /// A builder with no store yet and every default; reads no environment variable. See
    /// [`DatabasePersistenceBuilder`].
    pub fn builder() -> DatabasePersistenceBuilder {
        DatabasePersistenceBuilder::default()
    }

    pub(crate) fn from_parts(
        stores: Vec<Store>,
        keys: KeyScheme,
        operation_timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                stores,
                keys,
                operation_timeout,
            }),
        }
    }

    /// The key the seeds of `source_file` (proptest's `file!()`) are kept under.
    pub fn key(&self, source_file: &str) -> Vec<u8> {
        self.inner.keys.key(source_file)
    }

    /// The seeds the stores hold for `source_file`, as proptest loads them: from every
    /// store that answers, each seed once. Failures are warned about, never returned. In
    /// proptest's fork mode the processes of one test share one list (see
    /// [`DatabasePersistence`]).
    pub fn load(&self, source_file: &str) -> Vec<PersistedSeed> {
        let key = self.key(source_file);
        if let Some(texts) = fork::read(&key) {
            return texts
                .iter()
                .filter_map(|t| seed::decode(t.as_bytes()))
                .collect();
        }
        let child = fork::in_child();
        let wait = if child {
            self.inner.operation_timeout.min(fork::CHILD_WAIT)
        } else {
            self.inner.operation_timeout
        };
        let seeds = self.fetch_seeds(&key, source_file, wait);
        if child {
            let texts: Vec<String> = seeds.iter().map(ToString::to_string).collect();
            fork::write(&key, &texts);
        }
        seeds
    }

    /// Every seed the stores hold under `key`, each once, in a stable order; values that
    /// are not seeds are skipped with a warning.
    fn fetch_seeds(&self, key: &[u8], source_file: &str, wait: Duration) -> Vec<PersistedSeed> {
        let what = format!("loading the seeds of {source_file}");
        let fetched = self.on_each_store(&what, wait, |db| {
            let key = key.to_vec();
            Box::pin(async move { db.fetch(&key).await })
        });
        let mut seeds = BTreeSet::new();
        for value in fetched.into_iter().flatten() {
            match seed::decode(&value) {
                Some(found) => {
                    seeds.insert(found);
                }
                None => health::warn_once(
                    &format!("value:{}", String::from_utf8_lossy(key)),
                    &format!(
                        "a value under {} is not a proptest seed and is skipped: \"{}\"",
                        String::from_utf8_lossy(key),
                        seed::preview(&value)
                    ),
                ),
            }
        }
        seeds.into_iter().collect()
    }

    /// Saves `seed` as a failure of `source_file` into every store that takes writes.
    /// Failures are warned about, never returned.
    pub fn save(&self, source_file: &str, seed: &PersistedSeed) {
        let key = self.key(source_file);
        let value = seed::encode(seed);
        tracing::info!(key = %String::from_utf8_lossy(&key), %seed, "saving a failing seed");
        let what = format!("saving the seed {seed} of {source_file}");
        self.on_each_store(&what, self.inner.operation_timeout, |db| {
            let (key, value) = (key.clone(), value.clone());
            Box::pin(async move {
                match db.save(&key, &value).await {
                    // A store that takes no writes (CI's artifact, say) just keeps none.
                    Err(e) if e.kind() == ErrorKind::ReadOnly => Ok(()),
                    other => other,
                }
            })
        });
    }

    /// Talks to every store now and returns the first problem: a store that could not be
    /// opened, or one that cannot be read (see [`ExampleDatabase::check_read`]). For a test
    /// suite that would rather fail than run without its seeds; loading and saving never
    /// fail.
    pub fn check(&self) -> exampledb::Result<()> {
        let mut jobs: Vec<Job<exampledb::Result<()>>> = Vec::new();
        for store in &self.inner.stores {
            match &store.db {
                Ok(db) => {
                    let db = Arc::clone(db);
                    jobs.push(Box::pin(async move { db.check_read().await }));
                }
                Err(problem) => {
                    return Err(exampledb::config::invalid(
                        "proptest",
                        format!("{}: {problem}", store.label),
                    ))
                }
            }
        }
        let timeout = self.inner.operation_timeout;
        for (store, outcome) in self.inner.stores.iter().zip(bridge::run_all(jobs, timeout)) {
            match outcome {
                Outcome::Done(result) => result?,
                Outcome::TimedOut => {
                    return Err(Error::Timeout {
                        backend: "proptest",
                        operation: exampledb::Operation::Open,
                        location: store.label.to_string(),
                        after: timeout,
                    })
                }
                Outcome::Lost(why) => {
                    return Err(exampledb::config::invalid(
                        "proptest",
                        format!("{}: {why}", store.label),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Runs `op` on every store still in use, at once, waiting at most `wait`, and
    /// returns what succeeded; every failure is reported (see [`health`]).
    fn on_each_store<T: Send + 'static>(
        &self,
        what: &str,
        wait: Duration,
        op: impl Fn(Arc<dyn ExampleDatabase>) -> Job<exampledb::Result<T>>,
    ) -> Vec<T> {
        let mut used = Vec::new();
        for store in &self.inner.stores {
            match &store.db {
                Ok(db) if health::usable(&store.id) => used.push((store, Arc::clone(db))),
                Ok(_) => {}
                Err(problem) => {
                    health::failed(&store.id, &store.label, what, problem, Verdict::GiveUp)
                }
            }
        }
        let jobs = used.iter().map(|(_, db)| op(Arc::clone(db))).collect();
        let mut out = Vec::new();
        for ((store, _), outcome) in used.iter().zip(bridge::run_all(jobs, wait)) {
            let (problem, verdict) = match outcome {
                Outcome::Done(Ok(value)) => {
                    out.push(value);
                    continue;
                }
                Outcome::Done(Err(e)) => (e.to_string(), verdict(&e)),
                Outcome::TimedOut => (format!("no answer within {wait:?}"), Verdict::GiveUp),
                Outcome::Lost(why) => (why, Verdict::GiveUp),
            };
            health::failed(&store.id, &store.label, what, &problem, verdict);
        }
        out
    }
}

/// What an error says about the rest of the run: a store that refused the configuration
/// or the credentials, is closed or missing (a bucket, a table), cannot do the operation,
/// or timed out (trying again would cost every later test the same wait) is given up; an
/// error that may be about one key or one moment (a refused connection, a value of the
/// wrong type, a permission on one directory) is not.
fn verdict(e: &Error) -> Verdict {
    match e.kind() {
        ErrorKind::InvalidConfig
        | ErrorKind::Unauthenticated
        | ErrorKind::Closed
        | ErrorKind::NotFound
        | ErrorKind::NotSupported
        | ErrorKind::Timeout => Verdict::GiveUp,
        _ => Verdict::TryAgain,
    }
}

/// proptest hands over `None` for a runner whose configuration names no source file.
fn no_source_file() {
    health::warn_once(
        "no-source-file",
        "proptest gave no source file (a TestRunner whose Config has no source_file), so seeds are neither loaded nor saved: set source_file: Some(file!())",
    );
}

impl FailurePersistence for DatabasePersistence {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        match source_file {
            Some(file) => self.load(file),
            None => {
                no_source_file();
                Vec::new()
            }
        }
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn fmt::Debug,
    ) {
        tracing::debug!(?source_file, %seed, shrunk = ?shrunken_value, "proptest found a failure");
        match source_file {
            Some(file) => self.save(file, &seed),
            None => no_source_file(),
        }
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other
            .as_any()
            .downcast_ref::<Self>()
            .is_some_and(|other| Arc::ptr_eq(&self.inner, &other.inner))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
