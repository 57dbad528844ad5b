//! The database: [`RedisDatabase`], its [`ExampleDatabase`] operations, the batch
//! operations, `keys()` by `SCAN` and the server check.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use exampledb_core::backend::ChangeHub;
use exampledb_core::{ChangeStream, ExampleDatabase, Operation, Result};
use tokio::time::Instant;

use crate::client::ScriptCall;
use crate::conn::{Handle, Lanes};
use crate::error::is_noscript;
use crate::slot::{glob_escape, slot};
use crate::{listener, payload, script};

/// SCAN batch size for `keys()`.
const SCAN_COUNT: usize = 1000;

/// A Redis example database, compatible with Hypothesis's `RedisExampleDatabase`.
///
/// Cheap to clone: clones share connections and subscribers. Build it with
/// [`RedisDatabase::builder`], [`RedisDatabaseBuilder::from_url`](crate::RedisDatabaseBuilder::from_url) or
/// [`RedisDatabaseBuilder::from_env`](crate::RedisDatabaseBuilder::from_env); no connection is made until the first operation
/// (use [`RedisDatabase::check`] to check the server up front).
#[derive(Clone)]
pub struct RedisDatabase {
    pub(crate) inner: Arc<Inner>,
}

/// The state clones share.
pub(crate) struct Inner {
    pub(crate) lanes: Lanes,
    /// Where pub/sub listens: the server, or the cluster's seed nodes in turn.
    pub(crate) listen_to: Vec<redis::Client>,
    pub(crate) cluster: bool,
    pub(crate) prefix: Bytes,
    pub(crate) channel: String,
    pub(crate) ttl_seconds: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    /// Names the server in errors and logs: `host:port/db`, never credentials.
    pub(crate) server: String,
    pub(crate) hub: ChangeHub,
    pub(crate) round_trips: AtomicU64,
    /// The server's `proto-max-bulk-len` (for a cluster the lowest of its primaries'), or
    /// 0 while unknown: read when a request first has an argument over
    /// [`ALWAYS_ACCEPTED`](crate::client::ALWAYS_ACCEPTED), forgotten when the server closes a connection on one.
    pub(crate) bulk_limit: AtomicU64,
    /// Held while the limit is being read, so concurrent requests read it once.
    pub(crate) bulk_limit_lookup: tokio::sync::Mutex<()>,
    pub(crate) listener: listener::State,
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

impl RedisDatabase {
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

    /// Checks that the server answers (a `PING`) within the operation timeout, connecting
    /// now if need be, so that a wrong address or password is reported up front rather
    /// than at the first operation. The error is typed as every operation's is: a
    /// [`Error::Timeout`](exampledb_core::Error::Timeout), or an
    /// [`Error::Backend`](exampledb_core::Error::Backend) whose
    /// [`Error::kind`](exampledb_core::Error::kind) says what is
    /// wrong ([`ErrorKind::Unavailable`](exampledb_core::ErrorKind::Unavailable),
    /// [`ErrorKind::Unauthenticated`](exampledb_core::ErrorKind::Unauthenticated), ...).
    /// The same as [`ExampleDatabase::check`], callable without the trait in scope.
    pub async fn check(&self) -> Result<()> {
        let cmd = redis::cmd("PING");
        let _: String = self
            .request(Operation::Open, |mut h| {
                let cmd = cmd.clone();
                async move { cmd.query_async(&mut h).await }
            })
            .await?;
        Ok(())
    }

    /// The Redis key of `key`: the key prefix, then the key.
    pub(crate) fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.inner.prefix.len() + key.len());
        k.extend_from_slice(&self.inner.prefix);
        k.extend_from_slice(key);
        k
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
        let deadline = Instant::now() + self.inner.operation_timeout;
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
        let deadline = Instant::now() + self.inner.operation_timeout;
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
        let deadline = Instant::now() + self.inner.operation_timeout;
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
        let deadline = Instant::now() + self.inner.operation_timeout;
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

    /// Returns once the subscription is active on the server, as
    /// [`RedisDatabase::subscribe_active`] does, waiting at most `wait` (and at most the
    /// connect timeout plus the operation timeout).
    async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
        let stream = self.subscribe()?;
        listener::wait_active(self, Some(wait)).await?;
        Ok(stream)
    }

    /// [`RedisDatabase::check`]: the server answers within the operation timeout.
    async fn check(&self) -> Result<()> {
        RedisDatabase::check(self).await
    }
}

impl RedisDatabase {
    /// Subscribes like [`ExampleDatabase::subscribe`], and returns once the subscription
    /// is active on the server (within the connect timeout plus the operation timeout), so
    /// that no change made after this returns is missed.
    pub async fn subscribe_active(&self) -> Result<ChangeStream> {
        let stream = self.subscribe()?;
        listener::wait_active(self, None).await?;
        Ok(stream)
    }
}
