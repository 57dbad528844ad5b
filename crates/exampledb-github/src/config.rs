//! Configuration, following the workspace's [convention](exampledb_core::config): the
//! builder and its settings, [`ArchiveLimits`], [`Token`], the string-keyed options and
//! the `github://` URL.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use exampledb_core::config::{
    invalid, parse_bool, parse_count, parse_duration, parse_size, unknown_option, DatabaseBuilder,
    QueryUrl,
};
#[cfg(test)]
use exampledb_core::Error;
use exampledb_core::Result;

use crate::database::GitHubArtifactDatabase;
use crate::{api, problem};

/// The backend's name in errors.
pub(crate) const BACKEND: &str = "github-artifact";

/// The artifact name Hypothesis uses by default.
pub const DEFAULT_ARTIFACT_NAME: &str = "hypothesis-example-db";
/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The environment variable [`GitHubArtifactDatabaseBuilder::from_env`] reads the token from.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
/// The environment variable [`GitHubArtifactDatabaseBuilder::from_env`] reads the API URL
/// from (set by GitHub Actions; points at GitHub Enterprise Server's API there).
pub const API_URL_ENV: &str = "GITHUB_API_URL";
/// The environment variable [`GitHubArtifactDatabaseBuilder::from_env`] reads the
/// repository from, as `OWNER/REPO` (set by GitHub Actions).
pub const REPOSITORY_ENV: &str = "GITHUB_REPOSITORY";
/// Hypothesis's default cache timeout: one day.
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The default longest wait to establish a connection
/// ([`connect_timeout`](GitHubArtifactDatabaseBuilder::connect_timeout)): 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default longest wait for each answer and each pause within one
/// ([`operation_timeout`](GitHubArtifactDatabaseBuilder::operation_timeout)): 30 seconds.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The default overall deadline of a download
/// ([`download_timeout`](GitHubArtifactDatabaseBuilder::download_timeout)): 10 minutes.
pub const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The URL form, as error messages show it.
const URL_FORM: &str = "github://OWNER/REPO[/ARTIFACT]";

/// The option keys [`GitHubArtifactDatabaseBuilder::with_option`] takes: the typed
/// setters' names.
const OPTIONS: &[&str] = &[
    "artifact_name",
    "cache_dir",
    "cache_timeout",
    "token",
    "api_url",
    "strict",
    "allow_insecure_http",
    "connect_timeout",
    "operation_timeout",
    "download_timeout",
    "max_entries",
    "max_entry_size",
    "max_total_size",
    "max_download_size",
];

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
/// [`Problem::ArchiveLimit`](crate::Problem::ArchiveLimit) or
/// [`Problem::DownloadTooLarge`](crate::Problem::DownloadTooLarge) instead of exhausting
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
/// Each field is also an option of the builder, under the field's name
/// ([`max_entries`](GitHubArtifactDatabaseBuilder::max_entries) and so on).
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

/// Which repository a builder names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repository {
    /// None yet ([`GitHubArtifactDatabaseBuilder::from_env`] outside GitHub Actions).
    Missing,
    /// `owner/repo`.
    Named { owner: String, repo: String },
    /// `$GITHUB_REPOSITORY` held this, which is not `OWNER/REPO`.
    InvalidEnv(String),
}

/// What a builder collects and a database keeps (its `Debug` is what both show: the
/// token hidden, the API URL without user info or query).
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) artifact_name: String,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) cache_timeout: Duration,
    pub(crate) token: Option<Token>,
    pub(crate) api_url: String,
    pub(crate) strict: bool,
    pub(crate) limits: ArchiveLimits,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) download_timeout: Duration,
    pub(crate) allow_insecure_http: bool,
    pub(crate) lock_wait: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("artifact_name", &self.artifact_name)
            .field("cache_dir", &self.cache_dir)
            .field("cache_timeout", &self.cache_timeout)
            .field("token", &self.token)
            .field("api_url", &crate::problem::redact_url(&self.api_url))
            .field("strict", &self.strict)
            .field("limits", &self.limits)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("download_timeout", &self.download_timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`GitHubArtifactDatabase`], following the workspace's
