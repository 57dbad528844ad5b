//! [`DirectoryDatabase`]: Hypothesis's on-disk database, byte for byte.
//!
//! # Layout (the same as Python Hypothesis's `DirectoryBasedExampleDatabase`)
//!
//! ```text
//! <root>/<h(key)>/<h(value)>            the raw value bytes
//! <root>/04e6b3400353b141/<h(key)>      the raw key (the meta-keys entry; 04e6… = h(".hypothesis-keys"))
//! ```
//!
//! where `h` is [`hypothesis_hash`]. Files are created with mode
//! 0600 and directories with the process umask (0755 usually), as Hypothesis does. A save
//! writes the meta-keys entry before the value; a delete that empties a key's directory
//! removes it and then the meta-keys entry; a move leaves the source's meta-keys entry in
//! place, as Hypothesis does.
//!
//! # Where it does better than Hypothesis
//! - The temporary file of a write lives in the destination directory, so the final
//!   rename or link is always atomic (Hypothesis's lives in the system temp directory and
//!   falls back to a non-atomic copy across file systems). On Linux it is an unnamed
//!   `O_TMPFILE`: no reader, Python's included, ever sees a partial file, and a killed
//!   process leaves nothing behind. Elsewhere it is a hidden `.tmp-exampledb-*` file,
//!   which fetch never returns and which is removed once it is an hour old.
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
//! hash) and `value: None` otherwise, as in Hypothesis.
//!
//! This process's own changes are reported directly by the call that made them, exactly
//! and in order (before the call returns); the watcher skips them. Other processes'
//! changes arrive shortly after they happen. Like Hypothesis's watchdog listener, the
//! watcher can miss another process's value that is written and removed again within a
//! new key directory before its watch is in place.

mod own;
mod watch;
mod write;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    hypothesis_hash, ChangeEvent, ChangeHub, ChangeStream, Error, ExampleDatabase, Operation,
    Result, METAKEYS_KEY,
};
use own::{Kind, OwnChanges};
use write::Writer;

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
        if fs::symlink_metadata(home).is_err() {
            fs::create_dir_all(home)?;
            fs::write(home.join(".gitignore"), GITIGNORE)?;
        }
    }
    fs::create_dir_all(dir)
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
}

impl DirectoryDatabaseBuilder {
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

    /// Builds the database. Fails if the root exists and is not a directory.
    pub fn build(self) -> Result<DirectoryDatabase> {
        if let Ok(meta) = fs::metadata(&self.root) {
            if !meta.is_dir() {
                return Err(Error::InvalidConfig {
                    backend: BACKEND,
                    message: format!("root {} exists and is not a directory", self.root.display()),
                });
            }
        }
        let metakeys_dir = self.root.join(hypothesis_hash(METAKEYS_KEY));
        Ok(DirectoryDatabase {
            inner: Arc::new(Inner {
                writer: Writer::new(self.durable, self.unnamed_temp_files),
                root: self.root,
                metakeys_dir,
                storage_home: self.storage_home,
                offload: self.offload,
                recorded: Mutex::new(HashMap::new()),
                hub: ChangeHub::new(),
                own: Arc::new(OwnChanges::default()),
            }),
        })
    }
}

