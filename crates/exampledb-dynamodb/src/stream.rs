//! [`subscribe`](exampledb_core::ExampleDatabase::subscribe) for DynamoDB: the table's
//! stream (DynamoDB Streams, new and old images), read while someone listens.
//!
//! Every change to the table is a stream record, whoever made it, so this process's
//! changes and other processes' are reported alike, exactly: an INSERT is a save with its
//! value, a REMOVE a delete with its value (TTL deletions included); a MODIFY is a re-save
//! that refreshed the time to live and is not reported (the value did not change), unless
//! the item had expired when it was rewritten (servers delete expired items lazily, local
//! ones never), which is a save. Keys
//! and values are read from the records' images (moto encodes the `Keys` map's binary
//! attributes twice).
//!
//! The open shards are read from their newest record on (`LATEST`) when listening starts;
//! the stream is described again every few polls and after a shard closes, and shards
//! created since (splits) are read from their start, each after its parent is read to its
//! end (so one key's changes are reported in order). When every shard is read to its end
//! the table's newest stream is looked up, and followed if it changed. Each `GetRecords`
//! returns the next shard iterator, so iterators in use never get near their 15-minute
//! expiry; one unused for 10 minutes (a child shard's while its parent is read, any while
//! the stream cannot be reached) is renewed before use, and one that expired anyway is
//! renewed, both after the last sequence number read. Cost per poll: one `GetRecords` per open
//! shard, and one `DescribeStream` every few polls.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use bytes::Bytes;
use exampledb_core::backend::{ChangeSink, ListenerGuard};
use exampledb_core::{ChangeEvent, Error, ErrorKind, Operation, Result};

use crate::database::Inner;
use crate::item::{self, EXPIRES, PARTITION, VALUE};
use crate::BACKEND;

/// Polls between two descriptions of the stream (new shards are looked for then).
const DESCRIBE_EVERY: u64 = 10;

/// Records one `GetRecords` returns at most: a page this full means more is waiting.
const FULL_PAGE: usize = 1_000;

/// DescribeStream pages of one description at most (100 shards each).
const MAX_DESCRIBE_PAGES: usize = 200;

/// The bytes of records one `GetRecords` returns at most is 1 MB: a page this close to it
/// means more is waiting.
const FULL_PAGE_BYTES: i64 = 900_000;

/// The longest pause between two polls while polling fails.
const MAX_FAILING_PAUSE: Duration = Duration::from_secs(30);

/// Seconds before positioning from which records count as new when a shard is read
/// again from its start.
const HISTORY_MARGIN_SECS: u64 = 10;

/// Pages read from one shard in one poll at most.
const PAGES_PER_POLL: usize = 8;

/// The age at which a shard iterator not used since is renewed before use: DynamoDB
/// Streams' iterators expire 15 minutes after they are handed out (a child shard's waits
/// while its parent is read; every iterator waits while the stream cannot be reached).
const ITERATOR_RENEW_AFTER: Duration = Duration::from_secs(10 * 60);

/// Stops the reading task when the last subscriber goes.
struct Guard(tokio::task::AbortHandle);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts reading the stream; the guard stops it.
pub(crate) fn start(inner: Arc<Inner>, sink: ChangeSink) -> Result<ListenerGuard> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| Error::Backend {
        backend: BACKEND,
        operation: Operation::Subscribe,
        location: inner.clients.location.clone(),
        kind: ErrorKind::NotSupported,
        temporary: false,
        source: format!(
            "subscribe() reads the stream from a Tokio task and needs a Tokio runtime: {e}"
        )
        .into(),
    })?;
    let generation = inner.new_listener();
    let task = runtime.spawn(follow(inner, sink, generation));
    Ok(Box::new(Guard(task.abort_handle())))
}

async fn follow(inner: Arc<Inner>, sink: ChangeSink, generation: u64) {
    let mut reader = Reader {
        generation,
        ..Reader::default()
    };
    // Polls failed in a row: the pause after a failure doubles with each, up to
    // `MAX_FAILING_PAUSE`, so a stream that cannot be read is not hammered.
    let mut failures: u32 = 0;
    loop {
        let pause = match reader.poll(&inner, &sink).await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(table = %inner.table, "reading the table's stream works again");
                }
                failures = 0;
                inner.poll_interval
            }
            Err(e) => {
                if failures == 0 {
                    tracing::warn!(table = %inner.table, error = %e, "cannot read the table's stream for change events; retrying, less often while it fails");
                }
                failures = failures.saturating_add(1);
                inner
                    .poll_interval
                    .saturating_mul(1 << failures.min(6))
                    .min(MAX_FAILING_PAUSE.max(inner.poll_interval))
            }
        };
        tokio::time::sleep(pause).await;
        if !sink.is_listening() {
            return;
        }
    }
}

