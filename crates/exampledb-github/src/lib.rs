//! # exampledb-github
//!
//! CI's example database, replayed locally: a read-only [`ExampleDatabase`] over the
//! newest GitHub Actions artifact holding a Hypothesis directory database, compatible with
//! Python Hypothesis's `GitHubArtifactDatabase` (same artifact, same cache directory, same
//! cache file names).
//!
//! CI runs the tests or a fuzzer and uploads `.hypothesis/examples` as an artifact (by
//! default named `hypothesis-example-db`); every developer's test run then replays CI's
//! failures with no manual step, usually through
//! `Multiplexed(local directory, ReadOnly(GitHubArtifactDatabase))`:
//!
//! ```no_run
//! use std::sync::Arc;
//! use exampledb_core::{DirectoryDatabase, ExampleDatabase, Multiplexed, ReadOnly};
//! use exampledb_github::GitHubArtifactDatabase;
//! # async fn demo() -> exampledb_core::Result<()> {
//! let local = DirectoryDatabase::default_location()?;
//! // Token from GITHUB_TOKEN, API from GITHUB_API_URL (GitHub Enterprise Server) or api.github.com.
//! let ci = GitHubArtifactDatabase::new("my-org", "my-repo")?;
//! let db = Multiplexed::new([
//!     Arc::new(local) as Arc<dyn ExampleDatabase>,
//!     Arc::new(ReadOnly::new(ci)),
//! ]);
//! for value in db.fetch(b"test key").await? {
//!     // replay it
//! #   let _ = value;
//! }
//! # Ok(()) }
//! ```
//!
//! ## What happens on first use
//! The database opens lazily, on the first fetch (or [`open`](GitHubArtifactDatabase::open)),
//! exactly as Hypothesis does:
//! 1. In the cache directory (default `.hypothesis/github-artifacts/<artifact name>/`, under
//!    `$HYPOTHESIS_STORAGE_DIRECTORY` when that is set), every cached
//!    `<UTC timestamp>.zip` but the newest is deleted.
//! 2. If the newest is younger than the cache timeout (default one day) it is used.
//! 3. Otherwise the newest **unexpired** artifact with the name is looked up, using the
//!    API's name filter and following every page (Hypothesis reads only the first page and
//!    ignores `expired`), downloaded to a hidden temporary file, fully checked (every
//!    entry's CRC and size, the [`ArchiveLimits`]) and renamed into place as
//!    `<timestamp>.zip`; the old zip is deleted. A crash never leaves a truncated zip
//!    under a name that looks valid, and processes opening the same cache at once
//!    download once (an advisory lock; the others wait and use the fresh zip).
//! 4. If that fails, the expired zip is used with a warning; with no zip at all the
//!    database behaves as an empty one.
//!
//! The archive is indexed once from its central directory (hashed key -> its entries);
//! each fetch then reads only that key's entries and checks their CRCs. Nothing is ever
//! extracted to disk.
//!
//! ## Failures
//! By default a failure (network error, 401, 403 rate limit, 404, 410, 5xx, malformed
//! answer, corrupt zip, a limit exceeded) never fails a test run: it is logged as a
//! `tracing` warning, the database falls back as above, and the reason stays available
//! through [`status`](GitHubArtifactDatabase::status). With
//! [`strict`](GitHubArtifactDatabaseBuilder::strict) the reason is returned as an
//! [`Error::Backend`] whose source is the [`Problem`].
//!
//! ## Security
//! - The token is sent to the API's host only. The download URL answers with a redirect
//!   to pre-signed blob storage on another host, which is followed by an HTTP client that
//!   holds no token. Redirects are followed to `http` and `https` URLs only.
//! - The token is never sent in cleartext across a network: with a token set,
//!   [`build`](GitHubArtifactDatabaseBuilder::build) refuses a plain `http://` API URL
//!   (for example from `GITHUB_API_URL`) with [`Error::InvalidConfig`], unless its host
//!   is loopback (`localhost`, `127.0.0.0/8`, `::1`) or
//!   [`allow_insecure_http(true)`](GitHubArtifactDatabaseBuilder::allow_insecure_http)
//!   opts in. An API answer that points back at the API's host over `http` (a listing's
//!   download URL or next page) is refused by the same rule.
//! - The token never appears in `Debug` output, errors or logs; pre-signed URLs appear
//!   without their query (their signature).
//! - Entries that are not `<hash>/<hash>` files (absolute paths, `..`, links, anything
//!   else) are ignored, and [`ArchiveLimits`] on entry count, entry size, total size and
//!   download size stop zip bombs with a clear [`Problem::ArchiveLimit`]. The entry
//!   count and the central directory's size are checked from the zip's end record before
//!   the central directory is parsed, so memory stays bounded by the limits, whatever the
//!   archive declares.
//! - Every wait is bounded: [`network_timeout`](GitHubArtifactDatabaseBuilder::network_timeout)
//!   for each answer and each pause, and
//!   [`download_timeout`](GitHubArtifactDatabaseBuilder::download_timeout) for the whole
//!   download, so a server that trickles bytes cannot hold a test run forever.
//!
//! ## Writes
//! The artifact is read-only: `save`, `delete` and `move_value` return
//! [`Error::ReadOnly`]. Wrap the database in [`ReadOnly`](exampledb_core::ReadOnly) to turn
//! them into no-ops. `keys()` works when the archive holds Hypothesis's meta-keys entry.
//! `subscribe()` gives a stream that never yields: an opened artifact does not change.
#![deny(missing_docs)]

