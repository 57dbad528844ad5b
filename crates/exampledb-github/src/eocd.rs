//! The end of a zip, read before the zip crate parses anything: the
//! end-of-central-directory record (and its ZIP64 form) says how many entries the central
//! directory holds and how large it is, so both are checked against the
//! [`ArchiveLimits`](crate::ArchiveLimits) first; then [`walk`] checks, reading only each
//! header's fixed part and allocating nothing per entry, that the central directory holds
//! exactly the declared entries within exactly its declared size. After both, what the
//! zip crate keeps in memory is bounded by the limits, whatever the archive declares.
//!
//! The geometry accepted is the one Python's `zipfile` reads: the central directory ends
//! where the end record (or the ZIP64 end record) begins, after any prepended data.

use std::io::{self, Read, Seek, SeekFrom};

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: u64 = 22;
/// The longest archive comment (its length is a 16-bit field).
const MAX_COMMENT: u64 = 65_535;
const LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
/// The ZIP64 end record without extensible data.
const ZIP64_EOCD_LEN: u64 = 56;
/// The ZIP64 end record's signature and size field, which its size does not count.
const ZIP64_EOCD_OVERHEAD: u64 = 12;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
/// A central directory header without its name, extra field and comment.
const CENTRAL_HEADER_LEN: u64 = 46;

/// What the end of a zip declares about its central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct End {
    /// Entries in the central directory.
    pub(crate) entries: u64,
    /// The central directory's size in bytes.
    pub(crate) size: u64,
    /// The central directory's offset as declared (relative to the archive's start, which
    /// is later than the file's when data is prepended).
    offset: u64,
    /// Where in the file the central directory must end: the (ZIP64) end record.
    end: u64,
    /// With a ZIP64 end record, where its locator says it is (relative to the archive's
    /// start): the difference to where it is gives the prepended data's length.
    zip64_declared_at: Option<u64>,
}

impl End {
    /// Where the central directory starts in the file. Fails unless it ends exactly where
    /// the end record begins and its declared offset agrees (after prepended data).
    pub(crate) fn start(&self) -> Result<u64, String> {
        let start = self.end.checked_sub(self.size).ok_or_else(|| {
            format!(
                "the central directory's declared size ({} bytes) is more than the {} bytes before the end record",
                self.size, self.end
            )
        })?;
        let consistent = match self.zip64_declared_at {
            // Python's zipfile rule: prepended data shifts every offset alike.
            None => start >= self.offset,
            Some(declared) => {
                self.end
                    .checked_sub(declared)
                    .and_then(|prefix| self.offset.checked_add(prefix))
                    == Some(start)
            }
        };
        if consistent {
            Ok(start)
        } else {
            Err(format!(
                "the central directory (offset {}, {} bytes) does not end where the end record begins (at {})",
                self.offset, self.size, self.end
            ))
        }
    }
}

/// Reads the end records of the `len`-byte file `r`: the last end-of-central-directory
/// signature within the last 65,557 bytes whose comment fits in the file, and the ZIP64
/// end record when the classic record's fields are saturated and a locator precedes it.
/// Reads at most 64 KiB plus two fixed-size records; the error is a message for a
/// [`Problem::CorruptArchive`](crate::Problem::CorruptArchive).
pub(crate) fn read_end<R: Read + Seek>(r: &mut R, len: u64) -> Result<End, String> {
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    let tail_start = len - tail_len;
    let mut tail = vec![0; usize::try_from(tail_len).map_err(|e| e.to_string())?];
    read_at(r, tail_start, &mut tail)?;
    let found = (0..tail.len().saturating_sub(EOCD_LEN as usize - 1))
        .rev()
        .find(|&i| {
            u32_at(&tail, i) == EOCD_SIGNATURE
                && i as u64 + EOCD_LEN + u64::from(u16_at(&tail, i + 20)) <= tail_len
        });
    let Some(i) = found else {
        return Err("no end-of-central-directory record: not a zip, or cut short".into());
    };
    let eocd_at = tail_start + i as u64;
    let disk = u16_at(&tail, i + 4);
    let cd_disk = u16_at(&tail, i + 6);
    let entries_here = u16_at(&tail, i + 8);
    let entries = u16_at(&tail, i + 10);
    let size = u32_at(&tail, i + 12);
    let offset = u32_at(&tail, i + 16);
    let saturated = entries == u16::MAX || size == u32::MAX || offset == u32::MAX;
    if saturated {
        if let Some(end) = read_zip64_end(r, eocd_at)? {
            return Ok(end);
        }
    }
    if disk != 0 || cd_disk != 0 || entries_here != entries {
        return Err("a multi-disk zip (not supported)".into());
    }
    Ok(End {
        entries: u64::from(entries),
        size: u64::from(size),
        offset: u64::from(offset),
        end: eocd_at,
        zip64_declared_at: None,
    })
}

