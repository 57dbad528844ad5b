//! Configuration, in the [convention](exampledb_core::config) every backend follows:
//! [`RedisDatabaseBuilder`], its options by name, the URL form, the environment, and
//! building the database (server URLs, cluster seed nodes, the connection pool).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use exampledb_core::backend::ChangeHub;
use exampledb_core::config::{self, QueryUrl};
use exampledb_core::{Error, Result};
use redis::RedisError;

use crate::conn::{Lanes, Pool};
use crate::database::Inner;
use crate::error::BACKEND;
use crate::{listener, RedisDatabase};

/// The environment variable [`RedisDatabaseBuilder::from_env`] reads the server URL from:
/// `REDIS_URL`, the de facto standard.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The option keys [`RedisDatabaseBuilder::with_option`] takes: the setters' names.
const OPTIONS: &[&str] = &[
    "key_prefix",
    "expire_after",
    "listener_channel",
    "pool_size",
    "connect_timeout",
    "operation_timeout",
    "cluster",
];

/// Hypothesis's defaults.
const DEFAULT_EXPIRE: Duration = Duration::from_secs(8 * 24 * 3600);
const DEFAULT_PREFIX: &[u8] = b"hypothesis-example:";
const DEFAULT_CHANNEL: &str = "hypothesis-changes";
/// Ours.
const DEFAULT_POOL_SIZE: usize = 2;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest TTL Redis's `EXPIRE` accepts with room to spare: Redis refuses seconds over
/// `i64::MAX / 1000`, and a deadline past `i64::MAX` ms from now.
const MAX_TTL_SECONDS: u64 = (i64::MAX as u64 / 1000) / 2;

/// What errors say to whoever asks for a Redis Cluster without the `cluster` feature.
const CLUSTER_FEATURE: &str = "Redis Cluster needs the `cluster` feature of exampledb-redis";

/// Settings of a [`RedisDatabase`]: the server, and options whose defaults are
/// Hypothesis's. See the [crate documentation](crate#configuration) for the ways to make
/// one and the option table.
#[derive(Clone)]
pub struct RedisDatabaseBuilder {
    urls: Vec<String>,
    /// Why there is no server URL, when the environment was to give it.
    env_problem: Option<&'static str>,
    cluster: bool,
    expire_after: Duration,
    key_prefix: Vec<u8>,
    listener_channel: String,
    pool_size: usize,
    connect_timeout: Duration,
    operation_timeout: Duration,
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
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

impl RedisDatabase {
    /// Settings for the server at `url` with Hypothesis's defaults: the server URL as the
    /// Redis client reads it, `redis://[user:password@]host:port[/db]` (or `rediss://`
    /// with the `tls` feature). Reads no environment variable, and does not read the
    /// URL's query as options: that is [`RedisDatabaseBuilder::from_url`]'s form. The URL
    /// is checked by [`build`](RedisDatabaseBuilder::build).
    pub fn builder(url: &str) -> RedisDatabaseBuilder {
        RedisDatabaseBuilder::new(vec![url.to_owned()])
    }
}

impl RedisDatabaseBuilder {
    fn new(urls: Vec<String>) -> Self {
        Self {
            urls,
            env_problem: None,
            cluster: false,
            expire_after: DEFAULT_EXPIRE,
            key_prefix: DEFAULT_PREFIX.to_vec(),
            listener_channel: DEFAULT_CHANNEL.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
        }
    }

