//! The configuration convention on RedisDatabase: `from_url` with every option (and its
//! effect where a server shows it), unknown and repeated parameters, bad values, the
//! `cluster` option, `from_env` with and without `REDIS_URL`, and `check()`.
//!
//! Tests that need a server skip without one (`cargo xtask integration-test` starts
//! them; see `exampledb_testkit::services`), or start their own `redis-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use exampledb_core::config::DatabaseBuilder;
use exampledb_core::{ChangeEvent, Error, ErrorKind, ExampleDatabase};
use exampledb_redis::{RedisDatabase, RedisDatabaseBuilder};
use exampledb_testkit::services::{free_port, redis_server_bin, redis_url, RedisServer};
use exampledb_testkit::{hex, skip_or_fail, unique_prefix};
use futures_util::StreamExt;
use redis::AsyncCommands;

/// The option keys, as the facade and the documentation name them.
const KEYS: [&str; 7] = [
    "key_prefix",
    "expire_after",
    "listener_channel",
    "pool_size",
    "connect_timeout",
    "operation_timeout",
    "cluster",
];

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A key prefix and a channel of this test's own, as plain text.
fn tag() -> String {
    format!("exampledb-test-{}", hex(&unique_prefix()))
}

/// Asserts `err` is an InvalidConfig error whose message holds every one of `words`.
fn assert_invalid(err: &Error, words: &[&str]) {
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    let text = err.to_string();
    for word in words {
        assert!(text.contains(word), "{word:?} not in: {text}");
    }
}

