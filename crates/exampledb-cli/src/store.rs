//! Opening the database a command names: a URL, `$EXAMPLEDB_DATABASE`, or Hypothesis's
//! default location; checked before it is read.

use std::path::PathBuf;

use exampledb::{ExampleDatabase, DATABASE_ENV, MEMBER_SEPARATOR, READ_ONLY_PREFIX};

/// A member of a database URL without white space and any `readonly:` in front.
fn unwrapped(member: &str) -> &str {
    let mut url = member.trim();
    while let Some(rest) = url.strip_prefix(READ_ONLY_PREFIX) {
        url = rest.trim();
    }
    url
}

/// The directory a single database URL names when it is a directory database (a plain
/// path, taken literally as the library takes it, or `file:` without its query), with
/// any `readonly:` in front taken off.
fn directory_of_member(member: &str) -> Option<PathBuf> {
    let url = unwrapped(member);
    if url.starts_with("memory:") {
        return None;
    }
    let path = match url.strip_prefix("file:") {
        Some(rest) => {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            rest.split_once('?').map_or(rest, |(p, _)| p)
        }
        None if url.contains("://") => return None,
        None => url,
    };
    Some(PathBuf::from(path))
}

/// Every directory a database URL names: itself, or each member of a multiplexed URL
/// (`LOCAL;readonly:SHARED`), `readonly:` or not.
pub(crate) fn directories_of(url: &str) -> Vec<PathBuf> {
    url.split(MEMBER_SEPARATOR)
        .filter_map(directory_of_member)
        .collect()
}

/// How to name `url` to the user: a plain path (no `:`) as it is, since the library takes
/// it literally (`?` included), anything else without its secrets.
pub(crate) fn location_of(url: &str) -> String {
    let url = url.trim();
    if url.contains(':') {
        exampledb::config::without_secrets(url)
    } else {
        url.to_owned()
    }
}

/// Whether every member of `url` is `readonly:`: writes to it would be no-ops.
pub(crate) fn is_read_only(url: &str) -> bool {
    url.split(MEMBER_SEPARATOR)
        .all(|m| m.trim().starts_with(READ_ONLY_PREFIX))
}

/// A database to inspect, and how to name it to the user.
pub(crate) struct Store {
    /// The database.
    pub(crate) db: Box<dyn ExampleDatabase>,
    /// Its name for the user, without secrets.
    pub(crate) location: String,
    /// Its root, when it is one directory database (what `watch` keeps an eye on).
    pub(crate) root: Option<PathBuf>,
}

/// Fails when a directory `url` names is missing or not a directory: a mistyped path (or
/// no test has run) is said, rather than listed as an empty database.
fn check_directories(url: Option<&str>, default_root: PathBuf) -> Result<Vec<PathBuf>, String> {
    let dirs = match url {
        Some(url) => directories_of(url),
        None => vec![default_root],
    };
    for dir in &dirs {
        if !dir.is_dir() {
            return Err(format!(
                "no example database at {}: {}",
                if dir.as_os_str().is_empty() {
                    "an empty path".to_owned()
                } else {
                    dir.display().to_string()
                },
                if dir.exists() {
                    "it is not a directory"
                } else {
                    "the directory does not exist (mistyped, or no test has saved an example yet)"
                }
            ));
        }
    }
    Ok(dirs)
}

/// The URL given, else `$EXAMPLEDB_DATABASE` (what `open_default` reads), trimmed as the
/// library trims it.
fn named(url: Option<&str>) -> Option<String> {
    url.map(|u| u.trim().to_owned()).or_else(|| {
        std::env::var(DATABASE_ENV)
            .ok()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
    })
}

/// Opens `url` (or the default database) and checks it can be read now (creating
/// nothing).
pub(crate) async fn open(url: Option<&str>) -> Result<Store, String> {
    let named = named(url);
    let default_root = exampledb::directory::storage_home().join("examples");
    let (db, location) = match &named {
        Some(url) => (exampledb::open(url), location_of(url)),
        None => (
            exampledb::open_default(),
            default_root.display().to_string(),
        ),
    };
    let db = db.map_err(|e| e.to_string())?;
    let dirs = check_directories(named.as_deref(), default_root)?;
    // Reading is all keys and show do: nothing is created, read access suffices.
    db.check_read().await.map_err(|e| e.to_string())?;
    let single = named
        .as_deref()
        .is_none_or(|u| !u.contains(MEMBER_SEPARATOR));
    Ok(Store {
        db,
        location,
        root: dirs.into_iter().next().filter(|_| single),
    })
}

