//! [`DirectoryDatabase`]: Hypothesis's on-disk database, byte for byte.
//!
//! # Layout (the same as Python Hypothesis's `DirectoryBasedExampleDatabase`)
//!
//! ```text
//! <root>/<h(key)>/<h(value)>            the raw value bytes
//! <root>/04e6b3400353b141/<h(key)>      the raw key (the meta-keys entry; 04e6… = h(".hypothesis-keys"))
//! ```
//!
//! where `h` is [`hypothesis_hash`](crate::hypothesis_hash); the rules on what is a value,
//! a meta-keys entry and a key are in [`layout`](crate::layout). Files are created with
//! mode 0600 and directories with the process umask (0755 usually), as Hypothesis does. A
//! save writes the meta-keys entry before the value; a delete that empties a key's
//! directory removes it and then the meta-keys entry; a move leaves the source's meta-keys
//! entry in place, as Hypothesis does.
//!
//! # Guarantees
//!
//! **Atomic writes; what a reader can see.** A value file appears whole or not at all, to
//! every reader, Python Hypothesis's included, and is never rewritten (its name is its
//! content's hash). On Linux its content is written to an unnamed `O_TMPFILE` in the key
//! directory and linked to its name; a killed writer leaves nothing behind. Elsewhere (or
//! with [`unnamed_temp_files(false)`](DirectoryDatabaseBuilder::unnamed_temp_files), or on
//! file systems without `O_TMPFILE`) it is written to a locked temporary file in
//! `.exampledb-tmp-<root name>` *beside* the root, on the same file system, and renamed
//! into place: Hypothesis's fetch and its file watcher never look there. A killed writer's
//! temporary file is removed by the next process that writes this way (at its first write,
//! then at most every minute), or by [`DirectoryDatabase::remove_stale_temp_files`]. When
//! no directory beside the root can be used (the root is a mount point, its parent is not
//! writable) the temporary directory is `.exampledb-tmp` inside the root, which is never a
//! key directory. Hypothesis's own temporary file lives in the system temp directory and
//! falls back to a non-atomic copy across file systems.
//!
//! **Several processes.** Any number of processes, Python Hypothesis's included, may share
//! a root. Every save, delete and move is one atomic file-system change to a value file;
//! a delete of a key's last value then removes its directory and meta-keys entry. Among
//! exampledb processes every key that holds a value keeps its meta-keys entry under any
//! interleaving (a race in Hypothesis's order that could lose it is closed; see
//! [`layout`](crate::layout) for the keys rule). A move is a rename: at no moment is the
//! value in neither key.
//!
//! **Links and special files.** Nothing below the root is read, written, removed or
//! renamed through a symbolic link: a key directory that is a link is treated as missing
//! by fetch, delete, move and `keys()`, and a save into it fails with an error naming it.
//! Only regular files are read, opened without blocking, so a FIFO, device or socket in a
//! key directory is skipped (with a warning) and can neither hang nor flood a reader. One
//! read allocates at most [`max_value_size`](DirectoryDatabaseBuilder::max_value_size)
//! (default 64 MiB); a larger file is skipped with a warning and a larger value is refused
//! by save with [`Error::TooLarge`]. The root itself may be a link.
//! These guarantees hold on Unix; elsewhere the portable calls follow links.
//!
//! **Descriptors kept between calls.** A database keeps descriptors of up to 8 recently
//! used key directories (64 per process in all), so that a move is a `renameat2` and a
//! delete an `unlinkat` without opening and closing directories. Before each use the key
//! directory's path is looked at without following a link, and the descriptor is used
//! only if that finds the very directory it holds; otherwise (a directory removed, made
//! again, renamed away or replaced by a link; a root swapped) the operation is done by
//! path under the rules above.
//!
//! **A damaged layout.**
//! - A meta-keys directory that is a regular file: saves go on (as in Hypothesis) with one
//!   warning; `keys()` lists nothing and warns.
//! - A meta-keys entry that is not a regular file: `keys()` skips it with a warning; the
//!   next save of that key (in a process that has not recorded it) replaces it if it is a
//!   link or an empty directory.
//! - A key directory left empty (a save that failed for lack of space, a killed process):
//!   not listed by `keys()`, which lists only keys that hold a value. A save that created
//!   the directory and then failed removes it again with its meta-keys entry.
//!
//! # Where it does better than Hypothesis
//! - Atomic writes on every file system (above).
//! - The meta-keys entry is not checked on disk again for keys this process has already
//!   recorded (it is rewritten whenever the key's directory had to be created again).
//! - [`DirectoryDatabaseBuilder::durable`] fsyncs each file and its directory.
//! - Change events for this process's own deletes carry the deleted value.
//!
//! # Change events
//! [`subscribe`](crate::ExampleDatabase::subscribe) watches the root with the `notify`
//! crate (inotify, FSEvents, ReadDirectoryChangesW), mapping hashed names back to keys
//! through the meta-keys entry, so writes by other processes are reported: saves with their
//! value, moves as a delete then a save, deletes with the value when the watcher has read
//! that file since listening started (a bounded cache; a value file's name is its content's
//! hash) and `value: None` otherwise, as in Hypothesis. Relative roots (the default,
//! `.hypothesis/examples`) are watched at their absolute location; links below the root are
//! not followed. A value that appears before its key's meta-keys entry is reported when
//! the entry appears.
//!
//! This process's own changes are reported directly by the call that made them, exactly
//! and in order (before the call returns); the watcher skips them. Other processes'
//! changes arrive shortly after they happen. Like Hypothesis's watchdog listener, the
//! watcher can miss another process's value that is written and removed again within a
//! new key directory before its watch is in place.

