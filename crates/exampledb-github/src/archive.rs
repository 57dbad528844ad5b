//! Reading a cached artifact: the zip is indexed once (hashed key -> its entries) from
//! its central directory; a fetch then reads only that key's entries, checking each one's
//! CRC and size. Nothing is extracted to disk.
//!
//! Which entries are values, which are meta-keys entries and which keys are listed is
//! [`exampledb_core::layout`]'s business; what is the archive's own is here: zip
//! directory entries (`<hash>/`), the numeric index of directory names, links,
//! encryption and compression methods, and the [`ArchiveLimits`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use exampledb_core::layout::{self, Entry};
use zip::{CompressionMethod, ZipArchive};

use crate::{eocd, ArchiveLimits, Problem};

/// The most the central directory may take per declared entry, on average, beyond
/// [`CENTRAL_DIRECTORY_SLACK`]. A `<hash>/<hash>` entry takes 79 bytes plus its extra
/// fields (a few dozen bytes in the zips actions/upload-artifact and Python write), so
/// this is generous; it bounds what the zip crate reads into memory by
/// [`ArchiveLimits::max_entries`] instead of by the archive.
pub(crate) const CENTRAL_HEADER_AVERAGE: u64 = 512;
/// Central directory bytes allowed on top of [`CENTRAL_HEADER_AVERAGE`] per entry, so a
/// small archive with a few long names (ignored, but harmless) still opens.
pub(crate) const CENTRAL_DIRECTORY_SLACK: u64 = 64 << 10;