#[test]
fn the_option_keys_are_the_setters_names() {
    assert_eq!(<RedisDatabaseBuilder as DatabaseBuilder>::OPTIONS, KEYS);
    // Every key is taken by with_option (cluster=false needs no feature).
    let values = ["p:", "1h", "ch", "4", "1s", "2s", "false"];
    let mut b = RedisDatabase::builder("redis://127.0.0.1:1");
    for (key, value) in KEYS.iter().zip(values) {
        b = b.with_option(key, value).unwrap();
    }
    let text = format!("{b:?}");
    for want in [
        "key_prefix: \"p:\"",
        "expire_after: 3600s",
        "listener_channel: \"ch\"",
        "pool_size: 4",
        "connect_timeout: 1s",
        "operation_timeout: 2s",
        "cluster: false",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    b.build().unwrap();
}

#[test]
fn from_url_takes_the_same_settings_as_the_setters() {
    let url = "redis://user:pw@127.0.0.1:6390/3?key_prefix=ci%3A+a&expire_after=3d\
               &listener_channel=changes%2Fci&pool_size=5&connect_timeout=250ms\
               &operation_timeout=1.5s&cluster=off";
    let from_url = RedisDatabaseBuilder::from_url(url).unwrap();
    let from_code = RedisDatabase::builder("redis://user:pw@127.0.0.1:6390/3")
        .key_prefix("ci:+a")
        .expire_after(Duration::from_secs(3 * 86_400))
        .listener_channel("changes/ci")
        .pool_size(5)
        .connect_timeout(Duration::from_millis(250))
        .operation_timeout(Duration::from_millis(1500))
        .cluster(false);
    assert_eq!(format!("{from_url:?}"), format!("{from_code:?}"));
    // The server is the URL without the query.
    let db = from_url.build().unwrap();
    assert_eq!(db.server(), "127.0.0.1:6390/3");
    // with_url on any builder: the server and the options of the URL, the rest kept.
    let db = RedisDatabase::builder("redis://127.0.0.1:1")
        .pool_size(9)
        .with_url("redis://127.0.0.1:6391?expire_after=1h")
        .unwrap();
    let text = format!("{db:?}");
    assert!(
        text.contains("pool_size: 9") && text.contains("3600s"),
        "{text}"
    );
    assert_eq!(db.build().unwrap().server(), "127.0.0.1:6391");
}

#[test]
fn unknown_query_parameters_are_errors_naming_them() {
    for (url, name) in [
        ("redis://127.0.0.1:6379?keyprefix=x", "\"keyprefix\""),
        // The Redis client's own parameter: not supported in from_url.
        ("redis://127.0.0.1:6379/0?protocol=resp3", "\"protocol\""),
        ("redis://127.0.0.1:6379?key_prefix=x&db=2", "\"db\""),
        (
            "redis://127.0.0.1:6379?command_timeout=1s",
            "\"command_timeout\"",
        ),
    ] {
        let err = RedisDatabaseBuilder::from_url(url).unwrap_err();
        // The message names the parameter and lists the ones there are.
        assert_invalid(&err, &["unknown option", name, "operation_timeout"]);
    }
    let err = RedisDatabase::builder("redis://127.0.0.1:1")
        .with_option("max_value_size", "1MiB")
        .unwrap_err();
    assert_invalid(&err, &["\"max_value_size\""]);
    // A parameter without a value, an empty name: errors too.
    let err = RedisDatabaseBuilder::from_url("redis://127.0.0.1?cluster").unwrap_err();
    assert_invalid(&err, &["no value"]);
    let err = RedisDatabaseBuilder::from_url("redis://127.0.0.1?=1").unwrap_err();
    assert_invalid(&err, &["empty name"]);
}

#[test]
fn a_repeated_query_parameter_is_an_error_naming_it() {
    let err = RedisDatabaseBuilder::from_url(
        "redis://127.0.0.1?expire_after=1h&pool_size=2&expire_after=2h",
    )
    .unwrap_err();
    assert_invalid(&err, &["\"expire_after\"", "twice"]);
}

#[test]
fn bad_values_are_errors_naming_the_option() {
    // Values that do not parse: refused by from_url / with_option.
    for (key, value) in [
        ("expire_after", "soon"),
        ("expire_after", "-1s"),
        ("pool_size", "two"),
        ("pool_size", "-1"),
        ("pool_size", "99999999999999999999999"),
        ("connect_timeout", "fast"),
        ("operation_timeout", "5x"),
        ("cluster", "maybe"),
    ] {
        let url = format!("redis://127.0.0.1:6379?{key}={value}");
        let err = RedisDatabaseBuilder::from_url(&url).unwrap_err();
        assert_invalid(&err, &[key]);
        let err = RedisDatabase::builder("redis://127.0.0.1:6379")
            .with_option(key, value)
            .unwrap_err();
        assert_invalid(&err, &[key]);
    }
    // Values that parse but are out of range: refused by build, also naming the option.
    for (key, value) in [
        ("expire_after", "500ms"),
        ("expire_after", "0"),
        ("pool_size", "0"),
        ("connect_timeout", "0s"),
        ("operation_timeout", "0ms"),
        ("listener_channel", ""),
    ] {
        let url = format!("redis://127.0.0.1:6379?{key}={value}");
        let err = RedisDatabaseBuilder::from_url(&url)
            .unwrap()
            .build()
            .unwrap_err();
        assert_invalid(&err, &[key]);
    }
    // Malformed URLs.
    for (url, words) in [
        ("127.0.0.1:6379", &["not a URL"][..]),
        ("http://127.0.0.1:6379", &["http:", "redis://"][..]),
        (
            "redis://127.0.0.1?key_prefix=%zz",
            &["percent-encoding"][..],
        ),
    ] {
        let err = RedisDatabaseBuilder::from_url(url).unwrap_err();
        assert_invalid(&err, words);
    }
    let err = RedisDatabaseBuilder::from_url("redis://[bad?pool_size=1")
        .unwrap()
        .build()
        .unwrap_err();
    assert_invalid(&err, &["not a Redis URL"]);
}

#[test]
fn an_option_in_a_server_url_is_not_silently_ignored() {
    // builder(url) takes a server URL: its query is not read as options, and an option
    // there is an error rather than ignored by the Redis client.
    let err = RedisDatabase::builder("redis://127.0.0.1:6379?key_prefix=ci%3A")
        .build()
        .unwrap_err();
    assert_invalid(&err, &["key_prefix", "from_url"]);
}

/// The password never appears in the errors of from_url, with_url and with_option, nor in
/// Debug output.
#[test]
fn url_errors_never_show_the_password() {
    for url in [
        "redis://user:hunter2@127.0.0.1:6379?pool_size=many",
        "redis://user:hunter2@127.0.0.1:6379?bogus=1",
        "redis://user:hunter2@127.0.0.1:6379?pool_size=1&pool_size=2",
        "redis://user:hunter2@127.0.0.1:6379?key_prefix=%zz",
        "http://user:hunter2@127.0.0.1:6379",
        // Unencoded delimiters in the password: what looks like a query is not repeated.
        "redis://user:hun?ter2@127.0.0.1:6379",
        "redis://user:hun?ter2=x@127.0.0.1:6379",
        "redis://user:hun?pool_size=ter2@127.0.0.1:6379",
        "redis://user:hun/ter2?x=1@127.0.0.1:6379",
    ] {
        let err = RedisDatabaseBuilder::from_url(url).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("ter2"),
            "{url}: {text}"
        );
        let err = RedisDatabase::builder("redis://127.0.0.1:1")
            .with_url(url)
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("ter2"),
            "{url}: {text}"
        );
    }
    // Built, the URL is named without credentials; Debug shows none.
    let b =
        RedisDatabaseBuilder::from_url("redis://user:hunter2@127.0.0.1:1/2?pool_size=1").unwrap();
    assert!(!format!("{b:?}").contains("hunter2"));
    let err = b
        .clone()
        .with_option("pool_size", "0")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let db = b.build().unwrap();
    assert_eq!(db.server(), "127.0.0.1:1/2");
    assert!(!format!("{db:?}").contains("hunter2"));
}

