//! The database: [`GitHubArtifactDatabase`], its [`ExampleDatabase`] implementation,
//! [`status`](GitHubArtifactDatabase::status) and [`check`](GitHubArtifactDatabase::check).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use exampledb_core::{ChangeStream, Error, ExampleDatabase, Operation, Result};
use tokio::sync::OnceCell;

use crate::archive::{Archive, Fetched};
use crate::config::{GitHubArtifactDatabaseBuilder, Settings, BACKEND};
use crate::open::Opened;
use crate::{Problem, Status};

/// A read-only example database over the newest GitHub Actions artifact of a repository;
/// see the [crate documentation](crate) for what it does and how it fails.
///
/// Cloning is cheap and clones share the opened archive.
#[derive(Clone)]
pub struct GitHubArtifactDatabase {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) owner: String,
    pub(crate) repo: String,
    pub(crate) settings: Settings,
    /// `settings.cache_dir`, resolved.
    pub(crate) cache_dir: PathBuf,
    /// Hypothesis's storage directory, when the cache is in its default place there.
    pub(crate) storage_home: Option<PathBuf>,
    opened: OnceCell<Opened>,
    status: Mutex<Status>,
}

impl fmt::Debug for GitHubArtifactDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubArtifactDatabase")
            .field(
                "repository",
                &format_args!("{}/{}", self.inner.owner, self.inner.repo),
            )
            .field("settings", &self.inner.settings)
            .field("cache_dir", &self.inner.cache_dir)
            .finish_non_exhaustive()
    }
}

impl GitHubArtifactDatabase {
    /// Settings for `owner/repo`, starting from the defaults: no token, the API at
    /// [`DEFAULT_API_URL`](crate::DEFAULT_API_URL), the artifact
    /// [`DEFAULT_ARTIFACT_NAME`](crate::DEFAULT_ARTIFACT_NAME). Reads no environment
    /// variable: for `GITHUB_TOKEN`, `GITHUB_API_URL` and `GITHUB_REPOSITORY` start from
    /// [`GitHubArtifactDatabaseBuilder::from_env`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use exampledb_github::GitHubArtifactDatabase;
    /// let db = GitHubArtifactDatabase::builder("my-org", "my-repo")
    ///     .artifact_name("hypothesis-example-db-frontend")
    ///     .cache_timeout(Duration::from_secs(3600))
    ///     .max_total_size(64 << 20)
    ///     .strict(true)
    ///     .build()?;
    /// assert!(format!("{db:?}").contains("my-repo"));
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn builder(
        owner: impl Into<String>,
        repo: impl Into<String>,
    ) -> GitHubArtifactDatabaseBuilder {
        GitHubArtifactDatabaseBuilder::new(owner, repo)
    }

    /// The database [`GitHubArtifactDatabaseBuilder::build`] checked the settings of.
    pub(crate) fn new(
        owner: String,
        repo: String,
        settings: Settings,
        cache_dir: PathBuf,
        storage_home: Option<PathBuf>,
    ) -> Self {
        GitHubArtifactDatabase {
            inner: Arc::new(Inner {
                owner,
                repo,
                settings,
                cache_dir,
                storage_home,
                opened: OnceCell::new(),
                status: Mutex::new(Status::NotOpened),
            }),
        }
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.inner.cache_dir
    }

