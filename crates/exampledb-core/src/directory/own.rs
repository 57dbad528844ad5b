//! File events this process caused itself, so the watcher does not report them twice.
//!
//! The directory database reports its own changes directly, exactly and in order; the
//! file watcher reports everyone else's. Before each of its own file-system changes, the
//! database registers the file event it expects here; the watcher consumes the entry
//! instead of reporting the event. Entries the watcher never sees (a directory created and
//! emptied before its watch was added) expire.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;

/// An expected event not seen within this long is forgotten.
const EXPIRY: Duration = Duration::from_secs(10);

/// The two file events the database's own writes cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A value file appeared (created, linked or renamed in).
    Appeared,
    /// A value file went (unlinked or renamed away).
    Went,
}

#[derive(Debug, Default)]
pub(super) struct OwnChanges {
    expected: Mutex<HashMap<PathBuf, Vec<(Kind, Instant)>>>,
}

impl OwnChanges {
    /// Registers an event about to be caused.
    pub(super) fn expect(&self, path: &Path, kind: Kind) {
        lock(&self.expected)
            .entry(path.to_path_buf())
            .or_default()
            .push((kind, Instant::now()));
    }

    /// Withdraws a registration whose change did not happen after all.
    pub(super) fn cancel(&self, path: &Path, kind: Kind) {
        let mut map = lock(&self.expected);
        if let Some(list) = map.get_mut(path) {
            if let Some(i) = list.iter().rposition(|(k, _)| *k == kind) {
                list.remove(i);
            }
            if list.is_empty() {
                map.remove(path);
            }
        }
    }

    /// Whether the watcher's event was this process's own (and forgets it).
    pub(super) fn consume(&self, path: &Path, kind: Kind) -> bool {
        let mut map = lock(&self.expected);
        let Some(list) = map.get_mut(path) else {
            return false;
        };
        list.retain(|(_, at)| at.elapsed() < EXPIRY);
        let found = list
            .iter()
            .position(|(k, _)| *k == kind)
            .map(|i| list.remove(i));
        if list.is_empty() {
            map.remove(path);
        }
        found.is_some()
    }

    /// Drops expired registrations.
    pub(super) fn prune(&self) {
        let mut map = lock(&self.expected);
        map.retain(|_, list| {
            list.retain(|(_, at)| at.elapsed() < EXPIRY);
            !list.is_empty()
        });
    }

    /// Forgets everything (when listening stops).
    pub(super) fn clear(&self) {
        lock(&self.expected).clear();
    }
}
