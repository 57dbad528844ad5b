//! Whole-file-or-nothing writes into a key directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Prefix of the named temporary files of the fallback write path. Hidden (a leading dot),
/// so [`super::DirectoryDatabase`]'s fetch never returns them.
pub(super) const TEMP_PREFIX: &str = ".tmp-exampledb-";

/// A named temporary file older than this is left over by a killed writer.
pub(super) const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

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
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Writer {
    pub(super) fn new(durable: bool, allow_tmpfile: bool) -> Self {
        Self {
            durable,
            tmpfile: AtomicBool::new(allow_tmpfile),
            empty_path_link: AtomicBool::new(true),
        }
    }

    /// Writes `content` at `dest` (inside the existing directory `dir`) unless a file is
    /// already there. Returns whether this call created it. Readers see the whole file or
    /// none: the content is written to a temporary file in `dir` first, on the same file
    /// system, then linked or renamed into place.
    pub(super) fn write_new(&self, dir: &Path, dest: &Path, content: &[u8]) -> io::Result<bool> {
        if fs::symlink_metadata(dest).is_ok() {
            return Ok(false);
        }
        #[cfg(target_os = "linux")]
        if self.tmpfile.load(Ordering::Relaxed) {
            match self.write_unnamed(dir, dest, content)? {
                Some(created) => return Ok(created),
                None => {
                    tracing::debug!(dir = %dir.display(), "O_TMPFILE unsupported here; using named temporary files");
                    self.tmpfile.store(false, Ordering::Relaxed);
                }
            }
        }
        self.write_named(dir, dest, content)
    }

    /// Linux: an unnamed temporary file in `dir`, linked to `dest` when complete. No
    /// partial file is ever visible, and none is left behind if the process dies.
    /// `Ok(None)` when the file system does not support it.
    #[cfg(target_os = "linux")]
    fn write_unnamed(&self, dir: &Path, dest: &Path, content: &[u8]) -> io::Result<Option<bool>> {
        use rustix::fs::{linkat, openat, AtFlags, Mode, OFlags, CWD};
        use rustix::io::Errno;
        use std::os::fd::AsRawFd;

        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let fd = match openat(CWD, dir, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        };
        let mut file = File::from(fd);
        file.write_all(content)?;
        if self.durable {
            file.sync_all()?;
        }
        if self.empty_path_link.load(Ordering::Relaxed) {
            // No path walk through /proc: the cheaper way where the kernel allows it.
            match linkat(&file, "", CWD, dest, AtFlags::EMPTY_PATH) {
                Ok(()) => return self.linked(dir),
                Err(Errno::EXIST) => return Ok(Some(false)),
                Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => {
                    self.empty_path_link.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        match linkat(CWD, proc_path.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => {}
            Err(Errno::EXIST) => return Ok(Some(false)),
            // `dir` exists (the open above worked), so ENOENT means /proc is not mounted.
            Err(Errno::NOENT) if dir.is_dir() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        self.linked(dir)
    }

    #[cfg(target_os = "linux")]
    fn linked(&self, dir: &Path) -> io::Result<Option<bool>> {
        if self.durable {
            sync_dir(dir)?;
        }
        Ok(Some(true))
    }

    /// Portable path: a hidden, uniquely named temporary file in `dir`, renamed to `dest`.
    fn write_named(&self, dir: &Path, dest: &Path, content: &[u8]) -> io::Result<bool> {
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(content)?;
            if self.durable {
                file.sync_all()?;
            }
            drop(file);
            fs::rename(&temp, dest)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        if self.durable {
            sync_dir(dir)?;
        }
        Ok(true)
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

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether a directory entry named `name` is a temporary file (never a value).
pub(super) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
}

/// Removes `path` if it is one of our temporary files and older than [`STALE_TEMP_AGE`].
pub(super) fn remove_if_stale_temp(path: &Path, name: &str) -> bool {
    if !name.starts_with(TEMP_PREFIX) {
        return false;
    }
    let old = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_TEMP_AGE);
    if old {
        tracing::debug!(path = %path.display(), "removing stale temporary file");
        return fs::remove_file(path).is_ok();
    }
    false
}