pub(crate) struct Inner {
    root: PathBuf,
    metakeys_dir: PathBuf,
    /// Hypothesis's storage directory (`.hypothesis`), when the root is its `examples`:
    /// created with a `.gitignore` as Hypothesis does.
    storage_home: Option<PathBuf>,
    offload: bool,
    writer: Writer,
    /// Keys whose meta-keys entry this process wrote or saw, with their directory name.
    recorded: Mutex<HashMap<Bytes, String>>,
    hub: ChangeHub,
    /// This process's own file changes while someone listens: reported directly, and
    /// skipped by the watcher.
    own: Arc<OwnChanges>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its map consistent; a panic elsewhere cannot corrupt it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for DirectoryDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryDatabase")
            .field("root", &self.inner.root)
            .field("durable", &self.inner.writer)
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
        }
    }

    /// Settings for Hypothesis's default location: `$HYPOTHESIS_STORAGE_DIRECTORY/examples`
    /// when that variable is set, else `.hypothesis/examples` under the current directory.
    /// When the storage directory is created, a `.gitignore` holding `*` is written into
    /// it, as Hypothesis does.
    pub fn default_builder() -> DirectoryDatabaseBuilder {
        let home = storage_home();
        let mut builder = Self::builder(home.join("examples"));
        builder.storage_home = Some(home);
        builder
    }

    /// Hypothesis's default location with default settings; see [`Self::default_builder`].
    pub fn default_location() -> Result<Self> {
        Self::default_builder().build()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Removes the hidden temporary files that killed writers left in key directories
    /// (only the portable write path creates them). Returns how many were removed.
    /// Fetch also removes those it comes across.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.inner.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(Error::io(
                    BACKEND,
                    Operation::Open,
                    self.inner.root.display(),
                    e,
                ))
            }
        };
        for dir in entries.flatten() {
            let Ok(files) = fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                let name = name.to_string_lossy();
                if write::remove_if_stale_temp(&file.path(), &name) {
                    removed += 1;
                }
            }
        }
        Ok(removed)
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
/// default location ([`DirectoryDatabase::default_builder`]), or,
/// when that location cannot be used (no permission to create it, or a file in its way),
/// an in-memory database with a warning, as Hypothesis falls back.
///
/// ```
/// let db = exampledb_core::directory::default_database();
/// # let _ = db;
/// ```
pub fn default_database() -> Arc<dyn ExampleDatabase> {
    let builder = DirectoryDatabase::default_builder();
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
        match fs::metadata(&path) {
            Ok(meta) => {
                return meta.is_dir() && !meta.permissions().readonly();
            }
            Err(_) => {
                if !path.pop() || path.as_os_str().is_empty() {
                    // A relative path whose first component is missing: the current directory.
                    return fs::metadata(".")
                        .is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
                }
            }
        }
    }
}

impl Inner {
    fn key_dir_name(&self, key: &[u8]) -> String {
        if let Some(name) = lock(&self.recorded).get(key) {
            return name.clone();
        }
        hypothesis_hash(key)
    }

    fn io_error(&self, operation: Operation, path: &Path, e: io::Error) -> Error {
        Error::io(BACKEND, operation, path.display(), e)
    }

    /// Creates the root (and Hypothesis's storage directory with its `.gitignore`).
    fn create_root(&self) -> io::Result<()> {
        create_storage_dir(self.storage_home.as_deref(), &self.root)
    }

