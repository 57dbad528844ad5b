//! Reading a cached artifact: the zip is indexed once (hashed key -> its entries) from
//! its central directory; a fetch then reads only that key's entries, checking each one's
//! CRC and size. Nothing is extracted to disk.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use exampledb_core::{hypothesis_hash, METAKEYS_KEY};
use zip::{CompressionMethod, ZipArchive};

use crate::{ArchiveLimits, Problem};

/// An indexed artifact archive. Cheap to share: fetches clone the parsed central
/// directory's handle and read with positioned reads, so they run concurrently.
#[derive(Debug)]
pub(crate) struct Archive {
    path: PathBuf,
    zip: ZipArchive<PositionedFile>,
    /// Key directory name (a hash, as a number) -> indices of its value entries.
    index: HashMap<u64, Vec<usize>>,
    /// Entries that are not `<hash>/<hash>` files and were ignored.
    ignored: usize,
    max_entry_size: u64,
}

/// What a fetch read, and the entries that failed their checks.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) values: Vec<Bytes>,
    pub(crate) problems: Vec<Problem>,
}

impl Archive {
    /// Opens and indexes `path`, enforcing `limits` on what the central directory declares.
    pub(crate) fn open(path: &Path, limits: &ArchiveLimits) -> Result<Self, Problem> {
        let file = File::open(path).map_err(|e| Problem::cache(path, &e))?;
        let len = file.metadata().map_err(|e| Problem::cache(path, &e))?.len();
        let reader = PositionedFile::new(file, len);
        let zip = ZipArchive::new(reader).map_err(|e| Problem::corrupt(path, e))?;
        let limit = |what, limit: u64, actual: u64| Problem::ArchiveLimit {
            path: path.to_owned(),
            what,
            limit,
            actual,
        };
        let count = zip.len() as u64;
        if count > limits.max_entries {
            return Err(limit("entry count", limits.max_entries, count));
        }
        let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut ignored = 0;
        let mut total: u64 = 0;
        for i in 0..zip.len() {
            let entry = zip
                .by_index_data(i)
                .map_err(|e| Problem::corrupt(path, e))?;
            let name = entry.name_raw();
            if is_dir_entry(name) {
                continue;
            }
            let Some(dir) = value_entry_dir(name) else {
                ignored += 1;
                continue;
            };
            if entry.is_symlink() || entry.encrypted() {
                ignored += 1;
                continue;
            }
            if !matches!(
                entry.compression(),
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                ignored += 1;
                continue;
            }
            let size = entry.size();
            if size > limits.max_entry_size {
                return Err(limit("entry size", limits.max_entry_size, size));
            }
            total = total.saturating_add(size);
            if total > limits.max_total_size {
                return Err(limit("total size", limits.max_total_size, total));
            }
            index.entry(dir).or_default().push(i);
        }
        if ignored > 0 {
            tracing::warn!(
                archive = %path.display(),
                ignored,
                "ignored artifact entries that are not <hash>/<hash> files (links, paths outside the layout, encrypted or unsupported compression)"
            );
        }
        Ok(Archive {
            path: path.to_owned(),
            zip,
            index,
            ignored,
            max_entry_size: limits.max_entry_size,
        })
    }

    /// Records that the file was renamed to `path` (the open descriptor stays valid).
    pub(crate) fn set_path(&mut self, path: PathBuf) {
        self.path = path;
    }

    /// How many entries were ignored as not part of a directory database.
    pub(crate) fn ignored(&self) -> usize {
        self.ignored
    }

    /// How many value entries were indexed.
    pub(crate) fn value_count(&self) -> usize {
        self.index.values().map(Vec::len).sum()
    }

    /// Every value stored under `key`.
    pub(crate) fn fetch(&self, key: &[u8]) -> Fetched {
        self.fetch_dir(dir_id(&hypothesis_hash(key)))
    }

    fn fetch_dir(&self, dir: Option<u64>) -> Fetched {
        let mut out = Fetched::default();
        let Some(entries) = dir.and_then(|d| self.index.get(&d)) else {
            return out;
        };
        let mut zip = self.zip.clone();
        out.values.reserve(entries.len());
        for &i in entries {
            match read_entry(&mut zip, i, self.max_entry_size) {
                Ok(value) => out.values.push(value),
                Err(message) => out.problems.push(Problem::corrupt(&self.path, message)),
            }
        }
        out
    }

    /// The keys recorded in the meta-keys entry whose directory the archive holds, or
    /// `None` when the archive has values but no meta-keys entry.
    pub(crate) fn keys(&self) -> Option<Fetched> {
        let meta = dir_id(&hypothesis_hash(METAKEYS_KEY));
        if meta.is_some_and(|m| !self.index.contains_key(&m)) {
            return if self.index.is_empty() {
                Some(Fetched::default())
            } else {
                None
            };
        }
        let mut fetched = self.fetch_dir(meta);
        fetched.values.retain(|key| {
            key.as_ref() != METAKEYS_KEY
                && dir_id(&hypothesis_hash(key)).is_some_and(|d| self.index.contains_key(&d))
        });
        fetched.values.sort();
        fetched.values.dedup();
        Some(fetched)
    }

