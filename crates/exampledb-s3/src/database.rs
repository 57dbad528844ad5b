//! [`S3Database`]: the directory layout as objects, and its `ExampleDatabase` impl.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use exampledb_aws::AwsSettings;
use exampledb_core::backend::ChangeHub;
use exampledb_core::layout::{self, Entry, METAKEYS_KEY};
use exampledb_core::{ChangeEvent, ChangeStream, Error, ExampleDatabase, Operation, Result};
use futures_util::{Stream, StreamExt, TryStreamExt};

use crate::client::{Object, Source, Store};
use crate::config::S3DatabaseBuilder;
use crate::watch::{self, Watch};
use crate::BACKEND;

/// Hypothesis's directory database as objects in an S3 bucket under a prefix; see the
/// [crate documentation](crate) for the layout, the requests each operation sends and
/// the guarantees.
///
/// Clones share the client, the request counter and the listener.
#[derive(Clone)]
pub struct S3Database {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) prefix: String,
    fetch_concurrency: usize,
    pub(crate) poll_interval: Duration,
    metakeys_refresh: Duration,
    /// Keys whose meta-keys entry this process wrote, and when. (Concurrent saves under
    /// one key wait for one write of the entry.)
    recorded: Mutex<HashMap<Bytes, Arc<tokio::sync::Mutex<Option<Written>>>>>,
    pub(crate) hub: ChangeHub,
    /// What the listener knows; this process's own changes are recorded in it as they
    /// are made, so the poller does not report them a second time.
    pub(crate) watch: Arc<Watch>,
}

impl fmt::Debug for S3Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Database")
            .field("location", &self.inner.store.location)
            .field("fetch_concurrency", &self.inner.fetch_concurrency)
            .field("poll_interval", &self.inner.poll_interval)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// When this process last wrote a key's meta-keys entry.
#[derive(Debug, Clone, Copy)]
struct Written {
    at: Instant,
    /// The UTC day (days since the Unix epoch) it was written on.
    day: u64,
}

/// Days since the Unix epoch, UTC, now.
fn utc_day() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

impl Written {
    fn now() -> Self {
        Written {
            at: Instant::now(),
            day: utc_day(),
        }
    }

    /// Whether the entry needs no writing yet: written less than `refresh` ago, and on the
    /// same UTC day (S3 expires an object at the first midnight UTC after its age passes
    /// the rule's days, so an entry written the same UTC day as a value never expires
    /// before it).
    fn is_fresh(&self, refresh: Duration) -> bool {
        self.at.elapsed() < refresh && self.day == utc_day()
    }
}

/// One listing of the prefix, by the layout's rules.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Value objects, by name.
    pub(crate) values: HashSet<String>,
    /// Key directories holding at least one value.
    pub(crate) holding: HashSet<String>,
    /// Meta-keys entries: key directory -> object name.
    pub(crate) entries: HashMap<String, String>,
}

impl Listing {
    /// The names of the meta-keys entries of key directories holding values (the only
    /// entries worth reading: by the directory rule, the others name no key).
    pub(crate) fn entries_of_holding_dirs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.entries
            .iter()
            .filter(|(dir, _)| self.holding.contains(*dir))
    }
}

impl S3Database {
    /// Settings for the database in `bucket` (at the bucket's root unless a
    /// [`prefix`](S3DatabaseBuilder::prefix) is given), explicit only: give a region (or
    /// an endpoint) and credentials, or your own [`client`](S3DatabaseBuilder::client).
    /// [`S3DatabaseBuilder::from_env`] uses the standard AWS chain instead.
    pub fn builder(bucket: impl Into<String>) -> S3DatabaseBuilder {
        S3DatabaseBuilder::with_aws(AwsSettings::new()).bucket(bucket)
    }

    pub(crate) fn new(bucket: String, settings: S3DatabaseBuilder) -> Self {
        let location = format!("s3://{bucket}/{}", settings.prefix);
        let source = match settings.client {
            Some(client) => Source::Given(client),
            None => Source::Settings(settings.aws),
        };
        S3Database {
            inner: Arc::new(Inner {
                store: Store::new(
                    bucket,
                    location,
                    source,
                    settings.path_style,
                    settings.max_value_size,
                ),
                prefix: settings.prefix,
                fetch_concurrency: settings.fetch_concurrency,
                poll_interval: settings.poll_interval,
                metakeys_refresh: settings.metakeys_refresh,
                recorded: Mutex::new(HashMap::new()),
                hub: ChangeHub::new(),
                watch: Arc::new(Watch::default()),
            }),
        }
    }