    /// Creates `dir` (a direct child of the root), and the root if needed.
    fn create_key_dir(&self, dir: &Path) -> io::Result<()> {
        match fs::create_dir(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_root()?;
                match fs::create_dir(dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
                    _ => Ok(()),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `content` at `dir/name` unless it is there, creating `dir` if it is
    /// missing. Returns whether this call created the file.
    fn write_in(&self, dir: &Path, name: &str, content: &[u8]) -> io::Result<bool> {
        let dest = dir.join(name);
        match self.writer.write_new(dir, &dest, content) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_key_dir(dir)?;
                self.writer.write_new(dir, &dest, content)
            }
            other => other,
        }
    }

    /// Runs `change`, a change of kind `kind` to the value file at `path`, so that the
    /// watcher does not report it: the caller reports it. Returns whether it happened.
    fn own_change(
        &self,
        path: &Path,
        kind: Kind,
        change: impl FnOnce() -> io::Result<bool>,
    ) -> io::Result<bool> {
        if !self.hub.is_listening() {
            return change();
        }
        self.own.expect(path, kind);
        let happened = change();
        if !matches!(happened, Ok(true)) {
            self.own.cancel(path, kind);
        }
        happened
    }

    /// Makes sure `key` has its meta-keys entry, unless this process already recorded it.
    fn record_key(&self, key: &[u8], dir_name: &str, force: bool) -> io::Result<()> {
        if key == METAKEYS_KEY || (!force && self.is_recorded(key)) {
            return Ok(());
        }
        self.write_in(&self.metakeys_dir, dir_name, key)?;
        lock(&self.recorded).insert(Bytes::copy_from_slice(key), dir_name.to_owned());
        Ok(())
    }

    /// Saves `value` under `key`. The meta-keys entry is always on disk before the value
    /// appears, so that a watcher (Hypothesis's or ours) can name the key.
    fn save(&self, key: &[u8], value: &[u8], operation: Operation) -> Result<()> {
        let dir_name = self.key_dir_name(key);
        let dir = self.root.join(&dir_name);
        let value_name = hypothesis_hash(value);
        let dest = dir.join(&value_name);
        let metakey_err = |e| self.io_error(operation, &self.metakeys_dir.join(&dir_name), e);
        let value_err = |e| self.io_error(operation, &dest, e);
        let created = if !self.is_recorded(key) {
            self.record_key(key, &dir_name, false)
                .map_err(metakey_err)?;
            self.own_change(&dest, Kind::Appeared, || {
                self.write_in(&dir, &value_name, value)
            })
            .map_err(value_err)?
        } else {
            self.own_change(&dest, Kind::Appeared, || {
                match self.writer.write_new(&dir, &dest, value) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        // The key's directory has gone (a delete emptied it, here or in
                        // another process), and its meta-keys entry may have gone with it.
                        self.create_key_dir(&dir)?;
                        self.record_key(key, &dir_name, true)?;
                        self.writer.write_new(&dir, &dest, value)
                    }
                    other => other,
                }
            })
            .map_err(value_err)?
        };
        if created {
            self.hub.emit(ChangeEvent::Saved {
                key: Bytes::copy_from_slice(key),
                value: Bytes::copy_from_slice(value),
            });
        }
        Ok(())
    }

    fn is_recorded(&self, key: &[u8]) -> bool {
        key == METAKEYS_KEY || lock(&self.recorded).contains_key(key)
    }

    fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let dir = self.root.join(self.key_dir_name(key));
        read_values(&dir).map_err(|e| self.io_error(Operation::Fetch, &dir, e))
    }

    fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let dir_name = self.key_dir_name(key);
        let dir = self.root.join(&dir_name);
        let path = dir.join(hypothesis_hash(value));
        let removed = self.own_change(&path, Kind::Went, || match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            // Not there, or a file where a directory should be: nothing to delete.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        });
        if !removed.map_err(|e| self.io_error(Operation::Delete, &path, e))? {
            return Ok(());
        }
        self.hub.emit(ChangeEvent::Deleted {
            key: Bytes::copy_from_slice(key),
            value: Some(Bytes::copy_from_slice(value)),
        });
        self.writer
            .sync_dir_if_durable(&dir)
            .map_err(|e| self.io_error(Operation::Delete, &dir, e))?;
        self.remove_key_dir_if_empty(key, &dir, &dir_name)
    }

    /// Removes `dir` if the last value just left it, then the key's meta-keys entry, as
    /// Hypothesis does.
    fn remove_key_dir_if_empty(&self, key: &[u8], dir: &Path, dir_name: &str) -> Result<()> {
        if fs::remove_dir(dir).is_err() {
            return Ok(()); // not empty (or already gone): the key stays
        }
        lock(&self.recorded).remove(key);
        if key == METAKEYS_KEY {
            return Ok(());
        }
        let entry = self.metakeys_dir.join(dir_name);
        match fs::remove_file(&entry) {
            Ok(()) => {
                // Hypothesis's delete of the meta-keys entry also removes its directory
                // when that empties it.
                let _ = fs::remove_dir(&self.metakeys_dir);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error(Operation::Delete, &entry, e)),
        }
    }

    fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(dest, value, Operation::Move);
        }
        let value_name = hypothesis_hash(value);
        let src_name = self.key_dir_name(src);
        let src_dir = self.root.join(&src_name);
        let src_path = src_dir.join(&value_name);
        let dest_name = self.key_dir_name(dest);
        let dest_dir = self.root.join(&dest_name);
        let dest_path = dest_dir.join(&value_name);

        if fs::symlink_metadata(&dest_path).is_ok() {
            // Already under dest: the move is just the delete.
            return self.delete(src, value);
        }
        self.record_key(dest, &dest_name, false)
            .map_err(|e| self.io_error(Operation::Move, &self.metakeys_dir.join(&dest_name), e))?;
        let listening = self.hub.is_listening();
        if listening {
            self.own.expect(&src_path, Kind::Went);
            self.own.expect(&dest_path, Kind::Appeared);
        }
        let mut renamed = fs::rename(&src_path, &dest_path);
        if matches!(&renamed, Err(e) if e.kind() == io::ErrorKind::NotFound)
            && fs::symlink_metadata(&dest_dir).is_err()
        {
            renamed = self
                .create_key_dir(&dest_dir)
                .and_then(|()| self.record_key(dest, &dest_name, true))
                .and_then(|()| fs::rename(&src_path, &dest_path));
        }
        if listening && renamed.is_err() {
            self.own.cancel(&src_path, Kind::Went);
            self.own.cancel(&dest_path, Kind::Appeared);
        }
        match renamed {
            Ok(()) => {
                let value = Bytes::copy_from_slice(value);
                self.hub.emit(ChangeEvent::Deleted {
                    key: Bytes::copy_from_slice(src),
                    value: Some(value.clone()),
                });
                self.hub.emit(ChangeEvent::Saved {
                    key: Bytes::copy_from_slice(dest),
                    value,
                });
                self.writer
                    .sync_dir_if_durable(&dest_dir)
                    .and_then(|()| self.writer.sync_dir_if_durable(&src_dir))
                    .map_err(|e| self.io_error(Operation::Move, &dest_dir, e))?;
                // Like Hypothesis (os.renames), drop the source directory if it is now
                // empty, but keep the source's meta-keys entry.
                if fs::remove_dir(&src_dir).is_ok() {
                    lock(&self.recorded).remove(src);
                }
                Ok(())
            }
            // Not under src: the move is just the save.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.save(dest, value, Operation::Move)
            }
            // Anything else (a cross-device root, say): delete then save.
            Err(e) => {
                tracing::debug!(error = %e, "rename failed; moving by delete and save");
                self.delete(src, value)?;
                self.save(dest, value, Operation::Move)
            }
        }
    }

    fn keys(&self) -> Result<Vec<Bytes>> {
        let entries = read_values(&self.metakeys_dir)
            .map_err(|e| self.io_error(Operation::Keys, &self.metakeys_dir, e))?;
        let mut seen = HashSet::new();
        Ok(entries
            .into_iter()
            .filter(|key| {
                // Meta-keys entries outlive moves that emptied a key: list only keys whose
                // directory is still there.
                self.root.join(hypothesis_hash(key)).is_dir() && seen.insert(key.clone())
            })
            .collect())
    }
}

