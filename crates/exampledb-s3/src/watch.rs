//! [`subscribe`](exampledb_core::ExampleDatabase::subscribe) for S3: this process's own
//! changes are reported by the calls that make them; everyone else's are found by listing
//! the prefix every poll interval, only while someone listens, and comparing with the
//! previous listing.
//!
//! Cost per poll: one ListObjectsV2 per 1,000 objects under the prefix, plus one GetObject
//! for each value object that appeared (its content is the event's value) and for each
//! new meta-keys entry of a key directory holding values (to name its key), up to
//! `fetch_concurrency` at once (the first poll reads the entries of every key holding
//! values). An object larger than `max_value_size` is read (its answer's head) once and
//! warned about once while it stays; it makes no event. A value deleted by another
//! process is reported with its content when the listener had read it (a bounded cache),
//! else with `None`. A change undone within one interval (saved and deleted again) is not
//! seen, and changes made before the first listing completes are part of the baseline,
//! not events. A read that fails (or takes longer than the operation timeout) is tried
//! again at the next poll; the other changes of the poll are reported meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use exampledb_core::backend::{ChangeSink, ListenerGuard};
use exampledb_core::layout::Entry;
use exampledb_core::{ChangeEvent, Error, ErrorKind, Operation, Result};
use futures_util::StreamExt;

use crate::client::Object;
use crate::database::Inner;
use crate::BACKEND;

/// Bounds of the cache of value contents the listener knows.
const CONTENT_CACHE_ENTRIES: usize = 4096;
const CONTENT_CACHE_BYTES: usize = 32 << 20;

/// What the listener knows about the prefix.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    state: Mutex<State>,
    /// Numbers this process's own changes, so a poll that started before one does not
    /// take it for another process's.
    seq: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    baseline_taken: bool,
    /// Value objects present, by name.
    known: HashSet<String>,
    /// Object names this process is changing or changed, with the sequence number of the
    /// last start or end of a change and how many changes are still in flight.
    touched: HashMap<String, Touch>,
    /// Key directory name -> key, from the meta-keys entries.
    hash_to_key: HashMap<String, Bytes>,
    /// Objects (values or meta-keys entries) larger than `max_value_size`, by name: read
    /// once (and warned about once), never again while they are listed.
    oversized: HashSet<String>,
    contents: ContentCache,
}

#[derive(Debug, Default, Clone, Copy)]
struct Touch {
    seq: u64,
    in_flight: usize,
}

impl State {
    /// Whether this process changed (or is changing) the object `name` since the poll
    /// numbered `started` began: what that poll listed of it may be stale or may be
    /// this process's own change, which the change's call reports itself.
    fn raced(&self, name: &str, started: u64) -> bool {
        self.touched
            .get(name)
            .is_some_and(|t| t.in_flight > 0 || t.seq > started)
    }

    /// Forgets the changes no poll from `started` on can race with.
    fn forget_before(&mut self, started: u64) {
        self.touched
            .retain(|_, t| t.in_flight > 0 || t.seq > started);
    }
}

