//! Whole-file-or-nothing writes into a key directory.
//!
//! Two ways to a value file's final name, both atomic and never replacing:
//!
//! - **Unnamed** (Linux `O_TMPFILE`, the default where the file system supports it): the
//!   content is written to a file with no name in the key directory, then linked to its
//!   name. Nothing partial is ever visible and a killed writer leaves nothing behind.
//! - **Named** (other systems, file systems without `O_TMPFILE`, or
//!   [`unnamed_temp_files(false)`](super::DirectoryDatabaseBuilder::unnamed_temp_files)):
//!   the content is written to a uniquely named temporary file in the *temporary
//!   directory*, then renamed into the key directory. The temporary directory is
//!   `.exampledb-tmp-<root name>` beside the root (outside it, where neither Hypothesis's
//!   fetch nor its file watcher ever looks; on the same file system, so the rename is
//!   atomic). When that is impossible (a root that is a mount point, a parent that cannot
//!   be written) it is `.exampledb-tmp` inside the root, a name that is never a key
//!   directory, so still never read as a value.
//!
//! A writer holds an advisory lock on its temporary file until it is renamed. Temporary
//! files nobody holds are leftovers of killed writers: each database removes them when it
//! first writes through this path and then at most every [`SWEEP_INTERVAL`].

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;

/// Prefix of the named temporary files.
pub(super) const TEMP_PREFIX: &str = ".tmp-exampledb-";

/// Name of the temporary directory inside the root, when none can be had beside it.
pub(super) const INNER_TEMP_DIR: &str = ".exampledb-tmp";

/// Prefix of the temporary directory beside the root (followed by the root's name).
pub(super) const SIBLING_TEMP_PREFIX: &str = ".exampledb-tmp-";

/// How often, at most, a database looks for killed writers' temporary files while it
/// writes through named temporary files.
pub(super) const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// A named temporary file no lock protects is still left alone this long, for file
/// systems where locks are not supported (then only age tells a leftover).
const UNLOCKABLE_STALE_AGE: Duration = Duration::from_secs(3600);

/// Attempts at the named path when a temporary file vanishes before its rename (another
/// process's sweep took it for a leftover in the instant before it was locked).
const NAMED_ATTEMPTS: usize = 3;

/// How a value file reaches its final name.
#[derive(Debug)]
pub(super) struct Writer {
    durable: bool,
    /// Whether unnamed temporary files (Linux `O_TMPFILE`) still look usable here.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    tmpfile: AtomicBool,
    /// Whether `linkat(fd, "", AT_EMPTY_PATH)` still looks allowed (Linux 6.10+ for the
    /// file's opener, or `CAP_DAC_READ_SEARCH`); else the `/proc/self/fd` path is linked.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    empty_path_link: AtomicBool,
    temp: TempDir,
}