mod fs;
mod handles;
mod own;
mod store;
mod watch;
mod write;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ChangeStream, Error, ErrorKind, ExampleDatabase, Operation, Result};
use store::Inner;
use write::Writer;

/// The largest value a directory database reads or writes by default: 64 MiB.
pub const DEFAULT_MAX_VALUE_SIZE: u64 = 64 << 20;

const BACKEND: &str = "directory";

/// The name of the environment variable that moves Hypothesis's storage directory.
pub const STORAGE_DIRECTORY_ENV: &str = "HYPOTHESIS_STORAGE_DIRECTORY";

/// Written into the storage directory when it is created, as Hypothesis does, so that
/// examples are not committed by accident.
const GITIGNORE: &str = "# Created by exampledb, as Hypothesis does: the example database is a\n\
# local cache and is not meant for version control.\n*\n";

/// Hypothesis's storage directory: `$HYPOTHESIS_STORAGE_DIRECTORY` when that variable is
/// set and not empty, else `.hypothesis` under the current directory. Hypothesis keeps its
/// example database in `examples` and the GitHub-artifact cache in `github-artifacts`
/// there.
///
/// ```
/// let home = exampledb_core::directory::storage_home();
/// assert!(home.ends_with(".hypothesis") || std::env::var_os("HYPOTHESIS_STORAGE_DIRECTORY").is_some());
/// ```
pub fn storage_home() -> PathBuf {
    std::env::var_os(STORAGE_DIRECTORY_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".hypothesis"))
}

/// Creates `dir` and its parents. When `home` (Hypothesis's storage directory, see
/// [`storage_home`]) does not exist yet it is created first with a `.gitignore` holding
/// `*`, as Hypothesis does, so that the cache is not committed by accident.
pub fn create_storage_dir(home: Option<&Path>, dir: &Path) -> io::Result<()> {
    if let Some(home) = home {
        if std::fs::symlink_metadata(home).is_err() {
            std::fs::create_dir_all(home)?;
            std::fs::write(home.join(".gitignore"), GITIGNORE)?;
        }
    }
    std::fs::create_dir_all(dir)
}

/// A database of files under a root directory, in Python Hypothesis's exact layout; see
/// the [module documentation](self) for the layout and guarantees.
///
/// Nothing is created on disk until the first write. Clones share state.
///
/// ```
/// use exampledb_core::{DirectoryDatabase, ExampleDatabase};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = DirectoryDatabase::open(dir.path().join("examples"))?;
/// db.save(b"k1", b"v1").await?;
/// // Exactly where Python Hypothesis puts it:
/// let file = dir.path().join("examples/04a6304fb6fbd10a/a49554886eaec884");
/// assert_eq!(std::fs::read(file).unwrap(), b"v1");
/// assert_eq!(db.keys().await?, vec![bytes::Bytes::from("k1")]);
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct DirectoryDatabase {
    inner: Arc<Inner>,
}