    /// The defaults, then the environment: the server URL from `REDIS_URL`
    /// ([`REDIS_URL_ENV`]) when it is set and not empty, taken as
    /// [`RedisDatabase::builder`] takes its URL (its query is not read as options). The
    /// only place this backend reads the environment. Without it,
    /// [`build`](Self::build) fails with [`Error::InvalidConfig`] saying that no server
    /// URL was given, unless one is set with [`with_url`](Self::with_url) or
    /// [`cluster_nodes`](Self::cluster_nodes).
    ///
    /// ```
    /// use exampledb_redis::RedisDatabaseBuilder;
    /// let db = RedisDatabaseBuilder::from_env()
    ///     .with_url("redis://127.0.0.1:6379/0?key_prefix=ci%3A")?
    ///     .build()?;
    /// assert_eq!(db.server(), "127.0.0.1:6379");
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn from_env() -> Self {
        let mut builder = Self::new(Vec::new());
        match std::env::var_os(REDIS_URL_ENV) {
            Some(url) if !url.is_empty() => match url.into_string() {
                Ok(url) => builder.urls.push(url),
                Err(_) => builder.env_problem = Some("REDIS_URL is not valid UTF-8"),
            },
            _ => builder.env_problem = Some("REDIS_URL is not set"),
        }
        builder
    }

    /// Settings from a URL, `redis://[user:password@]host:port[/db][?options]` (or
    /// `rediss://`): the defaults, then [`with_url`](Self::with_url).
    ///
    /// ```
    /// use exampledb_redis::RedisDatabaseBuilder;
    /// let db = RedisDatabaseBuilder::from_url(
    ///     "redis://127.0.0.1:6379/2?key_prefix=ci%3A&expire_after=3d&operation_timeout=2s",
    /// )?
    /// .build()?;
    /// assert_eq!(db.server(), "127.0.0.1:6379/2");
    /// let err = RedisDatabaseBuilder::from_url("redis://127.0.0.1?protocol=resp3").unwrap_err();
    /// assert!(err.to_string().contains("unknown option \"protocol\""));
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(Vec::new()).with_url(url)
    }