mod api;
mod archive;
mod cache;
mod eocd;
mod problem;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use exampledb_core::{ChangeStream, Error, ExampleDatabase, Operation, Result};
use tokio::sync::OnceCell;

use archive::{Archive, Fetched};
use cache::CachedZip;
pub use problem::Problem;

const BACKEND: &str = "github-artifact";

/// The artifact name Hypothesis uses by default.
pub const DEFAULT_ARTIFACT_NAME: &str = "hypothesis-example-db";
/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The environment variable the token is read from by default.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
/// The environment variable the API URL is read from by default (set by GitHub Actions;
/// points at GitHub Enterprise Server's API there).
pub const API_URL_ENV: &str = "GITHUB_API_URL";
/// Hypothesis's default cache timeout: one day.
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The default overall deadline of a download
/// ([`download_timeout`](GitHubArtifactDatabaseBuilder::download_timeout)): 10 minutes.
pub const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A GitHub token. Its `Debug` output hides it, and it is only ever sent to the API host.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it can be sent in an HTTP header (visible ASCII, no spaces).
    fn is_sendable(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Limits that stop hostile or accidental archives (zip bombs, huge downloads) with a
/// [`Problem::ArchiveLimit`] or [`Problem::DownloadTooLarge`] instead of exhausting
/// memory or disk.
///
/// The defaults suit example databases, whose values are shrunk failing inputs of a few
/// bytes to a few kilobytes: a database of 100,000 such values is a large one, and at 8
/// MiB a single value is already far beyond what Hypothesis shrinks to. They bound what
/// one artifact can cost: at most 256 MiB downloaded to disk, at most 256 MiB
/// decompressed by a fetch (a fetch returns its key's values, which the total bounds) or
/// by the check of a new download, and an index whose size is bounded by the entry count
/// (the central directory may average 512 bytes per entry, plus 64 KiB; the declared
/// count and size are checked from the end record before anything is parsed).
///
/// There is deliberately no limit on the compression ratio: shrunk Hypothesis values are
/// often runs of zero bytes, which deflate legitimately compresses about 1000 to 1.
///
/// ```
/// use exampledb_github::ArchiveLimits;
/// let limits = ArchiveLimits::default();
/// assert_eq!(limits.max_entries, 100_000);
/// assert_eq!(limits.max_entry_size, 8 << 20);
/// assert_eq!(limits.max_total_size, 256 << 20);
/// assert_eq!(limits.max_download_size, 256 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveLimits {
    /// Entries in the zip's central directory, as its end record declares them (default
    /// 100,000).
    pub max_entries: u64,
    /// Uncompressed size of one entry (default 8 MiB).
    pub max_entry_size: u64,
    /// Uncompressed size of all value entries together (default 256 MiB).
    pub max_total_size: u64,
    /// Bytes downloaded (default 256 MiB).
    pub max_download_size: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 100_000,
            max_entry_size: 8 << 20,
            max_total_size: 256 << 20,
            max_download_size: 256 << 20,
        }
    }
}

