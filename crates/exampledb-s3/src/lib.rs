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
//!
//! Credentials never go in URLs; they come from the AWS chain, from
//! [`S3DatabaseBuilder::credentials`], or with your own [`S3DatabaseBuilder::client`].
//!
//! ## Requests per operation
//!
//! Counted by [`S3Database::requests`] (an SDK interceptor; every attempt counts):
//!
//! | operation | requests |
//! |---|---|
//! | save | one PutObject with `If-None-Match: *` (412, already stored, is success); the key's meta-keys entry is written once per process, the first time it saves under that key (one more PutObject, shared by saves that start at once) |
//! | fetch | ListObjectsV2 of the key's directory (one per 1,000 values) and one GetObject per value, up to `fetch_concurrency` at once |
//! | delete | one DeleteObject (plus a HeadObject while someone listens, to report only real changes) |
//! | move | one CopyObject to dest (a PutObject when src lacks the value) then one DeleteObject of src (plus a HeadObject while someone listens, and dest's meta-keys entry once per process, as for save); the value is in dest before it leaves src, so at no moment in neither |
//! | keys | ListObjectsV2 of the prefix (one per 1,000 objects) plus one GetObject per listed key's meta-keys entry |
//! | subscribe | one ListObjectsV2 per 1,000 objects each poll interval, while someone listens, plus a GetObject per value (or meta-keys entry) that appeared |
//!
//! A save never rewrites an object: names are content hashes and the write is
//! conditional. On servers that ignore `If-None-Match` the result is the same (the same
//! bytes are written again), but a save of a stored value is then reported as a change.
//! A write is visible whole or not at all: S3 has no partial objects.
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
//! [`S3Database::expire_after`] installs a bucket lifecycle rule for the prefix. **S3
//! expiry counts from the last write, not the last read** (a stored value is never
//! written again), unlike Redis, whose TTL every access refreshes.
//!
//! ## Errors
//!
//! Every error names the backend, `s3://BUCKET/PREFIX` and the operation, with the
//! [`ErrorKind`](exampledb_core::ErrorKind) a caller acts on: `NotFound` for a missing
//! bucket, `PermissionDenied` (403), `Unauthenticated` (bad or missing credentials),
//! `RateLimited` (throttling, retried with bounded backoff first), `Timeout`,
//! `Unavailable` (connection refused, 5xx) and `Protocol` (an endpoint that is not S3).
//! No credential appears in any message or `Debug` output.
#![deny(missing_docs)]

mod client;
mod config;
mod database;
mod error;
mod lifecycle;
mod sync;
mod watch;

pub use config::{
    S3DatabaseBuilder, DEFAULT_FETCH_CONCURRENCY, DEFAULT_MAX_VALUE_SIZE, DEFAULT_POLL_INTERVAL,
    S3_OPTIONS,
};
pub use database::S3Database;

/// Re-exported: the SDK, for [`S3DatabaseBuilder::client`].
pub use aws_sdk_s3;

const BACKEND: &str = "s3";