    /// Sets the server from `url` (`redis://` or `rediss://`, with an optional user name,
    /// password and database number) and applies its query parameters as options, in
    /// order, with [`with_option`](Self::with_option): their names are the option keys,
    /// their values percent-decoded. The Redis client is given the URL without the
    /// query. Its own query parameters (`protocol`) are not supported: a parameter that is
    /// not one of the option keys is an error naming it, and so is a parameter given
    /// twice.
    ///
    /// A password holding `/`, `?`, `#` or `@` must be percent-encoded (as in any URL).
    /// Errors never repeat the password; when an `@` follows the host, what looks like
    /// the query may be part of a password, and errors do not repeat its text.
    pub fn with_url(mut self, url: &str) -> Result<Self> {
        let hides_password = may_hide_password(url);
        // The client reads a fragment (`#insecure`); the query comes before it.
        let (without_fragment, fragment) = match url.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (url, None),
        };
        let parsed = QueryUrl::parse(BACKEND, without_fragment).map_err(|e| {
            if hides_password {
                config::invalid(
                    BACKEND,
                    format!("the URL's query is not valid ({NOT_REPEATED})"),
                )
            } else {
                e
            }
        })?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(config::invalid(
                BACKEND,
                format!(
                    "a {}: URL is not a Redis URL: use redis://[user:password@]host:port[/db][?options] or rediss://...",
                    parsed.scheme()
                ),
            ));
        }
        let mut server = parsed.base().to_owned();
        if let Some(fragment) = fragment {
            server.push('#');
            server.push_str(fragment);
        }
        self.urls = vec![server];
        for (key, value) in parsed.options() {
            self = self.with_option(key, value).map_err(|e| {
                if hides_password {
                    redact(key, value, e)
                } else {
                    e
                }
            })?;
        }
        Ok(self)
    }

    /// Sets one option by its name, the name of its setter: `key_prefix` (text, used as
    /// its UTF-8 bytes), `expire_after`, `connect_timeout`, `operation_timeout`
    /// (durations: `500ms`, `30s`, `5m`, `1h`, `8d`; see
    /// [`parse_duration`](exampledb_core::config::parse_duration)), `listener_channel`
    /// (text), `pool_size` (a whole number), `cluster` (`true` or `false`; `true` needs
    /// the `cluster` feature). An unknown key, or a value that does not parse, is
    /// [`Error::InvalidConfig`] naming the option; a value out of range (a zero pool
    /// size, a TTL under a second) is refused by [`build`](Self::build), also naming it.
    pub fn with_option(self, key: &str, value: &str) -> Result<Self> {
        use exampledb_core::config::{parse_bool, parse_count, parse_duration};
        Ok(match key {
            "key_prefix" => self.key_prefix(value.as_bytes()),
            "expire_after" => self.expire_after(parse_duration(BACKEND, key, value)?),
            "listener_channel" => self.listener_channel(value),
            "pool_size" => {
                let connections =
                    usize::try_from(parse_count(BACKEND, key, value)?).map_err(|_| {
                        config::invalid(BACKEND, format!("option pool_size: {value} is too many"))
                    })?;
                self.pool_size(connections)
            }
            "connect_timeout" => self.connect_timeout(parse_duration(BACKEND, key, value)?),
            "operation_timeout" => self.operation_timeout(parse_duration(BACKEND, key, value)?),
            "cluster" => {
                let cluster = parse_bool(BACKEND, key, value)?;
                if cluster && !cfg!(feature = "cluster") {
                    return Err(config::invalid(
                        BACKEND,
                        format!("option cluster: {CLUSTER_FEATURE}"),
                    ));
                }
                self.cluster(cluster)
            }
            _ => return Err(config::unknown_option(BACKEND, key, OPTIONS)),
        })
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
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Treat the server URL as a seed node of a Redis Cluster (default `false`): the
    /// client discovers the other nodes from it. Needs the `cluster` feature; without it
    /// [`build`](Self::build) returns [`Error::InvalidConfig`] naming the feature.
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// The seed nodes of a Redis Cluster (`redis://host:port` each, read as
    /// [`RedisDatabase::builder`] reads its URL), in place of the server URL; implies
    /// [`cluster(true)`](Self::cluster). One node is enough; more let the database start
    /// while one of them is down. Needs the `cluster` feature.
    pub fn cluster_nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.urls = nodes.into_iter().map(Into::into).collect();
        self.env_problem = None;
        self.cluster = true;
        self
    }

    /// Builds the database. Nothing is connected yet ([`RedisDatabase::check`] does).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for no server URL, an unparsable URL (the message never
    /// repeats it), a server URL whose query holds one of the options (only
    /// [`with_url`](Self::with_url) reads those), several URLs without `cluster`, a TTL
    /// under one second or over Redis's limit, a zero pool size or timeout, an empty
    /// channel name, or `cluster` without the `cluster` feature.
    pub fn build(self) -> Result<RedisDatabase> {
        let invalid = |message: String| config::invalid(BACKEND, message);
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
        for (name, timeout) in [
            ("connect_timeout", self.connect_timeout),
            ("operation_timeout", self.operation_timeout),
        ] {
            if timeout.is_zero() {
                return Err(invalid(format!("{name} must be greater than zero")));
            }
        }
        if self.listener_channel.is_empty() {
            return Err(invalid("listener_channel must not be empty".into()));
        }
        if self.urls.is_empty() {
            return Err(invalid(match self.env_problem {
                Some(problem) => format!(
                    "no server URL given: {problem}; set it, or use RedisDatabase::builder(url) or with_url(url)"
                ),
                None => "no server URL given: use RedisDatabase::builder(url), with_url(url) or cluster_nodes(urls)".into(),
            }));
        }
        if self.urls.len() > 1 && !self.cluster {
            return Err(invalid(format!(
                "{} server URLs (cluster_nodes) need cluster mode, and cluster is off",
                self.urls.len()
            )));
        }
        let mut infos = Vec::with_capacity(self.urls.len());
        for (i, url) in self.urls.iter().enumerate() {
            if let Some(key) = option_in_query(url) {
                return Err(invalid(format!(
                    "server URL #{} has the option {key} in its query, which is read as options only by from_url and with_url (RedisDatabase::builder, cluster_nodes and REDIS_URL take a server URL): use the setter, or from_url",
                    i + 1
                )));
            }
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
                // The operation timeout is enforced around each whole operation instead.
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
                operation_timeout: self.operation_timeout,
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

impl config::DatabaseBuilder for RedisDatabaseBuilder {
    type Database = RedisDatabase;
    const OPTIONS: &'static [&'static str] = OPTIONS;

    fn with_option(self, key: &str, value: &str) -> Result<Self> {
        RedisDatabaseBuilder::with_option(self, key, value)
    }

    fn build(self) -> Result<RedisDatabase> {
        RedisDatabaseBuilder::build(self)
    }
}

/// Why an error about a URL's query does not repeat its text.
const NOT_REPEATED: &str = "its text is not repeated: an '@' after the host may belong to a password, in which '/', '?', '#' and '@' must be percent-encoded";

/// Whether an `@` follows the URL's host (its authority, which ends at the first `/`,
/// `?` or `#`): then the URL is either malformed, with a password holding one of those
/// characters unencoded, or has an `@` in an option's value. In the first case what looks
/// like the query or fragment is part of the password, so errors must not repeat it.
fn may_hide_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return url.contains('@');
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[end..].contains('@')
}