    /// Where the examples come from, and what went wrong if anything; [`Status::NotOpened`]
    /// before first use.
    pub fn status(&self) -> Status {
        self.inner
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Opens the database now (it otherwise opens on first use: from the cache, or by
    /// downloading) and reports whether CI's examples are available, whatever
    /// [`strict`](GitHubArtifactDatabaseBuilder::strict) says: `Ok` when an archive is in
    /// use (a fresh one, or the expired cache as a fallback, which
    /// [`status`](Self::status) details), else an [`Error::Backend`] naming the
    /// repository, whose [`kind`](Error::kind) is what went wrong
    /// ([`Unauthenticated`](exampledb_core::ErrorKind::Unauthenticated),
    /// [`NotFound`](exampledb_core::ErrorKind::NotFound),
    /// [`RateLimited`](exampledb_core::ErrorKind::RateLimited), ...) and whose
    /// [`source`](std::error::Error::source) is the [`Problem`].
    ///
    /// The database opens once: later calls report the same outcome without trying
    /// again.
    ///
    /// ```no_run
    /// use exampledb_core::ErrorKind;
    /// use exampledb_github::GitHubArtifactDatabase;
    /// # async fn demo() -> exampledb_core::Result<()> {
    /// let ci = GitHubArtifactDatabase::builder("my-org", "my-repo").build()?;
    /// match ci.check().await {
    ///     Ok(()) => {}
    ///     Err(e) if e.kind() == ErrorKind::Unauthenticated => eprintln!("set GITHUB_TOKEN: {e}"),
    ///     Err(e) => eprintln!("CI's examples are unavailable: {e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check(&self) -> Result<()> {
        match self.opened().await {
            Opened::Ready(_) => Ok(()),
            Opened::Unavailable(problem) => Err(self.inner.error(Operation::Open, problem.clone())),
        }
    }

    /// The open sequence's outcome, run on first use.
    async fn opened(&self) -> &Opened {
        self.inner
            .opened
            .get_or_init(|| async {
                let (opened, status) = self.inner.open().await;
                *self
                    .inner
                    .status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = status;
                opened
            })
            .await
    }

    /// The archive in use; `None` when there is none (an empty database), or the
    /// problem as the error in strict mode.
    async fn archive(&self, operation: Operation) -> Result<Option<&Arc<Archive>>> {
        match self.opened().await {
            Opened::Ready(archive) => Ok(Some(archive)),
            Opened::Unavailable(problem) if self.inner.settings.strict => {
                Err(self.inner.error(operation, problem.clone()))
            }
            Opened::Unavailable(_) => Ok(None),
        }
    }

    /// Values, with the entries that failed their checks logged (or, in strict mode,
    /// returned as the error).
    fn finish(&self, operation: Operation, fetched: Fetched) -> Result<Vec<Bytes>> {
        if let Some(first) = fetched.problems.first() {
            if self.inner.settings.strict {
                return Err(self.inner.error(operation, first.clone()));
            }
            for problem in &fetched.problems {
                tracing::warn!(%problem, "skipping a damaged entry of CI's example database");
            }
        }
        Ok(fetched.values)
    }
}

impl Inner {
    /// `owner/repo artifact name`, as errors and logs name the database.
    pub(crate) fn location(&self) -> String {
        format!(
            "{}/{} artifact {}",
            self.owner, self.repo, self.settings.artifact_name
        )
    }

    /// The error that reports `problem`.
    fn error(&self, operation: Operation, problem: Problem) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation,
            location: self.location(),
            kind: problem.kind(),
            temporary: problem.is_temporary(),
            source: Box::new(problem),
        }
    }
}

#[async_trait]
impl ExampleDatabase for GitHubArtifactDatabase {
    async fn save(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(read_only(Operation::Save))
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        match self.archive(Operation::Fetch).await? {
            Some(archive) => self.finish(Operation::Fetch, archive.fetch(key)),
            None => Ok(Vec::new()),
        }
    }

    async fn delete(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(read_only(Operation::Delete))
    }

    async fn move_value(&self, _src: &[u8], _dest: &[u8], _value: &[u8]) -> Result<()> {
        Err(read_only(Operation::Move))
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        match self.archive(Operation::Keys).await? {
            Some(archive) => match archive.keys() {
                Some(fetched) => self.finish(Operation::Keys, fetched),
                None => Err(Error::NotSupported {
                    backend: BACKEND,
                    operation: Operation::Keys,
                }),
            },
            None => Ok(Vec::new()),
        }
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        // An opened artifact never changes.
        Ok(Box::pin(futures_util::stream::pending()))
    }

    /// [`GitHubArtifactDatabase::check`]: opens now; an error when nothing usable could
    /// be had, whatever `strict` says.
    async fn check(&self) -> Result<()> {
        GitHubArtifactDatabase::check(self).await
    }
}

fn read_only(operation: Operation) -> Error {
    Error::ReadOnly {
        backend: BACKEND,
        operation,
    }
}