    /// Reads every indexed entry once, checking CRCs and sizes and that the total really
    /// decompressed stays within `max_total_size`: done on a new download before it
    /// replaces the cache.
    pub(crate) fn verify_all(&self, max_total_size: u64) -> Result<(), Problem> {
        let mut zip = self.zip.clone();
        let mut total: u64 = 0;
        let mut buf = Vec::new();
        for entries in self.index.values() {
            for &i in entries {
                buf.clear();
                let read = read_entry_into(&mut zip, i, self.max_entry_size, &mut buf)
                    .map_err(|m| Problem::corrupt(&self.path, m))?;
                total = total.saturating_add(read);
                if total > max_total_size {
                    return Err(Problem::ArchiveLimit {
                        path: self.path.clone(),
                        what: "total size",
                        limit: max_total_size,
                        actual: total,
                    });
                }
            }
        }
        Ok(())
    }
}

fn read_entry(
    zip: &mut ZipArchive<PositionedFile>,
    i: usize,
    max_entry_size: u64,
) -> Result<Bytes, String> {
    let mut buf = Vec::new();
    read_entry_into(zip, i, max_entry_size, &mut buf)?;
    Ok(Bytes::from(buf))
}

/// Reads entry `i` into `buf`, returning its size. Fails on a CRC mismatch, on more or
/// fewer bytes than the central directory declares, and on more than `max_entry_size`.
fn read_entry_into(
    zip: &mut ZipArchive<PositionedFile>,
    i: usize,
    max_entry_size: u64,
    buf: &mut Vec<u8>,
) -> Result<u64, String> {
    let entry = zip.by_index(i).map_err(|e| format!("entry #{i}: {e}"))?;
    let declared = entry.size();
    let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
    buf.reserve(usize::try_from(declared.min(max_entry_size)).unwrap_or(0));
    // One byte more than declared shows a lying size without decompressing a bomb.
    let read = entry
        .take(declared.min(max_entry_size).saturating_add(1))
        .read_to_end(buf)
        .map_err(|e| format!("entry {name}: {e}"))? as u64;
    if read != declared {
        return Err(format!(
            "entry {name}: {read} bytes or more decompressed, {declared} declared"
        ));
    }
    Ok(read)
}

/// The key directory of a `<hash>/<hash>` value entry, as a number.
fn value_entry_dir(name: &[u8]) -> Option<u64> {
    if name.len() != 33 || name[16] != b'/' {
        return None;
    }
    let dir = std::str::from_utf8(&name[..16]).ok()?;
    let file = std::str::from_utf8(&name[17..]).ok()?;
    if !exampledb_core::is_hash_name(file) {
        return None;
    }
    dir_id(dir)
}

/// A `<hash>/` directory entry (zips made by upload-artifact have none; Python's do).
fn is_dir_entry(name: &[u8]) -> bool {
    name.len() == 17 && name[16] == b'/' && dir_id_bytes(&name[..16]).is_some()
}

fn dir_id_bytes(name: &[u8]) -> Option<u64> {
    dir_id(std::str::from_utf8(name).ok()?)
}

/// A 16-hex-digit hash name as a number; `None` for anything else.
fn dir_id(name: &str) -> Option<u64> {
    if exampledb_core::is_hash_name(name) {
        u64::from_str_radix(name, 16).ok()
    } else {
        None
    }
}

/// A file read with positioned reads and a small read-ahead window, so clones share one
/// descriptor, never disturb each other's position, and small reads (zip headers) cost
/// one system call per window instead of one each.
#[derive(Debug)]
pub(crate) struct PositionedFile {
    file: Arc<File>,
    pos: u64,
    len: u64,
    /// Bytes of the file from `window_start`.
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 8 * 1024;

impl PositionedFile {
    fn new(file: File, len: u64) -> Self {
        PositionedFile {
            file: Arc::new(file),
            pos: 0,
            len,
            window: Vec::new(),
            window_start: 0,
        }
    }
}

impl Clone for PositionedFile {
    /// Shares the descriptor; the clone starts with an empty window.
    fn clone(&self) -> Self {
        PositionedFile {
            file: Arc::clone(&self.file),
            pos: self.pos,
            len: self.len,
            window: Vec::new(),
            window_start: 0,
        }
    }
}

impl Read for PositionedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let in_window = self
            .pos
            .checked_sub(self.window_start)
            .and_then(|offset| usize::try_from(offset).ok())
            .filter(|&offset| offset < self.window.len());
        let n = match in_window {
            Some(offset) => {
                let n = buf.len().min(self.window.len() - offset);
                buf[..n].copy_from_slice(&self.window[offset..offset + n]);
                n
            }
            None if buf.len() >= WINDOW => read_at(&self.file, buf, self.pos)?,
            None => {
                self.window.resize(WINDOW, 0);
                let filled = read_at(&self.file, &mut self.window, self.pos)?;
                self.window.truncate(filled);
                self.window_start = self.pos;
                let n = buf.len().min(filled);
                buf[..n].copy_from_slice(&self.window[..n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PositionedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the archive",
            )),
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(
            value_entry_dir(b"04e6b3400353b141/a49554886eaec884"),
            Some(0x04e6_b340_0353_b141)
        );
        for bad in [
            &b"04e6b3400353b141/a49554886eaec88"[..],
            b"../04e6b3400353b1/a49554886eaec884",
            b"/04e6b3400353b14/a49554886eaec884",
            b"04E6B3400353B141/a49554886eaec884",
            b"04e6b3400353b141\\a49554886eaec884",
            b"04e6b3400353b141/..",
            b"04e6b3400353b141/",
        ] {
            assert_eq!(
                value_entry_dir(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(is_dir_entry(b"04e6b3400353b141/"));
        assert!(!is_dir_entry(b"../e6b3400353b141/"));
    }
}