/// The error of option `key` (from a URL that [may hide a password](may_hide_password))
/// without the URL's text: the option's name when it is one of ours and the message
/// without the value when the message does not repeat it.
fn redact(key: &str, value: &str, e: Error) -> Error {
    let Some(known) = OPTIONS.iter().find(|&&k| k == key) else {
        return config::invalid(
            BACKEND,
            format!(
                "the URL's query has an unknown option ({NOT_REPEATED}); the {BACKEND} database takes {}",
                OPTIONS.join(", ")
            ),
        );
    };
    if value.is_empty() || !e.to_string().contains(value) {
        return e;
    }
    config::invalid(
        BACKEND,
        format!("option {known}: the value is not valid ({NOT_REPEATED})"),
    )
}

/// The first of the option keys in the query of a server URL given to
/// [`RedisDatabase::builder`] (or by `cluster_nodes`, `REDIS_URL`), which the Redis client
/// would ignore; `None` when its query has none, or may be part of a password.
fn option_in_query(url: &str) -> Option<&'static str> {
    if may_hide_password(url) {
        return None;
    }
    let query = url
        .split_once('#')
        .map_or(url, |(u, _)| u)
        .split_once('?')?
        .1;
    query.split('&').find_map(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        OPTIONS.iter().copied().find(|&k| k == key)
    })
}

