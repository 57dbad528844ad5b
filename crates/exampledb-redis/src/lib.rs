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
//! - **Bounded waits.** Every operation finishes within the command timeout, connecting
//!   included, with a typed [`Error`]: [`Error::Timeout`] (its `after` is the connect
//!   timeout when connecting timed out, the command timeout otherwise) or
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
//! - **Redis Cluster** with the `cluster` feature ([`RedisDatabase::cluster`]): no script
//!   touches two hash slots; a move between keys of different slots is two scripts (add to
//!   dest, then remove from src and publish both events), each checked as above, so it is
//!   not isolated there: another client can see the value in both keys in between, and
//!   when the second script fails (src is not a set, the connection breaks) the value
//!   stays in both keys, never in neither.
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

mod conn;
mod listener;
mod payload;
mod script;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use exampledb_core::backend::ChangeHub;
use exampledb_core::{ChangeStream, Error, ErrorKind, ExampleDatabase, Operation, Result};
use redis::{ErrorKind as RedisKind, RedisError, ServerErrorKind};
use tokio::time::Instant;

use conn::{Handle, Lanes, Pool};

pub use exampledb_core;

/// The Lua script every write runs (loaded once per server, then called by `EVALSHA`):
/// for inspection, and for benchmarks that replay the exact server-side work.
///
/// ```
/// assert!(exampledb_redis::write_script_source().contains("PUBLISH"));
/// ```
pub fn write_script_source() -> &'static str {
    script::SOURCE
}

/// The backend name in errors.
const BACKEND: &str = "redis";
/// Hypothesis's defaults.
const DEFAULT_EXPIRE: Duration = Duration::from_secs(8 * 24 * 3600);
const DEFAULT_PREFIX: &[u8] = b"hypothesis-example:";
const DEFAULT_CHANNEL: &str = "hypothesis-changes";
/// SCAN batch size for `keys()`.
const SCAN_COUNT: usize = 1000;
/// The largest bulk argument every Redis server accepts: `proto-max-bulk-len` cannot be
/// set below 1mb. Requests whose arguments all fit need no knowledge of the server's limit.
const ALWAYS_ACCEPTED: u64 = 1 << 20;
/// Redis's default `proto-max-bulk-len`, assumed where the server does not tell its own
/// (`CONFIG` refused or renamed, as on managed Redis).
const DEFAULT_BULK_LIMIT: u64 = 512 << 20;
/// The longest TTL Redis's `EXPIRE` accepts with room to spare: Redis refuses seconds over
/// `i64::MAX / 1000`, and a deadline past `i64::MAX` ms from now.
const MAX_TTL_SECONDS: u64 = (i64::MAX as u64 / 1000) / 2;

/// A Redis example database, compatible with Hypothesis's `RedisExampleDatabase`.
///
/// Cheap to clone: clones share connections and subscribers. Build it with
/// [`RedisDatabase::open`] or [`RedisDatabase::builder`]; no connection is made until the
/// first operation (use [`RedisDatabase::ping`] to check the server up front).
#[derive(Clone)]
pub struct RedisDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    lanes: Lanes,
    /// Where pub/sub listens: the server, or the cluster's seed nodes in turn.
    listen_to: Vec<redis::Client>,
    cluster: bool,
    prefix: Bytes,
    channel: String,
    ttl_seconds: u64,
    connect_timeout: Duration,
    command_timeout: Duration,
    /// Names the server in errors and logs: `host:port/db`, never credentials.
    server: String,
    hub: ChangeHub,
    round_trips: AtomicU64,
    /// The server's `proto-max-bulk-len` (for a cluster the lowest of its primaries'), or
    /// 0 while unknown: read when a request first has an argument over
    /// [`ALWAYS_ACCEPTED`], forgotten when the server closes a connection on one.
    bulk_limit: AtomicU64,
    /// Held while the limit is being read, so concurrent requests read it once.
    bulk_limit_lookup: tokio::sync::Mutex<()>,
    listener: listener::State,
}

