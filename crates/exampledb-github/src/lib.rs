//! # exampledb-github
//!
//! CI's example database, replayed locally: a read-only
//! [`ExampleDatabase`](exampledb_core::ExampleDatabase) over the newest GitHub Actions
//! artifact holding a Hypothesis directory database, compatible with Python Hypothesis's
//! `GitHubArtifactDatabase` (same artifact, same cache directory, same cache file names).
//!
//! CI runs the tests or a fuzzer and uploads `.hypothesis/examples` as an artifact (by
//! default named `hypothesis-example-db`); every developer's test run then replays CI's
//! failures with no manual step, usually through
//! `Multiplexed(local directory, ReadOnly(GitHubArtifactDatabase))`:
//!
//! ```no_run
//! use std::sync::Arc;
//! use exampledb_core::{DirectoryDatabase, ExampleDatabase, Multiplexed, ReadOnly};
//! use exampledb_github::GitHubArtifactDatabaseBuilder;
//! # async fn demo() -> exampledb_core::Result<()> {
//! let local = DirectoryDatabase::default_location()?;
//! // The token from GITHUB_TOKEN, the API from GITHUB_API_URL (GitHub Enterprise Server)
//! // or api.github.com; the repository named here (in GitHub Actions, GITHUB_REPOSITORY
//! // names it).
//! let ci = GitHubArtifactDatabaseBuilder::from_env()
//!     .repository("my-org", "my-repo")
//!     .build()?;
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
//! ## Configuration
//! The crate follows the workspace's [configuration convention](exampledb_core::config):
//!
//! | call | what it does |
//! |---|---|
//! | [`GitHubArtifactDatabase::builder(owner, repo)`](GitHubArtifactDatabase::builder) | every default; reads **no** environment variable (no token, [`DEFAULT_API_URL`]) |
//! | [`GitHubArtifactDatabaseBuilder::from_env()`](GitHubArtifactDatabaseBuilder::from_env) | the defaults, then the environment (below); the only place it is read |
//! | [`GitHubArtifactDatabaseBuilder::from_url(url)`](GitHubArtifactDatabaseBuilder::from_url) | the defaults, then [`with_url(url)`](GitHubArtifactDatabaseBuilder::with_url) |
//! | [`builder.with_url(url)`](GitHubArtifactDatabaseBuilder::with_url) | `github://OWNER/REPO[/ARTIFACT]?option=value&...`: the repository, the artifact name, then the options |
//! | [`builder.with_option(key, value)`](GitHubArtifactDatabaseBuilder::with_option) | one option by its string name (also through [`DatabaseBuilder`](exampledb_core::config::DatabaseBuilder)) |
//! | [`builder.build()`](GitHubArtifactDatabaseBuilder::build) | checks every setting; reads and downloads nothing yet |
//! | [`db.check().await`](GitHubArtifactDatabase::check) | opens now (cache or download) and returns an error when CI's examples are unavailable |
//!
//! The environment [`from_env`](GitHubArtifactDatabaseBuilder::from_env) reads:
//!
//! | variable | sets |
//! |---|---|
//! | `GITHUB_REPOSITORY` (`OWNER/REPO`; set by GitHub Actions) | the repository |
//! | `GITHUB_TOKEN` | the token |
//! | `GITHUB_API_URL` (set by GitHub Actions) | the API URL |
//! | `HYPOTHESIS_STORAGE_DIRECTORY` | where the default cache directory is, as in Hypothesis |
//!
//! The options, by key (each is also the typed setter of that name). Durations are
//! `500ms`, `30s`, `5m`, `1h`, `8d`; sizes `1048576`, `512KiB`, `8MiB`, `1GiB`; booleans
//! `true` / `false`:
//!
//! | key | value | default |
//! |---|---|---|
//! | `artifact_name` | the artifact's name | [`DEFAULT_ARTIFACT_NAME`] |
//! | `cache_dir` | a directory | `.hypothesis/github-artifacts/<artifact name>` |
//! | `cache_timeout` | duration: how long a cached zip is used | `1d` ([`DEFAULT_CACHE_TIMEOUT`]) |
//! | `token` | the token; **not accepted in a URL** | none |
//! | `api_url` | the REST API's base URL | [`DEFAULT_API_URL`] |
//! | `strict` | boolean: failures are errors instead of warnings | `false` |
//! | `allow_insecure_http` | boolean: the token may go over plain http off loopback | `false` |
//! | `connect_timeout` | duration: establishing a connection | `10s` ([`DEFAULT_CONNECT_TIMEOUT`]) |
//! | `operation_timeout` | duration: each answer, and each pause within one | `30s` ([`DEFAULT_OPERATION_TIMEOUT`]) |
//! | `download_timeout` | duration: the whole download | `10m` ([`DEFAULT_DOWNLOAD_TIMEOUT`]) |
//! | `max_entries` | whole number: entries in the zip | `100000` |
//! | `max_entry_size` | size: one entry, uncompressed | `8MiB` |
//! | `max_total_size` | size: all values, uncompressed | `256MiB` |
//! | `max_download_size` | size: the download | `256MiB` |
//!
//! ```
//! use exampledb_github::GitHubArtifactDatabaseBuilder;
//! let db = GitHubArtifactDatabaseBuilder::from_url(
//!     "github://my-org/my-repo/db-frontend?cache_timeout=1h&operation_timeout=10s&max_total_size=64MiB",
//! )?
//! .build()?;
//! assert!(db.cache_dir().ends_with("github-artifacts/db-frontend"));
//! // Tokens do not belong in URLs (logs, shell history): GITHUB_TOKEN or token().
//! assert!(GitHubArtifactDatabaseBuilder::from_url("github://my-org/my-repo?token=ghp_x").is_err());
//! # Ok::<(), exampledb_core::Error>(())
//! ```
//!
//! A token comes from code ([`token`](GitHubArtifactDatabaseBuilder::token)) or from
//! `GITHUB_TOKEN` through [`from_env`](GitHubArtifactDatabaseBuilder::from_env); to
//! combine it with a URL, start from the environment:
//! `GitHubArtifactDatabaseBuilder::from_env().with_url("github://my-org/my-repo")?`.
//!
//! ## What happens on first use
//! The database opens lazily, on the first fetch (or [`check`](GitHubArtifactDatabase::check)),
//! exactly as Hypothesis does:
//! 1. In the cache directory (default `.hypothesis/github-artifacts/<artifact name>/`, under
//!    `$HYPOTHESIS_STORAGE_DIRECTORY` with `from_env` when that is set), every cached
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
//! [`Error::Backend`](exampledb_core::Error::Backend) whose source is the [`Problem`] and
//! whose [`kind`](exampledb_core::Error::kind) tells bad credentials, permissions, rate
//! limits, a missing artifact and time-outs apart.
//! [`check`](GitHubArtifactDatabase::check) returns the same error whatever `strict`
//! says, for callers who want to know now.
//!
//! ## Security
//! - The token is sent to the API's host only. The download URL answers with a redirect
//!   to pre-signed blob storage on another host, which is followed by an HTTP client that
//!   holds no token. Redirects are followed to `http` and `https` URLs only.
//! - The token is never sent in cleartext across a network: with a token set,
//!   [`build`](GitHubArtifactDatabaseBuilder::build) refuses a plain `http://` API URL
//!   (for example from `GITHUB_API_URL`) with
//!   [`Error::InvalidConfig`](exampledb_core::Error::InvalidConfig), unless its host is
//!   loopback (`localhost`, `127.0.0.0/8`, `::1`) or
//!   [`allow_insecure_http(true)`](GitHubArtifactDatabaseBuilder::allow_insecure_http)
//!   opts in. An API answer that points back at the API's host over `http` (a listing's
//!   download URL or next page) is refused by the same rule.
//! - The token is never read from a URL, and never appears in `Debug` output, errors or
//!   logs; pre-signed URLs appear without their query (their signature).
//! - Entries that are not `<hash>/<hash>` files (absolute paths, `..`, links, anything
//!   else) are ignored, and [`ArchiveLimits`] on entry count, entry size, total size and
//!   download size stop zip bombs with a clear [`Problem::ArchiveLimit`]. The entry
//!   count and the central directory's size are checked from the zip's end record before
//!   the central directory is parsed, so memory stays bounded by the limits, whatever the
//!   archive declares.
//! - Every wait is bounded:
//!   [`connect_timeout`](GitHubArtifactDatabaseBuilder::connect_timeout) for establishing
//!   each connection,
//!   [`operation_timeout`](GitHubArtifactDatabaseBuilder::operation_timeout) for each
//!   answer and each pause within one, and
//!   [`download_timeout`](GitHubArtifactDatabaseBuilder::download_timeout) for the whole
//!   download, so a server that trickles bytes cannot hold a test run forever.
//!
//! ## Writes
//! The artifact is read-only: `save`, `delete` and `move_value` return
//! [`Error::ReadOnly`](exampledb_core::Error::ReadOnly). Wrap the database in
//! [`ReadOnly`](exampledb_core::ReadOnly) to turn them into no-ops. `keys()` works when
//! the archive holds Hypothesis's meta-keys entry. `subscribe()` gives a stream that never
//! yields: an opened artifact does not change.
//!
//! ## Modules
//! `config` (the builder, its options and URL), `database` (the database and its
//! `ExampleDatabase` implementation), `open` (the open sequence), `status`, `problem`,
//! `api` (GitHub's REST API and the download), `cache` (the cache directory), `archive`
//! and `eocd` (reading the zip).
#![deny(missing_docs)]

mod api;
mod archive;
mod cache;
mod config;
mod database;
mod eocd;
mod open;
mod problem;
mod status;

pub use config::{
    ArchiveLimits, GitHubArtifactDatabaseBuilder, Token, API_URL_ENV, DEFAULT_API_URL,
    DEFAULT_ARTIFACT_NAME, DEFAULT_CACHE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_OPERATION_TIMEOUT, REPOSITORY_ENV, TOKEN_ENV,
};
pub use database::GitHubArtifactDatabase;
pub use problem::Problem;
pub use status::Status;
