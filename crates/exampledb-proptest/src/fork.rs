//! proptest's fork mode (its `fork` and `timeout` settings): each test runs its cases in
//! child processes (the test binary started again, `_PROPTEST_FORKFILE` in their
//! environment), and every child loads the persisted seeds before its first case; the
//! parent loads them again afterwards and replays the children's results against its own
//! list. Two loads that see different stores (a seed saved meanwhile, a store back up)
//! would misalign that replay, and a child that waits past proptest's timeout before its
//! first case fails the test.
//!
//! So the first child of a test loads from the stores, waiting at most
//! [`CHILD_WAIT`], and leaves the list in a snapshot file named by its parent's process
//! id and the key; later children and the parent read that list instead of the stores (the
//! parent then removes it). Only Unix has the parent's id; elsewhere every process loads.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// What proptest sets in its fork children's environment.
const FORK_FILE_ENV: &str = "_PROPTEST_FORKFILE";

/// The longest a fork child waits for the stores: within any timeout proptest is
/// commonly given, so the child starts its first case in time.
pub(crate) const CHILD_WAIT: Duration = Duration::from_secs(1);

/// Snapshots older than this are left over by a process that died; they are ignored.
const STALE: Duration = Duration::from_secs(3600);

/// Whether this process is one of proptest's fork children.
pub(crate) fn in_child() -> bool {
    std::env::var_os(FORK_FILE_ENV).is_some()
}

/// The process whose children share a snapshot: the parent in a child, this process in
/// the parent. Only Unix tells a process its parent.
fn owner() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(if in_child() {
            std::os::unix::process::parent_id()
        } else {
            std::process::id()
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Where the snapshot of `key`'s seeds for this process tree lives.
fn path(key: &[u8]) -> Option<PathBuf> {
    let owner = owner()?;
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    Some(std::env::temp_dir().join(format!(
        "exampledb-proptest-{owner}-{:016x}",
        hasher.finish()
    )))
}

/// The seed texts a snapshot holds for `key`, if one was left for this process tree; the
/// parent removes it as it reads it.
pub(crate) fn read(key: &[u8]) -> Option<Vec<String>> {
    let path = path(key)?;
    let meta = std::fs::metadata(&path).ok()?;
    let fresh = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age < STALE);
    let text = std::fs::read_to_string(&path).ok();
    if !in_child() || !fresh {
        let _ = std::fs::remove_file(&path);
    }
    if !fresh {
        return None;
    }
    Some(
        text?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Leaves `seeds` (their texts) for the parent and the later children; written whole, or
/// not at all.
pub(crate) fn write(key: &[u8], seeds: &[String]) {
    let Some(path) = path(key) else { return };
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut text = seeds.join("\n");
    text.push('\n');
    // A new file (never one planted in the shared temporary directory, nor a link's
    // target), then renamed over the name: readers see a whole list or none.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
        .and_then(|()| std::fs::rename(&temporary, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        tracing::debug!(path = %path.display(), error = %e, "could not leave the seeds for proptest's parent process");
    }
}