impl fmt::Debug for RedisDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDatabase")
            .field("server", &self.inner.server)
            .field("cluster", &self.inner.cluster)
            .field("prefix", &String::from_utf8_lossy(&self.inner.prefix))
            .field("channel", &self.inner.channel)
            .field("ttl_seconds", &self.inner.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// Configuration of a [`RedisDatabase`]; defaults are Hypothesis's.
#[derive(Clone)]
pub struct RedisDatabaseBuilder {
    urls: Vec<String>,
    cluster: bool,
    expire_after: Duration,
    key_prefix: Vec<u8>,
    listener_channel: String,
    pool_size: usize,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl fmt::Debug for RedisDatabaseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may hold a password: only their count is shown.
        f.debug_struct("RedisDatabaseBuilder")
            .field("urls", &self.urls.len())
            .field("cluster", &self.cluster)
            .field("expire_after", &self.expire_after)
            .field("key_prefix", &String::from_utf8_lossy(&self.key_prefix))
            .field("listener_channel", &self.listener_channel)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

impl RedisDatabaseBuilder {
    fn new(urls: Vec<String>, cluster: bool) -> Self {
        Self {
            urls,
            cluster,
            expire_after: DEFAULT_EXPIRE,
            key_prefix: DEFAULT_PREFIX.to_vec(),
            listener_channel: DEFAULT_CHANNEL.to_owned(),
            pool_size: 2,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
        }
    }

    /// Time to live of a key after the last operation on it (default 8 days, as
    /// Hypothesis). Redis counts whole seconds; less than one second is an error, and so is
    /// more than Redis's `EXPIRE` accepts (about 146 million years).
    pub fn expire_after(mut self, ttl: Duration) -> Self {
        self.expire_after = ttl;
        self
    }

    /// Prefix of every Redis key (default `hypothesis-example:`).
    pub fn key_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The pub/sub channel of change events (default `hypothesis-changes`).
    pub fn listener_channel(mut self, channel: impl Into<String>) -> Self {
        self.listener_channel = channel.into();
        self
    }

    /// How many connections operations are spread over (default 2). Each is multiplexed:
    /// concurrent requests on one connection are pipelined, so a few connections carry
    /// many tasks.
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections;
        self
    }

    /// Longest wait for a new connection (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest time one operation may take, connecting and retrying included (default 5 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Builds the database. Nothing is connected yet.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unparsable URL, a TTL under one second or over
    /// Redis's limit, a zero pool
    /// size or timeout, or an empty channel name. The message never repeats the URL.
    pub fn build(self) -> Result<RedisDatabase> {
        let invalid = |message: String| Error::InvalidConfig {
            backend: BACKEND,
            message,
        };
        let ttl_seconds = self.expire_after.as_secs();
        if ttl_seconds == 0 {
            return Err(invalid(format!(
                "expire_after must be at least 1 s (Redis TTLs are whole seconds), got {:?}",
                self.expire_after
            )));
        }
        if ttl_seconds > MAX_TTL_SECONDS {
            // Refused here so that no write script can fail on its EXPIRE.
            return Err(invalid(format!(
                "expire_after must be at most {MAX_TTL_SECONDS} s (Redis's EXPIRE limit), got {ttl_seconds} s"
            )));
        }
        if self.pool_size == 0 {
            return Err(invalid("pool_size must be at least 1".into()));
        }
        if self.connect_timeout.is_zero() || self.command_timeout.is_zero() {
            return Err(invalid("timeouts must be greater than zero".into()));
        }
        if self.listener_channel.is_empty() {
            return Err(invalid("listener_channel must not be empty".into()));
        }
        if self.urls.is_empty() {
            return Err(invalid("no server URL given".into()));
        }
        let mut infos = Vec::with_capacity(self.urls.len());
        for (i, url) in self.urls.iter().enumerate() {
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .map_err(|e| {
                    invalid(format!(
                        "server URL #{} is not a Redis URL (redis://[user:password@]host:port[/db]{}): {}",
                        i + 1,
                        if cfg!(feature = "tls") { ", rediss://..." } else { "; rediss:// needs the `tls` feature" },
                        kind_name(&e)
                    ))
                })?;
            infos.push(info);
        }
        let server = describe(&infos, self.cluster);
        let listen_to = infos
            .iter()
            .map(|info| redis::Client::open(info.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("{server}: {}", kind_name(&e))))?;
        let pool = if self.cluster {
            cluster_pool(infos, &self)?
        } else {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.connect_timeout))
                // The command timeout is enforced around each whole operation instead.
                .set_response_timeout(None);
            let first = infos
                .into_iter()
                .next()
                .ok_or_else(|| invalid("no server URL given".into()))?;
            let manager = deadpool_redis::Manager::new_with_config(first, config)
                .map_err(|e| invalid(format!("{server}: {}", kind_name(&e))))?;
            let pool = deadpool_redis::Pool::builder(manager)
                .max_size(self.pool_size)
                .runtime(deadpool_redis::Runtime::Tokio1)
                .wait_timeout(Some(self.connect_timeout))
                .create_timeout(Some(self.connect_timeout))
                .recycle_timeout(Some(self.connect_timeout))
                .build()
                .map_err(|e| invalid(format!("connection pool: {e}")))?;
            Pool::Single(pool)
        };
        Ok(RedisDatabase {
            inner: Arc::new(Inner {
                lanes: Lanes::new(pool, self.pool_size),
                listen_to,
                cluster: self.cluster,
                prefix: Bytes::from(self.key_prefix),
                channel: self.listener_channel,
                ttl_seconds,
                connect_timeout: self.connect_timeout,
                command_timeout: self.command_timeout,
                server,
                hub: ChangeHub::new(),
                round_trips: AtomicU64::new(0),
                bulk_limit: AtomicU64::new(0),
                bulk_limit_lookup: tokio::sync::Mutex::new(()),
                listener: listener::State::default(),
            }),
        })
    }
}

#[cfg(feature = "cluster")]
fn cluster_pool(infos: Vec<redis::ConnectionInfo>, b: &RedisDatabaseBuilder) -> Result<Pool> {
    let invalid = |message: String| Error::InvalidConfig {
        backend: BACKEND,
        message,
    };
    let manager = deadpool_redis::cluster::Manager::new(infos, false)
        .map_err(|e| invalid(format!("cluster: {}", kind_name(&e))))?;
    let pool = deadpool_redis::cluster::Pool::builder(manager)
        .max_size(b.pool_size)
        .runtime(deadpool_redis::cluster::Runtime::Tokio1)
        .wait_timeout(Some(b.connect_timeout))
        .create_timeout(Some(b.connect_timeout))
        .recycle_timeout(Some(b.connect_timeout))
        .build()
        .map_err(|e| invalid(format!("connection pool: {e}")))?;
    Ok(Pool::Cluster(pool))
}

#[cfg(not(feature = "cluster"))]
fn cluster_pool(_: Vec<redis::ConnectionInfo>, _: &RedisDatabaseBuilder) -> Result<Pool> {
    Err(Error::InvalidConfig {
        backend: BACKEND,
        message: "Redis Cluster needs the `cluster` feature of exampledb-redis".into(),
    })
}

/// `host:port/db` of each server, with no user name or password.
fn describe(infos: &[redis::ConnectionInfo], cluster: bool) -> String {
    let addrs: Vec<String> = infos
        .iter()
        .map(|i| {
            let db = i.redis_settings().db();
            if db == 0 || cluster {
                i.addr().to_string()
            } else {
                format!("{}/{db}", i.addr())
            }
        })
        .collect();
    if cluster {
        format!("cluster {}", addrs.join(","))
    } else {
        addrs.join(",")
    }
}

