//! [`open`]: any example database from one string. The one place URLs are told apart by
//! scheme; each backend parses the rest of its own URL form (see
//! [`exampledb_core::config`] for the convention they share).

use std::sync::Arc;

use exampledb_core::config::{invalid, is_scheme, DatabaseBuilder, QueryUrl};
use exampledb_core::directory::DirectoryDatabaseBuilder;
use exampledb_core::{ExampleDatabase, InMemoryDatabase, Multiplexed, ReadOnly, Result};

/// The environment variable that names the default database for tools (the `exampledb`
/// command, test harnesses): any string [`open`] takes, the recipe included. See
/// [`open_default`].
pub const DATABASE_ENV: &str = "EXAMPLEDB_DATABASE";

/// Separates the members of a multiplexed recipe: `LOCAL;readonly:SHARED`.
pub const MEMBER_SEPARATOR: char = ';';

/// Marks a member (or a whole URL) as read-only: `readonly:URL` (any case).
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
/// | `s3://BUCKET[/PREFIX]` | `exampledb::s3::S3Database` (the AWS chain for credentials) | `s3` |
/// | `dynamodb://TABLE` | `exampledb::dynamodb::DynamoDatabase` (the AWS chain for credentials) | `dynamodb` |
/// | `readonly:URL` | any of the above in [`ReadOnly`] | |
/// | `URL;URL;...` | the members in [`Multiplexed`] (the recipe) | |
///
/// - Options come from a URL's query (`?key=value&...`, percent-encoded). A plain path is
///   never parsed for a query; use `file:` to give options. Unknown options are errors.
/// - The environment a backend documents is read first and the URL wins over it (the
///   GitHub token from `GITHUB_TOKEN`, its API from `GITHUB_API_URL`; `REDIS_URL` is
///   overridden by the URL's server; S3 uses the standard AWS chain for region and
///   credentials).
/// - **The recipe** every team uses, a local directory multiplexed with a read-only shared
///   store, is one string: `.hypothesis/examples;readonly:github://my-org/my-repo`.
///   Writes go to the directory (the read-only member turns them into no-ops); fetches
///   see both. `options` apply only to single-database URLs.
/// - A `;` inside a URL (a password, a query value, a path) must be written `%3B`, and a
///   path that starts with `SCHEME:`, or, in a recipe, holds `@` or `:`, as a `file:` URL;
///   a recipe member that can only be the tail of a URL split at a `;` is refused.
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
    let mut members = members_with(url, options)?;
    if members.len() == 1 {
        if let Some(only) = members.pop() {
            return Ok(into_box(only));
        }
    }
    Ok(Box::new(Multiplexed::new(members)))
}

/// The members of a multiplexed URL (`URL;URL;...`), trimmed, in order, with the checks
/// [`open`] makes on the split (a `;` that can only be inside one URL is refused); a
/// single URL gives itself. Each member is a URL [`open`] takes, `readonly:` included, so
/// a caller can open them one by one and go on without a member that cannot be opened.
///
/// ```
/// let members = exampledb::split_members(".hypothesis/examples; readonly:redis://ci:6379/0")?;
/// assert_eq!(members, [".hypothesis/examples", "readonly:redis://ci:6379/0"]);
/// # Ok::<(), exampledb::Error>(())
/// ```
pub fn split_members(url: &str) -> Result<Vec<&str>> {
    let members: Vec<&str> = url.split(MEMBER_SEPARATOR).map(str::trim).collect();
    if members.len() > 1 {
        check_split(&members)?;
    }
    Ok(members)
}

fn members_with<I, K, V>(url: &str, options: I) -> Result<Vec<Arc<dyn ExampleDatabase>>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let options: Vec<(String, String)> = options
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    let members = split_members(url)?;
    if members.len() == 1 {
        return Ok(vec![open_member(members[0], &options)?]);
    }
    if !options.is_empty() {
        return Err(invalid(
            FACADE,
            "options were given with a multiplexed URL: put them in each member's query",
        ));
    }
    members.iter().map(|m| open_member(m, &[])).collect()
}

/// The database [`DATABASE_ENV`] names, else Hypothesis's default: the directory database
/// at `$HYPOTHESIS_STORAGE_DIRECTORY/examples` or `.hypothesis/examples`.
pub fn open_default() -> Result<Box<dyn ExampleDatabase>> {
    match default_url()? {
        Some(url) => open(&url),
        None => Ok(Box::new(DirectoryDatabaseBuilder::from_env().build()?)),
    }
}