impl ArchiveLimits {
    /// Sets [`max_entries`](Self::max_entries).
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }
    /// Sets [`max_entry_size`](Self::max_entry_size).
    pub fn max_entry_size(mut self, bytes: u64) -> Self {
        self.max_entry_size = bytes;
        self
    }
    /// Sets [`max_total_size`](Self::max_total_size).
    pub fn max_total_size(mut self, bytes: u64) -> Self {
        self.max_total_size = bytes;
        self
    }
    /// Sets [`max_download_size`](Self::max_download_size).
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        self.max_download_size = bytes;
        self
    }
}

/// Where the database's examples come from, and why, once it has been opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Not used yet: it opens on the first fetch, `keys` or [`open`](GitHubArtifactDatabase::open).
    NotOpened,
    /// A cached zip younger than the cache timeout is in use.
    Cached {
        /// The zip.
        archive: PathBuf,
    },
    /// A new artifact was downloaded and is in use.
    Downloaded {
        /// The zip in the cache.
        archive: PathBuf,
        /// The artifact's id on GitHub.
        artifact_id: u64,
    },
    /// The download failed; the expired cached zip is in use.
    ExpiredFallback {
        /// The zip.
        archive: PathBuf,
        /// Why no new one could be had.
        problem: Problem,
    },
    /// Nothing usable: the database behaves as an empty one (or, in strict mode, every
    /// call returns this problem).
    Unavailable {
        /// Why.
        problem: Problem,
    },
}

impl Status {
    /// The zip in use, if any.
    pub fn archive(&self) -> Option<&Path> {
        match self {
            Status::Cached { archive }
            | Status::Downloaded { archive, .. }
            | Status::ExpiredFallback { archive, .. } => Some(archive),
            _ => None,
        }
    }

    /// What went wrong, if anything.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Status::ExpiredFallback { problem, .. } | Status::Unavailable { problem } => {
                Some(problem)
            }
            _ => None,
        }
    }
}

/// Settings for a [`GitHubArtifactDatabase`]; see [`GitHubArtifactDatabase::builder`].
/// Its `Debug` output hides the token.
#[derive(Debug, Clone)]
pub struct GitHubArtifactDatabaseBuilder {
    settings: Settings,
}

/// What a builder collects and a database keeps (its `Debug` is what both show).
#[derive(Debug, Clone)]
struct Settings {
    owner: String,
    repo: String,
    artifact_name: String,
    cache_dir: Option<PathBuf>,
    cache_timeout: Duration,
    token: Option<Token>,
    api_url: String,
    strict: bool,
    limits: ArchiveLimits,
    network_timeout: Duration,
    download_timeout: Duration,
    allow_insecure_http: bool,
    lock_wait: Duration,
}

impl GitHubArtifactDatabaseBuilder {
    /// The artifact's name (default [`DEFAULT_ARTIFACT_NAME`]); one per database in a
    /// monorepo.
    pub fn artifact_name(mut self, name: impl Into<String>) -> Self {
        self.settings.artifact_name = name.into();
        self
    }