/// The arguments of one call of the write script (see `script.rs`).
struct ScriptCall<'a> {
    op: &'a str,
    value: &'a [u8],
    delete_payload: &'a str,
    save_payload: &'a str,
    added_before: bool,
}

/// What one script call changed.
#[derive(Debug, Clone, Copy)]
struct Changed {
    added: bool,
}

impl RedisDatabase {
    /// A database on the server at `url` (`redis://[user:password@]host:port[/db]`) with
    /// Hypothesis's defaults.
    pub fn open(url: &str) -> Result<Self> {
        Self::builder(url).build()
    }

    /// A builder for the server at `url`.
    pub fn builder(url: &str) -> RedisDatabaseBuilder {
        RedisDatabaseBuilder::new(vec![url.to_owned()], false)
    }

    /// A builder for a Redis Cluster, given one or more of its nodes (`redis://host:port`).
    /// Needs the `cluster` feature; without it, `build()` returns [`Error::InvalidConfig`].
    pub fn cluster<I, S>(nodes: I) -> RedisDatabaseBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisDatabaseBuilder::new(nodes.into_iter().map(Into::into).collect(), true)
    }

    /// The server (or cluster nodes) this database talks to, as named in errors.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// How many requests this database's operations have sent to the server (each one is
    /// a round trip). Not counted: pub/sub traffic, and the `CONFIG GET` of the server's
    /// `proto-max-bulk-len`, sent once when a request first has an argument over 1 MiB
    /// (see the crate docs), so the count per operation does not depend on value sizes.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// Checks that the server answers, within the command timeout.
    pub async fn ping(&self) -> Result<()> {
        let cmd = redis::cmd("PING");
        let _: String = self
            .request(Operation::Open, |mut h| {
                let cmd = cmd.clone();
                async move { cmd.query_async(&mut h).await }
            })
            .await?;
        Ok(())
    }

    fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.inner.prefix.len() + key.len());
        k.extend_from_slice(&self.inner.prefix);
        k.extend_from_slice(key);
        k
    }

    fn timeout_error(&self, operation: Operation, after: Duration) -> Error {
        Error::Timeout {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            after,
        }
    }

    fn backend_error(
        &self,
        operation: Operation,
        kind: ErrorKind,
        temporary: bool,
        source: exampledb_core::BoxError,
    ) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            kind,
            temporary,
            source,
        }
    }

    fn redis_error(&self, operation: Operation, e: RedisError) -> Error {
        let (kind, temporary) = classify(&e);
        let source: exampledb_core::BoxError = if kind != ErrorKind::Unauthenticated {
            Box::new(e)
        } else if is_missing_auth(&e) {
            Box::new(Cause::AuthRequired(e))
        } else {
            Box::new(Cause::CredentialsRefused(e))
        };
        self.backend_error(operation, kind, temporary, source)
    }

    fn pool_error(&self, operation: Operation, e: conn::GetError) -> Error {
        use deadpool_redis::PoolError as P;
        match e {
            // Connecting (TCP and the handshake) timed out: the pool's create and wait
            // limits and the client's connection timeout are all the connect timeout.
            P::Backend(e) if e.is_timeout() => {
                self.timeout_error(operation, self.inner.connect_timeout)
            }
            P::Timeout(_) => self.timeout_error(operation, self.inner.connect_timeout),
            P::Backend(e) => self.redis_error(operation, e),
            P::Closed => Error::Closed {
                backend: BACKEND,
                operation,
            },
            other => {
                let kind = match other {
                    P::NoRuntimeSpecified => ErrorKind::InvalidConfig,
                    _ => ErrorKind::Other,
                };
                self.backend_error(operation, kind, false, other.to_string().into())
            }
        }
    }

    /// The error for a request with an argument over [`ALWAYS_ACCEPTED`] on which the
    /// server closed the connection (or answered a protocol error, and then closed it).
    fn too_large_error(&self, operation: Operation, large: Large, e: RedisError) -> Error {
        let Large { what, size, limit } = large;
        let refused = server_error(&e).is_some_and(|(_, detail)| detail.contains("bulk length"));
        let cause = if refused {
            Cause::RefusedAsTooLarge {
                what,
                size,
                limit,
                source: e,
            }
        } else {
            Cause::MaybeTooLarge {
                what,
                size,
                limit,
                source: e,
            }
        };
        self.backend_error(operation, ErrorKind::TooLarge, false, Box::new(cause))
    }

    /// Sends one request built by `send` on a pooled connection, within the command
    /// timeout, counting round trips. A connection-level failure discards the connection
    /// and the request is sent once more on a new one (operations are idempotent).
    async fn request<T, F, Fut>(&self, operation: Operation, send: F) -> Result<T>
    where
        F: Fn(Handle) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let deadline = Instant::now() + self.inner.command_timeout;
        self.request_with(operation, deadline, None, true, send)
            .await
    }

    /// [`Self::request`] with the operation's `deadline`; `large` names the request's
    /// argument over [`ALWAYS_ACCEPTED`] when it has one (see [`Self::check_sizes`]):
    /// then a connection the server closes is not retried, since the server closes a
    /// connection on an argument over its `proto-max-bulk-len` and would again. `counted`:
    /// whether [`RedisDatabase::round_trips`] counts the request.
    async fn request_with<T, F, Fut>(
        &self,
        operation: Operation,
        deadline: Instant,
        large: Option<Large>,
        counted: bool,
        send: F,
    ) -> Result<T>
    where
        F: Fn(Handle) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut retried = false;
        loop {
            let (ticket, handle) =
                match tokio::time::timeout_at(deadline, self.inner.lanes.get()).await {
                    Ok(Ok(got)) => got,
                    Ok(Err(e)) => return Err(self.pool_error(operation, e)),
                    Err(_) => return Err(self.timeout_error(operation, self.inner.command_timeout)),
                };
            if counted {
                self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            let e = match tokio::time::timeout_at(deadline, send(handle)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => {
                    // The connection may be stuck (a dead peer, a cut proxy): do not reuse it.
                    self.inner.lanes.discard(ticket).await;
                    return Err(self.timeout_error(operation, self.inner.command_timeout));
                }
            };
            if e.is_timeout() {
                // The client's own response timeout (the same length): as above.
                self.inner.lanes.discard(ticket).await;
                return Err(self.timeout_error(operation, self.inner.command_timeout));
            }
            // After a protocol error the server closes the connection.
            let broken = is_connection_error(&e) || is_protocol_error(&e);
            if !broken {
                return Err(self.redis_error(operation, e));
            }
            self.inner.lanes.discard(ticket).await;
            let (kind, temporary) = classify(&e);
            if let Some(large) = large {
                if kind != ErrorKind::Unauthenticated {
                    // The server's limit may have been lowered since it was read.
                    self.inner.bulk_limit.store(0, Ordering::Relaxed);
                    return Err(self.too_large_error(operation, large, e));
                }
            }
            if retried || !temporary {
                return Err(self.redis_error(operation, e));
            }
            tracing::debug!(server = %self.inner.server, error = %e, "connection failed; retrying on a new one");
            retried = true;
        }
    }

    /// Checks the sizes of a request's arguments (`(what, bytes)`) before it is sent.
    /// Arguments up to [`ALWAYS_ACCEPTED`] need no check and cost nothing; a request with
    /// a larger one needs the server's `proto-max-bulk-len` (read once, see
    /// [`Self::bulk_limit`]) and is refused with [`Error::TooLarge`] when an argument
    /// exceeds it. Returns the first argument over [`ALWAYS_ACCEPTED`], if any.
    async fn check_sizes(
        &self,
        operation: Operation,
        deadline: Instant,
        args: &[(&'static str, usize)],
    ) -> Result<Option<Large>> {
        // The first large one names the request in errors: the value rather than the
        // event payload made from it.
        let Some(&(what, size)) = args
            .iter()
            .find(|(_, size)| u64::try_from(*size).map_or(true, |s| s > ALWAYS_ACCEPTED))
        else {
            return Ok(None);
        };
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let limit = self.bulk_limit(operation, deadline).await?;
        for &(what, size) in args {
            let size = u64::try_from(size).unwrap_or(u64::MAX);
            if size > limit {
                return Err(Error::TooLarge {
                    backend: BACKEND,
                    operation,
                    location: self.inner.server.clone(),
                    what,
                    size,
                    limit,
                });
            }
        }
        Ok(Some(Large { what, size, limit }))
    }

    /// The server's `proto-max-bulk-len` (on a cluster the lowest of its primaries'),
    /// read with `CONFIG GET` the first time it is needed and again after a server closed
    /// a connection on a large request; the default 512 MiB where `CONFIG` is refused or
    /// renamed. The lookup is not counted in [`RedisDatabase::round_trips`].
    async fn bulk_limit(&self, operation: Operation, deadline: Instant) -> Result<u64> {
        let known = self.inner.bulk_limit.load(Ordering::Relaxed);
        if known != 0 {
            return Ok(known);
        }
        let Ok(_lookup) =
            tokio::time::timeout_at(deadline, self.inner.bulk_limit_lookup.lock()).await
        else {
            return Err(self.timeout_error(operation, self.inner.command_timeout));
        };
        let known = self.inner.bulk_limit.load(Ordering::Relaxed);
        if known != 0 {
            return Ok(known);
        }
        let replies = self
            .request_with(operation, deadline, None, false, |h| async move {
                match config_get_bulk_limit(h).await {
                    Err(e) if is_refusal(&e) => {
                        tracing::debug!(error = %e, "CONFIG GET proto-max-bulk-len refused; assuming Redis's default");
                        Ok(Vec::new())
                    }
                    other => other,
                }
            })
            .await?;
        let limit = replies
            .iter()
            .map(|reply| parse_bulk_limit(reply).unwrap_or(DEFAULT_BULK_LIMIT))
            .min()
            .unwrap_or(DEFAULT_BULK_LIMIT)
            .max(1);
        tracing::debug!(server = %self.inner.server, limit, "read proto-max-bulk-len");
        self.inner.bulk_limit.store(limit, Ordering::Relaxed);
        Ok(limit)
    }

    /// Runs the write script: `EVALSHA`, or `EVAL` when the server does not know it yet.
    async fn script(
        &self,
        operation: Operation,
        keys: &[&[u8]],
        call: ScriptCall<'_>,
    ) -> Result<Changed> {
        let ScriptCall {
            op,
            value,
            delete_payload,
            save_payload,
            added_before,
        } = call;
        let deadline = Instant::now() + self.inner.command_timeout;
        let large = self
            .check_sizes(
                operation,
                deadline,
                &[
                    ("key", keys.first().map_or(0, |k| k.len())),
                    ("key", keys.get(1).map_or(0, |k| k.len())),
                    ("value", value.len()),
                    ("event payload", delete_payload.len()),
                    ("event payload", save_payload.len()),
                    ("listener channel name", self.inner.channel.len()),
                ],
            )
            .await?;
        let build = |first: &str, body: &str| {
            let mut cmd = redis::cmd(first);
            cmd.arg(body).arg(keys.len());
            for k in keys {
                cmd.arg(*k);
            }
            cmd.arg(value)
                .arg(self.inner.ttl_seconds)
                .arg(&self.inner.channel)
                .arg(op)
                .arg(delete_payload)
                .arg(save_payload)
                .arg(if added_before { "1" } else { "0" });
            cmd
        };
        let evalsha = build("EVALSHA", &script::SHA);
        let result = self
            .request_with(operation, deadline, large, true, |mut h| {
                let cmd = evalsha.clone();
                async move { cmd.query_async::<(i64, i64)>(&mut h).await }
            })
            .await;
        let (removed, added) = match result {
            Err(e) if is_noscript(&e) => {
                // EVAL also caches the script on that server for the next EVALSHA.
                let eval = build("EVAL", script::SOURCE);
                self.request_with(operation, deadline, large, true, |mut h| {
                    let cmd = eval.clone();
                    async move { cmd.query_async::<(i64, i64)>(&mut h).await }
                })
                .await?
            }
            other => other?,
        };
        let _ = removed;
        Ok(Changed { added: added == 1 })
    }

    /// Saves every `(key, value)` pair in one round trip (one pipeline of script calls);
    /// each pair runs the write script and publishes its event as [`ExampleDatabase::save`]
    /// does, so a pair that fails changes nothing, but the pairs before it stay saved. Not
    /// available on a cluster, where one pipeline would span nodes: there it saves the
    /// pairs one by one.
    pub async fn save_many<K, V>(&self, pairs: &[(K, V)]) -> Result<()>
    where
        K: AsRef<[u8]> + Sync,
        V: AsRef<[u8]> + Sync,
    {
        if pairs.is_empty() {
            return Ok(());
        }
        if self.inner.cluster {
            for (k, v) in pairs {
                self.save(k.as_ref(), v.as_ref()).await?;
            }
            return Ok(());
        }
        let deadline = Instant::now() + self.inner.command_timeout;
        let calls: Vec<(Vec<u8>, &[u8], String)> = pairs
            .iter()
            .map(|(k, v)| {
                let (k, v) = (k.as_ref(), v.as_ref());
                (self.redis_key(k), v, payload::save(k, v))
            })
            .collect();
        let mut sizes = Vec::with_capacity(calls.len() * 3 + 1);
        sizes.push(("listener channel name", self.inner.channel.len()));
        for (rk, v, save_payload) in &calls {
            sizes.extend([
                ("key", rk.len()),
                ("value", v.len()),
                ("event payload", save_payload.len()),
            ]);
        }
        let large = self.check_sizes(Operation::Save, deadline, &sizes).await?;
        let build = |first: &str, body: &str| {
            let mut pipe = redis::pipe();
            for (rk, v, save_payload) in &calls {
                pipe.cmd(first)
                    .arg(body)
                    .arg(1)
                    .arg(rk)
                    .arg(*v)
                    .arg(self.inner.ttl_seconds)
                    .arg(&self.inner.channel)
                    .arg("save")
                    .arg("")
                    .arg(save_payload)
                    .arg("0")
                    .ignore();
            }
            pipe
        };
        let pipe = build("EVALSHA", &script::SHA);
        let result: Result<()> = self
            .request_with(Operation::Save, deadline, large, true, |mut h| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut h).await }
            })
            .await;
        match result {
            Err(e) if is_noscript(&e) => {
                let pipe = build("EVAL", script::SOURCE);
                self.request_with(Operation::Save, deadline, large, true, |mut h| {
                    let pipe = pipe.clone();
                    async move { pipe.query_async(&mut h).await }
                })
                .await
            }
            other => other,
        }
    }

    /// Fetches several keys in one round trip (one pipeline of `SMEMBERS` + `EXPIRE` per
    /// key); the result is in the order of `keys`. On a cluster, key by key.
    pub async fn fetch_many<K>(&self, keys: &[K]) -> Result<Vec<Vec<Bytes>>>
    where
        K: AsRef<[u8]> + Sync,
    {
        if self.inner.cluster || keys.len() <= 1 {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.fetch(k.as_ref()).await?);
            }
            return Ok(out);
        }
        let deadline = Instant::now() + self.inner.command_timeout;
        let mut pipe = redis::pipe();
        let mut sizes = Vec::with_capacity(keys.len());
        for k in keys {
            let rk = self.redis_key(k.as_ref());
            sizes.push(("key", rk.len()));
            pipe.cmd("SMEMBERS")
                .arg(&rk)
                .cmd("EXPIRE")
                .arg(&rk)
                .arg(self.inner.ttl_seconds)
                .ignore();
        }
        let large = self.check_sizes(Operation::Fetch, deadline, &sizes).await?;
        let sets: Vec<Vec<Vec<u8>>> = self
            .request_with(Operation::Fetch, deadline, large, true, |mut h| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut h).await }
            })
            .await?;
        Ok(sets
            .into_iter()
            .map(|set| set.into_iter().map(Bytes::from).collect())
            .collect())
    }

    /// Primaries of the cluster, from `CLUSTER SHARDS`-free `CLUSTER NODES` output.
    #[cfg(feature = "cluster")]
    async fn cluster_primaries(&self) -> Result<Vec<(String, u16)>> {
        let text: String = self
            .request(Operation::Keys, |mut h| async move {
                redis::cmd("CLUSTER").arg("NODES").query_async(&mut h).await
            })
            .await?;
        let mut primaries = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                continue;
            }
            // host:port@cport[,hostname]
            let hostport = addr.split(['@', ',']).next().unwrap_or_default();
            if let Some((host, port)) = hostport.rsplit_once(':') {
                if let Ok(port) = port.parse() {
                    primaries.push((host.to_owned(), port));
                }
            }
        }
        Ok(primaries)
    }

    async fn scan_all(&self) -> Result<Vec<Bytes>> {
        let pattern = glob_escape(&self.inner.prefix);
        let deadline = Instant::now() + self.inner.command_timeout;
        self.check_sizes(Operation::Keys, deadline, &[("key prefix", pattern.len())])
            .await?;
        #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
        let mut targets: Vec<Option<(String, u16)>> = vec![None];
        #[cfg(feature = "cluster")]
        if self.inner.cluster {
            targets = self
                .cluster_primaries()
                .await?
                .into_iter()
                .map(Some)
                .collect();
        }
        let mut keys = Vec::new();
        for target in targets {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT);
                let target = target.clone();
                let (next, batch): (u64, Vec<Vec<u8>>) = self
                    .request(Operation::Keys, |h| {
                        let cmd = cmd.clone();
                        let target = target.clone();
                        async move { scan_on(h, cmd, target).await }
                    })
                    .await?;
                keys.extend(batch.into_iter().filter_map(|k| {
                    k.strip_prefix(&self.inner.prefix[..])
                        .map(Bytes::copy_from_slice)
                }));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// Sends a SCAN to the single server, or to one cluster node by address.
async fn scan_on(
    mut h: Handle,
    cmd: redis::Cmd,
    target: Option<(String, u16)>,
) -> redis::RedisResult<(u64, Vec<Vec<u8>>)> {
    match (target, &mut h) {
        #[cfg(feature = "cluster")]
        (Some((host, port)), Handle::Cluster(c)) => {
            use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
            let value = c
                .route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port }),
                )
                .await?;
            redis::FromRedisValue::from_redis_value(value).map_err(Into::into)
        }
        _ => cmd.query_async(&mut h).await,
    }
}