/// The URL [`DATABASE_ENV`] holds, trimmed, if it holds one (`None` when it is unset or
/// blank; an error naming the variable when it is not UTF-8). [`open_default`] opens it,
/// else Hypothesis's default directory.
pub fn default_url() -> Result<Option<String>> {
    match std::env::var(DATABASE_ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url.trim().to_owned())),
        Err(std::env::VarError::NotUnicode(_)) => Err(invalid(
            FACADE,
            format!("the environment variable {DATABASE_ENV} is not valid UTF-8"),
        )),
        _ => Ok(None),
    }
}

/// A `;` inside one URL (a password, a query value) would split it into members that are
/// not what was meant, and a plain path made of a URL's tail would be created as a
/// directory: refuse what can only come from that. The members are not echoed (they may
/// hold a password).
fn check_split(members: &[&str]) -> Result<()> {
    for (i, member) in members.iter().enumerate() {
        let plain_path = scheme_of(strip_read_only(member)).is_none();
        let after_query = i > 0 && members[i - 1].contains('?');
        let looks_like_a_tail =
            plain_path && (after_query || strip_read_only(member).contains(['@', ':']));
        if looks_like_a_tail {
            return Err(invalid(
                FACADE,
                format!(
                    "member {} of the multiplexed URL looks like part of the member before it, split at a ';' (in a password or a query value?): write a ';' inside a URL as %3B, and a path holding '@' or ':' as a file: URL",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// `spec` without its `readonly:` prefixes (any case, repeated or not).
fn strip_read_only(mut spec: &str) -> &str {
    loop {
        match spec.get(..READ_ONLY_PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(READ_ONLY_PREFIX) => {
                spec = spec[READ_ONLY_PREFIX.len()..].trim_start();
            }
            _ => return spec,
        }
    }
}

/// The scheme of `spec`, lowercase, if it has one.
fn scheme_of(spec: &str) -> Option<String> {
    spec.split_once(':')
        .map(|(s, _)| s)
        .filter(|s| is_scheme(s))
        .map(str::to_ascii_lowercase)
}

fn into_box(db: Arc<dyn ExampleDatabase>) -> Box<dyn ExampleDatabase> {
    Box::new(db)
}

fn open_member(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    let inner = strip_read_only(spec);
    if inner.len() != spec.len() {
        // One wrapper, however many prefixes: read-only twice is read-only.
        return Ok(Arc::new(ReadOnly::new(open_store(inner, options)?)));
    }
    open_store(spec, options)
}

fn open_store(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    if spec.is_empty() {
        return Err(invalid(FACADE, "an empty database URL"));
    }
    let Some(scheme) = scheme_of(spec) else {
        // A plain path: never parsed for a query.
        return built(DirectoryDatabaseBuilder::from_url(spec)?, options);
    };
    match scheme.as_str() {
        "file" => built(DirectoryDatabaseBuilder::from_url(spec)?, options),
        "memory" => memory(spec, options),
        "redis" | "rediss" => redis(spec, &scheme, options),
        "github" => github(spec, options),
        "s3" => s3(spec, options),
        "dynamodb" => dynamodb(spec, options),
        other => Err(invalid(
            FACADE,
            format!(
                "unknown scheme {other:?}; known: a path, file:, memory:, redis://, rediss://, github://, s3://, dynamodb:// (write file:PATH for a path that looks like a URL)"
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

#[cfg(feature = "s3")]
fn s3(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    built(
        exampledb_s3::S3DatabaseBuilder::from_env().with_url(spec)?,
        options,
    )
}

#[cfg(not(feature = "s3"))]
fn s3(_spec: &str, _options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    Err(feature_missing("s3://", "s3"))
}

#[cfg(feature = "dynamodb")]
fn dynamodb(spec: &str, options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    built(
        exampledb_dynamodb::DynamoDatabaseBuilder::from_env().with_url(spec)?,
        options,
    )
}

#[cfg(not(feature = "dynamodb"))]
fn dynamodb(_spec: &str, _options: &[(String, String)]) -> Result<Arc<dyn ExampleDatabase>> {
    Err(feature_missing("dynamodb://", "dynamodb"))
}

#[cfg(any(
    not(feature = "redis"),
    not(feature = "github"),
    not(feature = "redis-tls"),
    not(feature = "s3"),
    not(feature = "dynamodb")
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
