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
//!   and the conditional `PUBLISH` happen atomically on the server. Hypothesis needs two
//!   round trips (`MULTI`/`EXEC`, then `PUBLISH`) for a save that changes the set, and its
//!   move is not atomic with its events. A fetch is one pipelined `SMEMBERS` + `EXPIRE`.
//!   [`RedisDatabase::round_trips`] counts them.
//! - **Pooled, multiplexed connections.** Connections come from a `deadpool-redis` pool;
//!   requests from many tasks share them and are pipelined (see [`RedisDatabaseBuilder::pool_size`]).
//!   [`RedisDatabase::save_many`] and [`RedisDatabase::fetch_many`] send a whole batch in one round trip.
//! - **Bounded waits.** Every operation finishes within the command timeout, connecting
//!   included, with a typed [`Error`]: [`Error::Timeout`] or
//!   [`Error::Backend`] (`is_temporary()` says whether to retry). Errors name the server,
//!   never the password. A request that fails because its connection broke is retried once
//!   on a new connection (every operation is idempotent).
//! - **`keys()`** lists keys with `SCAN` (never `KEYS`), on every primary of a cluster.
//! - **Change events** ([`ExampleDatabase::subscribe`]) come from a dedicated pub/sub
//!   connection that reconnects and resubscribes when the server restarts. Events
//!   published while it is reconnecting are lost, as in Hypothesis: pub/sub has no history.
//!   Events of this process's own writes come back the same way, so every subscriber sees
//!   one order, the server's.
//! - **Redis Cluster** with the `cluster` feature ([`RedisDatabase::cluster`]): no script
//!   touches two hash slots; a move between keys of different slots is two steps (add to
//!   dest, then remove from src and publish both events), so it is not atomic there.
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
use exampledb_core::{ChangeHub, ChangeStream, Error, ExampleDatabase, Operation, Result};
use redis::{ErrorKind, RedisError, ServerErrorKind};
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
    /// Hypothesis). Redis counts whole seconds; less than one second is an error.
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
    /// [`Error::InvalidConfig`] for an unparsable URL, a TTL under one second, a zero pool
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

    /// How many requests this database has sent to the server (each one is a round trip;
    /// pub/sub traffic is not counted).
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

    fn timeout_error(&self, operation: Operation) -> Error {
        Error::Timeout {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            after: self.inner.command_timeout,
        }
    }

    fn redis_error(&self, operation: Operation, e: RedisError) -> Error {
        let temporary = is_connection_error(&e)
            || matches!(
                e.kind(),
                ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::Moved
                        | ServerErrorKind::Ask
                )
            );
        Error::Backend {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            kind: exampledb_core::ErrorKind::Other,
            temporary,
            source: Box::new(e),
        }
    }

    fn pool_error(&self, operation: Operation, e: conn::GetError) -> Error {
        use deadpool_redis::PoolError as P;
        match e {
            P::Backend(e) if e.is_timeout() => self.timeout_error(operation),
            P::Backend(e) => self.redis_error(operation, e),
            P::Timeout(_) => self.timeout_error(operation),
            other => Error::Backend {
                backend: BACKEND,
                operation,
                location: self.inner.server.clone(),
                kind: exampledb_core::ErrorKind::Other,
                temporary: false,
                source: other.to_string().into(),
            },
        }
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
        let mut retried = false;
        loop {
            let (ticket, handle) =
                match tokio::time::timeout_at(deadline, self.inner.lanes.get()).await {
                    Ok(Ok(got)) => got,
                    Ok(Err(e)) => return Err(self.pool_error(operation, e)),
                    Err(_) => return Err(self.timeout_error(operation)),
                };
            self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout_at(deadline, send(handle)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) if e.is_timeout() => {
                    // The client's own response timeout (the same length): as below.
                    self.inner.lanes.discard(ticket).await;
                    return Err(self.timeout_error(operation));
                }
                Ok(Err(e)) if is_connection_error(&e) => {
                    self.inner.lanes.discard(ticket).await;
                    if retried {
                        return Err(self.redis_error(operation, e));
                    }
                    tracing::debug!(server = %self.inner.server, error = %e, "connection failed; retrying on a new one");
                    retried = true;
                }
                Ok(Err(e)) => return Err(self.redis_error(operation, e)),
                Err(_) => {
                    // The connection may be stuck (a dead peer, a cut proxy): do not reuse it.
                    self.inner.lanes.discard(ticket).await;
                    return Err(self.timeout_error(operation));
                }
            }
        }
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
            .request(operation, |mut h| {
                let cmd = evalsha.clone();
                async move { cmd.query_async::<(i64, i64)>(&mut h).await }
            })
            .await;
        let (removed, added) = match result {
            Err(e) if is_noscript(&e) => {
                // EVAL also caches the script on that server for the next EVALSHA.
                let eval = build("EVAL", script::SOURCE);
                self.request(operation, |mut h| {
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
    /// each pair is applied atomically and publishes its event as [`ExampleDatabase::save`]
    /// does. Not available on a cluster, where one pipeline would span nodes: there it
    /// saves the pairs one by one.
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
        let build = |first: &str, body: &str| {
            let mut pipe = redis::pipe();
            for (k, v) in pairs {
                let (k, v) = (k.as_ref(), v.as_ref());
                pipe.cmd(first)
                    .arg(body)
                    .arg(1)
                    .arg(self.redis_key(k))
                    .arg(v)
                    .arg(self.inner.ttl_seconds)
                    .arg(&self.inner.channel)
                    .arg("save")
                    .arg("")
                    .arg(payload::save(k, v))
                    .arg("0")
                    .ignore();
            }
            pipe
        };
        let pipe = build("EVALSHA", &script::SHA);
        let result: Result<()> = self
            .request(Operation::Save, |mut h| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut h).await }
            })
            .await;
        match result {
            Err(e) if is_noscript(&e) => {
                let pipe = build("EVAL", script::SOURCE);
                self.request(Operation::Save, |mut h| {
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
        let mut pipe = redis::pipe();
        for k in keys {
            let rk = self.redis_key(k.as_ref());
            pipe.cmd("SMEMBERS")
                .arg(&rk)
                .cmd("EXPIRE")
                .arg(&rk)
                .arg(self.inner.ttl_seconds)
                .ignore();
        }
        let sets: Vec<Vec<Vec<u8>>> = self
            .request(Operation::Fetch, |mut h| {
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
        .is_some_and(|e| e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)))
}

/// Whether `e` means the connection is unusable (as opposed to an answer from the server).
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
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
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS")
            .arg(&rk)
            .cmd("EXPIRE")
            .arg(&rk)
            .arg(self.inner.ttl_seconds)
            .ignore();
        let (set,): (Vec<Vec<u8>>,) = self
            .request(Operation::Fetch, |mut h| {
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