/// [configuration convention](exampledb_core::config):
///
/// - [`GitHubArtifactDatabase::builder(owner, repo)`](GitHubArtifactDatabase::builder):
///   every default, no environment read;
/// - [`from_env()`](Self::from_env): the defaults plus `GITHUB_REPOSITORY`,
///   `GITHUB_TOKEN`, `GITHUB_API_URL` and `HYPOTHESIS_STORAGE_DIRECTORY`;
/// - [`from_url(url)`](Self::from_url) / [`with_url(url)`](Self::with_url):
///   `github://OWNER/REPO[/ARTIFACT]?option=value&...`;
/// - [`with_option(key, value)`](Self::with_option): one option by its setter's name;
/// - [`build()`](Self::build): checks everything; nothing is read or downloaded until
///   first use (or [`check`](GitHubArtifactDatabase::check)).
///
/// Its `Debug` output hides the token.
#[derive(Debug, Clone)]
pub struct GitHubArtifactDatabaseBuilder {
    repository: Repository,
    /// Hypothesis's storage directory, under which the default cache directory is.
    storage_home: PathBuf,
    settings: Settings,
    /// An environment variable `from_env` could not use (not UTF-8): reported by `build`.
    env_error: Option<&'static str>,
}

impl GitHubArtifactDatabaseBuilder {
    /// Every default, no repository.
    fn defaults() -> Self {
        GitHubArtifactDatabaseBuilder {
            repository: Repository::Missing,
            env_error: None,
            storage_home: PathBuf::from(".hypothesis"),
            settings: Settings {
                artifact_name: DEFAULT_ARTIFACT_NAME.to_owned(),
                cache_dir: None,
                cache_timeout: DEFAULT_CACHE_TIMEOUT,
                token: None,
                api_url: DEFAULT_API_URL.to_owned(),
                strict: false,
                limits: ArchiveLimits::default(),
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
                download_timeout: DEFAULT_DOWNLOAD_TIMEOUT,
                allow_insecure_http: false,
                lock_wait: Duration::from_secs(120),
            },
        }
    }

    /// Every default for `owner/repo`: what [`GitHubArtifactDatabase::builder`] returns.
    pub(crate) fn new(owner: impl Into<String>, repo: impl Into<String>) -> Self {
        Self::defaults().repository(owner, repo)
    }

