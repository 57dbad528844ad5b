//! The cache directory, shared with Python Hypothesis: one `<timestamp>.zip` per
//! download, named by the UTC time of the download in Python's `isoformat()` with `:`
//! replaced by `_` (for example `2026-01-02T03_04_05.123456+00_00.zip`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};

/// A cached archive and the time in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedZip {
    pub(crate) path: PathBuf,
    pub(crate) at: DateTime<Utc>,
}

impl CachedZip {
    /// Whether it is younger than `timeout` at `now` (as in Hypothesis, a time in the
    /// future counts as young).
    pub(crate) fn is_fresh(&self, now: DateTime<Utc>, timeout: Duration) -> bool {
        match chrono::Duration::from_std(timeout) {
            Ok(timeout) => now.signed_duration_since(self.at) < timeout,
            // A timeout too large for chrono: everything is fresh.
            Err(_) => true,
        }
    }
}

/// The file name Hypothesis gives a download made at `at`: Python's
/// `datetime.isoformat()` (microseconds left out when they are zero) with `:` -> `_`.
pub(crate) fn zip_name(at: DateTime<Utc>) -> String {
    let micros = at.nanosecond() / 1_000 % 1_000_000;
    let base = at.format("%Y-%m-%dT%H_%M_%S");
    if micros == 0 {
        format!("{base}+00_00.zip")
    } else {
        format!("{base}.{micros:06}+00_00.zip")
    }
}

/// The time in a cached zip's name, as Hypothesis reads it
/// (`datetime.fromisoformat(stem.replace("_", ":"))`). Names that Hypothesis could not
/// read either, or that carry no UTC offset, give `None` and are left alone.
pub(crate) fn parse_zip_name(name: &str) -> Option<DateTime<Utc>> {
    let stem = name.strip_suffix(".zip")?;
    let text = stem.replace('_', ":");
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Every cached zip in `dir`, oldest first (ties broken by name). A missing directory
/// holds none.
pub(crate) fn scan(dir: &Path) -> io::Result<Vec<CachedZip>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(at) = parse_zip_name(name) {
            found.push(CachedZip {
                path: entry.path(),
                at,
            });
        } else if name.ends_with(".zip") {
            tracing::debug!(file = %entry.path().display(), "ignoring a zip whose name is not a timestamp");
        }
    }
    found.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

/// Deletes every cached zip but the newest, as Hypothesis does on open, and returns the
/// newest. Files another process removed first are no error; on Windows a file still open
/// elsewhere cannot be removed, which is logged and skipped.
pub(crate) fn keep_newest(mut zips: Vec<CachedZip>) -> Option<CachedZip> {
    let newest = zips.pop()?;
    for old in zips {
        remove_quietly(&old.path);
    }
    Some(newest)
}

/// Removes `path`; a file already gone is fine, other failures are logged.
pub(crate) fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => tracing::debug!(file = %path.display(), "removed an old cached artifact"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "could not remove an old cached artifact")
        }
    }
}

const LOCK_NAME: &str = ".exampledb-download.lock";
const PARTIAL_PREFIX: &str = ".download-";
const PARTIAL_SUFFIX: &str = ".partial";

/// A temporary download file's path in `dir`: hidden, and not ending in `.zip`, so
/// neither Hypothesis nor this crate takes it for a cached archive.
pub(crate) fn partial_path(dir: &Path) -> PathBuf {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    dir.join(format!(
        "{PARTIAL_PREFIX}{}-{nanos}{PARTIAL_SUFFIX}",
        std::process::id()
    ))
}

/// Removes temporary download files that crashed processes left behind. Only called
/// while holding the [`DownloadLock`], so no live download is removed.
pub(crate) fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PARTIAL_PREFIX) && name.ends_with(PARTIAL_SUFFIX) {
            remove_quietly(&entry.path());
        }
    }
}

