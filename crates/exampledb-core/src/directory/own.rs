//! File events this process caused itself, so the watcher does not report them twice.
//!
//! The directory database reports its own changes directly, exactly and in order; the
//! file watcher reports everyone else's. Before each of its own file-system changes, the
//! database registers the file event it expects here; the watcher consumes the entry
//! instead of reporting the event. Entries the watcher never sees (a directory created and
//! emptied before its watch was added) expire.

use std::collections::HashMap;
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

/// Expected events by value file, named `<key dir>/<value file>` relative to the root (so
/// that a relative root and the watcher's absolute paths agree).
#[derive(Debug, Default)]
pub(super) struct OwnChanges {
    expected: Mutex<HashMap<String, Vec<(Kind, Instant)>>>,
}

impl OwnChanges {
    /// Registers an event about to be caused.
    pub(super) fn expect(&self, name: &str, kind: Kind) {
        lock(&self.expected)
            .entry(name.to_owned())
            .or_default()
            .push((kind, Instant::now()));
    }

    /// Withdraws a registration whose change did not happen after all.
    pub(super) fn cancel(&self, name: &str, kind: Kind) {
        let mut map = lock(&self.expected);
        if let Some(list) = map.get_mut(name) {
            if let Some(i) = list.iter().rposition(|(k, _)| *k == kind) {
                list.remove(i);
            }
            if list.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Whether the watcher's event was this process's own (and forgets it).
    pub(super) fn consume(&self, name: &str, kind: Kind) -> bool {
        let mut map = lock(&self.expected);
        let Some(list) = map.get_mut(name) else {
            return false;
        };
        list.retain(|(_, at)| at.elapsed() < EXPIRY);
        let found = list
            .iter()
            .position(|(k, _)| *k == kind)
            .map(|i| list.remove(i));
        if list.is_empty() {
            map.remove(name);
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
