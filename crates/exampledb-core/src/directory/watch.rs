//! File-system watching for [`super::DirectoryDatabase::subscribe`].
//!
//! A `notify` watcher on the root (at its real path, links below it not followed) feeds a
//! dedicated thread, which turns file events into [`ChangeEvent`]s: it maps each key
//! directory's hashed name back to the key through the meta-keys entry, pairs the two
//! halves of a rename, rescans key directories created while it watched (files written
//! into a new directory before its watch was added would otherwise be missed), and holds
//! back values whose key has no meta-keys entry yet until the entry appears. It reads
//! files with the same rules as fetch: regular files only, never blocking, bounded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use super::fs::{read_path, read_values};
use super::own::{Kind, OwnChanges};
use crate::backend::{ChangeSink, ListenerGuard};
use crate::layout::{self, Entry as LayoutEntry};
use crate::{BoxError, ChangeEvent};

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
/// Values held back for keys whose meta-keys entry has not appeared yet, at most.
const ORPHANS_MAX: usize = 4096;

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

    fn get(&self, name: &str) -> Option<Bytes> {
        self.by_name.get(name).cloned()
    }
}

/// Starts watching `root`; the returned guard stops it when dropped.
pub(super) fn start(
    root: &Path,
    max_value_size: u64,
    own: Arc<OwnChanges>,
    sink: ChangeSink,
) -> Result<Option<ListenerGuard>, BoxError> {
    // notify reports absolute paths, and follows no link (so none below the root leads
    // it out): watch the root's real location, links in its own path resolved.
    let root = std::fs::canonicalize(root)?;
    let (tx, rx) = mpsc::channel();
    let config = notify::Config::default().with_follow_symlinks(false);
    let mut watcher = notify::RecommendedWatcher::new(tx, config)?;
    // The map is read after the watch is in place, so no meta-keys entry is missed.
    watcher.watch(&root, RecursiveMode::Recursive)?;
    let mut worker = Worker {
        metakeys_dir: root.join(layout::METAKEYS_DIR),
        root,
        max_value_size,
        hash_to_key: HashMap::new(),
        seen: HashSet::new(),
        contents: ContentCache::default(),
        orphans: HashMap::new(),
        orphan_count: 0,
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
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A value file `<key_dir>/<file>`.
    Value { key_dir: String, file: String },
    /// A meta-keys entry: its file name (the key's directory name).
    MetaKey { key_dir: String },
    /// A key directory (a direct child of the root with a hash name).
    KeyDir,
    /// Anything else: temporary files, stray files, deeper paths.
    Other,
}

impl Entry {
    /// `<key dir>/<file>` of a value, as the database names its own changes.
    fn own_name(&self) -> Option<String> {
        match self {
            Entry::Value { key_dir, file } => Some(format!("{key_dir}/{file}")),
            _ => None,
        }
    }
}

struct Worker {
    root: PathBuf,
    metakeys_dir: PathBuf,
    max_value_size: u64,
    hash_to_key: HashMap<String, Bytes>,
    /// Value files reported as saved and not since deleted: a file found both by a
    /// directory rescan and by its own create event is reported once.
    seen: HashSet<String>,
    contents: ContentCache,
    /// Value files (by key directory) that appeared before their key's meta-keys entry.
    orphans: HashMap<String, Vec<String>>,
    orphan_count: usize,
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

    fn classify(&self, path: &Path) -> Entry {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return Entry::Other;
        };
        let mut parts = relative.components().map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        });
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Some(dir)), None, _) if layout::is_hash_name(dir) => Entry::KeyDir,
            (Some(Some(dir)), Some(Some(file)), None) => match layout::classify(dir, file) {
                LayoutEntry::Value {
                    key_dir,
                    value_file,
                } => Entry::Value {
                    key_dir: key_dir.to_owned(),
                    file: value_file.to_owned(),
                },
                LayoutEntry::MetaKey { key_dir } => Entry::MetaKey {
                    key_dir: key_dir.to_owned(),
                },
                LayoutEntry::Other => Entry::Other,
            },
            _ => Entry::Other,
        }
    }

    fn load_metakeys(&mut self) {
        if let Ok(listing) = read_values(&self.metakeys_dir, self.max_value_size) {
            for (name, key) in listing.values {
                self.hash_to_key.insert(name, key);
            }
        }
    }

    fn key_for(&mut self, key_dir: &str) -> Option<Bytes> {
        if let Some(key) = self.hash_to_key.get(key_dir) {
            return Some(key.clone());
        }
        // The meta-keys entry's own event may not have been handled yet.
        let key =
            Bytes::from(read_path(&self.metakeys_dir.join(key_dir), self.max_value_size).ok()?);
        self.hash_to_key.insert(key_dir.to_owned(), key.clone());
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
            Entry::MetaKey { key_dir } => {
                if let Ok(key) = read_path(path, self.max_value_size) {
                    self.hash_to_key.insert(key_dir.clone(), Bytes::from(key));
                    self.release_orphans(&key_dir);
                }
            }
            entry @ Entry::Value { .. } => self.value_appeared(&entry, None),
            Entry::Other => {}
        }
    }

    /// The value file `entry` appeared; `content` when already read.
    fn value_appeared(&mut self, entry: &Entry, content: Option<Bytes>) {
        let (Entry::Value { key_dir, file }, Some(name)) = (entry, entry.own_name()) else {
            return;
        };
        if self.seen.contains(&name) {
            return;
        }
        if self.own.consume(&name, Kind::Appeared) {
            // Reported by the save itself.
            self.seen.insert(name);
            return;
        }
        let Some(key) = self.key_for(key_dir) else {
            self.hold_orphan(key_dir, file);
            return;
        };
        let value = match content {
            Some(value) => value,
            // A file removed again before we read it was never a visible change.
            None => match read_path(&self.root.join(&name), self.max_value_size) {
                Ok(value) => Bytes::from(value),
                Err(_) => return,
            },
        };
        self.contents.insert(file, &value);
        self.seen.insert(name);
        self.emit(ChangeEvent::Saved { key, value });
    }

    /// Holds back a value whose key has no meta-keys entry (yet): a save in another
    /// process writes the entry before the value, but a repair can come just after it.
    fn hold_orphan(&mut self, key_dir: &str, file: &str) {
        if self.orphan_count >= ORPHANS_MAX {
            tracing::debug!(
                key_dir,
                file,
                "value file for a key with no meta-keys entry; not reported"
            );
            return;
        }
        let files = self.orphans.entry(key_dir.to_owned()).or_default();
        if !files.iter().any(|f| f == file) {
            files.push(file.to_owned());
            self.orphan_count += 1;
        }
    }

    fn release_orphans(&mut self, key_dir: &str) {
        let Some(files) = self.orphans.remove(key_dir) else {
            return;
        };
        self.orphan_count -= files.len();
        for file in files {
            let entry = Entry::Value {
                key_dir: key_dir.to_owned(),
                file,
            };
            self.value_appeared(&entry, None);
        }
    }

    fn removed(&mut self, path: &Path) {
        let entry = self.classify(path);
        let (Entry::Value { key_dir, file }, Some(name)) = (&entry, entry.own_name()) else {
            return;
        };
        self.seen.remove(&name);
        if let Some(files) = self.orphans.get_mut(key_dir.as_str()) {
            let before = files.len();
            files.retain(|f| f != file);
            self.orphan_count -= before - files.len();
        }
        if self.own.consume(&name, Kind::Went) {
            return; // reported by the delete itself
        }
        if let Some(key) = self.key_for(key_dir) {
            // Another process removed it: the content is gone with the file, and is
            // known only if the watcher read it earlier.
            let value = self.contents.get(file);
            self.emit(ChangeEvent::Deleted { key, value });
        }
    }

    /// A rename inside the root, from `src` to `dest`.
    fn moved(&mut self, src: &Path, dest: &Path) {
        let src_entry = self.classify(src);
        let (
            Entry::Value {
                key_dir: src_dir, ..
            },
            Some(src_name),
        ) = (&src_entry, src_entry.own_name())
        else {
            // From a temporary file (or a stray name): the value just appeared at dest.
            self.appeared(dest);
            return;
        };
        let dest_entry = self.classify(dest);
        if self.own.consume(&src_name, Kind::Went) {
            // This process's own move, reported by the move itself.
            self.seen.remove(&src_name);
            match dest_entry.own_name() {
                Some(dest_name) if self.own.consume(&dest_name, Kind::Appeared) => {
                    self.seen.insert(dest_name);
                }
                _ => self.appeared(dest),
            }
            return;
        }
        let Ok(value) = read_path(dest, self.max_value_size).map(Bytes::from) else {
            self.removed(src);
            return;
        };
        self.seen.remove(&src_name);
        if let Some(key) = self.key_for(src_dir) {
            self.emit(ChangeEvent::Deleted {
                key,
                value: Some(value.clone()),
            });
        }
        if matches!(dest_entry, Entry::Value { .. }) {
            self.value_appeared(&dest_entry, Some(value));
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

    /// Reports the values of the key directory `dir` not reported yet.
    fn scan(&mut self, dir: &Path) {
        let Ok(listing) = read_values(dir, self.max_value_size) else {
            return;
        };
        for (file, value) in listing.values {
            let entry = self.classify(&dir.join(&file));
            match entry {
                Entry::Value { .. } => self.value_appeared(&entry, Some(value)),
                Entry::MetaKey { key_dir } => {
                    self.hash_to_key.insert(key_dir.clone(), value);
                    self.release_orphans(&key_dir);
                }
                _ => {}
            }
        }
    }
}
