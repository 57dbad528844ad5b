//! Opening the database a command names: a URL, `$EXAMPLEDB_DATABASE`, or Hypothesis's
//! default location; checked before it is read.

use exampledb::{ExampleDatabase, DATABASE_ENV};

/// The directory a database URL names, when it is a plain directory database (a path or
/// `file:`), without its options.
pub(crate) fn directory_of(url: &str) -> Option<std::path::PathBuf> {
    if url.contains(';') || url.starts_with("readonly:") || url.starts_with("memory:") {
        return None;
    }
    let path = match url.strip_prefix("file:") {
        Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
        None if url.contains("://") => return None,
        None => url,
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    Some(std::path::PathBuf::from(path))
}

/// A database to inspect, and how to name it to the user.
pub(crate) struct Store {
    /// The database.
    pub(crate) db: Box<dyn ExampleDatabase>,
    /// Its name for the user, without secrets.
    pub(crate) location: String,
}

/// Opens `url` (or the default database) and checks it can be read now (creating
/// nothing).
pub(crate) async fn open(url: Option<&str>) -> Result<Store, String> {
    // The URL given, else the environment's (what `open_default` reads).
    let named = url.map(str::to_owned).or_else(|| {
        std::env::var(DATABASE_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
    });
    let default_root = || exampledb::directory::storage_home().join("examples");
    let (db, location) = match &named {
        Some(url) => (
            exampledb::open(url),
            exampledb::config::without_secrets(url),
        ),
        None => (
            exampledb::open_default(),
            default_root().display().to_string(),
        ),
    };
    let db = db.map_err(|e| e.to_string())?;
    // A directory database that is not there is a mistyped path (or no test has run):
    // say so, rather than list it as empty.
    let directory = match &named {
        Some(url) => directory_of(url),
        None => Some(default_root()),
    };
    if let Some(dir) = directory.filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(format!(
                "no example database at {}: {}",
                dir.display(),
                if dir.exists() {
                    "it is not a directory"
                } else {
                    "the directory does not exist (mistyped, or no test has saved an example yet)"
                }
            ));
        }
    }
    // Reading is all keys and show do: nothing is created, read access suffices.
    db.check_read().await.map_err(|e| e.to_string())?;
    Ok(Store { db, location })
}

/// Opens `url` to be written: checked now (`check`, which may create what a backend
/// creates on first use, such as a directory database's root).
pub(crate) async fn open_for_write(url: &str) -> Result<Store, String> {
    let db = exampledb::open(url).map_err(|e| e.to_string())?;
    db.check().await.map_err(|e| e.to_string())?;
    Ok(Store {
        db,
        location: exampledb::config::without_secrets(url),
    })
}
