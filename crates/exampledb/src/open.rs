//! [`open`]: any example database from one string. The one place URLs are told apart by
//! scheme; each backend parses the rest of its own URL form (see
//! [`exampledb_core::config`] for the convention they share).

use std::sync::Arc;

use exampledb_core::config::{invalid, is_scheme, without_secrets, DatabaseBuilder, QueryUrl};
use exampledb_core::directory::DirectoryDatabaseBuilder;
use exampledb_core::{ExampleDatabase, InMemoryDatabase, Multiplexed, ReadOnly, Result};

/// The environment variable that names the default database for tools (the `exampledb`
/// command, test harnesses): any string [`open`] takes, the recipe included. See
/// [`open_default`].
pub const DATABASE_ENV: &str = "EXAMPLEDB_DATABASE";

/// Separates the members of a multiplexed recipe: `LOCAL;readonly:SHARED`.
pub const MEMBER_SEPARATOR: char = ';';

/// Marks a member (or a whole URL) as read-only: `readonly:URL`.
pub const READ_ONLY_PREFIX: &str = "readonly:";

/// What `open` reports errors as when no backend is known yet.
const FACADE: &str = "exampledb";

/// Opens the database `url` names. See [`open_with`] for the forms.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("exampledb-open-doc-{}", std::process::id()));
/// # let url = format!("file:{}?durable=true", dir.display());
/// // A directory database (Hypothesis's layout) with fsync, from one string:
/// let db = exampledb::open(&url)?;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// db.save(b"key", b"value").await?;
/// assert_eq!(db.fetch(b"key").await?.len(), 1);
/// # Ok::<(), exampledb::Error>(()) })?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), exampledb::Error>(())
/// ```
pub fn open(url: &str) -> Result<Box<dyn ExampleDatabase>> {
    open_with(url, std::iter::empty::<(&str, &str)>())
}

/// Opens the database `url` names, with `options` applied after the URL's own query
/// parameters (the same keys; see each backend's `with_option`).
///
/// | form | database | needs feature |
/// |---|---|---|
/// | `PATH` (no scheme), `file:PATH`, `file:///ABSOLUTE/PATH` | [`DirectoryDatabase`](crate::DirectoryDatabase) | - |
/// | `memory:` | [`InMemoryDatabase`] | - |
/// | `redis://[user:password@]host[:port][/db]` | `exampledb::redis::RedisDatabase` | `redis` |
/// | `rediss://...` (TLS) | the same | `redis-tls` |
/// | `github://OWNER/REPO[/ARTIFACT]` | `exampledb::github::GitHubArtifactDatabase` | `github` |
/// | `s3://BUCKET/PREFIX`, `dynamodb://TABLE` | not built yet | `s3`, `dynamodb` |
/// | `readonly:URL` | any of the above in [`ReadOnly`] | |
/// | `URL;URL;...` | the members in [`Multiplexed`] (the recipe) | |
///
/// - Options come from a URL's query (`?key=value&...`, percent-encoded). A plain path is
///   never parsed for a query; use `file:` to give options. Unknown options are errors.
/// - The environment a backend documents is read first and the URL wins over it (the
///   GitHub token from `GITHUB_TOKEN`, its API from `GITHUB_API_URL`; `REDIS_URL` is
///   overridden by the URL's server).
/// - **The recipe** every team uses, a local directory multiplexed with a read-only shared
///   store, is one string: `.hypothesis/examples;readonly:github://my-org/my-repo`.
///   Writes go to the directory (the read-only member turns them into no-ops); fetches
///   see both. `options` apply only to single-database URLs.
/// - A path holding `;` or starting with `SCHEME:` must be written as a `file:` URL with
///   the `;` percent-encoded (`%3B`).
///
/// Every problem is an [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming it: a
/// malformed URL, an unknown scheme or option, a bad value, or a scheme whose feature is
/// not enabled (the message names the feature). Nothing connects until first use.
///
/// ```
/// // The recipe: writes to a local directory, reads CI's store too.
/// # let dir = std::env::temp_dir().join(format!("exampledb-recipe-doc-{}", std::process::id()));
/// let db = exampledb::open(&format!("{};readonly:memory:", dir.display()))?;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// db.save(b"key", b"value").await?;
/// # Ok::<(), exampledb::Error>(()) })?;
/// # std::fs::remove_dir_all(&dir).ok();
/// let err = exampledb::open("ftp://example.com/db").unwrap_err();
/// assert!(err.to_string().contains("unknown scheme"), "{err}");
/// # Ok::<(), exampledb::Error>(())
/// ```
pub fn open_with<I, K, V>(url: &str, options: I) -> Result<Box<dyn ExampleDatabase>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let options: Vec<(String, String)> = options
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    let members: Vec<&str> = url.split(MEMBER_SEPARATOR).collect();
    if members.len() == 1 {
        return open_member(url, &options).map(into_box);
    }
    if !options.is_empty() {
        return Err(invalid(
            FACADE,
            "options were given with a multiplexed URL: put them in each member's query",
        ));
    }
    let members = members
        .iter()
        .map(|m| open_member(m.trim(), &[]))
        .collect::<Result<Vec<_>>>()?;
    Ok(Box::new(Multiplexed::new(members)))
}