#[cfg(feature = "cluster")]
fn cluster_pool(infos: Vec<redis::ConnectionInfo>, b: &RedisDatabaseBuilder) -> Result<Pool> {
    let invalid = |message: String| config::invalid(BACKEND, message);
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
    Err(config::invalid(BACKEND, CLUSTER_FEATURE))
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

/// The kind of a configuration error, without its text (which may repeat the URL).
fn kind_name(e: &RedisError) -> String {
    format!("{:?}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_config_is_a_typed_error_without_the_url() {
        let secret = "redis://user:hunter2@[bad";
        let err = RedisDatabase::builder(secret).build().unwrap_err();
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

    #[test]
    fn debug_and_server_never_show_the_password() {
        let db = RedisDatabase::builder("redis://user:hunter2@127.0.0.1:1/3")
            .build()
            .unwrap();
        assert_eq!(db.server(), "127.0.0.1:1/3");
        assert!(!format!("{db:?}").contains("hunter2"));
        let b = RedisDatabase::builder("redis://user:hunter2@127.0.0.1:1/3");
        assert!(!format!("{b:?}").contains("hunter2"));
        let b = RedisDatabaseBuilder::from_url("redis://user:hunter2@127.0.0.1:1/3?pool_size=3")
            .unwrap();
        assert!(!format!("{b:?}").contains("hunter2"));
    }

    #[test]
    fn url_options_set_the_fields() {
        let url = "rediss://u:p%40ss@example.com:6380/4?key_prefix=ci%3A+x&expire_after=3d\
                   &listener_channel=ch&pool_size=7&connect_timeout=250ms\
                   &operation_timeout=1.5s&cluster=false#insecure";
        let b = RedisDatabaseBuilder::from_url(url).unwrap();
        assert_eq!(
            b.urls,
            vec!["rediss://u:p%40ss@example.com:6380/4#insecure".to_owned()]
        );
        assert_eq!(b.key_prefix, b"ci:+x"); // RFC 3986: `+` is not a space
        assert_eq!(b.expire_after, Duration::from_secs(3 * 86_400));
        assert_eq!(b.listener_channel, "ch");
        assert_eq!(b.pool_size, 7);
        assert_eq!(b.connect_timeout, Duration::from_millis(250));
        assert_eq!(b.operation_timeout, Duration::from_millis(1500));
        assert!(!b.cluster);
        // The same through the trait, key by key.
        let b = <RedisDatabaseBuilder as config::DatabaseBuilder>::with_options(
            RedisDatabase::builder("redis://h"),
            [("pool_size", "3"), ("operation_timeout", "2")],
        )
        .unwrap();
        assert_eq!(
            (b.pool_size, b.operation_timeout),
            (3, Duration::from_secs(2))
        );
        assert_eq!(
            <RedisDatabaseBuilder as config::DatabaseBuilder>::OPTIONS,
            OPTIONS
        );
    }

    #[test]
    fn cluster_nodes_imply_cluster_and_several_urls_need_it() {
        let b = RedisDatabase::builder("redis://a:1").cluster_nodes(["redis://b:2", "redis://c:3"]);
        assert!(b.cluster);
        assert_eq!(b.urls.len(), 2);
        let err = b.cluster(false).build().unwrap_err();
        assert!(err.to_string().contains("need cluster mode"), "{err}");
        let err = RedisDatabase::builder("redis://a:1")
            .cluster_nodes(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no server URL given"), "{err}");
    }

    #[test]
    fn a_password_with_unencoded_delimiters_is_never_repeated() {
        assert!(!may_hide_password("redis://u:pw@host:1/0?key_prefix=x"));
        assert!(may_hide_password("redis://u:p?w@host:1"));
        assert!(may_hide_password("redis://u:p/w@host:1"));
        assert!(may_hide_password("redis://u:p#w@host:1"));
        for url in [
            "redis://u:hun?ter2=x@127.0.0.1:1",
            "redis://u:hun?ter2@127.0.0.1:1",
            "redis://u:hun?pool_size=ter2@127.0.0.1:1",
            "redis://u:hun?a=1&a=ter2@127.0.0.1:1",
            "redis://u:hun/ter2?x=1@127.0.0.1:1",
            "redis://u:hun#ter2@127.0.0.1:1",
            "redis://u:hun#ter2@127.0.0.1:1?key_prefix=x",
        ] {
            let err = RedisDatabaseBuilder::from_url(url)
                .and_then(RedisDatabaseBuilder::build)
                .unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(
                !text.contains("ter2") && !text.contains("hun"),
                "{url}: {text}"
            );
        }
        // A value with an '@' of its own is still taken.
        let b = RedisDatabaseBuilder::from_url("redis://h:1?key_prefix=me@ci:").unwrap();
        assert_eq!(b.key_prefix, b"me@ci:");
        // Its errors name the option, not the value.
        let err = RedisDatabaseBuilder::from_url("redis://h:1?pool_size=x@y").unwrap_err();
        assert!(err.to_string().contains("option pool_size"), "{err}");
        assert!(!err.to_string().contains("x@y"), "{err}");
    }

    #[test]
    fn options_in_a_server_url_are_not_ignored() {
        assert_eq!(
            option_in_query("redis://h?key_prefix=x"),
            Some("key_prefix")
        );
        assert_eq!(option_in_query("redis://h/0?protocol=resp3"), None);
        assert_eq!(option_in_query("redis://h"), None);
        let err = RedisDatabase::builder("redis://h:1?protocol=resp3&operation_timeout=1s")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("operation_timeout"), "{err}");
        // The client's own parameters still work there.
        RedisDatabase::builder("redis://h:1?protocol=resp3")
            .build()
            .unwrap();
    }
}