#[derive(Debug)]
struct Shard {
    iterator: Option<String>,
    /// When `iterator` was handed out.
    obtained: Instant,
    last_sequence: Option<String>,
    /// The shard this one split from: read first, so that one key's changes are
    /// reported in order.
    parent: Option<String>,
    /// Where reading it began (its newest record, or its start).
    start: ShardIteratorType,
    /// Records created before this time (epoch seconds) are history, not events: set
    /// when a shard first read from its newest record is read again from its start.
    skip_before: Option<u64>,
}

#[derive(Debug, Default)]
struct Reader {
    stream_arn: Option<String>,
    /// Whether the open shards' positions at the start of listening are known: until
    /// then, shards are read from their newest record, never from their start (which
    /// would report up to a day of history as new changes).
    started: bool,
    shards: HashMap<String, Shard>,
    /// Shards read to their end, or closed before listening started.
    finished: HashSet<String>,
    polls: u64,
    describe_now: bool,
    /// When listening was positioned (epoch seconds, less a margin): records older than
    /// that are history, if a shard must ever be read from its start again.
    since: u64,
    /// Which listener of the database this is (see `Inner::new_listener`).
    generation: u64,
}

impl Reader {
    async fn poll(&mut self, inner: &Inner, sink: &ChangeSink) -> Result<()> {
        if self.stream_arn.is_none() {
            self.stream_arn = Some(stream_arn(inner).await?);
        }
        let describe = self.describe_now || self.polls.is_multiple_of(DESCRIBE_EVERY);
        if !self.started || describe {
            if self.started && self.shards.is_empty() {
                self.follow_new_stream(inner).await?;
            }
            // Taken before the position is: records from after it are never history. The
            // margin covers the server's clock being behind ours (and the rounding of its
            // record times): up to that much history may be reported again if a shard must
            // be read from its start, rather than a change being dropped.
            let since = crate::database::now().saturating_sub(HISTORY_MARGIN_SECS);
            self.describe(inner, !self.started).await?;
            if !self.started {
                self.since = since;
                inner.mark_positioned(self.generation);
            }
            self.started = true;
            self.describe_now = false;
        }
        self.polls += 1;
        let mut ids: Vec<String> = self.shards.keys().cloned().collect();
        ids.sort();
        // A shard that fails does not keep the others from being read.
        let mut failed = None;
        for id in ids {
            let parent_unread = self
                .shards
                .get(&id)
                .and_then(|s| s.parent.as_ref())
                .is_some_and(|p| p != &id && self.shards.contains_key(p));
            if parent_unread {
                continue;
            }
            // A full page means more is waiting: read on (a few pages), so that a busy
            // shard does not fall behind the poll interval.
            for _ in 0..PAGES_PER_POLL {
                match self.read_shard(inner, sink, &id).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        failed.get_or_insert(e);
                        break;
                    }
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// With every shard read to its end, the stream may have been replaced (the table
    /// recreated, its stream disabled and enabled again): follow the table's newest
    /// stream from its start (it began after listening did).
    async fn follow_new_stream(&mut self, inner: &Inner) -> Result<()> {
        let latest = stream_arn(inner).await?;
        if self.stream_arn.as_deref() != Some(latest.as_str()) {
            tracing::info!(table = %inner.table, "the table has a new stream; following it");
            self.stream_arn = Some(latest);
            self.finished.clear();
        }
        Ok(())
    }

    /// Learns the stream's shards: at the start, the open ones from their newest record;
    /// later, the ones created since, from their start.
    async fn describe(&mut self, inner: &Inner, first: bool) -> Result<()> {
        let streams = inner.clients.streams().await?;
        let arn = self.stream_arn.clone().unwrap_or_default();
        let mut start: Option<String> = None;
        let mut pages: HashSet<String> = HashSet::new();
        let mut found = Vec::new();
        loop {
            let described = streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| inner.clients.error(Operation::Subscribe, e))?;
            let Some(description) = described.stream_description() else {
                break;
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                let closed = shard
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some();
                let parent = shard.parent_shard_id().map(str::to_owned);
                found.push((id.to_owned(), closed, parent));
            }
            match description.last_evaluated_shard_id() {
                Some(last) if pages.len() < MAX_DESCRIBE_PAGES && pages.insert(last.to_owned()) => {
                    start = Some(last.to_owned())
                }
                Some(_) => {
                    return Err(Error::Backend {
                        backend: BACKEND,
                        operation: Operation::Subscribe,
                        location: inner.clients.location.clone(),
                        kind: ErrorKind::Protocol,
                        temporary: false,
                        source: format!("DescribeStream handed back a page position it had handed back before, or more than {MAX_DESCRIBE_PAGES} pages: the listing of shards would never end (is the endpoint DynamoDB Streams?)").into(),
                    })
                }
                None => break,
            }
        }
        for (id, closed, parent) in found {
            if self.shards.contains_key(&id) || self.finished.contains(&id) {
                continue;
            }
            if first && closed {
                self.finished.insert(id); // history from before listening started
                continue;
            }
            let kind = if first {
                ShardIteratorType::Latest
            } else {
                ShardIteratorType::TrimHorizon
            };
            let iterator = shard_iterator(inner, &arn, &id, kind.clone(), None).await?;
            self.shards.insert(
                id,
                Shard {
                    iterator,
                    obtained: Instant::now(),
                    last_sequence: None,
                    parent,
                    start: kind,
                    skip_before: None,
                },
            );
        }
        Ok(())
    }

    /// Replaces shard `id`'s iterator by a new one after the last record read (or where
    /// reading began, when none was read): nothing is skipped or read twice.
    async fn renew(&mut self, inner: &Inner, id: &str) -> Result<()> {
        let arn = self.stream_arn.clone().unwrap_or_default();
        let last = self.shards.get(id).and_then(|s| s.last_sequence.clone());
        // A shard read from its newest record with none read since: a new `LATEST` would
        // skip what was written meanwhile, so read it from its start, leaving out the
        // records from before listening began.
        let kind = match &last {
            Some(_) => ShardIteratorType::AfterSequenceNumber,
            None => ShardIteratorType::TrimHorizon,
        };
        let renewed = shard_iterator(inner, &arn, id, kind, last.clone()).await?;
        let since = self.since;
        if let Some(shard) = self.shards.get_mut(id) {
            if last.is_none() && shard.start == ShardIteratorType::Latest {
                shard.skip_before = Some(since);
            }
            shard.iterator = renewed;
            shard.obtained = Instant::now();
        }
        Ok(())
    }

    /// Reads one page of shard `id`; `Ok(true)` when it was full (more is waiting).
    async fn read_shard(&mut self, inner: &Inner, sink: &ChangeSink, id: &str) -> Result<bool> {
        let streams = inner.clients.streams().await?;
        if self
            .shards
            .get(id)
            .is_some_and(|s| s.iterator.is_some() && s.obtained.elapsed() >= ITERATOR_RENEW_AFTER)
        {
            // Before it expires.
            self.renew(inner, id).await?;
        }
        let Some(iterator) = self.shards.get(id).and_then(|s| s.iterator.clone()) else {
            self.shards.remove(id);
            self.finished.insert(id.to_owned());
            self.describe_now = true;
            return Ok(false);
        };
        let answer = streams.get_records().shard_iterator(iterator).send().await;
        let output = match answer {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_trimmed_data_access_exception()) =>
            {
                // Records older than the stream keeps (24 hours) were asked for: this
                // listener fell behind by more than that, and some changes are lost.
                tracing::warn!(table = %inner.table, shard = id, "the stream no longer holds records this listener had not read (it keeps 24 hours): changes were missed; reading on from the oldest record kept");
                let arn = self.stream_arn.clone().unwrap_or_default();
                let renewed =
                    shard_iterator(inner, &arn, id, ShardIteratorType::TrimHorizon, None).await?;
                if let Some(shard) = self.shards.get_mut(id) {
                    shard.iterator = renewed;
                    shard.obtained = Instant::now();
                }
                return Ok(false);
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_expired_iterator_exception()) =>
            {
                return self.renew(inner, id).await.map(|()| false);
            }
            Err(e) => return Err(inner.clients.error(Operation::Subscribe, e)),
        };
        let skip_before = self.shards.get(id).and_then(|s| s.skip_before);
        for record in output.records() {
            let history =
                skip_before.is_some_and(|since| created(record).is_some_and(|at| at < since));
            if let Some(event) = event_of(inner, record).filter(|_| !history) {
                sink.emit(event);
            }
            if let (Some(shard), Some(seq)) = (
                self.shards.get_mut(id),
                record.dynamodb().and_then(|d| d.sequence_number()),
            ) {
                shard.last_sequence = Some(seq.to_owned());
            }
        }
        let bytes: i64 = output
            .records()
            .iter()
            .filter_map(|r| r.dynamodb().and_then(|d| d.size_bytes()))
            .sum();
        let full = output.records().len() >= FULL_PAGE || bytes >= FULL_PAGE_BYTES;
        if let Some(shard) = self.shards.get_mut(id) {
            shard.iterator = output.next_shard_iterator().map(str::to_owned);
            shard.obtained = Instant::now();
        }
        Ok(full && output.next_shard_iterator().is_some())
    }
}

