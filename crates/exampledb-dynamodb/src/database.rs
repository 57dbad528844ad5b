//! [`DynamoDatabase`]: one item per value, and its `ExampleDatabase` impl.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use bytes::Bytes;
use exampledb_aws::AwsSettings;
use exampledb_core::backend::ChangeHub;
use exampledb_core::{ChangeStream, Error, ExampleDatabase, Operation, Result};
use futures_util::StreamExt;

use crate::client::{Clients, Source};
use crate::config::DynamoDatabaseBuilder;
use crate::item::{self, EXPIRES, PARTITION, SORT, VALUE};
use crate::BACKEND;

/// Attempts at a move that another writer's transaction conflicts with.
const MOVE_ATTEMPTS: usize = 3;
/// Stale values a fetch refreshes at once.
const REFRESH_CONCURRENCY: usize = 8;

/// Python Hypothesis's example database in a DynamoDB table, one item per value; see the
/// [crate documentation](crate) for the table, the requests each operation sends and the
/// guarantees.
///
/// Clones share the clients, the request counter and the listener.
#[derive(Clone)]
pub struct DynamoDatabase {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) table: String,
    pub(crate) key_prefix: Vec<u8>,
    expire_after: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) clients: Clients,
    pub(crate) hub: ChangeHub,
    /// The generation of the newest listener that knows where each open shard of the
    /// stream ends (so every change from then on is reported); see
    /// [`DynamoDatabase::subscribe_positioned`].
    positioned: tokio::sync::watch::Sender<u64>,
    /// The generation of the newest listener started (each start counts one more), so a
    /// listener that was stopped cannot mark a newer one positioned.
    listener: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for DynamoDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDatabase")
            .field("table", &self.inner.table)
            .field(
                "key_prefix",
                &String::from_utf8_lossy(&self.inner.key_prefix),
            )
            .field("expire_after", &self.inner.expire_after)
            .field("poll_interval", &self.inner.poll_interval)
            .finish_non_exhaustive()
    }
}

impl DynamoDatabase {
    /// Settings for the database in `table`, explicit only: give a region (or an
    /// endpoint) and credentials, or your own [`clients`](DynamoDatabaseBuilder::clients).
    /// [`DynamoDatabaseBuilder::from_env`] uses the standard AWS chain instead.
    pub fn builder(table: impl Into<String>) -> DynamoDatabaseBuilder {
        DynamoDatabaseBuilder::with_aws(AwsSettings::new()).table(table)
    }