    /// The cache directory (default `.hypothesis/github-artifacts/<artifact name>/`, under
    /// `$HYPOTHESIS_STORAGE_DIRECTORY` when that is set; Hypothesis's `path` argument).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.cache_dir = Some(dir.into());
        self
    }

    /// How long a cached zip is used before a new one is downloaded (default one day).
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.settings.cache_timeout = timeout;
        self
    }

    /// The token (default: `$GITHUB_TOKEN`). Public repositories need none.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.settings.token = Some(Token::new(token));
        self
    }

    /// Sends no token, even if `$GITHUB_TOKEN` is set.
    pub fn no_token(mut self) -> Self {
        self.settings.token = None;
        self
    }

    /// The REST API's base URL (default: `$GITHUB_API_URL`, else [`DEFAULT_API_URL`]);
    /// for GitHub Enterprise Server, `https://HOST/api/v3`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.settings.api_url = url.into();
        self
    }

    /// Return every failure as an error instead of warning and falling back (default
    /// off, as in Hypothesis).
    pub fn strict(mut self, strict: bool) -> Self {
        self.settings.strict = strict;
        self
    }

    /// Limits on the archive (see [`ArchiveLimits`]).
    pub fn limits(mut self, limits: ArchiveLimits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// The longest wait for connecting, for each answer and for each pause within a
    /// download (default 30 s). A silent server is a [`Problem::Timeout`], never a hang.
    /// See also [`download_timeout`](Self::download_timeout), the overall deadline.
    pub fn network_timeout(mut self, timeout: Duration) -> Self {
        self.settings.network_timeout = timeout;
        self
    }

    /// The longest the whole download may take, from the first request to the API to the
    /// archive's last byte (default [`DEFAULT_DOWNLOAD_TIMEOUT`], 10 minutes). Where
    /// [`network_timeout`](Self::network_timeout) stops a server that falls silent, this
    /// stops one that never stops talking (one byte a second keeps every pause short).
    /// When it passes, the download fails with [`Problem::Timeout`] and the database
    /// falls back as for any other failure.
    pub fn download_timeout(mut self, timeout: Duration) -> Self {
        self.settings.download_timeout = timeout;
        self
    }

    /// Allow sending the token over plain `http` to a host that is not loopback (default
    /// off). Without it, [`build`](Self::build) refuses an `http://` API URL to any host
    /// but `localhost`, `127.0.0.0/8` and `::1` while a token is set, since the token
    /// would cross the network in cleartext. Needed only for a GitHub Enterprise Server
    /// reachable over plain http on a network you trust.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_http = allow;
        self
    }

    /// Checks the settings; nothing is read or downloaded until first use.
    pub fn build(self) -> Result<GitHubArtifactDatabase> {
        let mut settings = self.settings;
        settings.check()?;
        let storage_home = match settings.cache_dir {
            Some(_) => None,
            None => {
                let home = exampledb_core::directory::storage_home();
                settings.cache_dir =
                    Some(home.join("github-artifacts").join(&settings.artifact_name));
                Some(home)
            }
        };
        let cache_dir = settings.cache_dir.clone().unwrap_or_default();
        Ok(GitHubArtifactDatabase {
            inner: Arc::new(Inner {
                settings,
                cache_dir,
                storage_home,
                opened: OnceCell::new(),
                status: Mutex::new(Status::NotOpened),
            }),
        })
    }
}

impl Settings {
    fn check(&self) -> Result<()> {
        let invalid = |message: String| Error::InvalidConfig {
            backend: BACKEND,
            message,
        };
        for (what, value) in [("owner", &self.owner), ("repository", &self.repo)] {
            let valid = !value.is_empty()
                && value != "."
                && value != ".."
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                return Err(invalid(format!(
                    "{what} {value:?} is not a GitHub {what} name (letters, digits, '-', '_', '.')"
                )));
            }
        }
        let name = &self.artifact_name;
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains([
                '/', '\\', '\0', ':', '"', '<', '>', '|', '*', '?', '\r', '\n',
            ])
        {
            return Err(invalid(format!(
                "artifact name {name:?} is not a valid GitHub artifact name"
            )));
        }
        if self.token.as_ref().is_some_and(|t| !t.is_sendable()) {
            return Err(invalid(
                "the token holds characters that cannot be sent in an HTTP header".into(),
            ));
        }
        match self.api_url.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.authority().is_some()
                    && uri.query().is_none() => {}
            _ => {
                return Err(invalid(format!(
                    "API URL {:?} is not an http(s) URL without a query",
                    problem::redact_url(&self.api_url)
                )))
            }
        }
        if self.token.is_some() && !self.allow_insecure_http && api::sends_cleartext(&self.api_url)
        {
            return Err(invalid(format!(
                "API URL {} (from api_url() or ${API_URL_ENV}) is plain http to a host that is not loopback, so the token would cross the network in cleartext: use https, or set allow_insecure_http(true) to send it anyway (no_token() for a public repository)",
                problem::redact_url(&self.api_url)
            )));
        }
        if self.network_timeout.is_zero() {
            return Err(invalid("network_timeout must be more than zero".into()));
        }
        if self.download_timeout.is_zero() {
            return Err(invalid("download_timeout must be more than zero".into()));
        }
        Ok(())
    }
}