/// Without the `cluster` feature, `cluster=true` is refused naming the feature, and so is
/// a builder set to cluster mode in code (at build).
#[cfg(not(feature = "cluster"))]
#[test]
fn cluster_without_the_feature_names_the_feature() {
    let err = RedisDatabaseBuilder::from_url("redis://127.0.0.1:7000?cluster=true").unwrap_err();
    assert_invalid(&err, &["cluster", "`cluster` feature"]);
    let err = RedisDatabase::builder("redis://127.0.0.1:7000")
        .with_option("cluster", "yes")
        .unwrap_err();
    assert_invalid(&err, &["`cluster` feature"]);
    for b in [
        RedisDatabase::builder("redis://127.0.0.1:7000").cluster(true),
        RedisDatabase::builder("redis://127.0.0.1:7000")
            .cluster_nodes(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]),
    ] {
        assert_invalid(&b.build().unwrap_err(), &["`cluster` feature"]);
    }
    // Off is accepted.
    RedisDatabaseBuilder::from_url("redis://127.0.0.1:7000?cluster=false")
        .unwrap()
        .build()
        .unwrap();
}

/// With the feature, `cluster=true` treats the URL as a seed node: the database names the
/// cluster, and works on the test cluster when there is one.
#[cfg(feature = "cluster")]
#[tokio::test]
async fn cluster_true_treats_the_url_as_a_seed_node() {
    let db = RedisDatabaseBuilder::from_url("redis://127.0.0.1:7000/0?cluster=true")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(db.server(), "cluster 127.0.0.1:7000");
    let Some(urls) = exampledb_testkit::services::redis_cluster_urls(
        "cluster_true_treats_the_url_as_a_seed_node",
    ) else {
        return;
    };
    let tag = tag();
    let db =
        RedisDatabaseBuilder::from_url(&format!("{}?cluster=true&key_prefix={tag}%3A", urls[0]))
            .unwrap()
            .build()
            .unwrap();
    assert!(db.server().starts_with("cluster "), "{}", db.server());
    db.check().await.unwrap();
    // Keys in several slots (on several primaries) are saved and all listed.
    let keys: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'k', i]).collect();
    for k in &keys {
        db.save(k, b"v").await.unwrap();
    }
    assert_eq!(db.keys().await.unwrap().len(), keys.len());
    for k in &keys {
        db.delete(k, b"v").await.unwrap();
    }
    assert!(db.keys().await.unwrap().is_empty());
}

/// Serializes the tests that set REDIS_URL. nextest runs each test in its own process, so
/// setting the variable there is safe; `cargo test` runs a file's tests as threads of one
/// process, where this lock keeps them apart (no other test here reads REDIS_URL).
static ENV: Mutex<()> = Mutex::new(());

