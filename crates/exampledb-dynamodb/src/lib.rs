//! # exampledb-dynamodb
//!
//! Python Hypothesis's example database in a DynamoDB table: one item per value, expiry by
//! DynamoDB's time to live, atomic moves, and exact change events from DynamoDB Streams,
//! for teams that keep CI state in DynamoDB and fuzz workers that come and go.
//!
//! ## The table
//!
//! | attribute | type | what |
//! |---|---|---|
//! | `k` | binary, partition key | key prefix + key (default prefix `hypothesis-example:`, so the empty key works and several databases share a table) |
//! | `h` | binary, sort key | SHA-384 of the value (48 bytes: values may be empty or longer than a sort key's 1,024 bytes) |
//! | `v` | binary | the value |
//! | `exp` | number | when the item expires, in epoch seconds (the time-to-live attribute) |
//!
//! This is the layout the boto3 database a Hypothesis user writes by hand uses, so a Python test and a Rust tool share a table; such a database
//! writes no `exp`, and its items never expire. Items that are not of this layout (no
//! binary `v`) are ignored. Key prefixes are byte prefixes: databases sharing a table need
//! prefixes of which none begins another.
//!
//! [`DynamoDatabase::ensure_table`] creates it (on-demand billing, time to live on `exp`,
//! a stream with new and old images) or checks an existing one and says what differs;
//! workers that start at once all succeed, whichever creates the table (an existing table
//! with the right keys and stream is waited for until active, and gets its time to live
//! enabled if it has none). [`DynamoDatabase::check`] checks the table's keys.
//!
//! ## Configuration
//!
//! The workspace's convention ([`exampledb_core::config`]):
//!
//! ```no_run
//! use exampledb_core::ExampleDatabase;
//! use exampledb_dynamodb::{DynamoDatabase, DynamoDatabaseBuilder};
//! # async fn demo() -> exampledb_core::Result<()> {
//! // The standard AWS chain: environment, profiles, SSO, web identity, instance roles.
//! let db = DynamoDatabaseBuilder::from_env()
//!     .with_url("dynamodb://ci-examples?key_prefix=my-repo%3A")?
//!     .build()?;
//! db.ensure_table().await?;
//! // DynamoDB Local or moto, explicitly:
//! let local = DynamoDatabase::builder("examples")
//!     .endpoint("http://127.0.0.1:8000")
//!     .credentials("local", "local", None)
//!     .build()?;
//! local.check().await?;
//! # Ok(()) }
//! ```
//!
//! URL: `dynamodb://TABLE?options` (with `exampledb::open` and the facade's `dynamodb`
//! feature). Options, named as the setters: `region`, `endpoint`, `profile`,
//! `connect_timeout` (5 s), `operation_timeout` (30 s, per request with its retries),
//! `max_attempts` (3; throttling and 5xx are retried with backoff of at most 2 s),
//! `key_prefix` (`hypothesis-example:`; also spelled `prefix`), `expire_after` (8 days, at
//! most 100 years), `poll_interval` (how often the stream is read while someone listens,
//! 500 ms). Credentials never go in URLs.
//!
//! ## Requests per operation
//!
//! Counted by [`DynamoDatabase::requests`] (an SDK interceptor on both clients):
//!
//! | operation | requests |
//! |---|---|
//! | save | one PutItem, conditional: written only if the value is not stored or has less than half its lifetime left; saving a fresh stored value changes nothing and is no event |
//! | fetch | one Query per 1 MB of the key's items, strongly consistent (a value saved a moment ago, by any process, is read; it costs twice the read capacity of an eventually consistent read); items whose `exp` has passed are left out (DynamoDB deletes them lazily, local servers never); plus one UpdateItem per item with less than half its lifetime left (the refresh, eight at a time; a refresh that fails is logged and does not fail the fetch, so read-only credentials can fetch) |
//! | delete | one DeleteItem |
//! | move | one TransactWriteItems: delete from src and put into dest, atomically (retried twice on a transaction conflict) |
//! | keys | a Scan of the table (strongly consistent) projecting the partition key and `exp` of the items holding a binary value, one per 1 MB, keeping this prefix's unexpired keys (the prefix is matched here: a Scan costs the same read capacity with or without a filter) |
//! | subscribe | while someone listens: one GetRecords per open shard every poll interval (up to eight while the shard's pages come back full: 1,000 records or 1 MB), a DescribeStream every ten polls |
//!
//! A server whose page positions do not move on would keep a pagination going forever:
//! a Query position that is not past the last one (they follow the sort key), a Scan or
//! DescribeStream position handed back before, or more than 200 DescribeStream pages, is
//! a `Protocol` error.
//!
//! ## Expiry
//!
//! Like Redis's `expire_after` (default 8 days), refreshed on access at a bounded cost:
//! a save or a fetch rewrites an item's `exp` only when less than half its lifetime is
//! left, so an item read every day is rewritten once every four days, not on every read.
//! DynamoDB deletes expired items within about two days of `exp`, and reports them on the
//! stream as deletes; until then (and forever on local servers) they are left out of
//! `fetch` and `keys`, and a save of an expired value writes it again.
//!
//! ## Change events
//!
//! From the table's stream: this process's changes and other processes' alike, exact
//! (saves and deletes with their values; a move is a delete and a save, which may arrive
//! in either order when the two keys are on different shards), shards followed as they
//! split (a parent read to its end before its children), iterators renewed before they
//! expire. A re-save that only refreshes the time to live is no event; a re-save of an
//! expired item that the server had not deleted yet is a save. Listening starts with the
//! open shards' newest records, found in the background after `subscribe()` returns (a
//! DescribeTable, a DescribeStream and a GetShardIterator per open shard): changes made
//! before that, including in the first moments after `subscribe()` returns, are not
//! reported. [`DynamoDatabase::subscribe_positioned`] returns only once the position is
//! known, so every change made after it returns is reported. The table needs its stream
//! (`ensure_table` enables it); while the stream cannot be read the listener logs a
//! warning and retries, less often while it keeps failing (the pause doubles, up to 30
//! s). A shard whose iterator must be renewed before any record was read from it is read
//! again from its start, leaving out the records from more than 10 s before listening
//! began by the server's record times (nothing written since is lost; a change from those
//! last 10 s before listening may be reported). The stream keeps records
//! 24 hours: a listener that cannot read it for longer misses what was trimmed.
//!
//! ## Limits and errors
//!
//! A key whose partition key (prefix + key) is over 2,048 bytes, or an item over 400 KB,
//! is [`Error::TooLarge`](exampledb_core::Error::TooLarge) before any request. Errors name
//! `dynamodb://TABLE` and the operation, with the [`ErrorKind`](exampledb_core::ErrorKind)
//! a caller acts on: `NotFound` (the table), `InvalidData` (a table with other keys),
//! `PermissionDenied`, `Unauthenticated`,
//! `RateLimited` (after the SDK's bounded retries), `Timeout`, `Unavailable`, `Protocol`
//! (an endpoint that is not DynamoDB: a web page, bytes that are not HTTP, a success
//! without the `x-amzn-RequestId` header every DynamoDB answer carries); a transaction
//! conflict is temporary. No credential appears in any message or `Debug`, including
//! credentials a server echoes back in its error message (the values after `Credential=`,
//! `Signature=` or a security-token header, and long mixed-case base64 runs, are removed).
#![deny(missing_docs)]

mod client;
mod config;
mod database;
mod error;
mod item;
mod stream;
mod table;

pub use config::{
    DynamoDatabaseBuilder, DEFAULT_EXPIRE_AFTER, DEFAULT_KEY_PREFIX, DEFAULT_POLL_INTERVAL,
    DYNAMODB_OPTIONS, MAX_EXPIRE_AFTER,
};
pub use database::DynamoDatabase;

/// Re-exported: the SDKs, for [`DynamoDatabaseBuilder::clients`].
pub use aws_sdk_dynamodb;
/// Re-exported: the SDKs, for [`DynamoDatabaseBuilder::clients`].
pub use aws_sdk_dynamodbstreams;

const BACKEND: &str = "dynamodb";
