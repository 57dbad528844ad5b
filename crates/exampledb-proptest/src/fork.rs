//! proptest's fork mode (its `fork` and `timeout` settings): each test runs its cases in
//! child processes (the test binary started again, `_PROPTEST_FORKFILE` in their
//! environment), and every child loads the persisted seeds before its first case; the
//! parent loads them again afterwards and replays the children's results against its own
//! list. Two loads that see different stores (a seed saved meanwhile, a store back up)
//! would misalign that replay, and a child that waits past proptest's timeout before its
//! first case fails the test.
//!
//! So the first child of a test loads from the stores, waiting at most [`CHILD_WAIT`] (or
//! the operation timeout, if shorter), and leaves the list in a snapshot; later children
//! and the parent read that list instead of the stores, and the parent removes it. A
//! snapshot is named by the parent's process id, the key and the test (libtest runs each
//! test on a thread named after it, in the parent and in the children alike), so tests
//! running at once never share one; it holds the path of proptest's fork file for that
//! run and counts only while that file exists, so one left by a process that died is
//! never taken for a live run's. Snapshots live in a directory of this user's own in the
//! temporary directory (mode 0700, checked), so no other user can plant or read one.
//! Only Unix tells a child its parent: elsewhere every process loads for itself.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// What proptest sets in its fork children's environment: the path of the run's fork file.
const FORK_FILE_ENV: &str = "_PROPTEST_FORKFILE";

/// The longest a fork child waits for the stores, so that it starts its first case
/// within proptest's timeout (a timeout under about 1.5 s needs a shorter operation
/// timeout).
pub(crate) const CHILD_WAIT: Duration = Duration::from_secs(1);

/// The largest snapshot read (far more seeds than any test has).
const MAX_SNAPSHOT: u64 = 4 << 20;

/// The fork file of the run this process is a child of, if it is one.
fn fork_file() -> Option<PathBuf> {
    std::env::var_os(FORK_FILE_ENV).map(PathBuf::from)
}

/// Whether this process is one of proptest's fork children.
pub(crate) fn in_child() -> bool {
    fork_file().is_some()
}

/// This user's directory for snapshots, made once per process: used only when it is a
/// real directory, owned by this user, that no one else may enter.
#[cfg(unix)]
fn private_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let base = std::env::temp_dir();
        // This user's id: the owner of a file it makes.
        let probe = base.join(format!(
            ".exampledb-proptest-probe-{}-{}",
            std::process::id(),
            unique()
        ));
        let uid = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|f| f.metadata())
            .map(|m| m.uid());
        let _ = std::fs::remove_file(&probe);
        let uid = uid.ok()?;
        let dir = base.join(format!("exampledb-proptest-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        let private = meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0;
        if !private {
            tracing::debug!(dir = %dir.display(), "not a private directory: proptest's fork children load for themselves");
        }
        private.then_some(dir)
    })
    .as_deref()
}

#[cfg(not(unix))]
fn private_dir() -> Option<&'static Path> {
    None
}

/// A number no other call in this process returns.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The process whose children share a snapshot: the parent in a child, this process in
/// the parent.
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

/// Where the snapshot of `key`'s seeds for this test of this process tree lives.
fn path(key: &[u8]) -> Option<PathBuf> {
    let owner = owner()?;
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    std::thread::current().name().hash(&mut hasher);
    Some(private_dir()?.join(format!("{owner}-{:016x}", hasher.finish())))
}

/// The seed texts the snapshot of `key` holds for a fork run still going on in this
/// process tree, if there is one; the parent removes it as it reads it, and a snapshot of
/// a run that is over is removed unread.
pub(crate) fn read(key: &[u8]) -> Option<Vec<String>> {
    let path = path(key)?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    let text = if meta.is_file() && meta.len() <= MAX_SNAPSHOT {
        std::fs::read_to_string(&path).ok()
    } else {
        None
    };
    let mut lines = text.as_deref().unwrap_or_default().lines();
    let live = lines
        .next()
        .is_some_and(|fork_file| !fork_file.is_empty() && Path::new(fork_file).exists());
    if !live || !in_child() {
        let _ = std::fs::remove_file(&path);
    }
    live.then(|| lines.filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// Leaves `seeds` (their texts) for the parent and the later children of this child's
/// run; written whole, or not at all.
pub(crate) fn write(key: &[u8], seeds: &[String]) {
    let (Some(path), Some(fork_file)) = (path(key), fork_file()) else {
        return;
    };
    let Some(fork_file) = fork_file.to_str().filter(|f| !f.contains('\n')) else {
        return;
    };
    let temporary = path.with_extension(format!("{}-{}.tmp", std::process::id(), unique()));
    let mut text = format!("{fork_file}\n");
    for seed in seeds {
        text.push_str(seed);
        text.push('\n');
    }
    // A new file, then renamed over the name: readers see a whole list or none.
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
