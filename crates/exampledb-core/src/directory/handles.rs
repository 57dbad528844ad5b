//! Descriptors of recently used key directories, kept between calls, so that a move is a
//! `renameat2` through two of them and a delete an `unlinkat` through one, instead of
//! opening and closing each key directory every time.
//!
//! A kept descriptor is used only for the directory that is at its key directory's path
//! now: before each use, the path is looked at without following a link at its name
//! (`lstat`), and the descriptor is used only if that finds the very directory it holds
//! (same device and inode; a kept descriptor keeps its inode from being reused). So a key
//! directory removed (and perhaps made again), renamed away, replaced by a link, or a root
//! renamed, removed or replaced, is never written through: the caller then does the
//! operation by path, with every check [`super::fs`] makes. What is left is the same
//! window between a check and the change that the path-based code has between its open
//! and its change, and file systems whose inode numbers come from a counter that wraps
//! (tmpfs without `inode64` after 2^32 files, overlayfs with `xino=off`), where a new
//! directory can get the number of a live kept one. A delete that finds nothing through a
//! descriptor whose directory is dead asks the path.
//!
//! At most [`KEPT`] descriptors per database and [`KEPT_PER_PROCESS`] in all, so that
//! many databases in one process never use up its descriptors: past either, calls go by
//! path. Elsewhere than Unix nothing is kept and every call goes by path.

use super::fs::Renamed;

/// Key directories kept per database: a move touches two, and Hypothesis's moves go
/// between a key and its `.secondary` / `.pareto` keys.
#[cfg_attr(not(unix), allow(dead_code))]
const KEPT: usize = 8;

/// Descriptors kept by all databases of the process together.
#[cfg_attr(not(unix), allow(dead_code))]
const KEPT_PER_PROCESS: usize = 64;

/// The kept descriptors of one database. See the module docs.
#[derive(Default)]
pub(super) struct DirHandles {
    #[cfg(unix)]
    kept: std::sync::Mutex<unix::Kept>,
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use rustix::fs::{AtFlags, FileType, Stat};
    #[cfg(any(target_os = "linux", target_os = "android"))]
    use rustix::{fs::RenameFlags, io::Errno};

    use super::{DirHandles, Renamed, KEPT, KEPT_PER_PROCESS};
    use crate::directory::fs::open_dir_for_changes;
    use crate::directory::lock;

    /// Descriptors kept in this process, all databases together.
    static KEPT_IN_PROCESS: AtomicUsize = AtomicUsize::new(0);

    /// A device and inode.
    type Identity = (u64, u64);

    // The fields' types differ between platforms.
    #[allow(clippy::unnecessary_cast)]
    fn identity(stat: &Stat) -> Identity {
        (stat.st_dev as u64, stat.st_ino as u64)
    }

    /// One kept descriptor, counted in [`KEPT_IN_PROCESS`] while it lives.
    pub(super) struct KeptDir {
        identity: Identity,
        fd: OwnedFd,
    }