/// An advisory lock on the cache directory, held while downloading, so that processes
/// opening the same cache at once download once: the others wait and then use the fresh
/// zip. Released on drop. Python Hypothesis does not take it; that is safe, because
/// every download lands under a name of its own by an atomic rename.
#[derive(Debug)]
pub(crate) struct DownloadLock {
    _file: File,
}

impl DownloadLock {
    /// Waits up to `wait` for the lock. `Ok(None)` when another process held it all that
    /// time: the caller then goes on without it (a slow peer must not stall the test run).
    pub(crate) async fn acquire(dir: &Path, wait: Duration) -> io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_NAME))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(DownloadLock { _file: file })),
                Err(fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                    // File systems without locks: go on unlocked (renames keep it safe).
                    return Ok(None);
                }
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_match_pythons_isoformat() {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .and_then(|t| t.with_nanosecond(123_456_789));
        let at = at.expect("valid time");
        assert_eq!(zip_name(at), "2026-01-02T03_04_05.123456+00_00.zip");
        let whole = at.with_nanosecond(0).expect("valid time");
        assert_eq!(zip_name(whole), "2026-01-02T03_04_05+00_00.zip");
        assert_eq!(
            parse_zip_name("2026-01-02T03_04_05.123456+00_00.zip"),
            Some(at.with_nanosecond(123_456_000).expect("valid time"))
        );
        assert_eq!(parse_zip_name("2026-01-02T03_04_05+00_00.zip"), Some(whole));
        assert_eq!(parse_zip_name("2026-01-02T05_04_05+02_00.zip"), Some(whole));
        assert_eq!(parse_zip_name("latest.zip"), None);
        assert_eq!(parse_zip_name("2026-01-02T03_04_05.zip"), None, "no offset");
        assert_eq!(
            parse_zip_name("2026-01-02T03_04_05+00_00.zip.partial"),
            None
        );
    }

    #[test]
    fn scan_sorts_and_keep_newest_evicts() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        for name in [
            "2026-01-03T00_00_00+00_00.zip",
            "2026-01-01T00_00_00+00_00.zip",
            "2026-01-02T00_00_00.5+00_00.zip",
            "notes.zip",
            ".download-1-2.partial",
        ] {
            fs::write(dir.path().join(name), b"x")?;
        }
        let zips = scan(dir.path())?;
        let names: Vec<_> = zips
            .iter()
            .filter_map(|z| z.path.file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(
            names,
            [
                "2026-01-01T00_00_00+00_00.zip",
                "2026-01-02T00_00_00.5+00_00.zip",
                "2026-01-03T00_00_00+00_00.zip"
            ]
        );
        let newest = keep_newest(zips).expect("one left");
        assert!(newest.path.ends_with("2026-01-03T00_00_00+00_00.zip"));
        let mut left: Vec<_> = fs::read_dir(dir.path())?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".download-1-2.partial",
                "2026-01-03T00_00_00+00_00.zip",
                "notes.zip"
            ]
        );
        remove_stale_partials(dir.path());
        assert!(!dir.path().join(".download-1-2.partial").exists());
        Ok(())
    }

    #[test]
    fn freshness() {
        let now = Utc::now();
        let zip = CachedZip {
            path: PathBuf::new(),
            at: now - chrono::Duration::hours(2),
        };
        assert!(zip.is_fresh(now, Duration::from_secs(3 * 3600)));
        assert!(!zip.is_fresh(now, Duration::from_secs(3600)));
        let future = CachedZip {
            path: PathBuf::new(),
            at: now + chrono::Duration::hours(2),
        };
        assert!(future.is_fresh(now, Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn lock_is_exclusive_and_times_out() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let first = DownloadLock::acquire(dir.path(), Duration::from_secs(1)).await?;
        assert!(first.is_some());
        let second = DownloadLock::acquire(dir.path(), Duration::from_millis(100)).await?;
        assert!(second.is_none(), "held elsewhere");
        drop(first);
        let third = DownloadLock::acquire(dir.path(), Duration::from_millis(100)).await?;
        assert!(third.is_some());
        Ok(())
    }
}