/// Where named temporary files go, chosen on first use.
#[derive(Debug)]
struct TempDir {
    root: PathBuf,
    chosen: Mutex<Option<PathBuf>>,
    last_sweep: Mutex<Option<Instant>>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Writer {
    pub(super) fn new(root: &Path, durable: bool, allow_tmpfile: bool) -> Self {
        Self {
            durable,
            tmpfile: AtomicBool::new(allow_tmpfile),
            empty_path_link: AtomicBool::new(true),
            temp: TempDir {
                root: root.to_path_buf(),
                chosen: Mutex::new(None),
                last_sweep: Mutex::new(None),
            },
        }
    }

    pub(super) fn is_durable(&self) -> bool {
        self.durable
    }

    /// Writes `content` at `dir/name` (inside the existing key directory `dir`) unless a
    /// file is already there. Returns whether this call created it. Readers see the whole
    /// file or none. `NotFound` when `dir` is missing; `NotADirectory` when it is not a
    /// directory or is a link (never written through).
    pub(super) fn write_new(&self, dir: &Path, name: &str, content: &[u8]) -> io::Result<bool> {
        // One `statx` (the common re-save ends here); the key directory is checked not to
        // be a link only when the file seems to be there.
        if super::fs::exists_in(dir, name)? {
            return Ok(false);
        }
        #[cfg(target_os = "linux")]
        if self.tmpfile.load(Ordering::Relaxed) {
            match self.write_unnamed(dir, &dir.join(name), content)? {
                Unnamed::Done(created) => return Ok(created),
                Unnamed::Unsupported => {
                    tracing::debug!(dir = %dir.display(), "O_TMPFILE unsupported here; using named temporary files");
                    self.tmpfile.store(false, Ordering::Relaxed);
                }
                Unnamed::NotThisTime => {}
            }
        }
        self.write_named(dir, name, content)
    }

    /// Linux: an unnamed temporary file in `dir`, linked to `dest` when complete.
    #[cfg(target_os = "linux")]
    fn write_unnamed(&self, dir: &Path, dest: &Path, content: &[u8]) -> io::Result<Unnamed> {
        use rustix::fs::{linkat, openat, AtFlags, Mode, OFlags, CWD};
        use rustix::io::Errno;
        use std::os::fd::AsRawFd;

        // NOFOLLOW: a key directory that is a link is refused (ENOTDIR), not written through.
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match openat(CWD, dir, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => {
                return Ok(Unnamed::Unsupported)
            }
            // A link (or a file) where the key directory should be.
            Err(Errno::NOTDIR | Errno::LOOP) => return Err(super::fs::not_a_directory(dir)),
            // A directory that another process is removing at this instant answers EPERM:
            // this one write takes the named path, which has no such case.
            Err(Errno::PERM) => return Ok(Unnamed::NotThisTime),
            Err(e) => return Err(e.into()),
        };
        let mut file = File::from(fd);
        file.write_all(content)?;
        if self.durable {
            file.sync_all()?;
        }
        // ENOENT from the first link is ambiguous: no AT_EMPTY_PATH for this process (older
        // kernels), or the key directory was removed meanwhile (another process's delete).
        // The /proc way tells them apart.
        let mut empty_path_failed = false;
        if self.empty_path_link.load(Ordering::Relaxed) {
            // No path walk through /proc: the cheaper way where the kernel allows it.
            match linkat(&file, "", CWD, dest, AtFlags::EMPTY_PATH) {
                Ok(()) => return self.linked(dir),
                Err(Errno::EXIST) => return Ok(Unnamed::Done(false)),
                Err(Errno::PERM | Errno::INVAL) => {
                    self.empty_path_link.store(false, Ordering::Relaxed);
                }
                Err(Errno::NOENT) => empty_path_failed = true,
                Err(e) => return Err(e.into()),
            }
        }
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        match linkat(CWD, proc_path.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => {
                if empty_path_failed {
                    // The directory is there and this way works: AT_EMPTY_PATH does not.
                    self.empty_path_link.store(false, Ordering::Relaxed);
                }
            }
            Err(Errno::EXIST) => return Ok(Unnamed::Done(false)),
            Err(Errno::NOENT) => {
                return if Path::new("/proc/self/fd").is_dir()
                    || (empty_path_failed && !dir.is_dir())
                {
                    // The directory has gone; the caller creates it again.
                    Err(io::ErrorKind::NotFound.into())
                } else {
                    // No /proc and no AT_EMPTY_PATH: no way to name an unnamed file.
                    Ok(Unnamed::Unsupported)
                };
            }
            Err(e) => return Err(e.into()),
        }
        self.linked(dir)
    }

    #[cfg(target_os = "linux")]
    fn linked(&self, dir: &Path) -> io::Result<Unnamed> {
        if self.durable {
            sync_dir(dir)?;
        }
        Ok(Unnamed::Done(true))
    }

    /// A locked, uniquely named temporary file in the temporary directory, renamed into
    /// `dir` when complete.
    fn write_named(&self, dir: &Path, name: &str, content: &[u8]) -> io::Result<bool> {
        let temp_dir = self.temp.dir()?;
        self.temp.sweep_if_due(&temp_dir);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let temp = temp_dir.join(format!(
                "{TEMP_PREFIX}{}-{}-{}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
                name
            ));
            let result = self.fill_and_place(&temp, dir, name, content);
            if result.is_err() {
                let _ = fs::remove_file(&temp);
            }
            match result {
                // The temporary file was taken for a leftover before it was locked.
                Err(Placement::TempVanished) if attempt < NAMED_ATTEMPTS => continue,
                Err(Placement::TempVanished) => {
                    return Err(io::Error::other(
                        "temporary files keep vanishing before their rename",
                    ))
                }
                Err(Placement::Io(e)) => return Err(e),
                Ok(created) => {
                    if created && self.durable {
                        sync_dir(dir)?;
                    }
                    return Ok(created);
                }
            }
        }
    }

