//! The directory database's operations on the file system, and the rules that keep its
//! layout consistent when several processes (Python Hypothesis's included) share a root.
//!
//! **The meta-keys invariant.** Every key directory that holds a value has its meta-keys
//! entry. Hypothesis's own order (entry before value on save; directory, then entry, on a
//! delete that empties a key) leaves a window: a save in another process can recreate the
//! directory between the delete's two removals and lose its entry. Two extra checks close
//! it for every interleaving of exampledb processes:
//! - a save that finds the key's directory missing writes the entry again *after*
//!   creating the directory;
//! - a delete that removed the entry looks again for the directory, and writes the entry
//!   back if it has reappeared.
//!
//! Whichever of the two runs last sees the other's change, so the entry is there at the
//! end. (A Python Hypothesis process does neither check, so a race between a Python
//! delete and a save can still lose an entry, as between two Python processes.)

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::fs::{self as dfs, Renamed};
use super::handles::DirHandles;
use super::own::{Kind, OwnChanges};
use super::write::Writer;
use super::{create_storage_dir, lock, BACKEND};
use crate::backend::ChangeHub;
use crate::layout::{self, METAKEYS_KEY};
use crate::{ChangeEvent, Error, Operation, Result};

/// Attempts at a write or rename whose key directory keeps disappearing (another process
/// emptying and removing it at the same moment). Each lost attempt means another process
/// completed a whole delete in between, so this many in a row does not happen.
const WRITE_ATTEMPTS: usize = 64;
const MOVE_ATTEMPTS: usize = WRITE_ATTEMPTS;

pub(crate) struct Inner {
    pub(super) root: PathBuf,
    pub(super) metakeys_dir: PathBuf,
    /// Hypothesis's storage directory (`.hypothesis`), when the root is its `examples`:
    /// created with a `.gitignore` as Hypothesis does.
    pub(super) storage_home: Option<PathBuf>,
    pub(super) offload: bool,
    pub(super) max_value_size: u64,
    pub(super) writer: Writer,
    /// Keys whose meta-keys entry this process wrote or saw, with their directory name.
    recorded: Mutex<HashMap<Bytes, String>>,
    pub(super) hub: ChangeHub,
    /// This process's own file changes while someone listens: reported directly, and
    /// skipped by the watcher.
    pub(super) own: Arc<OwnChanges>,
    /// Descriptors of recently used key directories (see `handles`).
    handles: DirHandles,
    /// Whether the unusable meta-keys directory has been reported (once per database).
    metakeys_warned: AtomicBool,
}

impl Inner {
    pub(super) fn new(
        root: PathBuf,
        storage_home: Option<PathBuf>,
        writer: Writer,
        offload: bool,
        max_value_size: u64,
    ) -> Self {
        Inner {
            metakeys_dir: root.join(layout::METAKEYS_DIR),
            root,
            storage_home,
            offload,
            max_value_size,
            writer,
            recorded: Mutex::new(HashMap::new()),
            hub: ChangeHub::new(),
            own: Arc::new(OwnChanges::default()),
            handles: DirHandles::default(),
            metakeys_warned: AtomicBool::new(false),
        }
    }

    fn key_dir_name(&self, key: &[u8]) -> String {
        if let Some(name) = lock(&self.recorded).get(key) {
            return name.clone();
        }
        layout::key_dir(key)
    }

    fn is_recorded(&self, key: &[u8]) -> bool {
        key == METAKEYS_KEY || lock(&self.recorded).contains_key(key)
    }

    pub(super) fn io_error(&self, operation: Operation, path: &Path, e: io::Error) -> Error {
        Error::io(BACKEND, operation, path.display(), e)
    }

    /// Creates the root (and Hypothesis's storage directory with its `.gitignore`).
    pub(super) fn create_root(&self) -> io::Result<()> {
        create_storage_dir(self.storage_home.as_deref(), &self.root)
    }