/// Whether the server answered NOSCRIPT (it does not have the script cached).
fn is_noscript(e: &Error) -> bool {
    matches!(e, Error::Backend { source, .. } if source
        .downcast_ref::<RedisError>()
        .is_some_and(|e| e.kind() == RedisKind::Server(ServerErrorKind::NoScript)))
}

/// Whether `e` means the connection is unusable (as opposed to an answer from the server).
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// The first argument of a request over [`ALWAYS_ACCEPTED`] bytes (in the order key,
/// value, event payload), and the server's `proto-max-bulk-len` it was checked against.
#[derive(Debug, Clone, Copy)]
struct Large {
    what: &'static str,
    size: u64,
    limit: u64,
}

/// The cause of a failure in words, kept as the source of an [`Error::Backend`] where the
/// client library's own message would mislead; that error stays reachable as its source.
#[derive(Debug, thiserror::Error)]
enum Cause {
    /// The server wants a password and none was given (`NOAUTH`, or the protocol error
    /// Redis answers to an unauthenticated client's long command).
    #[error("authentication required: the server has a password (requirepass or ACL users) and the URL gives none")]
    AuthRequired(#[source] RedisError),
    /// `AUTH` failed.
    #[error("the server refused the credentials in the URL (a wrong user name or password, a disabled user, or a password for a server that has none)")]
    CredentialsRefused(#[source] RedisError),
    /// The server closed the connection on a request with a large argument.
    #[error("the server closed the connection on a request with a {size}-byte {what}: the {what} may exceed the server's proto-max-bulk-len ({limit} bytes when last read) or the whole request its client-query-buffer-limit; not retried")]
    MaybeTooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
        #[source]
        source: RedisError,
    },
    /// The server answered "invalid bulk length" to a request with a large argument.
    #[error("the server refused a request with a {size}-byte {what} as longer than its proto-max-bulk-len (read earlier as {limit} bytes); not retried")]
    RefusedAsTooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
        #[source]
        source: RedisError,
    },
}