#[test]
fn from_env_without_redis_url_fails_at_build_saying_so() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var(exampledb_redis::REDIS_URL_ENV);
    let b = RedisDatabaseBuilder::from_env();
    let err = b.clone().build().unwrap_err();
    assert_invalid(
        &err,
        &["no server URL", "REDIS_URL", "builder(url)", "with_url"],
    );
    // An empty REDIS_URL is no URL either.
    std::env::set_var("REDIS_URL", "");
    let err = RedisDatabaseBuilder::from_env().build().unwrap_err();
    assert_invalid(&err, &["REDIS_URL is not set"]);
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::env::set_var("REDIS_URL", std::ffi::OsStr::from_bytes(b"redis://\xff"));
        let err = RedisDatabaseBuilder::from_env().build().unwrap_err();
        assert_invalid(&err, &["REDIS_URL is not valid UTF-8"]);
    }
    std::env::remove_var("REDIS_URL");
    // A URL given in code completes it.
    let db = b
        .with_url("redis://127.0.0.1:6390")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(db.server(), "127.0.0.1:6390");
    // builder(url) reads no environment: REDIS_URL does not change it.
    std::env::set_var("REDIS_URL", "redis://127.0.0.1:6391");
    let db = RedisDatabase::builder("redis://127.0.0.1:6392")
        .build()
        .unwrap();
    assert_eq!(db.server(), "127.0.0.1:6392");
    let db = RedisDatabaseBuilder::from_url("redis://127.0.0.1:6393")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(db.server(), "127.0.0.1:6393");
    std::env::remove_var("REDIS_URL");
}

#[tokio::test]
async fn from_env_takes_the_server_from_redis_url() {
    let env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("REDIS_URL", "redis://user:hunter2@127.0.0.1:6390/4");
    let b = RedisDatabaseBuilder::from_env();
    assert!(!format!("{b:?}").contains("hunter2"));
    let db = b.pool_size(3).build().unwrap();
    assert_eq!(db.server(), "127.0.0.1:6390/4");
    // Taken as builder(url) takes its URL: an option in its query is an error.
    std::env::set_var("REDIS_URL", "redis://127.0.0.1:6390?key_prefix=x");
    let err = RedisDatabaseBuilder::from_env().build().unwrap_err();
    assert_invalid(&err, &["key_prefix", "REDIS_URL"]);
    std::env::remove_var("REDIS_URL");

    let Some(url) = redis_url("from_env_takes_the_server_from_redis_url") else {
        return;
    };
    std::env::set_var("REDIS_URL", &url);
    let prefix = unique_prefix();
    let db = RedisDatabaseBuilder::from_env()
        .key_prefix(prefix.clone())
        .build()
        .unwrap();
    std::env::remove_var("REDIS_URL");
    drop(env);
    db.check().await.unwrap();
    db.save(b"k", b"v").await.unwrap();
    let mut conn = raw(&url).await;
    let members: Vec<Vec<u8>> = conn
        .smembers([prefix.as_slice(), b"k"].concat())
        .await
        .unwrap();
    assert_eq!(members, vec![b"v".to_vec()]);
    db.delete(b"k", b"v").await.unwrap();
}

/// key_prefix, expire_after and listener_channel from the URL, seen on the server: the raw
/// key names, their PTTL, and the events on the channel (heard by a plain subscriber and
/// by the database's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_options_take_effect_on_the_server() {
    let Some(url) = redis_url("url_options_take_effect_on_the_server") else {
        return;
    };
    let tag = tag();
    let db = RedisDatabaseBuilder::from_url(&format!(
        "{url}?key_prefix={tag}%3Aci%3A&expire_after=90s&listener_channel={tag}%2Fchanges"
    ))
    .unwrap()
    .build()
    .unwrap();
    let prefix = format!("{tag}:ci:");
    let channel = format!("{tag}/changes");

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut plain = client.get_async_pubsub().await.unwrap();
    plain.subscribe(&channel).await.unwrap();
    let mut events = db.subscribe_active().await.unwrap();

    db.save(b"k", b"v").await.unwrap();
    let mut conn = raw(&url).await;
    let names: Vec<String> = conn.keys(format!("{tag}*")).await.unwrap();
    assert_eq!(names, vec![format!("{prefix}k")], "the raw key names");
    let ttl: i64 = conn.pttl(format!("{prefix}k")).await.unwrap();
    assert!(
        ttl > 85_000 && ttl <= 90_000,
        "PTTL {ttl} ms for expire_after=90s"
    );

    let message = tokio::time::timeout(Duration::from_secs(5), plain.on_message().next())
        .await
        .expect("a message on the listener channel")
        .unwrap();
    assert_eq!(message.get_channel_name(), channel);
    let payload: String = message.get_payload().unwrap();
    assert!(payload.starts_with("[\"save\""), "{payload}");
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .unwrap();
    assert_eq!(
        event,
        ChangeEvent::Saved {
            key: "k".into(),
            value: "v".into(),
        }
    );
    db.delete(b"k", b"v").await.unwrap();
    assert!(db.keys().await.unwrap().is_empty());
}