    /// `s3://BUCKET/PREFIX`, as errors name it.
    pub fn location(&self) -> &str {
        &self.inner.store.location
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.store.bucket
    }

    /// The prefix (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// HTTP requests sent so far by this database and its clones (each attempt of a
    /// retried request counts; the listener's polls included).
    pub fn requests(&self) -> u64 {
        self.inner.store.counter.count()
    }

    /// Checks now that the bucket exists and the prefix can be listed with these
    /// credentials (one ListObjectsV2 of at most one name), within the operation timeout.
    /// The same as [`ExampleDatabase::check`], callable without the trait in scope.
    pub async fn check(&self) -> Result<()> {
        let client = self.inner.store.client().await?;
        client
            .list_objects_v2()
            .bucket(&self.inner.store.bucket)
            .prefix(&self.inner.prefix)
            .max_keys(1)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                self.inner
                    .store
                    .error(Operation::Open, crate::error::Failure::of(e))
            })
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl Inner {
    pub(crate) fn value_name(&self, key: &[u8], value: &[u8]) -> String {
        format!("{}{}", self.prefix, layout::value_path(key, value))
    }

    fn meta_name(&self, key: &[u8]) -> String {
        format!("{}{}", self.prefix, layout::metakey_path(key))
    }

    fn key_prefix(&self, key: &[u8]) -> String {
        format!("{}{}/", self.prefix, layout::key_dir(key))
    }

    /// The name relative to the prefix, classified by the layout's rules.
    pub(crate) fn classify<'a>(&self, name: &'a str) -> Entry<'a> {
        name.strip_prefix(self.prefix.as_str())
            .map_or(Entry::Other, layout::classify_path)
    }

    fn too_large(&self, operation: Operation, size: usize) -> Option<Error> {
        (size as u64 > self.store.max_value_size).then(|| Error::TooLarge {
            backend: BACKEND,
            operation,
            location: self.store.location.clone(),
            what: "value",
            size: size as u64,
            limit: self.store.max_value_size,
        })
    }

    /// Writes `key`'s meta-keys entry the first time this process saves under it, and
    /// again once this process's last write of it is `metakeys_refresh` old or from an
    /// earlier UTC day. Unconditionally (not `If-None-Match`): an entry removed by
    /// lifecycle expiry or by `aws s3 sync --delete` comes back, and a rewrite restarts the
    /// age that expiry counts.
    async fn record(&self, operation: Operation, key: &[u8]) -> Result<()> {
        if key == METAKEYS_KEY {
            return Ok(());
        }
        let slot = Arc::clone(
            lock(&self.recorded)
                .entry(Bytes::copy_from_slice(key))
                .or_default(),
        );
        // One PutObject per key at a time, even when many saves start at once; a failed
        // write leaves the record as it was, for the next save to try again.
        let mut written = slot.lock().await;
        if written.is_some_and(|w| w.is_fresh(self.metakeys_refresh)) {
            return Ok(());
        }
        self.store.put(operation, &self.meta_name(key), key).await?;
        *written = Some(Written::now());
        Ok(())
    }

    async fn save(&self, operation: Operation, key: &[u8], value: &[u8]) -> Result<()> {
        if let Some(e) = self.too_large(operation, value.len()) {
            return Err(e);
        }
        self.record(operation, key).await?;
        let name = self.value_name(key, value);
        let listening = self.hub.is_listening();
        let _touching = listening.then(|| self.watch.touch(&[&name]));
        let created = self.store.put_if_absent(operation, &name, value).await?;
        if created && listening {
            let value = Bytes::copy_from_slice(value);
            self.watch.appeared(&name, &value);
            self.hub.emit(ChangeEvent::Saved {
                key: Bytes::copy_from_slice(key),
                value,
            });
        }
        Ok(())
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let name = self.value_name(key, value);
        if !self.hub.is_listening() {
            return self.store.delete(Operation::Delete, &name).await;
        }
        // DeleteObject answers alike whether the object was there: a listener must hear
        // only real changes, so ask first (one HeadObject more while someone listens).
        let _touching = self.watch.touch(&[&name]);
        let existed = self.store.exists(Operation::Delete, &name).await?;
        self.store.delete(Operation::Delete, &name).await?;
        if existed {
            self.watch.went(&name);
            self.hub.emit(ChangeEvent::Deleted {
                key: Bytes::copy_from_slice(key),
                value: Some(Bytes::copy_from_slice(value)),
            });
        }
        Ok(())
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(Operation::Move, dest, value).await;
        }
        if let Some(e) = self.too_large(Operation::Move, value.len()) {
            return Err(e);
        }
        self.record(Operation::Move, dest).await?;
        let (src_name, dest_name) = (self.value_name(src, value), self.value_name(dest, value));
        let listening = self.hub.is_listening();
        let _touching = listening.then(|| self.watch.touch(&[&src_name, &dest_name]));
        let dest_existed = if listening {
            self.store.exists(Operation::Move, &dest_name).await?
        } else {
            false
        };
        // The value reaches dest before it leaves src: for this mover, at no moment is it
        // in neither. (Two movers of one value in opposite directions can each copy, then
        // each delete, leaving it in neither: S3 has no atomic rename; see the crate docs.)
        let copied = self
            .store
            .copy(Operation::Move, &src_name, &dest_name)
            .await?;
        let created = if copied {
            true
        } else {
            self.store
                .put_if_absent(Operation::Move, &dest_name, value)
                .await?
        };
        if copied {
            self.store.delete(Operation::Move, &src_name).await?;
        }
        if listening {
            let value = Bytes::copy_from_slice(value);
            if copied {
                self.watch.went(&src_name);
                self.hub.emit(ChangeEvent::Deleted {
                    key: Bytes::copy_from_slice(src),
                    value: Some(value.clone()),
                });
            }
            if created && !dest_existed {
                self.watch.appeared(&dest_name, &value);
                self.hub.emit(ChangeEvent::Saved {
                    key: Bytes::copy_from_slice(dest),
                    value,
                });
            }
        }
        Ok(())
    }

    /// Reads the objects `names`, up to `fetch_concurrency` at once, as they complete.
    pub(crate) fn read_objects(
        &self,
        operation: Operation,
        names: Vec<String>,
    ) -> impl Stream<Item = (String, Result<Object>)> + '_ {
        futures_util::stream::iter(names)
            .map(move |name| async move {
                let read = self.store.get(operation, &name).await;
                (name, read)
            })
            .buffer_unordered(self.fetch_concurrency)
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let names = self
            .store
            .list(Operation::Fetch, &self.key_prefix(key))
            .await?;
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| !matches!(self.classify(n), Entry::Other))
            .collect();
        let values: Vec<Object> = self
            .read_objects(Operation::Fetch, names)
            .map(|(_, read)| read)
            .try_collect()
            .await?;
        Ok(values.into_iter().filter_map(Object::found).collect())
    }

    /// One listing of the whole prefix, classified.
    pub(crate) async fn list_layout(&self, operation: Operation) -> Result<Listing> {
        let names = self.store.list(operation, &self.prefix).await?;
        let mut listing = Listing::default();
        for name in names {
            match self.classify(&name) {
                Entry::MetaKey { key_dir } => {
                    let dir = key_dir.to_owned();
                    listing.entries.insert(dir, name);
                }
                Entry::Value { key_dir, .. } => {
                    listing.holding.insert(key_dir.to_owned());
                    listing.values.insert(name);
                }
                Entry::Other => {}
            }
        }
        Ok(listing)
    }

    /// The keys of `listing`, by the directory rule: its meta-keys entries of key
    /// directories holding values, read concurrently.
    pub(crate) async fn named_keys(
        &self,
        operation: Operation,
        listing: &Listing,
    ) -> Result<Vec<Bytes>> {
        let wanted: Vec<String> = listing
            .entries_of_holding_dirs()
            .map(|(_, name)| name.clone())
            .collect();
        let contents: Vec<Object> = self
            .read_objects(operation, wanted)
            .map(|(_, read)| read)
            .try_collect()
            .await?;
        Ok(layout::listed_keys(
            contents.into_iter().filter_map(Object::found),
            |dir| listing.holding.contains(dir),
        ))
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        let listing = self.list_layout(Operation::Keys).await?;
        self.named_keys(Operation::Keys, &listing).await
    }
}

#[async_trait]
impl ExampleDatabase for S3Database {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.save(Operation::Save, key, value).await
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        self.inner.fetch(key).await
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.delete(key, value).await
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        self.inner.move_value(src, dest, value).await
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        self.inner.keys().await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .hub
            .subscribe(move |sink| watch::start(inner, sink).map(Some))
    }

    /// Returns once the first listing of the prefix is taken: changes made by others
    /// after that are reported.
    async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
        let stream = self.subscribe()?;
        watch::wait_baseline(&self.inner, wait).await?;
        Ok(stream)
    }

    async fn check(&self) -> Result<()> {
        S3Database::check(self).await
    }
}
