//! File-system watching for [`super::DirectoryDatabase::subscribe`].
//!
//! A `notify` watcher on the root feeds a dedicated thread, which turns file events into
//! [`ChangeEvent`]s: it maps each key directory's hashed name back to the key through the
//! meta-keys entry, pairs the two halves of a rename, and rescans key directories created
//! while it watched (files written into a new directory before its watch was added would
//! otherwise be missed).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use super::own::{Kind, OwnChanges};
use super::{read_file, write};
use crate::{is_hash_name, BoxError, ChangeEvent, ChangeSink, ListenerGuard};

/// How long after a key directory appears it is scanned a second time: by then its watch
/// is certainly in place.
const RESCAN_AFTER: Duration = Duration::from_millis(150);
/// How long an unpaired rename-from waits for its rename-to before it counts as a delete.
const RENAME_PAIRING: Duration = Duration::from_millis(50);
/// How often the thread checks that someone is still listening when no event comes.
const IDLE_CHECK: Duration = Duration::from_millis(500);
/// Bounds of the cache of value contents the watcher has read.
const CONTENT_CACHE_ENTRIES: usize = 4096;
const CONTENT_CACHE_BYTES: usize = 32 << 20;

/// Contents of value files the watcher has read, by file name. A value file's name is
/// the hash of its content, so when another process deletes or moves a file whose content
/// was seen, the event can carry the value even though the file is gone.
#[derive(Default)]
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

    fn get(&self, path: &Path) -> Option<Bytes> {
        let name = path.file_name()?.to_str()?;
        self.by_name.get(name).cloned()
    }
}

/// Starts watching `root`; the returned guard stops it when dropped.
pub(super) fn start(
    root: &Path,
    metakeys_dir: &Path,
    own: Arc<OwnChanges>,
    sink: ChangeSink,
) -> Result<Option<ListenerGuard>, BoxError> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx)?;
    // The map is read after the watch is in place, so no meta-keys entry is missed.
    watcher.watch(root, RecursiveMode::Recursive)?;
    let mut worker = Worker {
        root: root.to_path_buf(),
        metakeys_dir: metakeys_dir.to_path_buf(),
        hash_to_key: HashMap::new(),
        seen: HashSet::new(),
        contents: ContentCache::default(),
        pending_from: None,
        rescans: Vec::new(),
        own: Arc::clone(&own),
        sink,
    };
    worker.load_metakeys();
    thread::Builder::new()
        .name("exampledb-directory-watch".into())
        .spawn(move || worker.run(&rx))?;
    Ok(Some(Box::new(Guard {
        _watcher: watcher,
        own,
    })))
}

/// Stops the watch when the last subscriber goes: dropping the watcher closes the event
/// channel, and the thread ends.
struct Guard<W> {
    _watcher: W,
    own: Arc<OwnChanges>,
}

impl<W> Drop for Guard<W> {
    fn drop(&mut self) {
        self.own.clear();
    }
}

