//! # exampledb-s3
//!
//! Python Hypothesis's directory database as objects in an S3 bucket (AWS S3 or any
//! S3-compatible server: MinIO, Ceph, R2, Garage), shared by CI, developers and fuzz
//! workers.
//!
//! ## Layout
//!
//! The directory layout (see [`exampledb_core::layout`]) as object names under a prefix:
//!
//! ```text
//! <prefix><h(key)>/<h(value)>            the raw value
//! <prefix>04e6b3400353b141/<h(key)>      the raw key (the meta-keys entry)
//! ```
//!
//! so `aws s3 sync s3://BUCKET/PREFIX .hypothesis/examples` gives a directory Python
//! Hypothesis reads, and the reverse works too; [`S3Database::sync_to_directory`] and
//! [`S3Database::sync_from_directory`] do the same through the database's own rules.
//! Objects under the prefix that are not part of the layout are ignored and never
//! deleted.
//!
//! ## Configuration
//!
//! The workspace's convention ([`exampledb_core::config`]):
//!
//! ```no_run
//! use exampledb_s3::{S3Database, S3DatabaseBuilder};
//! use exampledb_core::ExampleDatabase;
//! # async fn demo() -> exampledb_core::Result<()> {
//! // The standard AWS chain: environment, profiles, SSO, web identity, instance roles.
//! let db = S3DatabaseBuilder::from_env().with_url("s3://ci-examples/my-repo")?.build()?;
//! // An S3-compatible server, explicitly (path-style addressing is the default with an
//! // endpoint):
//! let minio = S3Database::builder("examples")
//!     .prefix("team-a")
//!     .endpoint("http://minio.internal:9000")
//!     .credentials("ACCESS_KEY", "SECRET_KEY", None)
//!     .build()?;
//! minio.check().await?; // the bucket exists and can be listed, now
//! # Ok(()) }
//! ```
//!
//! URL: `s3://BUCKET[/PREFIX]?options` (with `exampledb::open` and the facade's `s3`
//! feature). Options, named as the setters:
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `region` | the region | from the chain |
//! | `endpoint` | an S3-compatible server's URL | AWS |
//! | `profile` | a named profile of the shared AWS config files | default |
//! | `path_style` | path-style addressing | on with an endpoint |
//! | `connect_timeout` | per connection | 5 s |
//! | `operation_timeout` | per request, its retries included | 30 s |
//! | `max_attempts` | attempts per request (throttling and 5xx are retried, backoff at most 2 s) | 3 |
//! | `fetch_concurrency` | GetObjects one fetch runs at once | 32 |
//! | `poll_interval` | how often `subscribe()` lists the prefix | 2 s |
//! | `max_value_size` | the largest value saved or read | 64 MiB |
//! | `metakeys_refresh` | how long a key's meta-keys entry this process wrote is trusted to be there; a save after it writes the entry again ([`S3DatabaseBuilder::metakeys_refresh`]) | 1 h |
//!
//! Credentials never go in URLs (user info in an `s3://` URL or an `endpoint`, an `@`
//! before the query, is refused without being echoed; write an `@` of a prefix as `%40`);
//! they come from the AWS chain, from [`S3DatabaseBuilder::credentials`], or with your own
//! [`S3DatabaseBuilder::client`].
//!
//! ## Requests per operation
//!
//! Counted by [`S3Database::requests`] (an SDK interceptor; every attempt counts):
//!
//! | operation | requests |
//! |---|---|
//! | save | one PutObject with `If-None-Match: *` (412, already stored, is success); plus the key's meta-keys entry (one plain PutObject, shared by saves that start at once) the first time the process saves under that key, and again once its last write of it is `metakeys_refresh` (1 h) old or from an earlier UTC day: the first save under a key costs 2 requests, later ones 1 |
//! | fetch | ListObjectsV2 of the key's directory (one per 1,000 values) and one GetObject per value, up to `fetch_concurrency` at once |
//! | delete | one DeleteObject (plus a HeadObject while someone listens, to report only real changes) |
//! | move | one CopyObject to dest then one DeleteObject of src: 2 requests; when src lacks the value, the CopyObject (404) then a PutObject of the value to dest, and nothing to delete: also 2 (plus a HeadObject while someone listens, and dest's meta-keys entry as for save) |
//! | keys | ListObjectsV2 of the prefix (one per 1,000 objects) plus one GetObject per listed key's meta-keys entry |
//! | subscribe | one ListObjectsV2 per 1,000 objects each poll interval, while someone listens, plus a GetObject per value (or meta-keys entry) that appeared |
//!
//! A save never rewrites an object: names are content hashes and the write is
//! conditional. On servers that ignore `If-None-Match` the result is the same (the same
//! bytes are written again), but a save of a stored value is then reported as a change.
//! A write is visible whole or not at all: S3 has no partial objects.
//!
//! ## Moves
//!
//! S3 has no atomic rename: a move is a copy, then a delete. The value reaches dest before
//! it leaves src, so **a single mover never leaves it in neither key** (a failure between
//! the two requests leaves it in both). But **two processes moving one value in opposite
//! directions at the same moment** (A to B and B to A; any cycle) can each copy, then each
//! delete, **leaving it in neither key**. Concurrent moves without a cycle (several movers
//! A to B; A to B and B to C) cannot lose it. Where opposite moves can race, use a backend
//! with atomic moves.
//!
//! ## Meta-keys entries
//!
//! `keys()`, the listener and [`S3Database::sync_to_directory`] name a key by its meta-keys
//! entry (a key directory's name is a one-way hash). An entry removed behind the database's
//! back (lifecycle expiry, `aws s3 sync --delete` after Python Hypothesis deleted the key)
//! comes back with a save under the key once the saving process's last write of it is
//! [`metakeys_refresh`](S3DatabaseBuilder::metakeys_refresh) old; until then those do not
//! see the key (`fetch` does), and `sync_to_directory` warns about its values.
//!
//! ## Change events
//!
//! This process's own saves, deletes and moves are reported by the calls that make them;
//! other processes' changes are found by polling the prefix (see the table), with their
//! values (deletes: when the listener had read the value). See the `watch` module's
//! notes in the source for what polling cannot see (a change undone within one interval).
//!
//! ## Expiry
//!
//! [`S3Database::expire_after`] installs a bucket lifecycle rule for every object under
//! `<prefix>/` (databases nested below it included); a database at the bucket's root is
//! refused (`InvalidConfig`), since its rule would expire the whole bucket. **S3 expiry
//! counts from the last write, not the last read** (a stored value is never written
//! again), unlike Redis, whose TTL every access refreshes. Its failures are errors of
//! [`Operation::Expiry`](exampledb_core::Operation::Expiry).
//!
//! ## Errors
//!
//! Every error names the backend, `s3://BUCKET/PREFIX` and the operation, with the
//! [`ErrorKind`](exampledb_core::ErrorKind) a caller acts on: `NotFound` for a missing
//! bucket, `PermissionDenied` (403), `Unauthenticated` (bad or missing credentials),
//! `RateLimited` (throttling, retried with bounded backoff first), `Timeout` (the
//! operation timeout bounds each request, an object's body included), `Unavailable`
//! (connection refused, 5xx, a write conflict that persists), `InvalidConfig` (also a
//! bucket in another region than the client's: the message says so, with the bucket's
//! region when S3 names it) and `Protocol` (an endpoint that is not S3: web pages, bytes
//! that are not HTTP, successes without what S3 always sends, such as a `200 OK` with
//! plain text to everything, and error answers without an S3 error code). No credential
//! appears in any message or `Debug` output.
#![deny(missing_docs)]

mod client;
mod config;
mod database;
mod error;
mod lifecycle;
mod sync;
mod watch;

pub use config::{
    S3DatabaseBuilder, DEFAULT_FETCH_CONCURRENCY, DEFAULT_MAX_VALUE_SIZE, DEFAULT_METAKEYS_REFRESH,
    DEFAULT_POLL_INTERVAL, S3_OPTIONS,
};
pub use database::S3Database;

/// Re-exported: the SDK, for [`S3DatabaseBuilder::client`].
pub use aws_sdk_s3;

const BACKEND: &str = "s3";