/// Opens `url` to be written: refused when every member is `readonly:` (each write would
/// be a no-op), else checked now (`check`, which may create what a backend creates on
/// first use, such as a directory database's root).
pub(crate) async fn open_for_write(url: &str) -> Result<Store, String> {
    let location = location_of(url);
    if is_read_only(url) {
        return Err(format!(
            "{location} is read-only: nothing can be written to it"
        ));
    }
    let db = exampledb::open(url.trim()).map_err(|e| e.to_string())?;
    db.check().await.map_err(|e| e.to_string())?;
    Ok(Store {
        db,
        location,
        root: None,
    })
}

/// What `cp --dry-run` writes into: `url` opened and checked for reading, except that a
/// directory database that does not exist yet (which a copy would create) is an empty
/// stand-in, its URL checked all the same.
pub(crate) async fn open_for_dry_run(url: &str) -> Result<Store, String> {
    let location = location_of(url);
    if is_read_only(url) {
        return Err(format!(
            "{location} is read-only: nothing can be written to it"
        ));
    }
    let missing =
        !url.contains(MEMBER_SEPARATOR) && directories_of(url).first().is_some_and(|d| !d.exists());
    if missing {
        // Parsing the URL creates nothing; its errors (an unknown option) are the copy's.
        exampledb::open(url.trim()).map_err(|e| e.to_string())?;
        return Ok(Store {
            db: exampledb::open("memory:").map_err(|e| e.to_string())?,
            location,
            root: None,
        });
    }
    open(Some(url)).await
}

/// `%XX` escapes of a URL's query value decoded (`+` is a plus sign, as the library reads
/// it); invalid escapes stay as they are.
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Where a network member keeps its data, as far as overlap goes: (scheme, server and
/// store, endpoint) and the byte prefix its keys are stored under.
fn network_storage(member: &str) -> Option<((String, String, String), Vec<u8>)> {
    let (scheme, rest) = member.split_once("://")?;
    let scheme = if scheme == "rediss" { "redis" } else { scheme };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let option = |names: &[&str]| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| names.contains(k))
            .map(|(_, v)| percent_decoded(v))
            .next_back()
    };
    let endpoint = option(&["endpoint"]).unwrap_or_default();
    let endpoint = String::from_utf8_lossy(&endpoint).into_owned();
    let hypothesis_prefix = b"hypothesis-example:".to_vec();
    match scheme {
        "redis" => {
            let (authority, db) = base.split_once('/').unwrap_or((base, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = if host.contains(':') {
                host.to_owned()
            } else {
                format!("{host}:6379")
            };
            let db = db.trim_matches('/');
            let db = if db.is_empty() { "0" } else { db };
            let prefix = option(&["key_prefix"]).unwrap_or(hypothesis_prefix);
            Some(((scheme.into(), format!("{host}/{db}"), endpoint), prefix))
        }
        "s3" => {
            let (bucket, prefix) = base.split_once('/').unwrap_or((base, ""));
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() {
                Vec::new()
            } else {
                format!("{prefix}/").into_bytes()
            };
            Some(((scheme.into(), bucket.to_owned(), endpoint), prefix))
        }
        "dynamodb" => {
            let prefix = option(&["key_prefix", "prefix"]).unwrap_or(hypothesis_prefix);
            Some((
                (scheme.into(), base.trim_matches('/').to_owned(), endpoint),
                prefix,
            ))
        }
        _ => None,
    }
}

/// Where `src` and `dst` share storage (the same or nested directories, or one store with
/// key prefixes of which one begins the other), said for the user: `cp --delete` between
/// them could delete through DST what SRC holds.
pub(crate) fn shared_storage(src: &str, dst: &str) -> Option<String> {
    for s in src.split(MEMBER_SEPARATOR).map(unwrapped) {
        for d in dst.split(MEMBER_SEPARATOR).map(unwrapped) {
            if let (Some(a), Some(b)) = (directory_of_member(s), directory_of_member(d)) {
                let (Ok(a), Ok(b)) = (a.canonicalize(), b.canonicalize()) else {
                    continue;
                };
                if a.starts_with(&b) || b.starts_with(&a) {
                    return Some(format!("{} and {}", a.display(), b.display()));
                }
            } else if let (Some((a, pa)), Some((b, pb))) = (network_storage(s), network_storage(d))
            {
                if a == b && (pa.starts_with(&pb) || pb.starts_with(&pa)) {
                    return Some(format!(
                        "{} and {}",
                        exampledb::config::without_secrets(s),
                        exampledb::config::without_secrets(d)
                    ));
                }
            }
        }
    }
    None
}