/// What a path inside the root is.
enum Entry<'a> {
    /// A value file: the key directory's name.
    Value { key_hash: &'a str },
    /// A meta-keys entry: its file name (the key's hash).
    MetaKey { key_hash: &'a str },
    /// A key directory (a direct child of the root).
    KeyDir,
    /// Anything else: temporary files, stray files, deeper paths.
    Other,
}

struct Worker {
    root: PathBuf,
    metakeys_dir: PathBuf,
    hash_to_key: HashMap<String, Bytes>,
    /// Value files reported as saved and not since deleted: a file found both by a
    /// directory rescan and by its own create event is reported once.
    seen: HashSet<PathBuf>,
    contents: ContentCache,
    pending_from: Option<(Option<usize>, PathBuf, Instant)>,
    rescans: Vec<(PathBuf, Instant)>,
    own: Arc<OwnChanges>,
    sink: ChangeSink,
}

impl Worker {
    fn run(&mut self, rx: &mpsc::Receiver<notify::Result<Event>>) {
        loop {
            let timeout = match (&self.pending_from, self.rescans.first()) {
                (Some(_), _) => RENAME_PAIRING,
                (None, Some((_, due))) => due.saturating_duration_since(Instant::now()),
                (None, None) => IDLE_CHECK,
            };
            match rx.recv_timeout(timeout) {
                Ok(Ok(event)) => self.handle(event),
                Ok(Err(e)) => {
                    tracing::warn!(root = %self.root.display(), error = %e, "file watcher error; events may have been missed");
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The watcher was dropped: the last subscriber went away.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.flush_stale_rename();
            self.run_due_rescans();
            self.own.prune();
            if !self.sink.is_listening() {
                return;
            }
        }
    }

    fn classify<'p>(&self, path: &'p Path) -> Entry<'p> {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Entry::Other;
        };
        let Some(parent) = path.parent() else {
            return Entry::Other;
        };
        if parent == self.root {
            return if is_hash_name(name) {
                Entry::KeyDir
            } else {
                Entry::Other
            };
        }
        if write::is_temp_name(name) || parent.parent() != Some(self.root.as_path()) {
            return Entry::Other;
        }
        let Some(dir_name) = parent.file_name().and_then(|n| n.to_str()) else {
            return Entry::Other;
        };
        if parent == self.metakeys_dir {
            Entry::MetaKey { key_hash: name }
        } else {
            Entry::Value { key_hash: dir_name }
        }
    }

    fn load_metakeys(&mut self) {
        let Ok(entries) = fs::read_dir(&self.metakeys_dir) else {
            return;
        };
        for entry in entries.flatten() {
            if let (Some(name), Ok(key)) = (entry.file_name().to_str(), read_file(&entry.path())) {
                self.hash_to_key.insert(name.to_owned(), Bytes::from(key));
            }
        }
    }

    fn key_for(&mut self, key_hash: &str) -> Option<Bytes> {
        if let Some(key) = self.hash_to_key.get(key_hash) {
            return Some(key.clone());
        }
        // The meta-keys entry's own event may not have been handled yet.
        let key = Bytes::from(read_file(&self.metakeys_dir.join(key_hash)).ok()?);
        self.hash_to_key.insert(key_hash.to_owned(), key.clone());
        Some(key)
    }

    fn emit(&self, event: ChangeEvent) {
        self.sink.emit(event);
    }

    fn handle(&mut self, event: Event) {
        let tracker = event.attrs.tracker();
        if let EventKind::Modify(ModifyKind::Name(RenameMode::To)) = event.kind {
            if let Some(dest) = event.paths.first() {
                let paired = self
                    .pending_from
                    .take_if(|(from_tracker, _, _)| tracker.is_some() && *from_tracker == tracker);
                match paired {
                    Some((_, src, _)) => self.moved(&src, dest),
                    None => {
                        self.flush_pending_from();
                        self.appeared(dest);
                    }
                }
            }
            return;
        }
        self.flush_pending_from();
        match event.kind {
            EventKind::Create(CreateKind::Folder) => {
                for path in &event.paths {
                    self.appeared(path);
                }
            }
            EventKind::Create(_) => {
                for path in &event.paths {
                    self.appeared(path);
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                if let Some(path) = event.paths.first() {
                    self.pending_from = Some((tracker, path.clone(), Instant::now()));
                }
            }
            // `Both` repeats a `From` + `To` pair already handled.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {}
            EventKind::Remove(RemoveKind::File | RemoveKind::Any | RemoveKind::Other) => {
                for path in &event.paths {
                    self.removed(path);
                }
            }
            EventKind::Other if event.need_rescan() => {
                tracing::warn!(root = %self.root.display(), "file watcher queue overflowed; change events were lost");
            }
            _ => {}
        }
    }

    /// A file or directory appeared at `path` (created, linked or renamed in).
    fn appeared(&mut self, path: &Path) {
        match self.classify(path) {
            Entry::KeyDir => {
                self.scan(path);
                self.rescans
                    .push((path.to_path_buf(), Instant::now() + RESCAN_AFTER));
            }
            Entry::MetaKey { key_hash } => {
                if let Ok(key) = read_file(path) {
                    self.hash_to_key
                        .insert(key_hash.to_owned(), Bytes::from(key));
                }
            }
            Entry::Value { key_hash } => {
                if self.seen.contains(path) {
                    return;
                }
                if self.own.consume(path, Kind::Appeared) {
                    // Reported by the save itself.
                    self.seen.insert(path.to_path_buf());
                    return;
                }
                let Some(key) = self.key_for(key_hash) else {
                    tracing::debug!(path = %path.display(), "value file for a key with no meta-keys entry; not reported");
                    return;
                };
                // A file removed again before we read it was never a visible change.
                if let Ok(value) = read_file(path) {
                    let value = Bytes::from(value);
                    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                        self.contents.insert(name, &value);
                    }
                    self.seen.insert(path.to_path_buf());
                    self.emit(ChangeEvent::Saved { key, value });
                }
            }
            Entry::Other => {}
        }
    }

    fn removed(&mut self, path: &Path) {
        if let Entry::Value { key_hash } = self.classify(path) {
            self.seen.remove(path);
            if self.own.consume(path, Kind::Went) {
                return; // reported by the delete itself
            }
            if let Some(key) = self.key_for(key_hash) {
                // Another process removed it: the content is gone with the file, and is
                // known only if the watcher read it earlier.
                let value = self.contents.get(path);
                self.emit(ChangeEvent::Deleted { key, value });
            }
        }
    }

    /// A rename inside the root, from `src` to `dest`.
    fn moved(&mut self, src: &Path, dest: &Path) {
        let Entry::Value { key_hash: src_hash } = self.classify(src) else {
            // From a temporary file (or a stray name): the value just appeared at dest.
            self.appeared(dest);
            return;
        };
        if self.own.consume(src, Kind::Went) {
            // This process's own move, reported by the move itself.
            self.seen.remove(src);
            if !self.own.consume(dest, Kind::Appeared) {
                self.appeared(dest);
            } else {
                self.seen.insert(dest.to_path_buf());
            }
            return;
        }
        let Ok(value) = read_file(dest).map(Bytes::from) else {
            self.removed(src);
            return;
        };
        self.seen.remove(src);
        if let Some(key) = self.key_for(src_hash) {
            self.emit(ChangeEvent::Deleted {
                key,
                value: Some(value.clone()),
            });
        }
        if let Entry::Value { key_hash } = self.classify(dest) {
            if self.seen.insert(dest.to_path_buf()) {
                if let Some(key) = self.key_for(key_hash) {
                    self.emit(ChangeEvent::Saved { key, value });
                }
            }
        }
    }

    fn flush_pending_from(&mut self) {
        if let Some((_, path, _)) = self.pending_from.take() {
            // Renamed out of the root: gone from the database.
            self.removed(&path);
        }
    }

    fn flush_stale_rename(&mut self) {
        if self
            .pending_from
            .as_ref()
            .is_some_and(|(_, _, at)| at.elapsed() >= RENAME_PAIRING)
        {
            self.flush_pending_from();
        }
    }

    fn run_due_rescans(&mut self) {
        let now = Instant::now();
        let due: Vec<PathBuf> = self
            .rescans
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(p, _)| p.clone())
            .collect();
        self.rescans.retain(|(_, at)| *at > now);
        for dir in due {
            self.scan(&dir);
        }
    }

    fn scan(&mut self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            self.appeared(&entry.path());
        }
    }
}