/// Settings for a [`DirectoryDatabase`]; from [`DirectoryDatabase::builder`].
#[derive(Debug, Clone)]
pub struct DirectoryDatabaseBuilder {
    root: PathBuf,
    storage_home: Option<PathBuf>,
    durable: bool,
    offload: bool,
    unnamed_temp_files: bool,
    max_value_size: u64,
}

/// The option keys [`DirectoryDatabaseBuilder::with_option`] takes.
const OPTIONS: &[&str] = &[
    "durable",
    "offload_to_blocking_pool",
    "unnamed_temp_files",
    "max_value_size",
];

/// A name for a file that shows whether `root` is writable, removed at once (hidden and
/// not a hash name: never a key directory).
fn tempfile_probe(root: &Path) -> PathBuf {
    root.join(format!(".exampledb-check-{}", std::process::id()))
}

impl DirectoryDatabaseBuilder {
    /// Settings for Hypothesis's default location, from the environment as Hypothesis
    /// reads it: `$HYPOTHESIS_STORAGE_DIRECTORY/examples` when that variable is set (and
    /// not empty), else `.hypothesis/examples` under the current directory. When the
    /// storage directory is created, a `.gitignore` holding `*` is written into it, as
    /// Hypothesis does. The only place this backend reads the environment.
    pub fn from_env() -> Self {
        let home = storage_home();
        let mut builder = DirectoryDatabase::builder(home.join("examples"));
        builder.storage_home = Some(home);
        builder
    }