/// The code and text of the (first) error the server answered, if it answered one.
fn server_error(e: &RedisError) -> Option<(String, String)> {
    let errors = e.clone().into_server_errors()?;
    let (_, first) = errors.first()?;
    Some((
        first.code().to_owned(),
        first.details().unwrap_or_default().to_owned(),
    ))
}

/// Whether the server answered a protocol error, after which it closes the connection.
fn is_protocol_error(e: &RedisError) -> bool {
    server_error(e)
        .is_some_and(|(code, detail)| code == "ERR" && detail.starts_with("Protocol error"))
}

/// Whether the server refused a command for want of authentication: `NOAUTH`, or the
/// protocol error Redis answers (before `NOAUTH` could be) when an unauthenticated client
/// sends a command of more than 10 arguments or an argument over 16 KiB.
fn is_missing_auth(e: &RedisError) -> bool {
    server_error(e).is_some_and(|(code, detail)| {
        code == "NOAUTH" || (code == "ERR" && detail.starts_with("Protocol error: unauthenticated"))
    })
}

/// What kind of failure a client-library error is, and whether retrying may succeed.
fn classify(e: &RedisError) -> (ErrorKind, bool) {
    if is_missing_auth(e) {
        return (ErrorKind::Unauthenticated, false);
    }
    match e.kind() {
        RedisKind::AuthenticationFailed => (ErrorKind::Unauthenticated, false),
        RedisKind::Io if e.is_timeout() => (ErrorKind::Timeout, true),
        // Refused, reset, closed, unreachable, not resolved...; only permission and
        // unsupported-operation errors are not worth retrying.
        RedisKind::Io => match e.retry_method() {
            redis::RetryMethod::NoRetry => (ErrorKind::Io, false),
            _ => (ErrorKind::Unavailable, true),
        },
        RedisKind::ClusterConnectionNotFound => (ErrorKind::Unavailable, true),
        RedisKind::Parse | RedisKind::UnexpectedReturnType | RedisKind::RESP3NotSupported => {
            (ErrorKind::Protocol, false)
        }
        RedisKind::InvalidClientConfig => (ErrorKind::InvalidConfig, false),
        RedisKind::Server(kind) => match kind {
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask => (ErrorKind::Unavailable, true),
            ServerErrorKind::NoPerm => (ErrorKind::PermissionDenied, false),
            // A replica: the URL names a server that takes no writes.
            ServerErrorKind::ReadOnly => (ErrorKind::ReadOnly, false),
            ServerErrorKind::ResponseError if is_protocol_error(e) => (ErrorKind::Protocol, false),
            _ => (ErrorKind::Other, false),
        },
        RedisKind::Extension => match server_error(e).map(|(code, _)| code).as_deref() {
            Some("WRONGPASS") => (ErrorKind::Unauthenticated, false),
            // A key of another type than set: not written by an example database.
            Some("WRONGTYPE") => (ErrorKind::InvalidData, false),
            // Over maxmemory with noeviction, a script running, too few replicas, a failed
            // background save: the server takes writes again once that has passed.
            Some("OOM" | "BUSY" | "NOREPLICAS" | "MISCONF") => (ErrorKind::Unavailable, true),
            _ => (ErrorKind::Other, false),
        },
        _ => (ErrorKind::Other, false),
    }
}