/// A read-only example database over the newest GitHub Actions artifact of a repository;
/// see the [crate documentation](crate) for what it does and how it fails.
///
/// Cloning is cheap and clones share the opened archive.
#[derive(Clone)]
pub struct GitHubArtifactDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    /// `settings.cache_dir`, resolved.
    cache_dir: PathBuf,
    /// Hypothesis's storage directory, when the cache is in its default place there.
    storage_home: Option<PathBuf>,
    opened: OnceCell<Opened>,
    status: Mutex<Status>,
}

enum Opened {
    Ready(Arc<Archive>),
    Unavailable(Problem),
}

impl fmt::Debug for GitHubArtifactDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubArtifactDatabase")
            .field("settings", &self.inner.settings)
            .field("cache_dir", &self.inner.cache_dir)
            .finish_non_exhaustive()
    }
}

impl GitHubArtifactDatabase {
    /// The database for `owner/repo` with every default (token from `$GITHUB_TOKEN`, API
    /// from `$GITHUB_API_URL`).
    pub fn new(owner: impl Into<String>, repo: impl Into<String>) -> Result<Self> {
        Self::builder(owner, repo).build()
    }

    /// Settings for `owner/repo`, starting from the defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use exampledb_github::{ArchiveLimits, GitHubArtifactDatabase};
    /// let db = GitHubArtifactDatabase::builder("my-org", "my-repo")
    ///     .artifact_name("hypothesis-example-db-frontend")
    ///     .cache_timeout(Duration::from_secs(3600))
    ///     .limits(ArchiveLimits::default().max_total_size(64 << 20))
    ///     .strict(true)
    ///     .build()?;
    /// assert!(format!("{db:?}").contains("my-repo"));
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn builder(
        owner: impl Into<String>,
        repo: impl Into<String>,
    ) -> GitHubArtifactDatabaseBuilder {
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .map(Token::new);
        let api_url = std::env::var(API_URL_ENV)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        GitHubArtifactDatabaseBuilder {
            settings: Settings {
                owner: owner.into(),
                repo: repo.into(),
                artifact_name: DEFAULT_ARTIFACT_NAME.to_owned(),
                cache_dir: None,
                cache_timeout: DEFAULT_CACHE_TIMEOUT,
                token,
                api_url,
                strict: false,
                limits: ArchiveLimits::default(),
                network_timeout: Duration::from_secs(30),
                download_timeout: DEFAULT_DOWNLOAD_TIMEOUT,
                allow_insecure_http: false,
                lock_wait: Duration::from_secs(120),
            },
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

    /// Opens the database now (it otherwise opens on first use) and returns its status.
    /// In strict mode a failure is returned as an error; otherwise it is in the status.
    pub async fn open(&self) -> Result<Status> {
        self.opened(Operation::Open).await?;
        Ok(self.status())
    }

    async fn opened(&self, operation: Operation) -> Result<Option<&Arc<Archive>>> {
        let opened = self
            .inner
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
            .await;
        match opened {
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
    fn location(&self) -> String {
        format!(
            "{}/{} artifact {}",
            self.settings.owner, self.settings.repo, self.settings.artifact_name
        )
    }

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

    /// Hypothesis's open sequence (see the crate docs). Never fails: problems end up in
    /// the status.
    async fn open(&self) -> (Opened, Status) {
        let dir = &self.cache_dir;
        if let Err(e) =
            exampledb_core::directory::create_storage_dir(self.storage_home.as_deref(), dir)
        {
            return self.unavailable(Problem::cache(dir, &e));
        }
        let newest = match cache::scan(dir) {
            Ok(zips) => cache::keep_newest(zips),
            Err(e) => return self.unavailable(Problem::cache(dir, &e)),
        };
        if let Some(zip) = newest
            .as_ref()
            .filter(|z| z.is_fresh(Utc::now(), self.settings.cache_timeout))
        {
            match self.index(zip.path.clone(), false).await {
                Ok(archive) => {
                    tracing::debug!(archive = %zip.path.display(), "using the cached artifact");
                    return (
                        Opened::Ready(archive),
                        Status::Cached {
                            archive: zip.path.clone(),
                        },
                    );
                }
                Err(problem) => {
                    tracing::warn!(%problem, "the cached artifact is unusable; downloading a new one")
                }
            }
        }
        let problem = match self.download(newest.as_ref()).await {
            Ok(done) => return done,
            Err(problem) => problem,
        };
        // Strict mode reports the problem instead of falling back.
        let expired = newest.filter(|z| {
            !self.settings.strict && !z.is_fresh(Utc::now(), self.settings.cache_timeout)
        });
        if let Some(zip) = expired {
            match self.index(zip.path.clone(), false).await {
                Ok(archive) => {
                    tracing::warn!(
                        %problem,
                        archive = %zip.path.display(),
                        "could not get CI's newest example database; using the expired cached artifact"
                    );
                    return (
                        Opened::Ready(archive),
                        Status::ExpiredFallback {
                            archive: zip.path,
                            problem,
                        },
                    );
                }
                Err(corrupt) => {
                    tracing::warn!(%corrupt, "the expired cached artifact is unusable too")
                }
            }
        }
        self.unavailable(problem)
    }

    fn unavailable(&self, problem: Problem) -> (Opened, Status) {
        tracing::warn!(
            %problem,
            repo = %self.location(),
            "could not get CI's example database; it is empty for this run"
        );
        (
            Opened::Unavailable(problem.clone()),
            Status::Unavailable { problem },
        )
    }

    /// Indexes `path` off the async threads; `verify` also reads every entry.
    async fn index(&self, path: PathBuf, verify: bool) -> Result<Arc<Archive>, Problem> {
        let limits = self.settings.limits;
        let work = tokio::task::spawn_blocking(move || {
            let archive = Archive::open(&path, &limits)?;
            if verify {
                archive.verify_all(limits.max_total_size)?;
            }
            Ok(Arc::new(archive))
        });
        match work.await {
            Ok(result) => result,
            Err(e) => Err(Problem::Cache {
                path: self.cache_dir.clone(),
                message: format!("indexing task failed: {e}"),
            }),
        }
    }

    /// Downloads the newest artifact into the cache (under the download lock), or uses
    /// the fresh zip another process downloaded while this one waited for the lock.
    async fn download(&self, previous: Option<&CachedZip>) -> Result<(Opened, Status), Problem> {
        let dir = &self.cache_dir;
        let lock = match cache::DownloadLock::acquire(dir, self.settings.lock_wait).await {
            Ok(lock) => lock,
            Err(e) => {
                tracing::debug!(error = %e, "cannot lock the artifact cache; downloading unlocked");
                None
            }
        };
        if lock.is_some() {
            if let Ok(zips) = cache::scan(dir) {
                let newest = zips.last();
                if let Some(zip) = newest.filter(|z| {
                    Some(*z) != previous && z.is_fresh(Utc::now(), self.settings.cache_timeout)
                }) {
                    if let Ok(archive) = self.index(zip.path.clone(), false).await {
                        return Ok((
                            Opened::Ready(archive),
                            Status::Cached {
                                archive: zip.path.clone(),
                            },
                        ));
                    }
                }
            }
            cache::remove_stale_partials(dir);
        }
        let client = api::Client::new(api::Config {
            api_url: &self.settings.api_url,
            token: self.settings.token.as_ref(),
            timeout: self.settings.network_timeout,
            download_timeout: self.settings.download_timeout,
            allow_insecure_http: self.settings.allow_insecure_http,
        })?;
        let artifact = client
            .newest_artifact(
                &self.settings.owner,
                &self.settings.repo,
                &self.settings.artifact_name,
            )
            .await?;
        let partial = cache::partial_path(dir);
        let downloaded = async {
            let bytes = client
                .download(&artifact, &partial, self.settings.limits.max_download_size)
                .await?;
            let archive = self.index(partial.clone(), true).await?;
            Ok::<_, Problem>((bytes, archive))
        }
        .await;
        let (bytes, mut archive) = match downloaded {
            Ok(done) => done,
            Err(problem) => {
                cache::remove_quietly(&partial);
                return Err(problem);
            }
        };
        let target = dir.join(cache::zip_name(Utc::now()));
        if let Err(e) = std::fs::rename(&partial, &target) {
            cache::remove_quietly(&partial);
            return Err(Problem::cache(&target, &e));
        }
        if let Some(archive) = Arc::get_mut(&mut archive) {
            archive.set_path(target.clone());
        }
        if let Some(old) = previous {
            cache::remove_quietly(&old.path);
        }
        tracing::info!(
            artifact_id = artifact.id,
            bytes,
            entries = archive.value_count(),
            ignored = archive.ignored(),
            archive = %target.display(),
            "downloaded CI's example database"
        );
        drop(lock);
        Ok((
            Opened::Ready(archive),
            Status::Downloaded {
                archive: target,
                artifact_id: artifact.id,
            },
        ))
    }
}

#[async_trait]
impl ExampleDatabase for GitHubArtifactDatabase {
    async fn save(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(read_only(Operation::Save))
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        match self.opened(Operation::Fetch).await? {
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
        match self.opened(Operation::Keys).await? {
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
}

fn read_only(operation: Operation) -> Error {
    Error::ReadOnly {
        backend: BACKEND,
        operation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_errors_hide_the_token() -> Result<()> {
        let builder = GitHubArtifactDatabase::builder("o", "r").token("ghp_SECRET123");
        assert!(!format!("{builder:?}").contains("SECRET"));
        let db = builder.build()?;
        assert!(!format!("{db:?}").contains("SECRET"));
        let bad = GitHubArtifactDatabase::builder("o", "r")
            .token("ghp_SECRET\n123")
            .build();
        let text = format!(
            "{:?} {}",
            bad.as_ref().err(),
            bad.as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(bad.is_err());
        assert!(!text.contains("SECRET"), "{text}");
        Ok(())
    }

    #[test]
    fn invalid_settings_are_refused() {
        for (owner, repo, name, api) in [
            ("o/../x", "r", DEFAULT_ARTIFACT_NAME, DEFAULT_API_URL),
            ("o", "..", DEFAULT_ARTIFACT_NAME, DEFAULT_API_URL),
            ("o", "r", "../escape", DEFAULT_API_URL),
            ("o", "r", "", DEFAULT_API_URL),
            ("o", "r", DEFAULT_ARTIFACT_NAME, "ftp://example.com"),
            (
                "o",
                "r",
                DEFAULT_ARTIFACT_NAME,
                "https://example.com/api?x=1",
            ),
        ] {
            let result = GitHubArtifactDatabase::builder(owner, repo)
                .artifact_name(name)
                .api_url(api)
                .build();
            assert!(
                matches!(result, Err(Error::InvalidConfig { .. })),
                "{owner} {repo} {name} {api}"
            );
        }
    }

    #[test]
    fn default_cache_dir_is_hypothesis_s() -> Result<()> {
        let db = GitHubArtifactDatabase::builder("o", "r")
            .artifact_name("db-frontend")
            .build()?;
        let home = exampledb_core::directory::storage_home();
        assert_eq!(
            db.cache_dir(),
            home.join("github-artifacts").join("db-frontend")
        );
        Ok(())
    }
}