    /// The defaults plus the environment, the only place this backend reads it:
    ///
    /// | variable | sets |
    /// |---|---|
    /// | `GITHUB_REPOSITORY` (`OWNER/REPO`, set by GitHub Actions) | [`repository`](Self::repository) |
    /// | `GITHUB_TOKEN` | [`token`](Self::token) |
    /// | `GITHUB_API_URL` (set by GitHub Actions; GitHub Enterprise Server's API there) | [`api_url`](Self::api_url) |
    /// | `HYPOTHESIS_STORAGE_DIRECTORY` | the default cache directory's parent, as in Hypothesis |
    ///
    /// Variables that are unset or empty are ignored. Outside GitHub Actions, name the
    /// repository with [`repository`](Self::repository) (or [`with_url`](Self::with_url));
    /// without one, [`build`](Self::build) fails with
    /// [`Error::InvalidConfig`](exampledb_core::Error::InvalidConfig) saying so. A
    /// `GITHUB_REPOSITORY` that is not `OWNER/REPO` is reported by `build` too, unless a
    /// repository is set afterwards.
    ///
    /// ```no_run
    /// use exampledb_github::GitHubArtifactDatabaseBuilder;
    /// // In GitHub Actions: this repository, with the job's token and API.
    /// let db = GitHubArtifactDatabaseBuilder::from_env().build()?;
    /// // Elsewhere: the token from GITHUB_TOKEN, the repository named.
    /// let db = GitHubArtifactDatabaseBuilder::from_env()
    ///     .repository("my-org", "my-repo")
    ///     .build()?;
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn from_env() -> Self {
        let mut builder = Self::defaults();
        let mut var = |name: &'static str| match std::env::var(name) {
            Ok(v) if !v.is_empty() => Some(v),
            Ok(_) | Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                builder.env_error.get_or_insert(name);
                None
            }
        };
        let (repository, token, api_url) = (var(REPOSITORY_ENV), var(TOKEN_ENV), var(API_URL_ENV));
        builder.storage_home = exampledb_core::directory::storage_home();
        if let Some(value) = repository {
            builder.repository = match value.split_once('/') {
                Some((owner, repo))
                    if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') =>
                {
                    Repository::Named {
                        owner: owner.to_owned(),
                        repo: repo.to_owned(),
                    }
                }
                _ => Repository::InvalidEnv(value),
            };
        }
        if let Some(token) = token {
            builder.settings.token = Some(Token::new(token));
        }
        if let Some(url) = api_url {
            builder.settings.api_url = url;
        }
        builder
    }

    /// Settings from a URL, starting from the defaults (no environment is read): see
    /// [`with_url`](Self::with_url) for the form. A token cannot be given in a URL:
    /// start from [`from_env`](Self::from_env) and call `with_url` for one from
    /// `GITHUB_TOKEN`, or set [`token`](Self::token) afterwards.
    ///
    /// ```
    /// use exampledb_github::GitHubArtifactDatabaseBuilder;
    /// let db = GitHubArtifactDatabaseBuilder::from_url(
    ///     "github://my-org/my-repo/db-frontend?cache_timeout=1h&strict=true",
    /// )?
    /// .build()?;
    /// assert!(db.cache_dir().ends_with("github-artifacts/db-frontend"));
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        Self::defaults().with_url(url)
    }

    /// Applies a URL `github://OWNER/REPO[/ARTIFACT]?option=value&...`: sets the
    /// [`repository`](Self::repository), the [`artifact_name`](Self::artifact_name) when
    /// the path has a third segment, then each query parameter as an
    /// [option](Self::with_option), in order. Path segments and parameters are
    /// percent-decoded.
    ///
    /// Refused with [`Error::InvalidConfig`](exampledb_core::Error::InvalidConfig):
    /// another scheme, `github:` without `//`, a missing owner or repository, an empty
    /// artifact name (a trailing `/`), segments after the artifact name, names GitHub
    /// does not allow, an unknown or repeated parameter, an artifact name given both in
    /// the path and as `artifact_name`, and a token, as a `token` parameter (or any
    /// parameter whose name holds `token`) or as user information (`github://TOKEN@...`):
    /// tokens do not belong in URLs, which end up in logs and shell history (use
    /// `GITHUB_TOKEN` with [`from_env`](Self::from_env), or [`token`](Self::token)). The
    /// token is never repeated in the error.
    ///
    /// ```
    /// use exampledb_github::GitHubArtifactDatabaseBuilder;
    /// let builder = GitHubArtifactDatabaseBuilder::from_env()
    ///     .with_url("github://my-org/my-repo?operation_timeout=10s&max_total_size=64MiB")?;
    /// assert!(GitHubArtifactDatabaseBuilder::from_url("github://my-org/my-repo?token=x").is_err());
    /// assert!(GitHubArtifactDatabaseBuilder::from_url("github://my-org").is_err());
    /// # let _ = builder;
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn with_url(mut self, url: &str) -> Result<Self> {
        refuse_token_parameter(url)?;
        let parsed = QueryUrl::parse(BACKEND, url)?;
        if parsed.scheme() != "github" {
            return Err(invalid(
                BACKEND,
                format!(
                    "a {}: URL is not a GitHub artifact URL (expected {URL_FORM})",
                    parsed.scheme()
                ),
            ));
        }
        let base = parsed.base();
        let malformed = |why: &str| invalid(BACKEND, format!("URL {base:?} {why}"));
        let Some(path) = base[parsed.scheme().len() + 1..].strip_prefix("//") else {
            return Err(malformed(&format!("is not of the form {URL_FORM}")));
        };
        // User information (`TOKEN@`, `user:TOKEN@`), as git URLs carry tokens.
        let authority = path.split('/').next().unwrap_or_default();
        if authority.contains('@') || authority.to_ascii_lowercase().contains("%40") {
            return Err(token_in_url());
        }
        let segments = path
            .split('/')
            .map(decode_segment)
            .collect::<Result<Vec<_>>>()?;
        let no_repository = || malformed(&format!("names no repository (expected {URL_FORM})"));
        let (owner, repo, artifact) = match segments.as_slice() {
            [owner, ..] if owner.is_empty() => {
                return Err(malformed(&format!("names no owner (expected {URL_FORM})")))
            }
            [_] => return Err(no_repository()),
            [_, repo, ..] if repo.is_empty() => return Err(no_repository()),
            [owner, repo] => (owner, repo, None),
            [_, _, artifact] if artifact.is_empty() => {
                return Err(malformed(&format!(
                    "has an empty artifact name (leave out the trailing '/' for the default, {DEFAULT_ARTIFACT_NAME})"
                )))
            }
            [owner, repo, artifact] => (owner, repo, Some(artifact)),
            _ => {
                return Err(malformed(&format!(
                    "has {} path segment(s) after the artifact name (expected {URL_FORM}; an artifact name cannot hold '/')",
                    segments.len() - 3
                )))
            }
        };
        check_repository(owner, repo)?;
        self = self.repository(owner.as_str(), repo.as_str());
        if let Some(artifact) = artifact {
            check_artifact_name(artifact)?;
            self = self.artifact_name(artifact.as_str());
        }
        for (key, value) in parsed.options() {
            if !OPTIONS.contains(&key.as_str()) {
                let url_options: Vec<&str> =
                    OPTIONS.iter().copied().filter(|k| *k != "token").collect();
                return Err(unknown_option(BACKEND, key, &url_options));
            }
            if key == "artifact_name" && artifact.is_some() {
                return Err(malformed(
                    "gives the artifact name twice: in the path and as artifact_name",
                ));
            }
            self = self.with_option(key, value)?;
        }
        Ok(self)
    }

    /// The repository, `owner/repo` (set by [`GitHubArtifactDatabase::builder`]; from
    /// `GITHUB_REPOSITORY` with [`from_env`](Self::from_env)).
    pub fn repository(mut self, owner: impl Into<String>, repo: impl Into<String>) -> Self {
        self.repository = Repository::Named {
            owner: owner.into(),
            repo: repo.into(),
        };
        self
    }

    /// The artifact's name (default [`DEFAULT_ARTIFACT_NAME`]); one per database in a
    /// monorepo.
    pub fn artifact_name(mut self, name: impl Into<String>) -> Self {
        self.settings.artifact_name = name.into();
        self
    }

    /// The cache directory (default `.hypothesis/github-artifacts/<artifact name>/`, under
    /// `$HYPOTHESIS_STORAGE_DIRECTORY` instead of `.hypothesis` with
    /// [`from_env`](Self::from_env) when that is set; Hypothesis's `path` argument).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.cache_dir = Some(dir.into());
        self
    }

    /// How long a cached zip is used before a new one is downloaded (default one day).
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.settings.cache_timeout = timeout;
        self
    }

    /// The token (default none; `$GITHUB_TOKEN` with [`from_env`](Self::from_env)).
    /// Public repositories need none.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.settings.token = Some(Token::new(token));
        self
    }

    /// The REST API's base URL (default [`DEFAULT_API_URL`]; `$GITHUB_API_URL` with
    /// [`from_env`](Self::from_env)); for GitHub Enterprise Server, `https://HOST/api/v3`.
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

    /// Limits on the archive, all at once (see [`ArchiveLimits`]; each also has its own
    /// setter, [`max_entries`](Self::max_entries) and so on).
    pub fn limits(mut self, limits: ArchiveLimits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// [`ArchiveLimits::max_entries`]: entries in the zip's central directory (default
    /// 100,000).
    pub fn max_entries(mut self, n: u64) -> Self {
        self.settings.limits.max_entries = n;
        self
    }

    /// [`ArchiveLimits::max_entry_size`]: uncompressed bytes of one entry (default 8 MiB).
    pub fn max_entry_size(mut self, bytes: u64) -> Self {
        self.settings.limits.max_entry_size = bytes;
        self
    }

    /// [`ArchiveLimits::max_total_size`]: uncompressed bytes of all value entries together
    /// (default 256 MiB).
    pub fn max_total_size(mut self, bytes: u64) -> Self {
        self.settings.limits.max_total_size = bytes;
        self
    }

    /// [`ArchiveLimits::max_download_size`]: bytes downloaded (default 256 MiB).
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        self.settings.limits.max_download_size = bytes;
        self
    }

    /// The longest wait to establish a connection to the API or the blob host (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 10 s). A host that does not accept the connection in
    /// time is a [`Problem::Timeout`](crate::Problem::Timeout) naming this limit.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The longest wait for each answer (connecting included) and for each pause within
    /// an answer's body (default [`DEFAULT_OPERATION_TIMEOUT`], 30 s). A silent server is
    /// a [`Problem::Timeout`](crate::Problem::Timeout), never a hang. See also
    /// [`download_timeout`](Self::download_timeout), the overall deadline.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// The longest the whole download may take, from the first request to the API to the
    /// archive's last byte (default [`DEFAULT_DOWNLOAD_TIMEOUT`], 10 minutes). Where
    /// [`operation_timeout`](Self::operation_timeout) stops a server that falls silent,
    /// this stops one that never stops talking (one byte a second keeps every pause
    /// short). When it passes, the download fails with
    /// [`Problem::Timeout`](crate::Problem::Timeout) and the database falls back as for
    /// any other failure.
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

    /// Sets one option by its name, the typed setter's name:
    ///
    /// | key | value |
    /// |---|---|
    /// | `artifact_name`, `cache_dir`, `token`, `api_url` | text |
    /// | `strict`, `allow_insecure_http` | a boolean ([`parse_bool`]) |
    /// | `cache_timeout`, `connect_timeout`, `operation_timeout`, `download_timeout` | a duration ([`parse_duration`]: `500ms`, `30s`, `1h`) |
    /// | `max_entries` | a whole number |
    /// | `max_entry_size`, `max_total_size`, `max_download_size` | a size ([`parse_size`]: `1048576`, `8MiB`) |
    ///
    /// An unknown key or a value that does not parse is [`Error::InvalidConfig`](exampledb_core::Error::InvalidConfig) naming
    /// the key. (`token` is accepted here, from code, but refused in a URL.)
    pub fn with_option(self, key: &str, value: &str) -> Result<Self> {
        let duration = || parse_duration(BACKEND, key, value);
        let boolean = || parse_bool(BACKEND, key, value);
        let size = || parse_size(BACKEND, key, value);
        Ok(match key {
            "artifact_name" => self.artifact_name(value),
            "cache_dir" if value.is_empty() => {
                return Err(invalid(BACKEND, "option cache_dir: an empty path"))
            }
            "cache_dir" => self.cache_dir(value),
            "cache_timeout" => self.cache_timeout(duration()?),
            "token" => self.token(value),
            "api_url" => self.api_url(value),
            "strict" => self.strict(boolean()?),
            "allow_insecure_http" => self.allow_insecure_http(boolean()?),
            "connect_timeout" => self.connect_timeout(duration()?),
            "operation_timeout" => self.operation_timeout(duration()?),
            "download_timeout" => self.download_timeout(duration()?),
            "max_entries" => self.max_entries(parse_count(BACKEND, key, value)?),
            "max_entry_size" => self.max_entry_size(size()?),
            "max_total_size" => self.max_total_size(size()?),
            "max_download_size" => self.max_download_size(size()?),
            _ => return Err(unknown_option(BACKEND, key, OPTIONS)),
        })
    }

    /// Checks the settings; nothing is read or downloaded until first use (or
    /// [`check`](GitHubArtifactDatabase::check)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](exampledb_core::Error::InvalidConfig) when no repository is named, for names GitHub does not
    /// allow, a token that cannot be sent in a header, an API URL that is not `http(s)`
    /// or has a query, a token bound for plain `http` off loopback (see
    /// [`allow_insecure_http`](Self::allow_insecure_http)), or a zero time limit.
    pub fn build(self) -> Result<GitHubArtifactDatabase> {
        if let Some(name) = self.env_error {
            return Err(invalid(
                BACKEND,
                format!("the environment variable {name} is not valid UTF-8"),
            ));
        }
        let (owner, repo) = match self.repository {
            Repository::Named { owner, repo } => (owner, repo),
            Repository::Missing => {
                return Err(invalid(
                    BACKEND,
                    format!(
                        "no repository: set {REPOSITORY_ENV}=OWNER/REPO (GitHub Actions sets it), call repository(owner, repo), or use a {URL_FORM} URL"
                    ),
                ))
            }
            Repository::InvalidEnv(value) => {
                return Err(invalid(
                    BACKEND,
                    format!("{REPOSITORY_ENV} {value:?} is not OWNER/REPO"),
                ))
            }
        };
        check_repository(&owner, &repo)?;
        let mut settings = self.settings;
        settings.check()?;
        let storage_home = match settings.cache_dir {
            Some(_) => None,
            None => {
                let home = self.storage_home;
                settings.cache_dir =
                    Some(home.join("github-artifacts").join(&settings.artifact_name));
                Some(home)
            }
        };
        let cache_dir = settings.cache_dir.clone().unwrap_or_default();
        Ok(GitHubArtifactDatabase::new(
            owner,
            repo,
            settings,
            cache_dir,
            storage_home,
        ))
    }
}