/// Whether the server refused a command (unknown, renamed, not permitted), as opposed to
/// failing to answer or wanting authentication.
fn is_refusal(e: &RedisError) -> bool {
    server_error(e).is_some()
        && matches!(
            classify(e).0,
            ErrorKind::Other | ErrorKind::PermissionDenied
        )
}

/// `CONFIG GET proto-max-bulk-len` on the server, or on every primary of a cluster: one
/// reply per server.
async fn config_get_bulk_limit(mut h: Handle) -> redis::RedisResult<Vec<redis::Value>> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET").arg("proto-max-bulk-len");
    match &mut h {
        #[cfg(feature = "cluster")]
        Handle::Cluster(c) => {
            use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
            // Without a response policy: a map from each primary's address to its reply.
            let value = c
                .route_command(
                    cmd,
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                )
                .await?;
            Ok(match value {
                redis::Value::Map(replies) => replies.into_iter().map(|(_, v)| v).collect(),
                other => vec![other],
            })
        }
        _ => Ok(vec![cmd.query_async(&mut h).await?]),
    }
}

/// The limit in a `CONFIG GET proto-max-bulk-len` reply (`[name, value]`, or a map in
/// RESP3); `None` when the reply holds none (an error, an unknown parameter).
fn parse_bulk_limit(reply: &redis::Value) -> Option<u64> {
    use redis::Value as V;
    let value = match reply {
        V::Array(items) => items.get(1)?,
        V::Map(pairs) => &pairs.first()?.1,
        _ => return None,
    };
    match value {
        V::BulkString(text) => std::str::from_utf8(text).ok()?.trim().parse().ok(),
        V::SimpleString(text) => text.trim().parse().ok(),
        V::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// `prefix` as a SCAN MATCH pattern that matches exactly the keys starting with it.
fn glob_escape(prefix: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(prefix.len() + 2);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            p.push(b'\\');
        }
        p.push(b);
    }
    p.push(b'*');
    p
}

