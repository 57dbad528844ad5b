//! The directory database's reads, unlinks and renames below the root, made safe against
//! whatever another process (or an adversary) leaves there:
//!
//! - a key directory is opened without following a link at its name, and the files in it
//!   are reached through that descriptor, so no read, delete or rename ever follows a link
//!   below the root (the root itself may be a link: that is the user's choice);
//! - only regular files are read, opened non-blocking, so a FIFO, a device or a socket can
//!   neither hang a reader nor feed it forever;
//! - one read allocates at most the configured largest value size.
//!
//! On Unix these guarantees hold; elsewhere the same functions use the portable standard
//! library calls, which follow links.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;

use crate::layout;

/// Why an entry of a key directory whose name is not a value's (16 lowercase hex digits)
/// is left out: Python Hypothesis would read it as a value.
const NOT_A_VALUE_NAME: &str =
    "not a value's name (16 lowercase hex digits), so not read; Python Hypothesis would read it";

/// Size of the buffer value files are read through; larger files take more reads.
const READ_CHUNK: usize = 16 * 1024;

/// What reading one directory found.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// `(file name, content)` of every value file that could be read.
    pub(super) values: Vec<(String, Bytes)>,
    /// Entries with value names that could not be read as values: not regular files
    /// (links, FIFOs, devices, directories), too large, or failing to read.
    pub(super) skipped: Vec<(String, io::Error)>,
}

/// An error for an entry that is not a regular file.
fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what}); only regular files are read"),
    )
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the largest value read ({max} bytes)"),
    )
}