/// The ZIP64 end record, when a locator sits right before the classic end record at
/// `eocd_at`. The record must end exactly at the locator; it is looked for where the
/// locator says, then right before the locator (prepended data).
fn read_zip64_end<R: Read + Seek>(r: &mut R, eocd_at: u64) -> Result<Option<End>, String> {
    let Some(locator_at) = eocd_at.checked_sub(LOCATOR_LEN) else {
        return Ok(None);
    };
    let mut locator = [0; LOCATOR_LEN as usize];
    read_at(r, locator_at, &mut locator)?;
    if u32_at(&locator, 0) != LOCATOR_SIGNATURE {
        return Ok(None);
    }
    let declared_at = u64_at(&locator, 8);
    if u32_at(&locator, 16) > 1 {
        return Err("a multi-disk zip (not supported)".into());
    }
    let candidates = [Some(declared_at), locator_at.checked_sub(ZIP64_EOCD_LEN)];
    for at in candidates.into_iter().flatten() {
        if at
            .checked_add(ZIP64_EOCD_LEN)
            .is_none_or(|e| e > locator_at)
        {
            continue;
        }
        let mut record = [0; ZIP64_EOCD_LEN as usize];
        read_at(r, at, &mut record)?;
        let ends_at_locator = at
            .checked_add(ZIP64_EOCD_OVERHEAD)
            .and_then(|p| p.checked_add(u64_at(&record, 4)))
            == Some(locator_at);
        if u32_at(&record, 0) != ZIP64_EOCD_SIGNATURE || !ends_at_locator {
            continue;
        }
        let (disk, cd_disk) = (u32_at(&record, 16), u32_at(&record, 20));
        let (entries_here, entries) = (u64_at(&record, 24), u64_at(&record, 32));
        if disk != 0 || cd_disk != 0 || entries_here != entries {
            return Err("a multi-disk zip (not supported)".into());
        }
        return Ok(Some(End {
            entries,
            size: u64_at(&record, 40),
            offset: u64_at(&record, 48),
            end: at,
            zip64_declared_at: Some(declared_at),
        }));
    }
    Err("no ZIP64 end-of-central-directory record where its locator points".into())
}