/// The largest central directory accepted for `entries` declared entries.
pub(crate) fn central_directory_limit(entries: u64) -> u64 {
    entries
        .saturating_mul(CENTRAL_HEADER_AVERAGE)
        .saturating_add(CENTRAL_DIRECTORY_SLACK)
}

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
    /// Opens and indexes `path`, enforcing `limits` on what the archive declares.
    ///
    /// The entry count and the central directory's size are read from the end record and
    /// checked before anything else is parsed, and the central directory is walked header
    /// by header (allocating nothing) before the zip crate reads it into memory; so memory
    /// is bounded by [`ArchiveLimits::max_entries`], not by what the archive declares.
    pub(crate) fn open(path: &Path, limits: &ArchiveLimits) -> Result<Self, Problem> {
        let file = File::open(path).map_err(|e| Problem::cache(path, &e))?;
        let len = file.metadata().map_err(|e| Problem::cache(path, &e))?.len();
        let mut reader = PositionedFile::new(file, len);
        let corrupt = |message: String| Problem::corrupt(path, message);
        let limit = |what, limit: u64, actual: u64| Problem::ArchiveLimit {
            path: path.to_owned(),
            what,
            limit,
            actual,
        };
        let end = eocd::read_end(&mut reader, len).map_err(corrupt)?;
        if end.entries > limits.max_entries {
            return Err(limit("entry count", limits.max_entries, end.entries));
        }
        let central_limit = central_directory_limit(end.entries);
        if end.size > central_limit {
            return Err(limit("central directory size", central_limit, end.size));
        }
        let start = end.start().map_err(corrupt)?;
        eocd::walk(&mut reader, start, end.entries, end.size).map_err(corrupt)?;
        // The zip crate may settle on another end record than the one checked (it scans
        // for a ZIP64 record where `eocd` looks in one place), and so parse another
        // central directory: while it parses, it may read only as much as the checked
        // directory and the end records hold (plus its own probes), so what it keeps in
        // memory stays bounded by the limits checked above.
        let budget = Arc::clone(&reader.budget);
        budget.store(
            end.size
                .saturating_add(len.saturating_sub(start))
                .saturating_add(PARSE_SLACK),
            Ordering::Relaxed,
        );
        let zip = ZipArchive::new(reader);
        budget.store(u64::MAX, Ordering::Relaxed);
        let zip = zip.map_err(|e| Problem::corrupt(path, e))?;
        let count = zip.len() as u64;
        if count != end.entries {
            let why = if zip.has_duplicate_names() {
                "distinct names (the others are duplicates)"
            } else {
                "entries"
            };
            return Err(corrupt(format!(
                "the end record declares {} entries, but the central directory holds {count} {why}",
                end.entries
            )));
        }
        if zip.central_directory_start() != start {
            return Err(corrupt(format!(
                "the central directory was read at {}, not at {start} where the end record puts it",
                zip.central_directory_start()
            )));
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
            let dir = match layout::classify_path_bytes(name) {
                Entry::Value { key_dir, .. } => dir_id(key_dir),
                Entry::MetaKey { .. } => dir_id(layout::METAKEYS_DIR),
                Entry::Other => None,
            };
            let Some(dir) = dir else {
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
        self.fetch_dir(dir_id(&layout::key_dir(key)))
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

    /// The keys listed by the layout's rule ([`layout::listed_keys`]: a key is listed
    /// only while its directory holds a value), sorted; or `None` when the archive has
    /// values but no meta-keys entry.
    pub(crate) fn keys(&self) -> Option<Fetched> {
        let Some(meta) = dir_id(layout::METAKEYS_DIR).filter(|m| self.index.contains_key(m)) else {
            return self.index.is_empty().then(Fetched::default);
        };
        let mut fetched = self.fetch_dir(Some(meta));
        let contents = std::mem::take(&mut fetched.values);
        fetched.values = layout::listed_keys(contents, |dir| {
            dir_id(dir).is_some_and(|d| self.index.contains_key(&d))
        });
        fetched.values.sort();
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

/// A `<hash>/` directory entry (zips made by upload-artifact have none; Python's do):
/// skipped without counting as ignored.
fn is_dir_entry(name: &[u8]) -> bool {
    name.len() == layout::HASH_NAME_LEN + 1
        && name.ends_with(b"/")
        && layout::is_hash_name_bytes(&name[..layout::HASH_NAME_LEN])
}

/// A hash name as a number (the index's key); `None` for anything else.
fn dir_id(name: &str) -> Option<u64> {
    if layout::is_hash_name(name) {
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
    /// Bytes that may still be read (shared by clones): while the zip crate parses the
    /// central directory, no more than the one [`eocd`] checked, and the end records.
    budget: Arc<AtomicU64>,
    /// Bytes of the file from `window_start`.
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 8 * 1024;

/// What the zip crate may read while parsing beyond the checked central directory and
/// the end records: its probes for headers and signatures, each at most one window.
const PARSE_SLACK: u64 = 16 * WINDOW as u64;

impl PositionedFile {
    fn new(file: File, len: u64) -> Self {
        PositionedFile {
            file: Arc::new(file),
            pos: 0,
            len,
            budget: Arc::new(AtomicU64::new(u64::MAX)),
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
            budget: Arc::clone(&self.budget),
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
        let charged = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n as u64)
            });
        if charged.is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the zip parser read more than the checked central directory holds: the archive holds a second, larger directory",
            ));
        }
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
        assert_eq!(dir_id("04e6b3400353b141"), Some(0x04e6_b340_0353_b141));
        assert_eq!(dir_id(layout::METAKEYS_DIR), Some(0x04e6_b340_0353_b141));
        for bad in ["04E6B3400353B141", "04e6b3400353b14", "../e6b3400353b141"] {
            assert_eq!(dir_id(bad), None, "{bad}");
        }
        assert!(is_dir_entry(b"04e6b3400353b141/"));
        assert!(!is_dir_entry(b"../e6b3400353b141/"));
        assert!(!is_dir_entry(b"04e6b3400353b141\\"));
        assert!(!is_dir_entry(b"04e6b3400353b141/a49554886eaec884"));
    }

    fn open_bytes(zip: &[u8], limits: &ArchiveLimits) -> Result<Archive, Problem> {
        let dir = tempfile::tempdir().map_err(|e| Problem::cache("tempdir", &e))?;
        let path = dir.path().join("a.zip");
        std::fs::write(&path, zip).map_err(|e| Problem::cache(&path, &e))?;
        Archive::open(&path, limits)
    }

    fn model() -> Vec<exampledb_testkit::github::RawEntry> {
        let mut m = std::collections::BTreeMap::new();
        m.insert(b"k1".to_vec(), vec![b"v1".to_vec(), b"v2".to_vec()]);
        m.insert(b"k2".to_vec(), vec![b"v3".to_vec()]);
        exampledb_testkit::github::model_entries(&m)
    }

    /// The end-record checks agree with the zip crate on every geometry it accepts:
    /// classic and ZIP64 end records, with and without prepended data.
    #[test]
    fn zip64_and_prepended_archives_open() -> Result<(), Problem> {
        use exampledb_testkit::github::{raw_zip, raw_zip64};
        for zip in [raw_zip(&model()), raw_zip64(&model())] {
            for prefix in [&b""[..], b"#!/bin/sh\nexit 0\n"] {
                let archive = open_bytes(&[prefix, &zip].concat(), &ArchiveLimits::default())?;
                assert_eq!(archive.value_count(), 5);
                let mut values = archive.fetch(b"k1").values;
                values.sort();
                assert_eq!(values, [Bytes::from("v1"), Bytes::from("v2")]);
                let keys = archive.keys().map(|f| f.values);
                assert_eq!(keys, Some(vec![Bytes::from("k1"), Bytes::from("k2")]));
            }
        }
        Ok(())
    }

    /// An archive whose checked end record declares one entry, with a second ZIP64 end
    /// record (declaring a central directory of `hidden` entries) hidden in that entry's
    /// comment, where the zip crate's scan finds it first. Found by an adversarial review.
    fn hidden_second_directory(hidden: u32) -> Vec<u8> {
        fn central(name: &[u8], comment: &[u8]) -> Vec<u8> {
            let mut h = Vec::new();
            h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            h.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            h.extend_from_slice(&[0; 12]); // crc, sizes
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&(comment.len() as u16).to_le_bytes());
            h.extend_from_slice(&[0; 12]); // disk, attributes, local header offset
            h.extend_from_slice(name);
            h.extend_from_slice(comment);
            h
        }
        fn zip64_end(size_field: u64, entries: u64, cd_size: u64, cd_offset: u64) -> Vec<u8> {
            let mut r = Vec::new();
            r.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            r.extend_from_slice(&size_field.to_le_bytes());
            r.extend_from_slice(&[45, 0, 45, 0]);
            r.extend_from_slice(&[0; 8]);
            for v in [entries, entries, cd_size, cd_offset] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r
        }
        let mut buf = Vec::new();
        buf.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        buf.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(&[0; 12]);
        buf.extend_from_slice(&[1, 0, 0, 0]);
        buf.push(b'x');
        buf.extend_from_slice(&[0; 200]);
        let header_end = buf.len() as u64;
        let mut huge = Vec::new();
        for i in 0..hidden {
            huge.extend_from_slice(&central(format!("{i:08x}").as_bytes(), b""));
        }
        buf.extend_from_slice(&huge);
        let checked_start = buf.len() as u64;
        let hidden_at = checked_start + 46 + 1;
        let checked_end = checked_start + 103;
        let locator_at = checked_end + 56;
        let declared_at = hidden_at - header_end;
        let hidden_record = zip64_end(
            locator_at - hidden_at - 12,
            u64::from(hidden),
            huge.len() as u64,
            0,
        );
        buf.extend_from_slice(&central(b"x", &hidden_record));
        assert_eq!(buf.len() as u64, checked_end);
        buf.extend_from_slice(&zip64_end(
            44,
            1,
            103,
            checked_start - (checked_end - declared_at),
        ));
        buf.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&declared_at.to_le_bytes());
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        buf.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        buf.extend_from_slice(&[0xff; 8]);
        buf.extend_from_slice(&[0, 0]);
        buf
    }

    #[test]
    fn a_second_directory_hidden_from_the_check_is_not_parsed() {
        let limits = ArchiveLimits::default();
        match open_bytes(&hidden_second_directory(200_000), &limits) {
            Err(Problem::CorruptArchive { message, .. }) => {
                assert!(message.contains("second, larger directory"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_names_are_corrupt() {
        let mut entries = model();
        entries.push(entries[1].clone());
        let zip = exampledb_testkit::github::raw_zip(&entries);
        match open_bytes(&zip, &ArchiveLimits::default()) {
            Err(Problem::CorruptArchive { message, .. }) => {
                assert!(message.contains("duplicates"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn central_directory_limit_grows_with_the_entry_count() {
        assert_eq!(central_directory_limit(0), 64 << 10);
        assert_eq!(central_directory_limit(100_000), 100_000 * 512 + (64 << 10));
        assert_eq!(central_directory_limit(u64::MAX), u64::MAX);
    }
}