async fn stream_arn(inner: &Inner) -> Result<String> {
    let client = inner.clients.tables().await?;
    let described = client
        .describe_table()
        .table_name(&inner.table)
        .send()
        .await
        .map_err(|e| inner.clients.error(Operation::Subscribe, e))?;
    described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_owned)
        .ok_or_else(|| Error::Backend {
            backend: BACKEND,
            operation: Operation::Subscribe,
            location: inner.clients.location.clone(),
            kind: ErrorKind::InvalidConfig,
            temporary: false,
            source: "the table has no stream: enable one with new and old images (ensure_table() creates the table so)".into(),
        })
}

async fn shard_iterator(
    inner: &Inner,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    after: Option<String>,
) -> Result<Option<String>> {
    let streams = inner.clients.streams().await?;
    let answer = streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind.clone())
        .set_sequence_number(after)
        .send()
        .await;
    match answer {
        Ok(answer) => Ok(answer.shard_iterator().map(str::to_owned)),
        // The record to resume after is no longer kept (24 hours): resume at the oldest.
        Err(e)
            if kind == ShardIteratorType::AfterSequenceNumber
                && e.as_service_error()
                    .is_some_and(|s| s.is_trimmed_data_access_exception()) =>
        {
            tracing::warn!(table = %inner.table, shard, "the stream no longer holds the records after the last one read (it keeps 24 hours): changes were missed; reading on from the oldest record kept");
            Box::pin(shard_iterator(
                inner,
                arn,
                shard,
                ShardIteratorType::TrimHorizon,
                None,
            ))
            .await
        }
        Err(e) => Err(inner.clients.error(Operation::Subscribe, e)),
    }
}