    pub(crate) fn new(table: String, settings: DynamoDatabaseBuilder) -> Self {
        let location = format!("dynamodb://{table}");
        let source = match settings.client {
            Some((tables, streams)) => Source::Given(tables, streams),
            None => Source::Settings(settings.aws),
        };
        DynamoDatabase {
            inner: Arc::new(Inner {
                table,
                key_prefix: settings.key_prefix,
                expire_after: settings.expire_after,
                poll_interval: settings.poll_interval,
                clients: Clients::new(source, location),
                hub: ChangeHub::new(),
                positioned: tokio::sync::watch::Sender::new(0),
                listener: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &[u8] {
        &self.inner.key_prefix
    }

    /// HTTP requests sent so far by this database and its clones, the stream's included
    /// (each attempt of a retried request counts).
    pub fn requests(&self) -> u64 {
        self.inner.clients.counter.count()
    }

    /// Checks now that the table exists, can be described with these credentials and
    /// has the keys the database needs (one DescribeTable):
    /// [`ErrorKind::InvalidData`](exampledb_core::ErrorKind::InvalidData) says precisely
    /// how its keys differ. The same as
    /// [`ExampleDatabase::check`], callable without the trait.
    pub async fn check(&self) -> Result<()> {
        let client = self.inner.clients.tables().await?;
        let described = client
            .describe_table()
            .table_name(&self.inner.table)
            .send()
            .await
            .map_err(|e| self.inner.clients.error(Operation::Open, e))?;
        let differences = described
            .table()
            .map(crate::table::key_differences)
            .unwrap_or_default();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(crate::table::not_as_needed(
                &self.inner.clients.location,
                &differences,
            ))
        }
    }

    /// [`subscribe`](ExampleDatabase::subscribe), returning once the listener has found
    /// where the table's stream ends (one DescribeTable, one DescribeStream and one
    /// GetShardIterator per open shard): every change made after this returns is
    /// reported. `subscribe()` returns at once and finds its position in the background,
    /// so changes made in the first moments after it returns may be missed; use this
    /// where they matter (a dashboard that subscribes, then fetches). Fails with
    /// [`ErrorKind::Timeout`](exampledb_core::ErrorKind::Timeout) when the stream cannot
    /// be read within `wait` (the listener keeps trying while the stream is held; the log
    /// says why).
    ///
    /// ```no_run
    /// # async fn f(db: exampledb_dynamodb::DynamoDatabase) -> exampledb_core::Result<()> {
    /// use exampledb_core::ExampleDatabase;
    /// let mut events = db.subscribe_positioned(std::time::Duration::from_secs(30)).await?;
    /// db.save(b"key", b"value").await?; // reported
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_positioned(&self, wait: Duration) -> Result<ChangeStream> {
        let stream = self.subscribe()?;
        // The listener serving this stream: the one just started, or the running one.
        let listener = self
            .inner
            .listener
            .load(std::sync::atomic::Ordering::SeqCst);
        let mut positioned = self.inner.positioned.subscribe();
        let waited = tokio::time::timeout(wait, positioned.wait_for(|p| *p == listener))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(true) => Ok(stream),
            _ => Err(Error::Timeout {
                backend: BACKEND,
                operation: Operation::Subscribe,
                location: self.inner.clients.location.clone(),
                after: wait,
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn blob(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn expires_of(item: &HashMap<String, AttributeValue>) -> u64 {
    item::expiry(
        item.get(EXPIRES)
            .and_then(|n| n.as_n().ok())
            .map(String::as_str),
    )
}

fn bytes_of(item: &HashMap<String, AttributeValue>, name: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(
        item.get(name)?.as_b().ok()?.as_ref(),
    ))
}

impl Inner {
    /// Counts a new listener; its generation.
    pub(crate) fn new_listener(&self) -> u64 {
        self.listener
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .wrapping_add(1)
    }

    /// Marks listener `generation` positioned, unless a newer one was started since.
    pub(crate) fn mark_positioned(&self, generation: u64) {
        self.positioned.send_if_modified(|p| {
            let current = self.listener.load(std::sync::atomic::Ordering::SeqCst) == generation;
            if current {
                *p = generation;
            }
            current
        });
    }

    fn partition(&self, key: &[u8]) -> Vec<u8> {
        item::partition_key(&self.key_prefix, key)
    }

    fn ttl(&self) -> u64 {
        self.expire_after.as_secs().max(1)
    }

    /// Refused before any request when the key or the item cannot fit.
    fn check_size(&self, operation: Operation, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let partition = self.key_prefix.len() + key.len();
        match item::too_large(partition, value.map(<[u8]>::len)) {
            Some((what, size, limit)) => Err(Error::TooLarge {
                backend: BACKEND,
                operation,
                location: self.clients.location.clone(),
                what,
                size,
                limit,
            }),
            None => Ok(()),
        }
    }

    fn item(&self, key: &[u8], value: &[u8], expires: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PARTITION.to_owned(), blob(&self.partition(key))),
            (SORT.to_owned(), blob(&item::value_hash(value))),
            (VALUE.to_owned(), blob(value)),
            (EXPIRES.to_owned(), number(expires)),
        ])
    }

    fn item_key(&self, key: &[u8], value: &[u8]) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PARTITION.to_owned(), blob(&self.partition(key))),
            (SORT.to_owned(), blob(&item::value_hash(value))),
        ])
    }