    /// Creates `dir` (a direct child of the root), and the root if needed. Returns whether
    /// this call created it.
    fn create_key_dir(&self, dir: &Path) -> io::Result<bool> {
        match fs::create_dir(dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_root()?;
                match fs::create_dir(dir) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `change`, a change of kind `kind` to the value file `name`
    /// (`<key dir>/<value file>`), so that the watcher does not report it: the caller
    /// reports it. Returns whether it happened.
    fn own_change(
        &self,
        name: &str,
        kind: Kind,
        change: impl FnOnce() -> io::Result<bool>,
    ) -> io::Result<bool> {
        if !self.hub.is_listening() {
            return change();
        }
        self.own.expect(name, kind);
        let happened = change();
        if !matches!(happened, Ok(true)) {
            self.own.cancel(name, kind);
        }
        happened
    }

    /// Makes sure `key`'s meta-keys entry is on disk (unless this process recorded it
    /// already and `force` is off), creating the meta-keys directory if needed.
    ///
    /// An entry that is not a regular file (a link, an empty directory) is replaced. When
    /// the meta-keys directory itself is not a directory, the entry cannot be written:
    /// that is reported once as a warning and the save goes on, as in Hypothesis (whose
    /// save ignores the failure); such keys are then missing from `keys()`.
    fn ensure_metakey(&self, key: &[u8], dir_name: &str, force: bool) -> io::Result<()> {
        if key == METAKEYS_KEY || (!force && self.is_recorded(key)) {
            return Ok(());
        }
        match self.write_creating_dir(&self.metakeys_dir, dir_name, key, || Ok(())) {
            Ok(true) => {}
            Ok(false) => self.repair_metakey(key, dir_name)?,
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                if !self.metakeys_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        path = %self.metakeys_dir.display(),
                        "the meta-keys directory is not a directory: values are saved, but their keys cannot be listed until it is removed"
                    );
                }
            }
            Err(e) => return Err(e),
        }
        lock(&self.recorded).insert(Bytes::copy_from_slice(key), dir_name.to_owned());
        Ok(())
    }

    /// A name is there where `key`'s meta-keys entry goes: replaces it if it is not a
    /// regular file and can go without losing anything (a link, an empty directory).
    fn repair_metakey(&self, key: &[u8], dir_name: &str) -> io::Result<()> {
        let path = self.metakeys_dir.join(dir_name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            // Gone meanwhile (a delete in another process): write it again.
            return self
                .write_creating_dir(&self.metakeys_dir, dir_name, key, || Ok(()))
                .map(drop);
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(());
        }
        let removed = if kind.is_dir() {
            fs::remove_dir(&path)
        } else {
            fs::remove_file(&path)
        };
        match removed {
            Ok(()) => {
                tracing::warn!(path = %path.display(), "replaced a meta-keys entry that was not a regular file");
                self.write_creating_dir(&self.metakeys_dir, dir_name, key, || Ok(()))
                    .map(drop)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "a meta-keys entry is not a regular file and cannot be replaced; its key is missing from keys()");
                Ok(())
            }
        }
    }

    /// Saves `value` under `key`. The meta-keys entry is always on disk before the value
    /// appears, so that a watcher (Hypothesis's or ours) can name the key.
    pub(super) fn save(&self, key: &[u8], value: &[u8], operation: Operation) -> Result<()> {
        let dir_name = self.key_dir_name(key);
        let dir = self.root.join(&dir_name);
        if value.len() as u64 > self.max_value_size {
            return Err(Error::TooLarge {
                backend: BACKEND,
                operation,
                location: dir.display().to_string(),
                what: "value",
                size: value.len() as u64,
                limit: self.max_value_size,
            });
        }
        let value_name = layout::value_file(value);
        self.ensure_metakey(key, &dir_name, false)
            .map_err(|e| self.io_error(operation, &self.metakeys_dir.join(&dir_name), e))?;
        let own_name = format!("{dir_name}/{value_name}");
        let created = self
            .own_change(&own_name, Kind::Appeared, || {
                self.write_value(key, &dir, &dir_name, &value_name, value)
            })
            .map_err(|e| {
                // Leave no empty directory or entry behind (a full disk, say): a key
                // without a value is not a key.
                if let Err(tidy) = self.remove_key_dir_if_empty(key, &dir, &dir_name, true) {
                    tracing::debug!(error = %tidy, "could not tidy up after a failed save");
                }
                self.io_error(operation, &dir.join(&value_name), e)
            })?;
        if created {
            self.hub.emit(ChangeEvent::Saved {
                key: Bytes::copy_from_slice(key),
                value: Bytes::copy_from_slice(value),
            });
        }
        Ok(())
    }

    /// Writes the value file, creating the key's directory (and, after it, the meta-keys
    /// entry again) when it is missing.
    fn write_value(
        &self,
        key: &[u8],
        dir: &Path,
        dir_name: &str,
        value_name: &str,
        value: &[u8],
    ) -> io::Result<bool> {
        // When the key's directory is missing (new, or a delete emptied it here or in
        // another process, possibly removing the meta-keys entry just after our check),
        // the entry is written again after the directory is created.
        self.write_creating_dir(dir, value_name, value, || {
            self.ensure_metakey(key, dir_name, true)
        })
    }

    /// Writes `content` at `dir/name` unless it is there, creating `dir` (then running
    /// `after_mkdir`) when it is missing. Another process may empty and remove the
    /// directory again before the file is in: then it tries again, a few times.
    fn write_creating_dir(
        &self,
        dir: &Path,
        name: &str,
        content: &[u8],
        after_mkdir: impl Fn() -> io::Result<()>,
    ) -> io::Result<bool> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.writer.write_new(dir, name, content) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < WRITE_ATTEMPTS => {}
                other => return other,
            }
            if attempt > 1 {
                // Let the process that keeps emptying the directory finish.
                std::thread::yield_now();
            }
            self.create_key_dir(dir)?;
            after_mkdir()?;
        }
    }

    pub(super) fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let dir = self.root.join(self.key_dir_name(key));
        let listing = dfs::read_values(&dir, self.max_value_size)
            .map_err(|e| self.io_error(Operation::Fetch, &dir, e))?;
        report_skipped(&dir, &listing.skipped);
        Ok(listing.values.into_iter().map(|(_, v)| v).collect())
    }

    pub(super) fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let dir_name = self.key_dir_name(key);
        let dir = self.root.join(&dir_name);
        let value_name = layout::value_file(value);
        let own_name = format!("{dir_name}/{value_name}");
        let removed = self
            .own_change(&own_name, Kind::Went, || {
                match self.handles.remove(&self.root, &dir_name, &value_name) {
                    Some(removed) => Ok(removed),
                    None => dfs::remove_in(&dir, &value_name),
                }
            })
            .map_err(|e| self.io_error(Operation::Delete, &dir.join(&value_name), e))?;
        if !removed {
            return Ok(());
        }
        self.hub.emit(ChangeEvent::Deleted {
            key: Bytes::copy_from_slice(key),
            value: Some(Bytes::copy_from_slice(value)),
        });
        self.writer
            .sync_dir_if_durable(&dir)
            .map_err(|e| self.io_error(Operation::Delete, &dir, e))?;
        self.remove_key_dir_if_empty(key, &dir, &dir_name, false)
            .map_err(|e| self.io_error(Operation::Delete, &self.metakeys_dir.join(&dir_name), e))
    }

    /// Removes `dir` if the last value just left it (or, with `missing_too`, if it is not
    /// there at all), then the key's meta-keys entry, as Hypothesis does; then writes the
    /// entry back if another process has recreated the directory meanwhile (see the
    /// module docs).
    fn remove_key_dir_if_empty(
        &self,
        key: &[u8],
        dir: &Path,
        dir_name: &str,
        missing_too: bool,
    ) -> io::Result<()> {
        match fs::remove_dir(dir) {
            Ok(()) => self.handles.forget(dir_name),
            Err(e) if missing_too && e.kind() == io::ErrorKind::NotFound => {}
            // Not empty (or already gone, or not a directory): the key stays.
            Err(_) => return Ok(()),
        }
        lock(&self.recorded).remove(key);
        if key == METAKEYS_KEY {
            return Ok(());
        }
        if dfs::remove_in(&self.metakeys_dir, dir_name)? {
            // Hypothesis's delete of the meta-keys entry also removes its directory when
            // that empties it.
            let _ = fs::remove_dir(&self.metakeys_dir);
        }
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            self.ensure_metakey(key, dir_name, true)?;
        }
        Ok(())
    }

    pub(super) fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(dest, value, Operation::Move);
        }
        let value_name = layout::value_file(value);
        let src_name = self.key_dir_name(src);
        let src_dir = self.root.join(&src_name);
        let dest_name = self.key_dir_name(dest);
        let dest_dir = self.root.join(&dest_name);
        let error = |path: &Path, e| self.io_error(Operation::Move, path, e);

        self.ensure_metakey(dest, &dest_name, false)
            .map_err(|e| error(&self.metakeys_dir.join(&dest_name), e))?;
        let (src_own, dest_own) = (
            format!("{src_name}/{value_name}"),
            format!("{dest_name}/{value_name}"),
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listening = self.hub.is_listening();
            if listening {
                self.own.expect(&src_own, Kind::Went);
                self.own.expect(&dest_own, Kind::Appeared);
            }
            let renamed = self.rename_value(
                dest,
                (&src_dir, &src_name),
                &dest_dir,
                &dest_name,
                &value_name,
            );
            // Already under dest: src's copy replaces dest's (the same bytes) in one
            // rename. Deleting src instead would lose the value when another process
            // moves it the opposite way at the same moment (each would find the other's
            // copy and delete its own); Hypothesis's `os.renames` replaces too.
            let replaced = matches!(renamed, Ok(Renamed::DestinationExists));
            let renamed = if replaced {
                dfs::rename_between(&src_dir, &dest_dir, &value_name, true)
            } else {
                renamed
            };
            if listening && !matches!(renamed, Ok(Renamed::Moved)) {
                self.own.cancel(&src_own, Kind::Went);
                self.own.cancel(&dest_own, Kind::Appeared);
            }
            return match renamed {
                Ok(Renamed::Moved) => {
                    let value = Bytes::copy_from_slice(value);
                    self.hub.emit(ChangeEvent::Deleted {
                        key: Bytes::copy_from_slice(src),
                        value: Some(value.clone()),
                    });
                    if !replaced {
                        self.hub.emit(ChangeEvent::Saved {
                            key: Bytes::copy_from_slice(dest),
                            value,
                        });
                    }
                    self.writer
                        .sync_dir_if_durable(&dest_dir)
                        .and_then(|()| self.writer.sync_dir_if_durable(&src_dir))
                        .map_err(|e| error(&dest_dir, e))?;
                    // Like Hypothesis (os.renames), drop the source directory if it is
                    // now empty, but keep the source's meta-keys entry.
                    if fs::remove_dir(&src_dir).is_ok() {
                        lock(&self.recorded).remove(src);
                        self.handles.forget(&src_name);
                    }
                    Ok(())
                }
                // Under dest, and gone from src meanwhile: nothing left to do.
                Ok(Renamed::NoSource) if replaced => Ok(()),
                // Not under src: the move is just the save.
                Ok(Renamed::NoSource) => self.save(dest, value, Operation::Move),
                // Dest's directory went (its last value deleted) between the two renames:
                // rename again, recreating it.
                Ok(Renamed::NoDestination) if replaced && attempt < MOVE_ATTEMPTS => continue,
                Ok(Renamed::NoDestination | Renamed::DestinationExists) => Err(error(
                    &dest_dir,
                    io::Error::other("the destination directory keeps disappearing"),
                )),
                // Key directories on different file systems (a mount inside the root):
                // save, then delete, so that the value is never in neither key.
                Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                    tracing::debug!(error = %e, "rename failed; moving by save and delete");
                    self.save(dest, value, Operation::Move)?;
                    self.delete(src, value)
                }
                // Anything else (dest is a link or a file): the value stays under src.
                Err(e) => Err(error(&dest_dir, e)),
            };
        }
    }

    /// Renames the value file from `src_dir` (named `src_name`) to `dest_dir`, never
    /// replacing it there, creating `dest_dir` (and its meta-keys entry, after it) when it
    /// is missing.
    fn rename_value(
        &self,
        dest: &[u8],
        (src_dir, src_name): (&Path, &str),
        dest_dir: &Path,
        dest_name: &str,
        value_name: &str,
    ) -> io::Result<Renamed> {
        // Through kept descriptors when that works; by path otherwise (and always when
        // something is missing).
        if let Some(renamed) = self
            .handles
            .rename_no_replace(&self.root, src_name, dest_name, value_name)
        {
            return Ok(renamed);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match dfs::rename_between(src_dir, dest_dir, value_name, false)? {
                Renamed::NoDestination if attempt < MOVE_ATTEMPTS => {
                    if attempt > 1 {
                        std::thread::yield_now();
                    }
                    self.create_key_dir(dest_dir)?;
                    if dfs::dir_state(dest_dir) == dfs::DirState::NotDirectory {
                        return Err(dfs::not_a_directory(dest_dir));
                    }
                    self.ensure_metakey(dest, dest_name, true)?;
                }
                other => return Ok(other),
            }
        }
    }

    /// The keys by the layout's rule: meta-keys entries whose directory holds a value.
    pub(super) fn keys(&self) -> Result<Vec<Bytes>> {
        let listing = dfs::read_values(&self.metakeys_dir, self.max_value_size)
            .map_err(|e| self.io_error(Operation::Keys, &self.metakeys_dir, e))?;
        report_skipped(&self.metakeys_dir, &listing.skipped);
        if listing.values.is_empty()
            && fs::symlink_metadata(&self.metakeys_dir).is_ok_and(|m| !m.is_dir())
        {
            tracing::warn!(path = %self.metakeys_dir.display(), "the meta-keys directory is not a directory: no key can be listed");
        }
        let root = &self.root;
        let keys = layout::listed_keys(listing.values.into_iter().map(|(_, key)| key), |dir| {
            match dfs::holds_value(&root.join(dir)) {
                Ok(holds) => holds,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => {
                    tracing::warn!(path = %root.join(dir).display(), error = %e, "cannot read a key directory: its key is not listed");
                    false
                }
            }
        });
        self.warn_unnamed(&keys);
        Ok(keys)
    }

    /// Warns when key directories hold values but no meta-keys entry names their key (an
    /// older Hypothesis, or a writer interrupted between the two, left them): such keys
    /// cannot be listed, and the user should know that the listing is not everything.
    fn warn_unnamed(&self, named: &[Bytes]) {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(root = %self.root.display(), error = %e, "cannot list the root: key directories no meta-keys entry names would not be noticed");
                return;
            }
        };
        let named: std::collections::HashSet<String> =
            named.iter().map(|k| layout::key_dir(k)).collect();
        let unnamed: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                n.len() == layout::HASH_NAME_LEN
                    && n.bytes().all(|b| b.is_ascii_hexdigit())
                    && n != layout::METAKEYS_DIR
                    && !named.contains(n)
            })
            .filter(|n| match dfs::holds_value(&self.root.join(n)) {
                Ok(holds) => holds,
                Err(e) => {
                    tracing::warn!(path = %self.root.join(n).display(), error = %e, "cannot read a key directory no meta-keys entry names");
                    false
                }
            })
            .collect();
        if let Some(first) = unnamed.first() {
            tracing::warn!(
                root = %self.root.display(),
                directories = unnamed.len(),
                first = %first,
                "key directories hold values but no meta-keys entry names their key (an older Hypothesis or an interrupted writer left them): they cannot be listed"
            );
        }
    }
}

/// As Hypothesis: one unreadable file does not hide the others; unlike it, we say so.
fn report_skipped(dir: &Path, skipped: &[(String, io::Error)]) {
    for (name, e) in skipped {
        tracing::warn!(path = %dir.join(name).display(), error = %e, "skipping an entry that cannot be read as a value");
    }
}