impl DatabaseBuilder for GitHubArtifactDatabaseBuilder {
    type Database = GitHubArtifactDatabase;
    const OPTIONS: &'static [&'static str] = OPTIONS;

    fn with_option(self, key: &str, value: &str) -> Result<Self> {
        GitHubArtifactDatabaseBuilder::with_option(self, key, value)
    }

    fn build(self) -> Result<GitHubArtifactDatabase> {
        GitHubArtifactDatabaseBuilder::build(self)
    }
}

/// Refuses a URL whose query has a `token` parameter (any case; or any parameter whose
/// name holds `token`) before anything else reads the query, so that no error can
/// repeat its value.
fn refuse_token_parameter(url: &str) -> Result<()> {
    let Some((_, query)) = url.split_once('?') else {
        return Ok(());
    };
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let has_token = query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        let key =
            exampledb_core::config::percent_decode(BACKEND, key).unwrap_or_else(|_| key.to_owned());
        key.to_ascii_lowercase().contains("token")
    });
    if has_token {
        return Err(token_in_url());
    }
    Ok(())
}

/// The refusal of a token in a URL (which it does not repeat).
fn token_in_url() -> exampledb_core::Error {
    invalid(
        BACKEND,
        format!(
            "a token does not belong in a URL (URLs end up in logs and shell history): set {TOKEN_ENV} and start from GitHubArtifactDatabaseBuilder::from_env(), or call token() in code"
        ),
    )
}