    /// One PutItem, written only when the value is not stored or has less than half its
    /// lifetime left (the refresh): a save of a fresh stored value changes nothing.
    async fn save(&self, operation: Operation, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_size(operation, key, Some(value))?;
        let client = self.clients.tables().await?;
        let now = now();
        let sent = client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(key, value, now.saturating_add(self.ttl()))))
            .condition_expression("attribute_not_exists(#h) OR #exp < :refresh")
            .expression_attribute_names("#h", SORT)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_values(":refresh", number(now.saturating_add(self.ttl() / 2)))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(()) // stored, and fresh
            }
            Err(e) => Err(self.too_large_answer(operation, key, value, e)),
        }
    }

    /// The error for a refused write: [`Error::TooLarge`] when the server says the item
    /// is too large (servers count sizes a little differently from DynamoDB's rule, which
    /// is checked before the request: moto refuses items a few KB smaller).
    fn too_large_answer<E>(
        &self,
        operation: Operation,
        key: &[u8],
        value: &[u8],
        e: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> Error
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        let item_too_large = e.as_service_error().is_some_and(|s| {
            s.code() == Some("ValidationException")
                && s.message().is_some_and(|m| m.contains("Item size"))
        });
        if item_too_large {
            return Error::TooLarge {
                backend: BACKEND,
                operation,
                location: self.clients.location.clone(),
                what: "item (as the server counts it)",
                size: item::item_size(self.key_prefix.len() + key.len(), value.len()) as u64,
                limit: item::MAX_ITEM as u64,
            };
        }
        self.clients.error(operation, e)
    }

    /// Query of the key's partition, every page; expired items are left out; items with
    /// less than half their lifetime left are refreshed (one UpdateItem each).
    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        self.check_size(Operation::Fetch, key, None)?;
        let client = self.clients.tables().await?;
        let now = now();
        let mut values = Vec::new();
        let mut stale = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        let mut pages = Pages::new(true);
        loop {
            let page = client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", PARTITION)
                .expression_attribute_values(":k", blob(&self.partition(key)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.clients.error(Operation::Fetch, e))?;
            for found in page.items() {
                let expires = expires_of(found);
                let Some(value) = bytes_of(found, VALUE) else {
                    continue; // not an item of this layout
                };
                if expires <= now {
                    continue; // expired: DynamoDB deletes it lazily, local servers never
                }
                if expires < now.saturating_add(self.ttl() / 2) {
                    stale.push(value.clone());
                }
                values.push(value);
            }
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => {
                    start = Some(pages.next(self, Operation::Fetch, last)?);
                }
                _ => break,
            }
        }
        self.refresh_all(key, stale, now).await;
        Ok(values)
    }

    /// Refreshes the stale values of a fetch, a few at a time. A refresh that fails (the
    /// credentials may allow reading only, the table may be throttled) does not fail the
    /// fetch: the values were read; it is logged, and the next fetch tries again.
    async fn refresh_all(&self, key: &[u8], stale: Vec<Bytes>, now: u64) {
        if stale.is_empty() {
            return;
        }
        let count = stale.len();
        let results: Vec<Result<()>> = futures_util::stream::iter(stale)
            .map(|value| async move { self.refresh(key, &value, now).await })
            .buffer_unordered(REFRESH_CONCURRENCY)
            .collect()
            .await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        if let Some(Err(first)) = results.into_iter().find(Result::is_err) {
            tracing::warn!(
                table = %self.table,
                failed,
                stale = count,
                error = %first,
                "could not extend the lifetime of values this fetch read; they were returned, and the next fetch tries again"
            );
        }
    }

    /// Extends a stored value's lifetime (only while it is still there): one UpdateItem.
    async fn refresh(&self, key: &[u8], value: &[u8], now: u64) -> Result<()> {
        let client = self.clients.tables().await?;
        let sent = client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.item_key(key, value)))
            .update_expression("SET #exp = :exp")
            .condition_expression("attribute_exists(#h)")
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_names("#h", SORT)
            .expression_attribute_values(":exp", number(now.saturating_add(self.ttl())))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(()) // deleted meanwhile
            }
            Err(e) => Err(self.clients.error(Operation::Fetch, e)),
        }
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_size(Operation::Delete, key, None)?;
        let client = self.clients.tables().await?;
        client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.item_key(key, value)))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.clients.error(Operation::Delete, e))
    }

    /// One TransactWriteItems: delete from src and put into dest, atomically.
    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(Operation::Move, dest, value).await;
        }
        self.check_size(Operation::Move, src, None)?;
        self.check_size(Operation::Move, dest, Some(value))?;
        let client = self.clients.tables().await?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(self.item_key(src, value)))
            .build()
            .map_err(|e| build_error(&self.clients.location, e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.item(
                dest,
                value,
                now().saturating_add(self.ttl()),
            )))
            .build()
            .map_err(|e| build_error(&self.clients.location, e))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete.clone()).build())
                .transact_items(TransactWriteItem::builder().put(put.clone()).build())
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let error = self.too_large_answer(Operation::Move, dest, value, e);
                    if !error.is_temporary() || attempt >= MOVE_ATTEMPTS {
                        return Err(error);
                    }
                    tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
                }
            }
        }
    }

    /// A paginated Scan projecting the partition key and the expiry only, of the items
    /// holding a binary value (the others are not of this layout, and fetch ignores them).
    ///
    /// The prefix is matched here rather than with a `begins_with`
    /// filter expression: a Scan consumes read capacity for every item it
    /// reads whether or not a filter drops it, so filtering on the client
    /// costs the same, and moto's `begins_with` does not match binary
    /// attributes.
    async fn keys(&self) -> Result<Vec<Bytes>> {
        let client = self.clients.tables().await?;
        let now = now();
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        let mut pages = Pages::new(false);
        loop {
            let page = client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .projection_expression("#k, #exp")
                // Items of this layout only (a binary value), as fetch reads them.
                .filter_expression("attribute_type(#v, :binary)")
                .expression_attribute_names("#k", PARTITION)
                .expression_attribute_names("#exp", EXPIRES)
                .expression_attribute_names("#v", VALUE)
                .expression_attribute_values(":binary", AttributeValue::S("B".to_owned()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.clients.error(Operation::Keys, e))?;
            for found in page.items() {
                if expires_of(found) <= now {
                    continue;
                }
                let Some(partition) = bytes_of(found, PARTITION) else {
                    continue;
                };
                let Some(key) = partition.strip_prefix(self.key_prefix.as_slice()) else {
                    continue;
                };
                let key = Bytes::copy_from_slice(key);
                if seen.insert(key.clone()) {
                    keys.push(key);
                }
            }
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => {
                    start = Some(pages.next(self, Operation::Keys, last)?);
                }
                _ => break,
            }
        }
        Ok(keys)
    }
}