/// Reads `file` to its end, at most `max` bytes, through `scratch`. A short read ends the
/// file: value files are complete before they get their name and are never written again,
/// so a file smaller than `scratch` costs exactly one `read`.
fn read_bounded(file: &mut fs::File, max: u64, scratch: &mut [u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let n = match file.read(scratch) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if (out.len() + n) as u64 > max {
            return Err(too_large(max));
        }
        out.extend_from_slice(&scratch[..n]);
        if n < scratch.len() {
            return Ok(out);
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::ffi::CStr;
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;

    use bytes::Bytes;
    use rustix::fs::{openat, AtFlags, Dir, FileType, Mode, OFlags, CWD};
    use rustix::io::Errno;

    use super::{layout, not_regular, read_bounded, Listing, READ_CHUNK};

    /// Opens the directory at `path` for listing, without following a link at its last
    /// component. `Ok(None)` when no directory is there (missing, a file, a link).
    pub(in super::super) fn open_dir(path: &Path) -> io::Result<Option<OwnedFd>> {
        open_dir_with(path, OFlags::RDONLY)
    }

    /// Like [`open_dir`], for unlinking and renaming in it (no listing).
    pub(in super::super) fn open_dir_for_changes(path: &Path) -> io::Result<Option<OwnedFd>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let mode = OFlags::PATH;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let mode = OFlags::RDONLY;
        open_dir_with(path, mode)
    }

    fn open_dir_with(path: &Path, mode: OFlags) -> io::Result<Option<OwnedFd>> {
        let flags = mode | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match openat(CWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e @ (Errno::NOTDIR | Errno::LOOP)) => {
                // Something stands where a directory should be: a symbolic link (not
                // followed, so a link cannot lead writes outside the root) or a file. What
                // it holds is not read; say so, since Hypothesis would follow a link.
                tracing::warn!(path = %path.display(), error = %io::Error::from(e), "not a directory (a symbolic link or a file): what it holds is left out");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Opens and reads the file `name` in `dir`: a regular file only (`known_regular`
    /// when the directory listing already said so), never blocking, at most `max` bytes.
    fn read_in(
        dir: impl AsFd,
        name: &CStr,
        known_regular: bool,
        max: u64,
        scratch: &mut [u8],
    ) -> io::Result<Vec<u8>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Err(not_regular("a symbolic link")),
            Err(e) => return Err(e.into()),
        };
        if !known_regular {
            check_regular(&fd)?;
        }
        let mut file = File::from(fd);
        let value = read_bounded(&mut file, max, scratch)?;
        if value.is_empty() && known_regular {
            // The entry may have been swapped for a FIFO since it was listed (a FIFO
            // without a writer reads as empty): an empty value must be a regular file.
            check_regular(&file)?;
        }
        Ok(value)
    }

    fn check_regular(fd: impl AsFd) -> io::Result<()> {
        let stat = rustix::fs::fstat(fd)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok(()),
            other => Err(not_regular(type_name(other))),
        }
    }

    fn type_name(t: FileType) -> &'static str {
        match t {
            FileType::Directory => "a directory",
            FileType::Symlink => "a symbolic link",
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            _ => "an unknown kind of file",
        }
    }

    /// Every value file of the directory `dir` (see [`Listing`]); a directory that is
    /// missing, not a directory or a link lists nothing.
    pub(in super::super) fn read_values(dir: &Path, max: u64) -> io::Result<Listing> {
        let mut listing = Listing::default();
        let Some(fd) = open_dir(dir)? else {
            return Ok(listing);
        };
        let mut entries = Dir::new(fd)?;
        let mut scratch = vec![0; READ_CHUNK];
        while let Some(entry) = entries.read() {
            let entry = entry?;
            let Some(name) = value_name(entry.file_name()) else {
                if is_odd_entry(entry.file_name()) {
                    listing.skipped.push((
                        entry.file_name().to_string_lossy().into_owned(),
                        io::Error::other(super::NOT_A_VALUE_NAME),
                    ));
                }
                continue;
            };
            let file_type = entry.file_type();
            let known_regular = match file_type {
                FileType::RegularFile => true,
                FileType::Unknown => false,
                other => {
                    listing
                        .skipped
                        .push((name.to_owned(), not_regular(type_name(other))));
                    continue;
                }
            };
            match read_in(
                entries.fd()?,
                entry.file_name(),
                known_regular,
                max,
                &mut scratch,
            ) {
                Ok(value) => listing.values.push((name.to_owned(), Bytes::from(value))),
                // Removed since it was listed: not a value any more.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => listing.skipped.push((name.to_owned(), e)),
            }
        }
        Ok(listing)
    }

    /// Whether the directory `dir` holds at least one value file.
    pub(in super::super) fn holds_value(dir: &Path) -> io::Result<bool> {
        let Some(fd) = open_dir(dir)? else {
            return Ok(false);
        };
        let mut entries = Dir::new(fd)?;
        while let Some(entry) = entries.read() {
            let entry = entry?;
            if value_name(entry.file_name()).is_none() {
                // Not ours, but something Hypothesis would read (see `read_values`).
                if is_odd_entry(entry.file_name()) {
                    return Ok(true);
                }
                continue;
            }
            match entry.file_type() {
                FileType::RegularFile => return Ok(true),
                FileType::Unknown => {
                    let flags = AtFlags::SYMLINK_NOFOLLOW;
                    if let Ok(stat) = rustix::fs::statat(entries.fd()?, entry.file_name(), flags) {
                        if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
                            return Ok(true);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(false)
    }

    /// Reads the single file `name` in the directory `dir`, under the same rules.
    pub(in super::super) fn read_one(dir: &Path, name: &str, max: u64) -> io::Result<Vec<u8>> {
        let Some(fd) = open_dir(dir)? else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let name = std::ffi::CString::new(name)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        read_in(&fd, &name, false, max, &mut [0; 1024])
    }

    /// Removes the file `name` from the directory `dir`. `Ok(false)` when it (or the
    /// directory) is not there.
    pub(in super::super) fn remove_in(dir: &Path, name: &str) -> io::Result<bool> {
        let Some(fd) = open_dir_for_changes(dir)? else {
            return Ok(false);
        };
        match rustix::fs::unlinkat(&fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            // A directory where a value should be: not a value, nothing to delete.
            Err(Errno::ISDIR | Errno::PERM) if is_dir_at(&fd, name) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn is_dir_at(dir: impl AsFd, name: &str) -> bool {
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
    }

    /// What [`rename_between`] found.
    #[derive(Debug, PartialEq, Eq)]
    pub(in super::super) enum Renamed {
        /// Done.
        Moved,
        /// There is no file `name` in the source directory.
        NoSource,
        /// The destination directory is not there (missing, or removed meanwhile).
        NoDestination,
        /// The destination already has a file of that name (left unchanged).
        DestinationExists,
    }

    /// Renames `src_dir/name` to `dest_dir/name` without following links at either
    /// directory's name, and (on Linux) without replacing an existing destination.
    pub(in super::super) fn rename_between(
        src_dir: &Path,
        dest_dir: &Path,
        name: &str,
        replace: bool,
    ) -> io::Result<Renamed> {
        let Some(src) = open_dir_for_changes(src_dir)? else {
            return Ok(Renamed::NoSource);
        };
        let Some(dest) = open_dir_for_changes(dest_dir)? else {
            return Ok(Renamed::NoDestination);
        };
        let renamed = if replace {
            rustix::fs::renameat(&src, name, &dest, name)
        } else {
            rename_no_replace(&src, &dest, name)
        };
        match renamed {
            Ok(()) => Ok(Renamed::Moved),
            Err(Errno::EXIST) => Ok(Renamed::DestinationExists),
            // Either end can be missing: the source file, or the destination directory
            // (removed after it was opened).
            Err(Errno::NOENT) => {
                if rustix::fs::statat(&src, name, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    Ok(Renamed::NoDestination)
                } else {
                    Ok(Renamed::NoSource)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Renames `name` from `src` to `dest` unless `dest` has it (then `EXIST`): in one
    /// system call where the kernel and file system offer `RENAME_NOREPLACE`, else by
    /// looking first (a replace that races the look only puts the same bytes back).
    fn rename_no_replace(src: &OwnedFd, dest: &OwnedFd, name: &str) -> rustix::io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        match rustix::fs::renameat_with(src, name, dest, name, rustix::fs::RenameFlags::NOREPLACE) {
            Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {}
            other => return other,
        }
        if rustix::fs::statat(dest, name, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            return Err(Errno::EXIST);
        }
        rustix::fs::renameat(src, name, dest, name)
    }

    /// The entry name as a value name, if it is one.
    fn value_name(name: &CStr) -> Option<&str> {
        let name = name.to_str().ok()?;
        layout::is_hash_name(name).then_some(name)
    }

    /// An entry that is not a value's name and not hidden (`.`, `..`, and names starting
    /// with `.`, which are taken for temporary or partial files): Hypothesis's `fetch`
    /// reads every file of a key directory, so one it would read and we do not is said.
    fn is_odd_entry(name: &CStr) -> bool {
        !name.to_bytes().starts_with(b".")
    }
}

#[cfg(not(unix))]
mod imp {
    //! Portable fallbacks: the same rules on what is read, with the standard library's
    //! calls (which follow links and may block on special files).
    use std::fs;
    use std::io;
    use std::path::Path;

    use bytes::Bytes;

    use super::{layout, not_regular, read_bounded, Listing, READ_CHUNK};

    fn read_dir(dir: &Path) -> io::Result<Option<fs::ReadDir>> {
        match fs::read_dir(dir) {
            Ok(entries) => Ok(Some(entries)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(in super::super) fn read_values(dir: &Path, max: u64) -> io::Result<Listing> {
        let mut listing = Listing::default();
        let Some(entries) = read_dir(dir)? else {
            return Ok(listing);
        };
        let mut scratch = vec![0; READ_CHUNK];
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !layout::is_hash_name(&name) {
                // Hidden names are taken for temporary or partial files.
                if !name.starts_with('.') {
                    listing
                        .skipped
                        .push((name, io::Error::other(super::NOT_A_VALUE_NAME)));
                }
                continue;
            }
            match read_file(&entry.path(), max, &mut scratch) {
                Ok(value) => listing.values.push((name, Bytes::from(value))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => listing.skipped.push((name, e)),
            }
        }
        Ok(listing)
    }

    fn read_file(path: &Path, max: u64, scratch: &mut [u8]) -> io::Result<Vec<u8>> {
        if !fs::symlink_metadata(path)?.is_file() {
            return Err(not_regular("not a file"));
        }
        read_bounded(&mut fs::File::open(path)?, max, scratch)
    }

    pub(in super::super) fn holds_value(dir: &Path) -> io::Result<bool> {
        let Some(entries) = read_dir(dir)? else {
            return Ok(false);
        };
        for entry in entries.flatten() {
            let named = entry.file_name().to_str().is_some_and(layout::is_hash_name);
            if named && entry.file_type().is_ok_and(|t| t.is_file()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(in super::super) fn read_one(dir: &Path, name: &str, max: u64) -> io::Result<Vec<u8>> {
        read_file(&dir.join(name), max, &mut [0; 1024])
    }

    pub(in super::super) fn remove_in(dir: &Path, name: &str) -> io::Result<bool> {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    pub(in super::super) enum Renamed {
        Moved,
        NoSource,
        NoDestination,
        DestinationExists,
    }

    pub(in super::super) fn rename_between(
        src_dir: &Path,
        dest_dir: &Path,
        name: &str,
        replace: bool,
    ) -> io::Result<Renamed> {
        let src = src_dir.join(name);
        if fs::symlink_metadata(&src).is_err() {
            return Ok(Renamed::NoSource);
        }
        if !fs::symlink_metadata(dest_dir).is_ok_and(|m| m.is_dir()) {
            return Ok(Renamed::NoDestination);
        }
        if !replace && fs::symlink_metadata(dest_dir.join(name)).is_ok() {
            return Ok(Renamed::DestinationExists);
        }
        match fs::rename(&src, dest_dir.join(name)) {
            Ok(()) => Ok(Renamed::Moved),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(&src).is_ok() {
                    Ok(Renamed::NoDestination)
                } else {
                    Ok(Renamed::NoSource)
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(unix)]
pub(super) use imp::open_dir_for_changes;
pub(super) use imp::{holds_value, read_one, read_values, remove_in, rename_between, Renamed};

/// What is at a key directory's path (not following a link there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DirState {
    /// Nothing.
    Missing,
    /// A real directory.
    Directory,
    /// A link, a file or anything else: never written or read through.
    NotDirectory,
}

/// What is at `dir`, without following a link at its name.
pub(super) fn dir_state(dir: &Path) -> DirState {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => DirState::Directory,
        Ok(_) => DirState::NotDirectory,
        Err(_) => DirState::Missing,
    }
}

/// The error for a key directory that is a link or a file.
pub(super) fn not_a_directory(dir: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "{} is not a directory (a link or a file; links below the root are never followed)",
            dir.display()
        ),
    )
}

/// Whether the file `dir/name` exists in the real directory `dir`. A file found through a
/// link at `dir` does not count: `Err(NotADirectory)`.
pub(super) fn exists_in(dir: &Path, name: &str) -> io::Result<bool> {
    if fs::symlink_metadata(dir.join(name)).is_err() {
        return Ok(false);
    }
    match dir_state(dir) {
        DirState::Directory => Ok(true),
        DirState::Missing => Ok(false),
        DirState::NotDirectory => Err(not_a_directory(dir)),
    }
}

/// The whole content of the small file at `path` (a meta-keys entry, a value the watcher
/// reports), under the same rules.
pub(super) fn read_path(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(io::ErrorKind::NotFound.into());
    };
    read_one(dir, name, max)
}
