//! Opening the database a command names: a URL, `$EXAMPLEDB_DATABASE`, or Hypothesis's
//! default location; checked before it is read.

use std::path::PathBuf;

use exampledb::{ExampleDatabase, DATABASE_ENV, MEMBER_SEPARATOR, READ_ONLY_PREFIX};

/// The directory a single database URL names when it is a directory database (a plain
/// path, taken literally as the library takes it, or `file:` without its query), with
/// any `readonly:` in front taken off.
fn directory_of_member(member: &str) -> Option<PathBuf> {
    let mut url = member.trim();
    while let Some(rest) = url.strip_prefix(READ_ONLY_PREFIX) {
        url = rest.trim();
    }
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