/// When `record` was written (epoch seconds, rounded down), when the server says.
fn created(record: &Record) -> Option<u64> {
    record
        .dynamodb()
        .and_then(|d| d.approximate_creation_date_time())
        .map(|t| u64::try_from(t.secs()).unwrap_or(0))
}

fn binary(image: &HashMap<String, AttributeValue>, name: &str) -> Option<Bytes> {
    match image.get(name)? {
        AttributeValue::B(blob) => Some(Bytes::copy_from_slice(blob.as_ref())),
        _ => None,
    }
}

/// Whether a MODIFY record brings back an item that had expired when it was written.
fn revived(change: &aws_sdk_dynamodbstreams::types::StreamRecord) -> bool {
    let expiry = |image: Option<&HashMap<String, AttributeValue>>| {
        item::expiry(
            image
                .and_then(|i| i.get(EXPIRES))
                .and_then(|n| n.as_n().ok())
                .map(String::as_str),
        )
    };
    let at = change
        .approximate_creation_date_time()
        .map_or(0, |t| t.secs().max(0) as u64);
    expiry(change.old_image()) <= at && expiry(change.new_image()) > at
}

/// The change event a stream record means for this database, if any.
fn event_of(inner: &Inner, record: &Record) -> Option<ChangeEvent> {
    let change = record.dynamodb()?;
    let image = match record.event_name()? {
        OperationType::Insert => change.new_image()?,
        OperationType::Remove => change.old_image()?,
        // A re-save of an expired item that the server had not deleted yet (DynamoDB
        // deletes lazily, local servers never): the value is back.
        OperationType::Modify if revived(change) => change.new_image()?,
        // A re-save refreshing the time to live: the value did not change.
        _ => return None,
    };
    let partition = binary(image, PARTITION)?;
    let key = partition.strip_prefix(inner.key_prefix.as_slice())?;
    let key = Bytes::copy_from_slice(key);
    let value = binary(image, VALUE)?;
    Some(match record.event_name()? {
        OperationType::Remove => ChangeEvent::Deleted {
            key,
            value: Some(value),
        },
        _ => ChangeEvent::Saved { key, value },
    })
}