/// The pages of one Query or Scan: a server that hands back a position it handed back
/// before would keep the pagination going forever. A Query's positions follow the sort
/// key, so each must be past the last one; a Scan's (in hash order) must be new, which
/// is remembered as a 64-bit hash each.
struct Pages {
    /// A Query's (positions follow the sort key), not a Scan's.
    query: bool,
    /// The sort key of a Query's last position.
    last_sort_key: Option<Vec<u8>>,
    /// Hashes of a Scan's positions.
    seen: HashSet<u64>,
    pages: u64,
}

impl Pages {
    /// The pages of a Query (`true`) or a Scan.
    fn new(query: bool) -> Self {
        Pages {
            query,
            last_sort_key: None,
            seen: HashSet::new(),
            pages: 0,
        }
    }

    /// `last` (a page's `LastEvaluatedKey`) as the next page's start, or a `Protocol`
    /// error when it does not move the pagination on.
    fn next(
        &mut self,
        inner: &Inner,
        operation: Operation,
        last: &HashMap<String, AttributeValue>,
    ) -> Result<HashMap<String, AttributeValue>> {
        self.pages += 1;
        let moved_on = if self.query {
            let sort_key = last
                .get(SORT)
                .and_then(|h| h.as_b().ok())
                .map(|b| b.as_ref().to_vec());
            let moved_on = match (&sort_key, &self.last_sort_key) {
                (Some(now), Some(before)) => now > before,
                (Some(_), None) => true,
                (None, _) => false,
            };
            self.last_sort_key = sort_key;
            moved_on
        } else {
            use std::hash::{Hash, Hasher};
            let mut parts: Vec<String> = last.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
            parts.sort();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            parts.hash(&mut hasher);
            self.seen.insert(hasher.finish())
        };
        if !moved_on {
            return Err(Error::Backend {
                backend: BACKEND,
                operation,
                location: inner.clients.location.clone(),
                kind: exampledb_core::ErrorKind::Protocol,
                temporary: false,
                source: format!(
                    "the server handed back a page position that does not move on from the ones before, after {} pages: the pagination would never end (is the endpoint a DynamoDB server?)",
                    self.pages
                )
                .into(),
            });
        }
        Ok(last.clone())
    }
}

fn build_error(location: &str, e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Backend {
        backend: BACKEND,
        operation: Operation::Move,
        location: location.to_owned(),
        kind: exampledb_core::ErrorKind::Other,
        temporary: false,
        source: Box::new(e),
    }
}

#[async_trait]
impl ExampleDatabase for DynamoDatabase {
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
            .subscribe(move |sink| crate::stream::start(inner, sink).map(Some))
    }

    /// [`DynamoDatabase::subscribe_positioned`].
    async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
        self.subscribe_positioned(wait).await
    }

    async fn check(&self) -> Result<()> {
        DynamoDatabase::check(self).await
    }
}