    /// Settings from a URL: `file:PATH` (relative or absolute), `file:///ABSOLUTE/PATH`,
    /// or a plain path (which is never parsed for a query). A `file:` URL's query
    /// parameters are options ([`with_option`](Self::with_option)):
    ///
    /// ```
    /// use exampledb_core::directory::DirectoryDatabaseBuilder;
    /// let db = DirectoryDatabaseBuilder::from_url("file:.hypothesis/examples?durable=true")?.build()?;
    /// assert_eq!(db.root(), std::path::Path::new(".hypothesis/examples"));
    /// let db = DirectoryDatabaseBuilder::from_url("/tmp/a?b")?.build()?; // a plain path
    /// assert_eq!(db.root(), std::path::Path::new("/tmp/a?b"));
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        if !url
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("file:"))
        {
            if url.is_empty() {
                return Err(crate::config::invalid(BACKEND, "an empty path"));
            }
            return Ok(DirectoryDatabase::builder(url));
        }
        let parsed = crate::config::QueryUrl::parse(BACKEND, url)?;
        let rest = &parsed.base()["file:".len()..];
        // (The scheme's case does not matter: FILE: is file:.)
        // file:///abs -> /abs; file://localhost/abs -> /abs; file:rel -> rel; file:/abs -> /abs
        let path = match rest.strip_prefix("//") {
            Some(with_host) => match with_host.find('/') {
                Some(0) => with_host,
                Some(at) if &with_host[..at] == "localhost" => &with_host[at..],
                _ => {
                    return Err(crate::config::invalid(
                        BACKEND,
                        format!("file URL {url:?} names a host; only local paths are supported"),
                    ))
                }
            },
            None => rest,
        };
        let path = crate::config::percent_decode(BACKEND, path)?;
        if path.is_empty() {
            return Err(crate::config::invalid(
                BACKEND,
                format!("file URL {url:?} has no path"),
            ));
        }
        crate::config::DatabaseBuilder::with_options(
            DirectoryDatabase::builder(path),
            parsed.options().iter().map(|(k, v)| (k, v)),
        )
    }

    /// fsync every written file and the directories whose entries change, so that a
    /// save that returned survives a power loss. Off by default, as in Hypothesis; its cost
    /// is in `docs/BENCHMARKS.md`.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Run file-system calls on tokio's blocking thread pool instead of the calling task.
    ///
    /// Off by default: each operation is a handful of short local system calls (a few
    /// microseconds each on a local disk), cheaper than the hand-off to another thread.
    /// Turn it on when the root is on a slow or network file system, so that a stalled
    /// disk cannot hold up other tasks on the runtime.
    pub fn offload_to_blocking_pool(mut self, offload: bool) -> Self {
        self.offload = offload;
        self
    }

    /// Use unnamed temporary files (Linux `O_TMPFILE`) where the file system supports them
    /// (the default). Off forces the portable named-temporary-file path everywhere.
    pub fn unnamed_temp_files(mut self, enabled: bool) -> Self {
        self.unnamed_temp_files = enabled;
        self
    }

    /// The largest value read or written (default [`DEFAULT_MAX_VALUE_SIZE`]): a save of
    /// a larger value fails with [`Error::TooLarge`] before anything is written, and a
    /// larger file in a key directory is skipped with a warning. It bounds what one read
    /// may allocate.
    pub fn max_value_size(mut self, bytes: u64) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Sets one option by its name (the setters' names: `durable`,
    /// `offload_to_blocking_pool`, `unnamed_temp_files`, `max_value_size`).
    pub fn with_option(self, key: &str, value: &str) -> Result<Self> {
        use crate::config::{parse_bool, parse_size};
        Ok(match key {
            "durable" => self.durable(parse_bool(BACKEND, key, value)?),
            "offload_to_blocking_pool" => {
                self.offload_to_blocking_pool(parse_bool(BACKEND, key, value)?)
            }
            "unnamed_temp_files" => self.unnamed_temp_files(parse_bool(BACKEND, key, value)?),
            "max_value_size" => self.max_value_size(parse_size(BACKEND, key, value)?),
            _ => return Err(crate::config::unknown_option(BACKEND, key, OPTIONS)),
        })
    }

    /// Builds the database. Fails if the root exists and is not a directory.
    pub fn build(self) -> Result<DirectoryDatabase> {
        if self.max_value_size == 0 {
            return Err(crate::config::invalid(
                BACKEND,
                "max_value_size must be more than zero",
            ));
        }
        if let Ok(meta) = std::fs::metadata(&self.root) {
            if !meta.is_dir() {
                return Err(Error::InvalidConfig {
                    backend: BACKEND,
                    message: format!("root {} exists and is not a directory", self.root.display()),
                });
            }
        }
        let writer = Writer::new(&self.root, self.durable, self.unnamed_temp_files);
        Ok(DirectoryDatabase {
            inner: Arc::new(Inner::new(
                self.root,
                self.storage_home,
                writer,
                self.offload,
                self.max_value_size,
            )),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its map consistent; a panic elsewhere cannot corrupt it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for DirectoryDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryDatabase")
            .field("root", &self.inner.root)
            .field("durable", &self.inner.writer.is_durable())
            .field("offload", &self.inner.offload)
            .finish_non_exhaustive()
    }
}

impl DirectoryDatabase {
    /// A database rooted at `root` with default settings.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::builder(root).build()
    }

    /// Settings for a database rooted at `root`.
    pub fn builder(root: impl Into<PathBuf>) -> DirectoryDatabaseBuilder {
        DirectoryDatabaseBuilder {
            root: root.into(),
            storage_home: None,
            durable: false,
            offload: false,
            unnamed_temp_files: true,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }

    /// Hypothesis's default location with default settings:
    /// [`DirectoryDatabaseBuilder::from_env`], built.
    pub fn default_location() -> Result<Self> {
        DirectoryDatabaseBuilder::from_env().build()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Removes the temporary files that killed writers left (only the named-temporary-file
    /// write path creates them; see the [module documentation](self)) now, rather than at
    /// the next write. Files whose writer is still running are left alone. Returns how
    /// many were removed.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        self.inner
            .writer
            .sweep_now()
            .map_err(|e| Error::io(BACKEND, Operation::Open, self.inner.root.display(), e))
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        if self.inner.offload {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let inner = Arc::clone(&self.inner);
                return match handle.spawn_blocking(move || f(&inner)).await {
                    Ok(result) => result,
                    Err(join) => Err(Error::Backend {
                        backend: BACKEND,
                        operation: Operation::Open,
                        location: self.inner.root.display().to_string(),
                        kind: ErrorKind::Other,
                        temporary: false,
                        source: Box::new(join),
                    }),
                };
            }
        }
        f(&self.inner)
    }
}

/// The database Hypothesis uses when none is configured: the directory database at the
/// default location ([`DirectoryDatabaseBuilder::from_env`]), or,
/// when that location cannot be used (no permission to create it, or a file in its way),
/// an in-memory database with a warning, as Hypothesis falls back.
///
/// ```
/// let db = exampledb_core::directory::default_database();
/// # let _ = db;
/// ```
pub fn default_database() -> Arc<dyn ExampleDatabase> {
    let builder = DirectoryDatabaseBuilder::from_env();
    let root = builder.root.clone();
    match builder.build() {
        Ok(db) if usable_dir(&root) => Arc::new(db),
        Ok(_) | Err(_) => {
            tracing::warn!(
                path = %root.display(),
                "the default example database location is unusable; falling back to an in-memory database for this session"
            );
            Arc::new(crate::InMemoryDatabase::new())
        }
    }
}

/// Whether `path` exists as a writable directory, or its nearest existing ancestor is one.
fn usable_dir(path: &Path) -> bool {
    let mut path = path.to_path_buf();
    loop {
        match std::fs::metadata(&path) {
            Ok(meta) => {
                return meta.is_dir() && !meta.permissions().readonly();
            }
            Err(_) => {
                if !path.pop() || path.as_os_str().is_empty() {
                    // A relative path whose first component is missing: the current directory.
                    return std::fs::metadata(".")
                        .is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
                }
            }
        }
    }
}

#[async_trait]
impl ExampleDatabase for DirectoryDatabase {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (key, value) = (key.to_vec(), value.to_vec());
        self.run(move |inner| inner.save(&key, &value, Operation::Save))
            .await
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let key = key.to_vec();
        self.run(move |inner| inner.fetch(&key)).await
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (key, value) = (key.to_vec(), value.to_vec());
        self.run(move |inner| inner.delete(&key, &value)).await
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        let (src, dest, value) = (src.to_vec(), dest.to_vec(), value.to_vec());
        self.run(move |inner| inner.move_value(&src, &dest, &value))
            .await
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        self.run(|inner| inner.keys()).await
    }

    /// Creates the root (and Hypothesis's storage directory with its `.gitignore`) if
    /// missing and checks that it is a writable directory.
    async fn check(&self) -> Result<()> {
        self.run(|inner| {
            inner
                .create_root()
                .and_then(|()| {
                    let probe = tempfile_probe(&inner.root);
                    std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe))
                })
                .map_err(|e| inner.io_error(Operation::Open, &inner.root, e))
        })
        .await
    }

    /// The root, if it exists, is a directory that can be listed; a missing root is an
    /// empty database. Creates nothing.
    async fn check_read(&self) -> Result<()> {
        self.run(|inner| match std::fs::read_dir(&inner.root) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(inner.io_error(Operation::Open, &inner.root, e)),
        })
        .await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        let inner = Arc::clone(&self.inner);
        self.inner.hub.subscribe(move |sink| {
            inner
                .create_root()
                .map_err(|e| inner.io_error(Operation::Subscribe, &inner.root, e))?;
            watch::start(
                &inner.root,
                inner.max_value_size,
                Arc::clone(&inner.own),
                sink,
            )
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                operation: Operation::Subscribe,
                location: inner.root.display().to_string(),
                kind: ErrorKind::Io,
                temporary: false,
                source: e,
            })
        })
    }
}

impl crate::config::DatabaseBuilder for DirectoryDatabaseBuilder {
    type Database = DirectoryDatabase;
    const OPTIONS: &'static [&'static str] = OPTIONS;

    fn with_option(self, key: &str, value: &str) -> Result<Self> {
        DirectoryDatabaseBuilder::with_option(self, key, value)
    }

    fn build(self) -> Result<DirectoryDatabase> {
        DirectoryDatabaseBuilder::build(self)
    }
}