/// The database [`DATABASE_ENV`] names, else Hypothesis's default: the directory database
/// at `$HYPOTHESIS_STORAGE_DIRECTORY/examples` or `.hypothesis/examples`.
pub fn open_default() -> Result<Box<dyn ExampleDatabase>> {
    match std::env::var(DATABASE_ENV) {
        Ok(url) if !url.trim().is_empty() => open(url.trim()),
        _ => Ok(Box::new(DirectoryDatabaseBuilder::from_env().build()?)),
    }
}

fn into_box(db: Arc<dyn ExampleDatabase>) -> Box<dyn ExampleDatabase> {
    Box::new(db)
}

fn open_member(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    if spec.is_empty() {
        return Err(invalid(FACADE, "an empty database URL"));
    }
    if let Some(inner) = spec.strip_prefix(READ_ONLY_PREFIX) {
        return Ok(Arc::new(ReadOnly::new(open_member(inner, options)?)));
    }
    let scheme = spec
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| is_scheme(s))
        .map(str::to_ascii_lowercase);
    let Some(scheme) = scheme else {
        // A plain path: never parsed for a query.
        return built(DirectoryDatabaseBuilder::from_url(spec)?, options);
    };
    match scheme.as_str() {
        "file" => built(DirectoryDatabaseBuilder::from_url(spec)?, options),
        "memory" => memory(spec, options),
        "redis" | "rediss" => redis(spec, &scheme, options),
        "github" => github(spec, options),
        "s3" | "dynamodb" => Err(invalid(
            FACADE,
            format!(
                "{scheme}:// databases are not built yet: the exampledb-{scheme} crate (feature `{scheme}`) is planned"
            ),
        )),
        other => Err(invalid(
            FACADE,
            format!(
                "unknown scheme {other:?} in {:?}; known: a path, file:, memory:, redis://, rediss://, github://, s3://, dynamodb:// (write file:PATH for a path that looks like a URL)",
                without_secrets(spec)
            ),
        )),
    }
}

fn built<B: DatabaseBuilder>(
    builder: B,
    options: &[(String, String)],
) -> Result<Arc<dyn ExampleDatabase>> {
    let db = builder
        .with_options(options.iter().map(|(k, v)| (k, v)))?
        .build()?;
    Ok(Arc::new(db))
}

fn memory(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    let url = QueryUrl::parse("memory", spec)?;
    if !url.rest().is_empty() {
        return Err(invalid(
            "memory",
            format!("memory: takes no path, got {:?}", url.rest()),
        ));
    }
    if let Some((key, _)) = url.options().iter().chain(options).next() {
        return Err(invalid(
            "memory",
            format!("unknown option {key:?}; the memory database takes none"),
        ));
    }
    Ok(Arc::new(InMemoryDatabase::new()))
}

#[cfg(feature = "redis")]
fn redis(
    spec: &str,
    scheme: &str,
    options: &[(String, String)],
) -> Result<Arc<dyn ExampleDatabase>> {
    #[cfg(not(feature = "redis-tls"))]
    if scheme == "rediss" {
        return Err(feature_missing("rediss://", "redis-tls"));
    }
    #[cfg(feature = "redis-tls")]
    let _ = scheme;
    built(
        exampledb_redis::RedisDatabaseBuilder::from_env().with_url(spec)?,
        options,
    )
}

#[cfg(not(feature = "redis"))]
fn redis(
    _spec: &str,
    scheme: &str,
    _options: &[(String, String)],
) -> Result<Arc<dyn ExampleDatabase>> {
    let feature = if scheme == "rediss" {
        "redis-tls"
    } else {
        "redis"
    };
    Err(feature_missing(&format!("{scheme}://"), feature))
}

#[cfg(feature = "github")]
fn github(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    built(
        exampledb_github::GitHubArtifactDatabaseBuilder::from_env().with_url(spec)?,
        options,
    )
}

#[cfg(not(feature = "github"))]
fn github(_spec: &str, _options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    Err(feature_missing("github://", "github"))
}

#[cfg(any(
    not(feature = "redis"),
    not(feature = "github"),
    not(feature = "redis-tls")
))]
fn feature_missing(what: &str, feature: &str) -> exampledb_core::Error {
    invalid(
        FACADE,
        format!(
            "{what} URLs need the `{feature}` feature of the exampledb crate: exampledb = {{ version = \"{}\", features = [\"{feature}\"] }}",
            env!("CARGO_PKG_VERSION")
        ),
    )
}
