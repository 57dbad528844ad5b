//! [`InMemoryDatabase`]: a database that lives as long as the process.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::backend::ChangeHub;
use crate::{ChangeEvent, ChangeStream, ExampleDatabase, Result};

/// Values are kept ordered, not hashed: comparing two random values usually stops at the
/// first byte, where hashing reads the whole value (SipHash over up to 1 KiB per lookup).
type Sets = HashMap<Bytes, BTreeSet<Bytes>>;

/// A non-persistent database held in memory: for tests of other databases, for a test
/// run several times in one process, and as the fallback when no location is usable.
///
/// Clones share the same data and the same subscribers.
///
/// ```
/// use exampledb_core::{ExampleDatabase, InMemoryDatabase};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let db = InMemoryDatabase::new();
/// db.save(b"k", b"v").await?;
/// assert_eq!(db.keys().await?, vec![bytes::Bytes::from("k")]);
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct InMemoryDatabase {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sets: Mutex<Sets>,
    hub: ChangeHub,
}

impl fmt::Debug for InMemoryDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDatabase")
            .field("keys", &self.sets().len())
            .field("subscribers", &self.inner.hub.subscriber_count())
            .finish()
    }
}

impl InMemoryDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    fn sets(&self) -> MutexGuard<'_, Sets> {
        // No code path can leave the map half-updated on panic.
        self.inner
            .sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(sets: &mut Sets, key: &[u8], value: &[u8]) -> Option<(Bytes, Bytes)> {
        let value = Bytes::copy_from_slice(value);
        match sets.get_mut(key) {
            Some(set) => {
                if !set.insert(value.clone()) {
                    return None;
                }
                // The key's Bytes is shared, not copied.
                let key = sets.get_key_value(key).map(|(k, _)| k.clone())?;
                Some((key, value))
            }
            None => {
                let key = Bytes::copy_from_slice(key);
                sets.insert(key.clone(), BTreeSet::from([value.clone()]));
                Some((key, value))
            }
        }
    }

    fn remove(sets: &mut Sets, key: &[u8], value: &[u8]) -> Option<(Bytes, Bytes)> {
        let set = sets.get_mut(key)?;
        let value = set.take(value)?;
        let key = if set.is_empty() {
            sets.remove_entry(key).map(|(k, _)| k)?
        } else {
            sets.get_key_value(key).map(|(k, _)| k.clone())?
        };
        Some((key, value))
    }
}

#[async_trait]
impl ExampleDatabase for InMemoryDatabase {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        // Events are emitted under the lock so that subscribers see them in the order the
        // changes were applied, whatever the number of concurrent writers.
        let mut sets = self.sets();
        if let Some((key, value)) = Self::insert(&mut sets, key, value) {
            self.inner.hub.emit(ChangeEvent::Saved { key, value });
        }
        Ok(())
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        Ok(self
            .sets()
            .get(key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut sets = self.sets();
        if let Some((key, value)) = Self::remove(&mut sets, key, value) {
            self.inner.hub.emit(ChangeEvent::Deleted {
                key,
                value: Some(value),
            });
        }
        Ok(())
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        // One critical section: no other writer sees the value in neither set.
        let mut sets = self.sets();
        if src != dest {
            if let Some((key, value)) = Self::remove(&mut sets, src, value) {
                self.inner.hub.emit(ChangeEvent::Deleted {
                    key,
                    value: Some(value),
                });
            }
        }
        if let Some((key, value)) = Self::insert(&mut sets, dest, value) {
            self.inner.hub.emit(ChangeEvent::Saved { key, value });
        }
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        Ok(self.sets().keys().cloned().collect())
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        // Every write goes through this process, so writes emit directly.
        self.inner.hub.subscribe(|_| Ok(None))
    }
}