/// A URL path segment, percent-decoded (`+` stays `+`).
fn decode_segment(segment: &str) -> Result<String> {
    exampledb_core::config::percent_decode(BACKEND, segment)
}

/// GitHub's owner and repository names: letters, digits, `-`, `_`, `.`; not `.` or `..`.
fn check_repository(owner: &str, repo: &str) -> Result<()> {
    for (what, value) in [("owner", owner), ("repository", repo)] {
        let valid = !value.is_empty()
            && value != "."
            && value != ".."
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(invalid(
                BACKEND,
                format!(
                    "{what} {value:?} is not a GitHub {what} name (letters, digits, '-', '_', '.')"
                ),
            ));
        }
    }
    Ok(())
}

/// The artifact names GitHub allows (none of `/ \ : " < > | * ?`, CR, LF, NUL), and
/// never `.` or `..` (the name is a directory of the cache).
fn check_artifact_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains([
            '/', '\\', '\0', ':', '"', '<', '>', '|', '*', '?', '\r', '\n',
        ])
    {
        return Err(invalid(
            BACKEND,
            format!("artifact name {name:?} is not a valid GitHub artifact name"),
        ));
    }
    Ok(())
}

impl Settings {
    fn check(&self) -> Result<()> {
        check_artifact_name(&self.artifact_name)?;
        if self.token.as_ref().is_some_and(|t| !t.is_sendable()) {
            return Err(invalid(
                BACKEND,
                "the token holds characters that cannot be sent in an HTTP header",
            ));
        }
        match self.api_url.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.authority().is_some()
                    && uri.query().is_none() => {}
            _ => {
                return Err(invalid(
                    BACKEND,
                    format!(
                        "API URL {:?} is not an http(s) URL without a query",
                        problem::redact_url(&self.api_url)
                    ),
                ))
            }
        }
        if self.token.is_some() && !self.allow_insecure_http && api::sends_cleartext(&self.api_url)
        {
            return Err(invalid(
                BACKEND,
                format!(
                    "API URL {} (from api_url or ${API_URL_ENV}) is plain http to a host that is not loopback, so the token would cross the network in cleartext: use https, or set allow_insecure_http(true) to send it anyway (a public repository needs no token)",
                    problem::redact_url(&self.api_url)
                ),
            ));
        }
        for (name, timeout) in [
            ("connect_timeout", self.connect_timeout),
            ("operation_timeout", self.operation_timeout),
            ("download_timeout", self.download_timeout),
        ] {
            if timeout.is_zero() {
                return Err(invalid(BACKEND, format!("{name} must be more than zero")));
            }
        }
        Ok(())
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
        assert_eq!(
            db.cache_dir(),
            std::path::Path::new(".hypothesis/github-artifacts/db-frontend")
        );
        Ok(())
    }

    #[test]
    fn path_segments_decode_percent_escapes_only() -> Result<()> {
        assert_eq!(decode_segment("db%20one+two")?, "db one+two");
        assert_eq!(decode_segment("a%2Fb")?, "a/b");
        assert!(decode_segment("a%2").is_err());
        assert!(decode_segment("%ff").is_err());
        Ok(())
    }

    #[test]
    fn options_are_the_setters() -> Result<()> {
        let mut builder = GitHubArtifactDatabase::builder("o", "r");
        for key in OPTIONS {
            let value = match *key {
                "strict" | "allow_insecure_http" => "true",
                k if k.ends_with("timeout") => "2s",
                "max_entries" => "5",
                k if k.starts_with("max_") => "1MiB",
                "api_url" => "https://ghe.example/api/v3",
                _ => "x",
            };
            builder = builder.with_option(key, value)?;
        }
        let s = &builder.settings;
        assert_eq!(s.artifact_name, "x");
        assert_eq!(s.cache_dir, Some(PathBuf::from("x")));
        assert_eq!(s.token, Some(Token::new("x")));
        assert_eq!(s.api_url, "https://ghe.example/api/v3");
        assert!(s.strict && s.allow_insecure_http);
        for t in [
            s.cache_timeout,
            s.connect_timeout,
            s.operation_timeout,
            s.download_timeout,
        ] {
            assert_eq!(t, Duration::from_secs(2));
        }
        assert_eq!(
            s.limits,
            ArchiveLimits::default()
                .max_entries(5)
                .max_entry_size(1 << 20)
                .max_total_size(1 << 20)
                .max_download_size(1 << 20)
        );
        let err = builder.with_option("colour", "blue").unwrap_err();
        assert!(err.to_string().contains("\"colour\""), "{err}");
        Ok(())
    }
}
