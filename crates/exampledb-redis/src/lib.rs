//! # exampledb-redis
//!
//! [`RedisDatabase`]: Hypothesis's `RedisExampleDatabase` in Rust, sharing the same server,
//! keys and change events with Python. Each key is a Redis set named
//! `key_prefix + key`; every operation, fetch included, refreshes the key's TTL
//! (`expire_after`, 8 days by default); saves and deletes that change a set publish
//! Hypothesis's JSON payload on the listener channel.
//!
//! What it adds to Hypothesis's version:
//!
//! - **One round trip per operation.** A save, delete or move runs one Lua script (by
//!   `EVALSHA`; if the server has not seen it, `EVAL` once): the set change, the `EXPIRE`s
//!   and the conditional `PUBLISH` in one request. Hypothesis needs two round trips
//!   (`MULTI`/`EXEC`, then `PUBLISH`) for a save that changes the set, and its move is not
//!   atomic with its events. A fetch is one pipelined `SMEMBERS` + `EXPIRE`.
//!   [`RedisDatabase::round_trips`] counts them.
//! - **A failed write changes nothing.** Redis runs the script without interleaving any
//!   other client's command, so no other client sees a write half done, but it does not
//!   roll a script back when a command in it fails. The script therefore checks, before
//!   its first change, everything that can make a later command fail: the type of every
//!   key it touches (a set or no key; anything else is [`ErrorKind::InvalidData`], and
//!   the message names the type) and, on Redis 7 and later, the user's ACL permissions for
//!   each command, key and the listener channel ([`ErrorKind::PermissionDenied`]; the
//!   user also needs `TYPE`). Refusals for the server's state (over `maxmemory` with
//!   `noeviction`, a read-only replica, a failed background save) come before a script's
//!   first write or not at all (the state cannot change while a script runs); a move
//!   adds to the destination before it removes from the source, so over `maxmemory` its
//!   add is refused (as Hypothesis's `MULTI`/`EXEC` move is) before anything changed. The
//!   one exception is a Redis Cluster move between hash slots (below).
//! - **Values too large for the server are refused before sending.** Every argument up
//!   to 1 MiB is accepted by any Redis server (`proto-max-bulk-len` cannot be set lower).
//!   For a request with a larger argument (the value, or the event payload, which holds
//!   the value in base64, about 4/3 of its size) the database reads the server's
//!   `proto-max-bulk-len` once (`CONFIG GET`; where `CONFIG` is refused or renamed, as on
//!   managed Redis, it assumes the default 512 MiB) and refuses what exceeds it with
//!   [`Error::TooLarge`], nothing sent. If the server still closes the connection on a
//!   request with an argument over 1 MiB, the request is not retried and the error
//!   ([`ErrorKind::TooLarge`], not temporary) says the value may exceed the server's
//!   `proto-max-bulk-len`; the limit is read again on the next such request.
//! - **Pooled, multiplexed connections.** Connections come from a `deadpool-redis` pool;
//!   requests from many tasks share them and are pipelined (see [`RedisDatabaseBuilder::pool_size`]).
//!   [`RedisDatabase::save_many`] and [`RedisDatabase::fetch_many`] send a whole batch in one round trip.
//! - **Bounded waits.** Every operation finishes within the operation timeout, connecting
//!   included, with a typed [`Error`]: [`Error::Timeout`] (its `after` is the connect
//!   timeout when connecting timed out, the operation timeout otherwise) or
//!   [`Error::Backend`], whose [`Error::kind`] tells a wrong or missing password
//!   ([`ErrorKind::Unauthenticated`]) from a server that cannot be reached
//!   ([`ErrorKind::Unavailable`]) and [`Error::is_temporary`] whether to retry. Errors name
//!   the server, never the password. A request that fails because its connection broke is
//!   retried once on a new connection (every operation is idempotent).
//! - **`keys()`** lists keys with `SCAN` (never `KEYS`), on every primary of a cluster.
//! - **Change events** ([`ExampleDatabase::subscribe`]) come from a dedicated pub/sub
//!   connection that reconnects and resubscribes when the server restarts. Events
//!   published while it is reconnecting are lost, as in Hypothesis: pub/sub has no history.
//!   Events of this process's own writes come back the same way, so every subscriber sees
//!   one order, the server's.
//! - **Redis Cluster** with the `cluster` feature (the `cluster` option, or
//!   [`RedisDatabaseBuilder::cluster_nodes`]): no script
//!   touches two hash slots; a move between keys of different slots is two scripts (add to
//!   dest, then remove from src and publish both events), each checked as above, so it is
//!   not isolated there: another client can see the value in both keys in between, and
//!   when the second script fails (src is not a set, the connection breaks) the value
//!   stays in both keys, never in neither.
//!
//! ## Configuration
//!
//! The [convention](exampledb_core::config) every exampledb backend follows:
//!
//! | call | what it does |
//! |---|---|
//! | [`RedisDatabase::builder(url)`](RedisDatabase::builder) | the server at `url` with Hypothesis's defaults; reads no environment variable and not the URL's query |
//! | [`RedisDatabaseBuilder::from_env()`](RedisDatabaseBuilder::from_env) | the defaults, and the server URL from `REDIS_URL` (without it, `build()` says no server URL was given) |
//! | [`RedisDatabaseBuilder::from_url(url)`](RedisDatabaseBuilder::from_url) | the defaults, then [`with_url(url)`](RedisDatabaseBuilder::with_url): the server from the URL, its query parameters as options |
//! | [`with_option(key, value)`](RedisDatabaseBuilder::with_option) | one option by name; an unknown key or a bad value is [`Error::InvalidConfig`] naming it |
//! | `key_prefix(..)`, `expire_after(..)`, ... | the typed setter of each option, named as its key |
//! | [`build()`](RedisDatabaseBuilder::build) | checks the settings and returns the database; connects to nothing |
//! | [`db.check().await`](RedisDatabase::check) | asks the server now (a `PING` within the operation timeout) |
//!
//! The URL form:
//!
//! ```text
//! redis://[user:password@]host:port[/db]?key_prefix=ci%3A&expire_after=8d&operation_timeout=5s&cluster=true
//! rediss://...                                   (TLS, with the `tls` feature)
//! ```
//!
//! Query parameters are percent-decoded; each may be given once. The Redis client's own
//! query parameters (`protocol`) are not supported there (an error names the parameter,
//! as for any unknown one); [`RedisDatabase::builder`] passes its URL to the client as it
//! is. The options:
//!
//! | key | value | default |
//! |---|---|---|
//! | `key_prefix` | text: its UTF-8 bytes start every Redis key (the setter takes any bytes) | `hypothesis-example:` |
//! | `expire_after` | duration: the TTL every operation sets; whole seconds, at least `1s` | `8d` |
//! | `listener_channel` | text: the pub/sub channel of change events | `hypothesis-changes` |
//! | `pool_size` | count: connections operations are spread over, at least 1 | `2` |
//! | `connect_timeout` | duration: the longest wait for a new connection | `2s` |
//! | `operation_timeout` | duration: the longest an operation takes, connecting and retrying included | `5s` |
//! | `cluster` | boolean: the URL is a seed node of a Redis Cluster (needs the `cluster` feature) | `false` |
//!
//! Durations are `500ms`, `30s`, `5m`, `1h`, `8d` or a number of seconds
//! ([`parse_duration`](exampledb_core::config::parse_duration)); booleans `true`/`false`
//! ([`parse_bool`](exampledb_core::config::parse_bool)). Several seed nodes of a cluster
//! are given in code with [`RedisDatabaseBuilder::cluster_nodes`]. The password never
//! appears in `Debug` output, errors or logs.
//!
//! ```
//! use exampledb_redis::{RedisDatabase, RedisDatabaseBuilder};
//! use std::time::Duration;
//! // The same settings from a string and from code:
//! let from_url = RedisDatabaseBuilder::from_url(
//!     "redis://127.0.0.1:6379/0?key_prefix=ci%3A&expire_after=3d&operation_timeout=2s",
//! )?;
//! let from_code = RedisDatabase::builder("redis://127.0.0.1:6379/0")
//!     .key_prefix("ci:")
//!     .expire_after(Duration::from_secs(3 * 86_400))
//!     .operation_timeout(Duration::from_secs(2));
//! assert_eq!(format!("{from_url:?}"), format!("{from_code:?}"));
//! let err = RedisDatabaseBuilder::from_url("redis://127.0.0.1?expire_after=soon").unwrap_err();
//! assert!(err.to_string().contains("expire_after"));
//! # Ok::<(), exampledb_core::Error>(())
//! ```
//!
//! ## Example
//!
//! ```no_run
//! use exampledb_core::ExampleDatabase;
//! use exampledb_redis::RedisDatabase;
//! # async fn demo() -> exampledb_core::Result<()> {
//! let db = RedisDatabase::builder("redis://127.0.0.1:6379/0")
//!     .expire_after(std::time::Duration::from_secs(3 * 24 * 3600))
//!     .build()?;
//! db.save(b"test-key", b"failing input").await?;
//! assert!(db.fetch(b"test-key").await?.len() >= 1);
//! # Ok(()) }
//! ```
//!
//! Features: `cluster` (Redis Cluster), `tls` (`rediss://` URLs, rustls).
//!
//! ## Interop notes (tested against Hypothesis 6.170.15 and redis-py 8.1.0)
//!
//! - Python and Rust share keys, values, TTLs and change events both ways. Hypothesis's
//!   own listener subscribes to the channel but never reads the pub/sub connection
//!   (`hypothesis.extra.redis` calls neither `get_message` nor `run_in_thread`), so a
//!   Python listener hears events only if something pumps `db._pubsub.get_message()`;
//!   the interop test does exactly that, and the decoding is Hypothesis's own.
//! - Hypothesis's `move` publishes its events after its transaction; ours publishes them
//!   inside the same script, so a listener never sees a move's events before the move.
#![deny(missing_docs)]

mod client;
mod config;
mod conn;
mod database;
mod error;
mod listener;
mod payload;
mod script;
mod slot;

// For the links in the documentation above.
#[cfg(doc)]
use exampledb_core::{Error, ErrorKind, ExampleDatabase};

pub use config::{RedisDatabaseBuilder, REDIS_URL_ENV};
pub use database::RedisDatabase;
pub use exampledb_core;
pub use script::write_script_source;