/// Every value file in `dir`; a missing directory is empty. Files that vanish while being
/// read are skipped; temporary files are skipped (and removed when stale).
fn read_values(dir: &Path) -> io::Result<Vec<Bytes>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut values = Vec::new();
    let mut scratch = vec![0; READ_CHUNK];
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let path = entry.path();
        if let Some(name) = name.to_str() {
            if write::is_temp_name(name) {
                write::remove_if_stale_temp(&path, name);
                continue;
            }
        }
        match read_file_into(&path, &mut scratch) {
            Ok(value) => values.push(Bytes::from(value)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                // As Hypothesis: one unreadable file does not hide the others.
                tracing::warn!(path = %path.display(), error = %e, "skipping unreadable example file");
            }
        }
    }
    Ok(values)
}

/// Size of the buffer a fetch reads value files into; larger files take more reads.
const READ_CHUNK: usize = 16 * 1024;

/// open + read + close, using `scratch` (at least one byte long): a file smaller than
/// `scratch` costs exactly those three system calls (`File::read_to_end` adds a `statx`,
/// an `lseek` and a second `read` to find the end). A short read ends the file: value
/// files are complete before they get their name and are never written again.
fn read_file_into(path: &Path, scratch: &mut [u8]) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut out = Vec::new();
    loop {
        let n = match file.read(scratch) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.extend_from_slice(&scratch[..n]);
        if n < scratch.len() {
            return Ok(out);
        }
    }
}

/// One file's whole content (see [`read_file_into`]).
fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    read_file_into(path, &mut [0; 1024])
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

    fn subscribe(&self) -> Result<ChangeStream> {
        let inner = Arc::clone(&self.inner);
        self.inner.hub.subscribe(move |sink| {
            inner
                .create_root()
                .map_err(|e| inner.io_error(Operation::Subscribe, &inner.root, e))?;
            watch::start(
                &inner.root,
                &inner.metakeys_dir,
                Arc::clone(&inner.own),
                sink,
            )
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                operation: Operation::Subscribe,
                location: inner.root.display().to_string(),
                temporary: false,
                source: e,
            })
        })
    }
}