#[async_trait]
impl ExampleDatabase for RedisDatabase {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let rk = self.redis_key(key);
        let save_payload = payload::save(key, value);
        self.script(
            Operation::Save,
            &[&rk],
            ScriptCall {
                op: "save",
                value,
                delete_payload: "",
                save_payload: &save_payload,
                added_before: false,
            },
        )
        .await
        .map(drop)
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let rk = self.redis_key(key);
        let deadline = Instant::now() + self.inner.command_timeout;
        let large = self
            .check_sizes(Operation::Fetch, deadline, &[("key", rk.len())])
            .await?;
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS")
            .arg(&rk)
            .cmd("EXPIRE")
            .arg(&rk)
            .arg(self.inner.ttl_seconds)
            .ignore();
        let (set,): (Vec<Vec<u8>>,) = self
            .request_with(Operation::Fetch, deadline, large, true, |mut h| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut h).await }
            })
            .await?;
        Ok(set.into_iter().map(Bytes::from).collect())
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let rk = self.redis_key(key);
        let delete_payload = payload::delete(key, value);
        self.script(
            Operation::Delete,
            &[&rk],
            ScriptCall {
                op: "delete",
                value,
                delete_payload: &delete_payload,
                save_payload: "",
                added_before: false,
            },
        )
        .await
        .map(drop)
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(dest, value).await;
        }
        let (rs, rd) = (self.redis_key(src), self.redis_key(dest));
        let delete_payload = payload::delete(src, value);
        let save_payload = payload::save(dest, value);
        if self.inner.cluster && slot(&rs) != slot(&rd) {
            // One script may not touch two slots: add first, so the value is never in
            // neither set, then remove and publish both events in Hypothesis's order.
            let added = self
                .script(
                    Operation::Move,
                    &[&rd],
                    ScriptCall {
                        op: "add",
                        value,
                        delete_payload: "",
                        save_payload: "",
                        added_before: false,
                    },
                )
                .await?
                .added;
            self.script(
                Operation::Move,
                &[&rs],
                ScriptCall {
                    op: "remove-report",
                    value,
                    delete_payload: &delete_payload,
                    save_payload: &save_payload,
                    added_before: added,
                },
            )
            .await?;
            return Ok(());
        }
        self.script(
            Operation::Move,
            &[&rs, &rd],
            ScriptCall {
                op: "move",
                value,
                delete_payload: &delete_payload,
                save_payload: &save_payload,
                added_before: false,
            },
        )
        .await
        .map(drop)
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        self.scan_all().await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        listener::subscribe(self)
    }
}

impl RedisDatabase {
    /// Subscribes like [`ExampleDatabase::subscribe`], and returns once the subscription
    /// is active on the server (within the connect timeout plus the command timeout), so
    /// that no change made after this returns is missed.
    pub async fn subscribe_active(&self) -> Result<ChangeStream> {
        let stream = self.subscribe()?;
        listener::wait_active(self).await?;
        Ok(stream)
    }
}