    fn fill_and_place(
        &self,
        temp: &Path,
        dir: &Path,
        name: &str,
        content: &[u8],
    ) -> Result<bool, Placement> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(temp)?;
        // Held until the rename: a sweep that can take the lock knows the writer is gone.
        if let Err(e) = file.lock() {
            tracing::debug!(error = %e, "cannot lock temporary files here; leftovers are recognised by age");
        }
        file.write_all(content)?;
        if self.durable {
            file.sync_all()?;
        }
        place(temp, dir, name)
    }

    /// Removes killed writers' temporary files now; returns how many.
    pub(super) fn sweep_now(&self) -> io::Result<usize> {
        let mut removed = 0;
        for dir in self.temp.candidates() {
            removed += sweep(&dir)?;
        }
        Ok(removed)
    }

    /// After an unlink, rmdir or rename: make the directory entry change durable.
    pub(super) fn sync_dir_if_durable(&self, dir: &Path) -> io::Result<()> {
        if self.durable {
            sync_dir(dir)
        } else {
            Ok(())
        }
    }
}

/// What the unnamed write path did.
#[cfg(target_os = "linux")]
enum Unnamed {
    /// Written (`true`), or the name was taken (`false`).
    Done(bool),
    /// The file system has no `O_TMPFILE` (or no way to link one): use the named path
    /// from now on.
    Unsupported,
    /// Use the named path for this write only.
    NotThisTime,
}

/// Why a named write could not place its file.
enum Placement {
    TempVanished,
    Io(io::Error),
}

impl From<io::Error> for Placement {
    fn from(e: io::Error) -> Self {
        Placement::Io(e)
    }
}

/// Renames `temp` to `dir/name` without replacing an existing file and without following a
/// link at `dir`'s name. `Ok(false)` when the name was taken.
#[cfg(unix)]
fn place(temp: &Path, dir: &Path, name: &str) -> Result<bool, Placement> {
    use rustix::fs::CWD;
    use rustix::io::Errno;

    let Some(dest) = super::fs::open_dir_for_changes(dir)? else {
        return Err(Placement::Io(match super::fs::dir_state(dir) {
            super::fs::DirState::NotDirectory => super::fs::not_a_directory(dir),
            // Missing, or removed and created again by another process since the open:
            // the caller creates it (if need be) and tries again.
            _ => io::ErrorKind::NotFound.into(),
        }));
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let renamed =
        rustix::fs::renameat_with(CWD, temp, &dest, name, rustix::fs::RenameFlags::NOREPLACE);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let renamed = rustix::fs::renameat(CWD, temp, &dest, name);
    match renamed {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => {
            let _ = fs::remove_file(temp);
            Ok(false)
        }
        // Not supported by this file system: a plain rename (it replaces a file of the
        // same name, which holds the same content).
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
            match rustix::fs::renameat(CWD, temp, &dest, name) {
                Ok(()) => Ok(true),
                Err(e) => Err(rename_error(temp, e)),
            }
        }
        Err(e) => Err(rename_error(temp, e)),
    }
}