/// Checks that exactly `entries` central directory headers, read one after the other from
/// `start`, fill the `size` bytes of the central directory. Reads each header's fixed
/// part only (names, extra fields and comments are skipped), so it allocates nothing per
/// entry.
pub(crate) fn walk<R: Read + Seek>(
    r: &mut R,
    start: u64,
    entries: u64,
    size: u64,
) -> Result<(), String> {
    let end = start
        .checked_add(size)
        .ok_or("the central directory's size overflows")?;
    let mut at = start;
    let mut header = [0; CENTRAL_HEADER_LEN as usize];
    for i in 0..entries {
        let fixed_end = at.saturating_add(CENTRAL_HEADER_LEN);
        if fixed_end > end {
            return Err(format!(
                "the central directory's {size} bytes hold fewer than the {entries} entries declared (header #{i} does not fit)"
            ));
        }
        read_at(r, at, &mut header)?;
        if u32_at(&header, 0) != CENTRAL_HEADER_SIGNATURE {
            return Err(format!(
                "central directory header #{i} (at {at}) has no header signature"
            ));
        }
        let variable = u64::from(u16_at(&header, 28))
            + u64::from(u16_at(&header, 30))
            + u64::from(u16_at(&header, 32));
        at = fixed_end.saturating_add(variable);
        if at > end {
            return Err(format!(
                "central directory header #{i} runs past the central directory's declared {size} bytes"
            ));
        }
    }
    if at != end {
        return Err(format!(
            "the central directory's {size} bytes hold more than the {entries} entries declared"
        ));
    }
    Ok(())
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> Result<(), String> {
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(buf))
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => format!("cut short: nothing to read at {at}"),
            _ => format!("reading at {at}: {e}"),
        })
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32_at(b, i)) | (u64::from(u32_at(b, i + 4)) << 32)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use exampledb_testkit::github::{raw_zip, raw_zip64, zip64_declaring, RawEntry};

    use super::*;

    fn entries() -> Vec<RawEntry> {
        vec![
            RawEntry::file("04a6304fb6fbd10a/a49554886eaec884", b"v1".to_vec()),
            RawEntry::file("04a6304fb6fbd10a/", Vec::new()),
            RawEntry::file("04e6b3400353b141/04a6304fb6fbd10a", b"k1".to_vec()),
        ]
    }

    fn end_of(zip: &[u8]) -> Result<End, String> {
        read_end(&mut Cursor::new(zip), zip.len() as u64)
    }

    /// Where the central directory of a `raw_zip`/`raw_zip64` of `entries()` starts.
    fn central_start(zip: &[u8]) -> u64 {
        zip.windows(4)
            .position(|w| w == CENTRAL_HEADER_SIGNATURE.to_le_bytes())
            .expect("a central header") as u64
    }

    #[test]
    fn classic_and_zip64_end_records() -> Result<(), String> {
        for (what, zip) in [
            ("classic", raw_zip(&entries())),
            ("zip64", raw_zip64(&entries())),
        ] {
            let end = end_of(&zip)?;
            let start = end.start()?;
            assert_eq!(end.entries, 3, "{what}");
            assert_eq!(start, central_start(&zip), "{what}");
            assert_eq!(end.zip64_declared_at.is_some(), what == "zip64");
            walk(&mut Cursor::new(&zip), start, end.entries, end.size)?;
        }
        Ok(())
    }

    #[test]
    fn a_declared_count_is_read_without_parsing_the_central_directory() -> Result<(), String> {
        let zip = zip64_declaring(2_000_000, &[b' '; 60]);
        let end = end_of(&zip)?;
        assert_eq!(end.entries, 2_000_000);
        assert_eq!(end.size, 60);
        assert_eq!(end.start()?, 0);
        let err = walk(&mut Cursor::new(&zip), 0, end.entries, end.size).unwrap_err();
        assert!(err.contains("no header signature"), "{err}");
        Ok(())
    }

    #[test]
    fn prepended_data_shifts_the_central_directory() -> Result<(), String> {
        for zip in [raw_zip(&entries()), raw_zip64(&entries())] {
            let mut shifted = b"#!/bin/sh\nexit 0\n".to_vec();
            shifted.extend_from_slice(&zip);
            let end = end_of(&shifted)?;
            assert_eq!(end.start()?, central_start(&zip) + 17);
        }
        Ok(())
    }

    #[test]
    fn the_last_consistent_signature_wins() -> Result<(), String> {
        // A comment holding a stray end-record signature whose own comment would run past
        // the end of the file: skipped, and the real record found before it.
        let mut zip = raw_zip(&entries());
        let comment = [b"PK\x05\x06".as_slice(), &[0xff; 30]].concat();
        let len_field = zip.len() - 2;
        zip[len_field..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
        zip.extend_from_slice(&comment);
        let end = end_of(&zip)?;
        assert_eq!(end.entries, 3);
        assert_eq!(end.start()?, central_start(&zip));
        Ok(())
    }

    #[test]
    fn damaged_ends_and_central_directories_are_refused() {
        let zip = raw_zip(&entries());
        let err = end_of(&zip[..zip.len() - 5]).unwrap_err();
        assert!(err.contains("no end-of-central-directory"), "{err}");
        assert!(end_of(b"").is_err());

        // A declared size larger than everything before the end record.
        let mut big = zip.clone();
        let size_field = big.len() - 10;
        big[size_field..size_field + 4].copy_from_slice(&100_000u32.to_le_bytes());
        let err = end_of(&big).and_then(|e| e.start()).unwrap_err();
        assert!(err.contains("declared size"), "{err}");

        // A central directory that does not end at the end record.
        let mut gap = zip.clone();
        let offset_field = gap.len() - 6;
        let offset = u32::from_le_bytes(gap[offset_field..offset_field + 4].try_into().unwrap());
        gap[offset_field..offset_field + 4].copy_from_slice(&(offset + 1).to_le_bytes());
        let err = end_of(&gap).and_then(|e| e.start()).unwrap_err();
        assert!(err.contains("does not end where"), "{err}");

        // More or fewer headers than declared.
        let end = end_of(&zip).unwrap();
        let start = end.start().unwrap();
        for entries in [2, 4] {
            let err = walk(&mut Cursor::new(&zip), start, entries, end.size).unwrap_err();
            assert!(err.contains("entries declared"), "{entries}: {err}");
        }

        // A ZIP64 locator pointing nowhere.
        let mut lost = raw_zip64(&entries());
        let locator_offset = lost.len() - 22 - 20 + 8;
        lost[locator_offset..locator_offset + 8].copy_from_slice(&7u64.to_le_bytes());
        // Still found right before the locator.
        assert!(end_of(&lost).is_ok_and(|e| e.start().is_err()));
        let record = lost.len() - 22 - 20 - 56;
        lost[record] = b'X';
        let err = end_of(&lost).unwrap_err();
        assert!(err.contains("ZIP64"), "{err}");
    }
}