/// The cluster hash slot of a Redis key (CRC16/XMODEM of the key or its `{hash tag}`).
fn slot(key: &[u8]) -> u16 {
    let mut k = key;
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                k = &key[open + 1..open + 1 + len];
            }
        }
    }
    let mut crc: u16 = 0;
    for &b in k {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// The kind of a configuration error, without its text (which may repeat the URL).
fn kind_name(e: &RedisError) -> String {
    format!("{:?}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
    }

    #[test]
    fn glob_escape_matches_only_the_prefix() {
        assert_eq!(glob_escape(b"hypothesis-example:"), b"hypothesis-example:*");
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\*");
    }

    #[test]
    fn bad_config_is_a_typed_error_without_the_url() {
        let secret = "redis://user:hunter2@[bad";
        let err = RedisDatabase::open(secret).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = RedisDatabase::builder("redis://127.0.0.1:1")
            .expire_after(Duration::from_millis(500))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("at least 1 s"), "{err}");
        let err = RedisDatabase::builder("redis://127.0.0.1:1")
            .pool_size(0)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        // Redis's EXPIRE would refuse it, after the script had changed the set.
        let err = RedisDatabase::builder("redis://127.0.0.1:1")
            .expire_after(Duration::from_secs(u64::MAX))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        RedisDatabase::builder("redis://127.0.0.1:1")
            .expire_after(Duration::from_secs(MAX_TTL_SECONDS))
            .build()
            .unwrap();
    }

    /// The error the client library makes of the server's error reply `line`.
    fn reply_error(line: &str) -> RedisError {
        redis::parse_redis_value(format!("-{line}\r\n").as_bytes())
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn errors_are_classified_by_cause() {
        use ErrorKind as K;
        for (line, kind, temporary) in [
            ("NOAUTH Authentication required.", K::Unauthenticated, false),
            (
                "ERR Protocol error: unauthenticated multibulk length",
                K::Unauthenticated,
                false,
            ),
            (
                "WRONGPASS invalid username-password pair or user is disabled.",
                K::Unauthenticated,
                false,
            ),
            (
                "WRONGTYPE exampledb: the key holds a string, not a set",
                K::InvalidData,
                false,
            ),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                K::InvalidData,
                false,
            ),
            (
                "NOPERM exampledb: this user may not PUBLISH to the listener channel",
                K::PermissionDenied,
                false,
            ),
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                K::Unavailable,
                true,
            ),
            (
                "LOADING Redis is loading the dataset in memory",
                K::Unavailable,
                true,
            ),
            (
                "ERR Protocol error: invalid bulk length",
                K::Protocol,
                false,
            ),
            ("ERR unknown command 'CONFIG'", K::Other, false),
        ] {
            assert_eq!(classify(&reply_error(line)), (kind, temporary), "{line}");
        }
        let failed_auth = RedisError::from((
            RedisKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert_eq!(classify(&failed_auth), (K::Unauthenticated, false));
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&reset), (K::Unavailable, true));
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(classify(&timed_out), (K::Timeout, true));

        // CONFIG refused or renamed: assume the default; not for a missing password.
        assert!(is_refusal(&reply_error("ERR unknown command 'CONFIG'")));
        assert!(is_refusal(&reply_error(
            "NOPERM this user has no permissions to run the 'config|get' command"
        )));
        assert!(!is_refusal(&reply_error("NOAUTH Authentication required.")));
        assert!(!is_refusal(&reset));
    }

    #[test]
    fn messages_name_the_cause() {
        let db = RedisDatabase::open("redis://127.0.0.1:1").unwrap();
        let err = db.redis_error(
            Operation::Save,
            reply_error("NOAUTH Authentication required."),
        );
        assert!(err.to_string().contains("authentication required"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        let failed_auth = RedisError::from((
            RedisKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        let err = db.redis_error(Operation::Save, failed_auth);
        assert!(err.to_string().contains("refused the credentials"), "{err}");
        let large = Large {
            what: "value",
            size: 2 << 20,
            limit: DEFAULT_BULK_LIMIT,
        };
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let err = db.too_large_error(Operation::Save, large, reset);
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(!err.is_temporary());
        let text = err.to_string();
        assert!(text.contains("2097152-byte value"), "{text}");
        assert!(
            text.contains("may exceed the server's proto-max-bulk-len (536870912"),
            "{text}"
        );
        let err = db.too_large_error(
            Operation::Save,
            large,
            reply_error("ERR Protocol error: invalid bulk length"),
        );
        assert!(
            err.to_string()
                .contains("as longer than its proto-max-bulk-len"),
            "{err}"
        );
    }

    #[test]
    fn bulk_limit_replies_are_parsed() {
        use redis::Value as V;
        let name = || V::BulkString(b"proto-max-bulk-len".to_vec());
        let pair = V::Array(vec![name(), V::BulkString(b"1048576".to_vec())]);
        assert_eq!(parse_bulk_limit(&pair), Some(1 << 20));
        let map = V::Map(vec![(name(), V::BulkString(b"536870912".to_vec()))]);
        assert_eq!(parse_bulk_limit(&map), Some(DEFAULT_BULK_LIMIT));
        assert_eq!(parse_bulk_limit(&V::Array(vec![])), None);
        assert_eq!(parse_bulk_limit(&V::Nil), None);
    }

    #[test]
    fn debug_and_server_never_show_the_password() {
        let db = RedisDatabase::open("redis://user:hunter2@127.0.0.1:1/3").unwrap();
        assert_eq!(db.server(), "127.0.0.1:1/3");
        assert!(!format!("{db:?}").contains("hunter2"));
        let b = RedisDatabase::builder("redis://user:hunter2@127.0.0.1:1/3");
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