/// `INFO clients` connected_clients of a server.
async fn connected_clients(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// pool_size from the URL: operations spread over exactly that many connections (on a
/// server of this test's own, so that no other client is counted).
#[tokio::test]
async fn url_pool_size_sets_the_number_of_connections() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "url_pool_size_sets_the_number_of_connections",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&[]).unwrap();
    let mut conn = raw(&server.url()).await;
    assert_eq!(connected_clients(&mut conn).await, 1);
    for (pool_size, want) in [(3, 3), (1, 1)] {
        let db = RedisDatabaseBuilder::from_url(&format!("{}?pool_size={pool_size}", server.url()))
            .unwrap()
            .build()
            .unwrap();
        for _ in 0..10 {
            db.fetch(b"k").await.unwrap();
        }
        assert_eq!(
            connected_clients(&mut conn).await,
            1 + want,
            "pool_size={pool_size}"
        );
        drop(db);
        // Closed with the database.
        let deadline = Instant::now() + Duration::from_secs(5);
        while connected_clients(&mut conn).await != 1 {
            assert!(Instant::now() < deadline, "the connections were not closed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// connect_timeout and operation_timeout from the URL: against a server that accepts TCP
/// connections and never answers, the shorter of the two is the error's `after`.
#[tokio::test]
async fn url_timeouts_bound_the_waits() {
    // Never accepted: the kernel completes the TCP handshake (backlog), nothing answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (query, after) in [
        (
            "connect_timeout=300ms&operation_timeout=5s",
            Duration::from_millis(300),
        ),
        (
            "connect_timeout=5s&operation_timeout=400ms",
            Duration::from_millis(400),
        ),
    ] {
        let db = RedisDatabaseBuilder::from_url(&format!("redis://127.0.0.1:{port}?{query}"))
            .unwrap()
            .build()
            .unwrap();
        let started = Instant::now();
        let err = db.fetch(b"k").await.unwrap_err();
        let took = started.elapsed();
        match &err {
            Error::Timeout { after: a, .. } => assert_eq!(*a, after, "{query}: {err}"),
            other => panic!("{query}: not a timeout: {other:?}"),
        }
        assert!(
            took >= after && took < after + Duration::from_secs(1),
            "{query}: took {took:?}"
        );
        // check() is bounded the same way.
        let err = db.check().await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    drop(listener);
}

#[tokio::test]
async fn check_answers_ok_against_a_live_server() {
    let Some(url) = redis_url("check_answers_ok_against_a_live_server") else {
        return;
    };
    let db = RedisDatabaseBuilder::from_url(&format!("{url}?operation_timeout=2s"))
        .unwrap()
        .build()
        .unwrap();
    db.check().await.unwrap();
    let before = db.round_trips();
    db.check().await.unwrap();
    assert_eq!(db.round_trips() - before, 1, "one PING");
}

/// Against a closed port, check() fails at once with a temporary Unavailable error that
/// names the server and not the password.
#[tokio::test]
async fn check_against_a_closed_port_is_a_typed_error() {
    let port = free_port().unwrap();
    let db = RedisDatabaseBuilder::from_url(&format!(
        "redis://user:hunter2@127.0.0.1:{port}?connect_timeout=500ms&operation_timeout=1s"
    ))
    .unwrap()
    .build()
    .unwrap();
    let started = Instant::now();
    let err = db.check().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary(), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// A wrong password: check() says so (Unauthenticated), without the password.
#[tokio::test]
async fn check_reports_a_wrong_password() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "check_reports_a_wrong_password",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&["--requirepass", "right-secret"]).unwrap();
    let db = RedisDatabaseBuilder::from_url(&format!(
        "redis://:wrong-secret@127.0.0.1:{}?operation_timeout=2s",
        server.port()
    ))
    .unwrap()
    .build()
    .unwrap();
    let err = db.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!err.is_temporary(), "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("wrong-secret") && !text.contains("right-secret"),
        "{text}"
    );
    let db = RedisDatabaseBuilder::from_url(&format!(
        "redis://:right-secret@127.0.0.1:{}",
        server.port()
    ))
    .unwrap()
    .build()
    .unwrap();
    db.check().await.unwrap();
}