    impl Drop for KeptDir {
        fn drop(&mut self) {
            KEPT_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The kept descriptors by key directory name, most recently used last.
    #[derive(Default)]
    pub(super) struct Kept {
        dirs: Vec<(String, Arc<KeptDir>)>,
    }

    impl DirHandles {
        /// A descriptor of the directory at `root/name` now, kept or newly opened;
        /// `None` when there is no directory there (missing, a link, a file) or when no
        /// descriptor can be kept.
        fn get(&self, root: &Path, name: &str) -> Option<Arc<KeptDir>> {
            let path = root.join(name);
            let Some(stat) = rustix::fs::lstat(&path)
                .ok()
                .filter(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
            else {
                self.forget(name);
                return None;
            };
            let now = identity(&stat);
            {
                let mut kept = lock(&self.kept);
                if let Some(at) = kept.dirs.iter().position(|(n, _)| n == name) {
                    let entry = kept.dirs.remove(at);
                    if entry.1.identity == now {
                        let dir = Arc::clone(&entry.1);
                        kept.dirs.push(entry);
                        return Some(dir);
                    }
                }
            }
            self.open(&path, name, now)
        }

        /// Opens the directory at `path` (whose `lstat` said `expected`) to keep it as
        /// `name`, within the process's budget.
        fn open(&self, path: &Path, name: &str, expected: Identity) -> Option<Arc<KeptDir>> {
            if KEPT_IN_PROCESS.fetch_add(1, Ordering::Relaxed) >= KEPT_PER_PROCESS {
                KEPT_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            let fd = match open_dir_for_changes(path) {
                Ok(Some(fd)) => fd,
                Ok(None) => {
                    KEPT_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
                    return None;
                }
                Err(e) => {
                    KEPT_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
                    if is_out_of_descriptors(&e) {
                        // Give back what this database keeps; the caller goes by path.
                        lock(&self.kept).dirs.clear();
                    }
                    return None;
                }
            };
            let dir = Arc::new(KeptDir {
                identity: expected,
                fd,
            });
            // Replaced between the look and the open: not the directory looked at.
            if rustix::fs::fstat(&dir.fd).map(|s| identity(&s)) != Ok(expected) {
                return None;
            }
            let mut kept = lock(&self.kept);
            kept.dirs.retain(|(n, _)| n != name);
            if kept.dirs.len() >= KEPT {
                kept.dirs.remove(0);
            }
            kept.dirs.push((name.to_owned(), Arc::clone(&dir)));
            Some(dir)
        }

        /// Forgets the descriptor of the key directory `name` (removed, or failing).
        pub(in super::super) fn forget(&self, name: &str) {
            lock(&self.kept).dirs.retain(|(n, _)| n != name);
        }

        /// Renames `file` from key directory `src` to key directory `dest` without
        /// replacing it there: `Some(Moved)`, or `Some(DestinationExists)` (nothing
        /// changed). `None` when it could not be done through kept descriptors (nothing
        /// changed either): the caller renames by path.
        pub(in super::super) fn rename_no_replace(
            &self,
            root: &Path,
            src: &str,
            dest: &str,
            file: &str,
        ) -> Option<Renamed> {
            // Without RENAME_NOREPLACE the path-based code looks first, then renames.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            {
                let _ = (root, src, dest, file);
                None
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                let src_dir = self.get(root, src)?;
                let dest_dir = self.get(root, dest)?;
                let flags = RenameFlags::NOREPLACE;
                match rustix::fs::renameat_with(&src_dir.fd, file, &dest_dir.fd, file, flags) {
                    Ok(()) => Some(Renamed::Moved),
                    Err(Errno::EXIST) => Some(Renamed::DestinationExists),
                    // Not under src, or a directory removed since the look: the path-based
                    // code tells which.
                    Err(_) => {
                        self.forget(src);
                        self.forget(dest);
                        None
                    }
                }
            }
        }

        /// Removes the file `file` from the key directory `dir`: `Some(true)` when it did,
        /// `Some(false)` when it is not there. `None` when that could not be done through
        /// a kept descriptor (nothing changed): the caller removes it by path.
        pub(in super::super) fn remove(&self, root: &Path, dir: &str, file: &str) -> Option<bool> {
            let kept = self.get(root, dir)?;
            match rustix::fs::unlinkat(&kept.fd, file, AtFlags::empty()) {
                Ok(()) => Some(true),
                // Not in the directory at the key's path when it was looked at: not there,
                // as the path-based code would say. Unless that directory is dead (removed
                // since, or another directory that got the same inode number on a file
                // system that reuses numbers): then the path decides.
                Err(e) if e == rustix::io::Errno::NOENT && is_live(&kept.fd) => Some(false),
                Err(_) => {
                    self.forget(dir);
                    None
                }
            }
        }
    }

    /// Whether the directory `fd` holds is still linked into the file system.
    fn is_live(fd: &OwnedFd) -> bool {
        rustix::fs::fstat(fd).is_ok_and(|s| s.st_nlink > 0)
    }

    fn is_out_of_descriptors(e: &io::Error) -> bool {
        matches!(
            rustix::io::Errno::from_io_error(e),
            Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
        )
    }
}

#[cfg(not(unix))]
use std::path::Path;

#[cfg(not(unix))]
impl DirHandles {
    pub(super) fn forget(&self, _name: &str) {}

    pub(super) fn rename_no_replace(
        &self,
        _root: &Path,
        _src: &str,
        _dest: &str,
        _file: &str,
    ) -> Option<Renamed> {
        None
    }

    pub(super) fn remove(&self, _root: &Path, _dir: &str, _file: &str) -> Option<bool> {
        None
    }
}