#[cfg(unix)]
fn rename_error(temp: &Path, e: rustix::io::Errno) -> Placement {
    if e == rustix::io::Errno::NOENT && fs::symlink_metadata(temp).is_err() {
        Placement::TempVanished
    } else {
        Placement::Io(e.into())
    }
}

#[cfg(not(unix))]
fn place(temp: &Path, dir: &Path, name: &str) -> Result<bool, Placement> {
    match fs::rename(temp, dir.join(name)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound && fs::symlink_metadata(temp).is_err() => {
            Err(Placement::TempVanished)
        }
        Err(e) => Err(Placement::Io(e)),
    }
}

impl TempDir {
    /// The temporary directory beside the root, and the one inside it.
    fn candidates(&self) -> Vec<PathBuf> {
        let mut out = Vec::with_capacity(2);
        if let Some(sibling) = sibling_of(&self.root) {
            out.push(sibling);
        }
        out.push(self.root.join(INNER_TEMP_DIR));
        out
    }

    /// The temporary directory, chosen and created on first use: beside the root when
    /// that is possible on the root's file system, else inside the root.
    fn dir(&self) -> io::Result<PathBuf> {
        let mut chosen = lock(&self.chosen);
        if let Some(dir) = chosen.as_ref() {
            if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
                return Ok(dir.clone());
            }
        }
        let dir = self.choose()?;
        *chosen = Some(dir.clone());
        Ok(dir)
    }

    fn choose(&self) -> io::Result<PathBuf> {
        if let Some(sibling) = sibling_of(&self.root) {
            match ensure_dir(&sibling) {
                Ok(()) if same_file_system(&sibling, &self.root) => return Ok(sibling),
                Ok(()) => {
                    let _ = fs::remove_dir(&sibling);
                    tracing::debug!(root = %self.root.display(), "the root's parent is on another file system; temporary files go inside the root");
                }
                Err(e) => {
                    tracing::debug!(root = %self.root.display(), error = %e, "cannot use a temporary directory beside the root; temporary files go inside it");
                }
            }
        }
        let inner = self.root.join(INNER_TEMP_DIR);
        ensure_dir(&inner)?;
        Ok(inner)
    }

    fn sweep_if_due(&self, dir: &Path) {
        {
            let mut last = lock(&self.last_sweep);
            if last.is_some_and(|at| at.elapsed() < SWEEP_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        match sweep(dir) {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(dir = %dir.display(), removed = n, "removed temporary files of killed writers")
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "could not look for leftover temporary files")
            }
        }
    }
}

/// `.exampledb-tmp-<root name>` in the root's parent directory.
fn sibling_of(root: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(root).ok()?;
    let name = absolute.file_name()?;
    let parent = absolute.parent()?;
    let mut sibling = OsString::from(SIBLING_TEMP_PREFIX);
    sibling.push(name);
    Some(parent.join(sibling))
}

/// Creates `dir` if missing; fails if something other than a directory is there.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(dir)?.is_dir() {
                Ok(())
            } else {
                Err(io::ErrorKind::NotADirectory.into())
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn same_file_system(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file_system(_: &Path, _: &Path) -> bool {
    // No portable way to tell; a rename across file systems fails instead of copying,
    // and the write reports it.
    true
}

/// Removes the temporary files in `dir` whose writer is gone: files nobody holds a lock
/// on (or, where locks are unsupported, older than an hour). Returns how many.
fn sweep(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if !is_temp || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        if is_abandoned(&path) && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

fn is_abandoned(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    match file.try_lock() {
        // Nobody holds it: the writer died before renaming it. (A writer that finished
        // renamed it away, so its name is gone.)
        Ok(()) => true,
        Err(fs::TryLockError::WouldBlock) => false,
        Err(fs::TryLockError::Error(_)) => file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNLOCKABLE_STALE_AGE),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