#[derive(Debug, Default)]
struct ContentCache {
    by_name: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ContentCache {
    fn insert(&mut self, name: &str, value: &Bytes) {
        if value.len() > CONTENT_CACHE_BYTES / 8 || self.by_name.contains_key(name) {
            return;
        }
        self.by_name.insert(name.to_owned(), value.clone());
        self.order.push_back(name.to_owned());
        self.bytes += value.len();
        while self.order.len() > CONTENT_CACHE_ENTRIES || self.bytes > CONTENT_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.by_name.remove(&old) {
                self.bytes -= v.len();
            }
        }
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's changes of some objects, in flight until dropped (whether they
/// succeeded or not): while it lives and after, the poller leaves those objects to the
/// calls that change them.
pub(crate) struct Touching {
    watch: Arc<Watch>,
    names: Vec<String>,
}

impl Drop for Touching {
    fn drop(&mut self) {
        let seq = self.watch.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = lock(&self.watch.state);
        for name in &self.names {
            if let Some(t) = state.touched.get_mut(name) {
                t.seq = seq;
                t.in_flight = t.in_flight.saturating_sub(1);
            }
        }
    }
}

impl Watch {
    /// This process is about to change the objects `names`; the change is over when the
    /// returned guard is dropped (after [`appeared`](Self::appeared) or
    /// [`went`](Self::went) recorded its outcome).
    pub(crate) fn touch(self: &Arc<Self>, names: &[&str]) -> Touching {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = lock(&self.state);
        for name in names {
            let t = state.touched.entry((*name).to_owned()).or_default();
            t.seq = seq;
            t.in_flight += 1;
        }
        Touching {
            watch: Arc::clone(self),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    /// This process created the value object `name` holding `value`.
    pub(crate) fn appeared(&self, name: &str, value: &Bytes) {
        let mut state = lock(&self.state);
        state.known.insert(name.to_owned());
        state.contents.insert(name, value);
    }

    /// This process removed the value object `name`.
    pub(crate) fn went(&self, name: &str) {
        lock(&self.state).known.remove(name);
    }

    fn reset(&self) {
        *lock(&self.state) = State::default();
    }
}

/// Returns once the running listener's first listing is taken (from then on, every change
/// is reported), polling for it every 10 ms, or fails after `wait`.
pub(crate) async fn wait_baseline(inner: &Inner, wait: std::time::Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    while !lock(&inner.watch.state).baseline_taken {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                backend: BACKEND,
                operation: Operation::Subscribe,
                location: inner.store.location.clone(),
                after: wait,
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Stops the polling task when the last subscriber goes.
struct Guard(tokio::task::AbortHandle);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts polling; the guard stops it.
pub(crate) fn start(inner: Arc<Inner>, sink: ChangeSink) -> Result<ListenerGuard> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| Error::Backend {
        backend: BACKEND,
        operation: Operation::Subscribe,
        location: inner.store.location.clone(),
        kind: ErrorKind::NotSupported,
        temporary: false,
        source: format!("subscribe() polls from a Tokio task and needs a Tokio runtime: {e}")
            .into(),
    })?;
    inner.watch.reset();
    let task = runtime.spawn(poll_loop(inner, sink));
    Ok(Box::new(Guard(task.abort_handle())))
}

async fn poll_loop(inner: Arc<Inner>, sink: ChangeSink) {
    let mut failing = false;
    loop {
        match poll_once(&inner, &sink).await {
            Ok(()) => {
                if failing {
                    tracing::info!(location = %inner.store.location, "polling the prefix works again");
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(location = %inner.store.location, error = %e, "cannot poll the prefix for change events; retrying every poll interval");
                }
                failing = true;
            }
        }
        tokio::time::sleep(inner.poll_interval).await;
        if !sink.is_listening() {
            return;
        }
    }
}

async fn poll_once(inner: &Inner, sink: &ChangeSink) -> Result<()> {
    let started = inner.watch.seq.load(Ordering::SeqCst);
    let listing = inner.list_layout(Operation::Subscribe).await?;
    // The first failed read of this poll; the poll goes on without it.
    let mut failed: Option<Error> = None;
    // Name the keys of new meta-keys entries, all at once.
    let unknown: Vec<String> = {
        let mut state = lock(&inner.watch.state);
        state.oversized.retain(|name| {
            listing.values.contains(name)
                || matches!(inner.classify(name), Entry::MetaKey { key_dir } if listing.entries.get(key_dir) == Some(name))
        });
        listing
            .entries_of_holding_dirs()
            .filter(|(dir, name)| {
                !state.hash_to_key.contains_key(*dir) && !state.oversized.contains(*name)
            })
            .map(|(_, name)| name.clone())
            .collect()
    };
    let named: Vec<(String, Result<Object>)> = inner
        .read_objects(Operation::Subscribe, unknown)
        .collect()
        .await;
    {
        let mut state = lock(&inner.watch.state);
        for (name, read) in named {
            match read {
                Ok(Object::Found(key)) => {
                    if let Entry::MetaKey { key_dir } = inner.classify(&name) {
                        state.hash_to_key.insert(key_dir.to_owned(), key);
                    }
                }
                Ok(Object::TooLarge) => {
                    state.oversized.insert(name);
                }
                Ok(Object::Missing) => {}
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
    }
    let values = listing.values;
    let (gone, new) = {
        let mut state = lock(&inner.watch.state);
        if !state.baseline_taken {
            // What this process changed while the listing ran, it knows better.
            let mut known = values;
            let raced: Vec<(String, bool)> = state
                .touched
                .keys()
                .filter(|name| state.raced(name, started))
                .map(|name| (name.clone(), state.known.contains(name)))
                .collect();
            for (name, present) in raced {
                if present {
                    known.insert(name);
                } else {
                    known.remove(&name);
                }
            }
            state.baseline_taken = true;
            state.known = known;
            state.forget_before(started);
            return failed.map_or(Ok(()), Err);
        }
        let gone: Vec<String> = state
            .known
            .iter()
            .filter(|n| !values.contains(*n) && !state.raced(n, started))
            .cloned()
            .collect();
        let new: Vec<String> = values
            .iter()
            .filter(|n| {
                !state.known.contains(*n)
                    && !state.oversized.contains(*n)
                    && !state.raced(n, started)
            })
            .cloned()
            .collect();
        (gone, new)
    };
    // Deletes first: a move by another process seen in one poll is reported as a delete
    // then a save (a poll between its copy and its delete sees the save first).
    for name in gone {
        let event = {
            let mut state = lock(&inner.watch.state);
            if state.raced(&name, started) {
                continue; // this process is changing it now: its call reports it
            }
            state.known.remove(&name);
            key_of(inner, &state, &name).map(|key| ChangeEvent::Deleted {
                key,
                value: state.contents.by_name.get(&name).cloned(),
            })
        };
        if let Some(event) = event {
            sink.emit(event);
        }
    }
    // New values, all read at once. A value whose key has no meta-keys entry yet is
    // looked at again next time.
    let named_new: Vec<(String, Bytes)> = {
        let state = lock(&inner.watch.state);
        new.into_iter()
            .filter_map(|name| key_of(inner, &state, &name).map(|key| (name, key)))
            .collect()
    };
    let mut keys: HashMap<String, Bytes> = named_new.iter().cloned().collect();
    let read: Vec<(String, Result<Object>)> = inner
        .read_objects(
            Operation::Subscribe,
            named_new.into_iter().map(|(name, _)| name).collect(),
        )
        .collect()
        .await;
    for (name, result) in read {
        let value = match result {
            Ok(Object::Found(value)) => value,
            Ok(Object::TooLarge) => {
                lock(&inner.watch.state).oversized.insert(name);
                continue;
            }
            Ok(Object::Missing) => continue, // removed again before it could be read
            Err(e) => {
                failed.get_or_insert(e);
                continue;
            }
        };
        let Some(key) = keys.remove(&name) else {
            continue;
        };
        {
            let mut state = lock(&inner.watch.state);
            if state.raced(&name, started) || state.known.contains(&name) {
                continue;
            }
            state.known.insert(name.clone());
            state.contents.insert(&name, &value);
        }
        sink.emit(ChangeEvent::Saved { key, value });
    }
    lock(&inner.watch.state).forget_before(started);
    failed.map_or(Ok(()), Err)
}

fn key_of(inner: &Inner, state: &State, name: &str) -> Option<Bytes> {
    match inner.classify(name) {
        Entry::Value { key_dir, .. } => state.hash_to_key.get(key_dir).cloned(),
        _ => None,
    }
}
