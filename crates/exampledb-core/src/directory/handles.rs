//! Descriptors of recently used key directories, kept between calls, so that a move costs
//! one `renameat2` and a delete one `unlinkat`, instead of opening and closing each key
//! directory every time.
//!
//! A kept descriptor is only ever a shortcut for the first attempt; the path-based code in
//! [`super::fs`] stays the authority:
//! - the descriptors are used only while the root's path still names the directory they
//!   were opened under (one `stat` of the root per call): a root removed, replaced or
//!   renamed away drops them all;
//! - a key directory removed since (its last value deleted, by this process or another,
//!   and perhaps created again) is a dead directory: a rename or unlink through its
//!   descriptor fails with `ENOENT`, never succeeds. Any failure drops the descriptor, and
//!   the caller does the operation by path, with every check it makes there;
//! - descriptors are opened like the path-based code's: without following a link at the
//!   key directory's name;
//! - at most [`KEPT`] descriptors per database, so that many databases in one process do
//!   not use up its descriptors.
//!
//! Left to the path-based code: renaming a key directory itself inside the root (neither
//! Hypothesis nor exampledb ever does) would leave a kept descriptor pointing at the
//! renamed directory.
//!
//! Elsewhere than Unix nothing is kept and every call falls back.

use super::fs::Renamed;

/// Key directories kept per database: a move touches two, and Hypothesis's moves go
/// between a key and its `.secondary` / `.pareto` keys.
#[cfg_attr(not(unix), allow(dead_code))]
const KEPT: usize = 8;

/// The kept descriptors of one database. See the module docs.
#[derive(Default)]
pub(super) struct DirHandles {
    #[cfg(unix)]
    kept: std::sync::Mutex<unix::Kept>,
}

#[cfg(unix)]
mod unix {
    use std::os::fd::OwnedFd;
    use std::path::Path;
    use std::sync::Arc;

    use rustix::fs::AtFlags;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    use rustix::{fs::RenameFlags, io::Errno};

    use super::{DirHandles, Renamed, KEPT};
    use crate::directory::fs::open_dir_for_changes;
    use crate::directory::lock;

    /// The root's identity when the descriptors were opened, and the descriptors by key
    /// directory name, most recently used last.
    #[derive(Default)]
    pub(super) struct Kept {
        root: Option<(u64, u64)>,
        dirs: Vec<(String, Arc<OwnedFd>)>,
    }

    impl DirHandles {
        /// Descriptors of the key directories `names` (directly under `root`), opened if
        /// not kept; `None` when the root is not there or one of them is not a directory.
        fn get<const N: usize>(&self, root: &Path, names: [&str; N]) -> Option<[Arc<OwnedFd>; N]> {
            // The fields' types differ between platforms.
            #[allow(clippy::unnecessary_cast)]
            let root_id = rustix::fs::stat(root)
                .ok()
                .map(|s| (s.st_dev as u64, s.st_ino as u64));
            let mut kept = lock(&self.kept);
            if root_id.is_none() || kept.root != root_id {
                kept.dirs.clear();
                kept.root = root_id;
            }
            root_id?;
            let mut found = Vec::with_capacity(N);
            for name in names {
                let fd = match kept.dirs.iter().position(|(n, _)| n == name) {
                    Some(at) => {
                        let entry = kept.dirs.remove(at);
                        let fd = Arc::clone(&entry.1);
                        kept.dirs.push(entry);
                        fd
                    }
                    None => {
                        let fd = Arc::new(open_dir_for_changes(&root.join(name)).ok()??);
                        if kept.dirs.len() >= KEPT {
                            kept.dirs.remove(0);
                        }
                        kept.dirs.push((name.to_owned(), Arc::clone(&fd)));
                        fd
                    }
                };
                found.push(fd);
            }
            found.try_into().ok()
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
                let [src_fd, dest_fd] = self.get(root, [src, dest])?;
                let flags = RenameFlags::NOREPLACE;
                match rustix::fs::renameat_with(&*src_fd, file, &*dest_fd, file, flags) {
                    Ok(()) => Some(Renamed::Moved),
                    // Both descriptors are live: a dead directory has no entries.
                    Err(Errno::EXIST) => Some(Renamed::DestinationExists),
                    Err(_) => {
                        self.forget(src);
                        self.forget(dest);
                        None
                    }
                }
            }
        }

        /// Removes the file `file` from the key directory `dir`: `true` when it did;
        /// `false` when that could not be done through a kept descriptor (nothing
        /// changed): the caller removes it by path.
        pub(in super::super) fn remove(&self, root: &Path, dir: &str, file: &str) -> bool {
            let Some([fd]) = self.get(root, [dir]) else {
                return false;
            };
            match rustix::fs::unlinkat(&*fd, file, AtFlags::empty()) {
                Ok(()) => true,
                Err(_) => {
                    self.forget(dir);
                    false
                }
            }
        }
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

    pub(super) fn remove(&self, _root: &Path, _dir: &str, _file: &str) -> bool {
        false
    }
}
