//! RedisDatabase against a real redis-server (and a real Redis Cluster): the testkit's
//! conformance suite, round trips, TTL, and faults. `cargo xtask integration-test` starts
//! the servers; under plain `cargo test` these tests skip and say why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use exampledb_core::{ChangeEvent, Error, ErrorKind, ExampleDatabase};
use exampledb_redis::{RedisDatabase, RedisDatabaseBuilder};
use exampledb_testkit::conformance;
use exampledb_testkit::services::{redis_server_bin, redis_url, RedisServer};
use exampledb_testkit::{skip_or_fail, unique_prefix, Capabilities};
use futures_util::StreamExt;
use redis::AsyncCommands;

const CAPS: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
    max_key: None,
    max_value: None,
};

/// A database under a prefix and channel of its own, so tests share a server safely.
fn isolated(url: &str) -> RedisDatabase {
    let prefix = unique_prefix();
    let channel = format!("exampledb-test-{}", exampledb_testkit::hex(&prefix));
    RedisDatabase::builder(url)
        .key_prefix(prefix)
        .listener_channel(channel)
        .build()
        .unwrap()
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_single_server() {
    let Some(url) = redis_url("conformance_single_server") else {
        return;
    };
    let db = isolated(&url);
    db.check().await.unwrap();
    conformance::run_all(Arc::new(db), CAPS).await;
}

/// The same suite on a database configured by URL alone, as `exampledb::open(url)` makes
/// it: every option from the query (the prefix and channel percent-encoded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_single_server_from_url() {
    let Some(url) = redis_url("conformance_single_server_from_url") else {
        return;
    };
    let tag = exampledb_testkit::hex(&unique_prefix());
    let url = format!(
        "{url}?key_prefix=exampledb-test%3A{tag}%3A&listener_channel=exampledb-test%3A{tag}\
         &expire_after=1h&pool_size=3&connect_timeout=2s&operation_timeout=5s&cluster=false"
    );
    let db = RedisDatabaseBuilder::from_url(&url)
        .unwrap()
        .build()
        .unwrap();
    db.check().await.unwrap();
    conformance::run_all(Arc::new(db), CAPS).await;
}

/// Needs the `cluster` feature (without it a cluster builder refuses to build; that is
/// tested in tests/config.rs).
#[cfg(feature = "cluster")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cluster() {
    let Some(urls) = exampledb_testkit::services::redis_cluster_urls("conformance_cluster") else {
        return;
    };
    let prefix = unique_prefix();
    let db = RedisDatabase::builder(&urls[0])
        .cluster_nodes(urls)
        .key_prefix(prefix.clone())
        .listener_channel(format!(
            "exampledb-test-{}",
            exampledb_testkit::hex(&prefix)
        ))
        .build()
        .unwrap();
    db.check().await.unwrap();
    conformance::run_all(Arc::new(db.clone()), CAPS).await;

    // Keys spread over all three primaries are all listed (SCAN on every node).
    let spread: Vec<Vec<u8>> = (0..60u8).map(|i| vec![b'k', i]).collect();
    for k in &spread {
        db.save(k, b"v").await.unwrap();
    }
    let listed = db.keys().await.unwrap();
    for k in &spread {
        assert!(
            listed.iter().any(|l| l[..] == k[..]),
            "key {k:?} not listed"
        );
    }
    // Moves across slots keep the value, change only what changed, and report the
    // delete before the save.
    let keys: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'm', i]).collect();
    for k in &keys[..4] {
        db.save(k, b"v").await.unwrap();
    }
    let mut events = db.subscribe().unwrap();
    conformance::wait_until_listening(&db, &mut events).await;
    db.save(&keys[4], b"x").await.unwrap();
    db.move_value(&keys[0], &keys[1], b"v").await.unwrap(); // dest has it already
    db.move_value(&keys[2], &keys[3], b"w").await.unwrap(); // src never had it
    db.move_value(&keys[4], &keys[5], b"x").await.unwrap(); // a real move
    assert!(db.fetch(&keys[0]).await.unwrap().is_empty());
    assert!(db.fetch(&keys[4]).await.unwrap().is_empty());
    assert_eq!(db.fetch(&keys[3]).await.unwrap().len(), 2);
    assert_eq!(
        db.fetch(&keys[5]).await.unwrap(),
        vec![bytes::Bytes::from("x")]
    );
    let mut got = Vec::new();
    while got.len() < 5 {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("events within 5 s")
            .expect("stream open");
        if keys.iter().any(|k| k[..] == ev.key()[..]) {
            got.push(ev);
        }
    }
    let saved = |k: &[u8], v: &'static str| ChangeEvent::Saved {
        key: bytes::Bytes::copy_from_slice(k),
        value: v.into(),
    };
    let deleted = |k: &[u8], v: &'static str| ChangeEvent::Deleted {
        key: bytes::Bytes::copy_from_slice(k),
        value: Some(v.into()),
    };
    let want = vec![
        saved(&keys[4], "x"),
        deleted(&keys[0], "v"),
        saved(&keys[3], "w"),
        deleted(&keys[4], "x"),
        saved(&keys[5], "x"),
    ];
    // Messages published on different nodes reach the subscriber's node over the cluster
    // bus, so only the events of one script (one node) keep their order: a cross-slot
    // move's delete and save are published by the same script.
    exampledb_testkit::conformance::assert_same_events(&got, &want, "cluster moves");
    let pos = |e: &ChangeEvent| got.iter().position(|g| g == e);
    assert!(pos(&deleted(&keys[4], "x")) < pos(&saved(&keys[5], "x")));
    for (k, v) in [(1, "v"), (2, "v"), (3, "v"), (3, "w"), (5, "x")] {
        db.delete(&keys[k], v.as_bytes()).await.unwrap();
    }
    for k in &spread {
        db.delete(k, b"v").await.unwrap();
    }
    assert!(db.keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn one_round_trip_per_operation_and_batches() {
    let Some(url) = redis_url("one_round_trip_per_operation_and_batches") else {
        return;
    };
    let db = isolated(&url);
    db.save(b"warm", b"up").await.unwrap(); // the script may need loading once
    let count = |f: u64| db.round_trips() - f;

    let before = db.round_trips();
    db.save(b"k", b"v1").await.unwrap();
    assert_eq!(count(before), 1, "save");
    let before = db.round_trips();
    db.save(b"k", b"v1").await.unwrap();
    assert_eq!(count(before), 1, "save of a present value");
    let before = db.round_trips();
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
    assert_eq!(count(before), 1, "fetch");
    let before = db.round_trips();
    db.move_value(b"k", b"k2", b"v1").await.unwrap();
    assert_eq!(count(before), 1, "move");
    let before = db.round_trips();
    db.delete(b"k2", b"v1").await.unwrap();
    assert_eq!(count(before), 1, "delete");

    // A value under 1 MiB whose event payload (base64) is over it: the server's
    // proto-max-bulk-len is read first, and that lookup is not counted.
    let large = vec![b'L'; 900_000];
    let before = db.round_trips();
    db.save(b"large", &large).await.unwrap();
    assert_eq!(count(before), 1, "save of a 900 KB value");
    let before = db.round_trips();
    db.move_value(b"large", b"large2", &large).await.unwrap();
    assert_eq!(count(before), 1, "move of a 900 KB value");
    let before = db.round_trips();
    assert_eq!(
        db.fetch(b"large2").await.unwrap(),
        vec![bytes::Bytes::from(large.clone())]
    );
    db.delete(b"large2", &large).await.unwrap();
    assert_eq!(count(before), 2, "fetch and delete of a 900 KB value");

    // A server that lost its script cache costs one more round trip, once.
    let mut conn = raw(&url).await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = db.round_trips();
    db.save(b"k", b"v2").await.unwrap();
    assert_eq!(
        count(before),
        2,
        "save after SCRIPT FLUSH: EVALSHA, then EVAL"
    );
    let before = db.round_trips();
    db.save(b"k", b"v3").await.unwrap();
    assert_eq!(count(before), 1, "the script is cached again");

    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..50u8).map(|i| (vec![b'b', i % 5], vec![i])).collect();
    let before = db.round_trips();
    db.save_many(&pairs).await.unwrap();
    assert_eq!(count(before), 1, "save_many");
    let keys: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'b', i]).collect();
    let before = db.round_trips();
    let sets = db.fetch_many(&keys).await.unwrap();
    assert_eq!(count(before), 1, "fetch_many");
    assert_eq!(sets.iter().map(Vec::len).sum::<usize>(), 50);
    for (i, set) in sets.iter().enumerate() {
        let mut want: Vec<u8> = (0..50u8).filter(|v| usize::from(v % 5) == i).collect();
        let mut got: Vec<u8> = set.iter().map(|v| v[0]).collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "fetch_many key {i}");
    }
}

#[tokio::test]
async fn ttl_expires_keys_and_every_operation_refreshes_it() {
    let Some(url) = redis_url("ttl_expires_keys_and_every_operation_refreshes_it") else {
        return;
    };
    let prefix = unique_prefix();
    let db = RedisDatabase::builder(&url)
        .key_prefix(prefix.clone())
        .expire_after(Duration::from_secs(2))
        .build()
        .unwrap();
    let full = [prefix.as_slice(), b"k"].concat();
    let mut conn = raw(&url).await;
    db.save(b"k", b"v").await.unwrap();
    let ttl: i64 = conn.pttl(&full).await.unwrap();
    assert!(ttl > 1000 && ttl <= 2000, "TTL after save: {ttl} ms");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ttl: i64 = conn.pttl(&full).await.unwrap();
    assert!(ttl < 1000, "TTL counts down: {ttl} ms");
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
    let ttl: i64 = conn.pttl(&full).await.unwrap();
    assert!(ttl > 1500, "a fetch refreshes the TTL: {ttl} ms");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let exists: bool = conn.exists(&full).await.unwrap();
    assert!(
        !exists,
        "the key expired after expire_after without operations"
    );
    assert!(db.fetch(b"k").await.unwrap().is_empty());
}

#[tokio::test]
async fn errors_are_typed_name_the_server_and_never_the_password() {
    // Nothing listens on this port: connection refused, quickly and temporarily.
    let port = exampledb_testkit::services::free_port().unwrap();
    let db = RedisDatabase::builder(&format!("redis://user:hunter2@127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(500))
        .operation_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = db.save(b"k", b"v").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_temporary(), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let Some(url) = redis_url("errors_are_typed_name_the_server_and_never_the_password") else {
        return;
    };
    // A key of the wrong type: a permanent error naming the server; nothing is lost.
    let prefix = unique_prefix();
    let db = RedisDatabase::builder(&url)
        .key_prefix(prefix.clone())
        .build()
        .unwrap();
    let mut conn = raw(&url).await;
    let full = [prefix.as_slice(), b"str"].concat();
    let _: () = conn.set(&full, "not a set").await.unwrap();
    for result in [
        db.save(b"str", b"v").await,
        db.fetch(b"str").await.map(drop),
        db.delete(b"str", b"v").await,
    ] {
        let err = result.unwrap_err();
        assert!(!err.is_temporary(), "{err}");
        assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    }
    let still: String = conn.get(&full).await.unwrap();
    assert_eq!(still, "not a set");
}

#[tokio::test]
async fn wrong_password_is_a_clear_error_without_the_password() {
    let Some(_) = redis_url("wrong_password_is_a_clear_error_without_the_password") else {
        return;
    };
    let server = match RedisServer::start(&["--requirepass", "right-secret"]) {
        Ok(s) => s,
        Err(e) => return skip_or_fail("wrong_password", &e),
    };
    let url = format!("redis://:wrong-secret@127.0.0.1:{}", server.port());
    let db = RedisDatabase::builder(&url)
        .operation_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = db.fetch(b"k").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("WRONGPASS") || text.to_lowercase().contains("auth"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-secret") && !text.contains("right-secret"),
        "{text}"
    );
    let ok = RedisDatabase::builder(&format!(
        "redis://:right-secret@127.0.0.1:{}",
        server.port()
    ))
    .build()
    .unwrap();
    ok.save(b"k", b"v").await.unwrap();
    assert_eq!(ok.fetch(b"k").await.unwrap().len(), 1);
}

/// Restarts a redis-server (appendonly) in the middle of a workload: during the outage
/// operations fail within the timeout; within 2 s of the server being back they succeed
/// again; nothing acknowledged before the restart is lost; the listener resubscribes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart_without_losing_acknowledged_writes() {
    if redis_server_bin().is_none() {
        return skip_or_fail("survives_a_server_restart", "redis-server is not on PATH");
    }
    let mut server =
        RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]).unwrap();
    let timeout = Duration::from_millis(800);
    let db = RedisDatabase::builder(&server.url())
        .connect_timeout(Duration::from_millis(300))
        .operation_timeout(timeout)
        .build()
        .unwrap();
    let mut events = db.subscribe_active().await.unwrap();
    let mut acknowledged = Vec::new();
    for i in 0..200u32 {
        let v = i.to_be_bytes();
        db.save(b"k", &v).await.unwrap();
        acknowledged.push(v.to_vec());
    }

    server.kill();
    for i in 0..5u32 {
        let started = Instant::now();
        let result = db.save(b"k", &(1000 + i).to_be_bytes()).await;
        let took = started.elapsed();
        let err = result.expect_err("the server is down");
        assert!(err.is_temporary(), "{err}");
        assert!(
            took < timeout + Duration::from_millis(300),
            "took {took:?}: {err}"
        );
    }

    server.restart().unwrap();
    let back = Instant::now();
    loop {
        match db.fetch(b"k").await {
            Ok(values) => {
                let mut got: Vec<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
                got.sort();
                let mut want = acknowledged.clone();
                want.sort();
                assert_eq!(got, want, "every acknowledged save survives the restart");
                break;
            }
            Err(e) => assert!(
                back.elapsed() < Duration::from_secs(2),
                "still failing 2 s after the server came back: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back.elapsed() < Duration::from_secs(2));

    // The listener resubscribes on its own: a change made now is heard.
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            db.save(b"after", b"restart").await.unwrap();
            let heard = tokio::time::timeout(Duration::from_millis(200), async {
                while let Some(ev) = events.next().await {
                    if ev.key()[..] == b"after"[..] {
                        return;
                    }
                }
            })
            .await;
            if heard.is_ok() {
                return;
            }
            db.delete(b"after", b"restart").await.unwrap();
        }
    })
    .await
    .expect("the listener resubscribed after the restart");
}

/// A proxy that accepts connections, forwards them, and on demand stops forwarding
/// without closing anything (a cut network): requests must time out, not hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_request_times_out() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    let Some(url) = redis_url("a_connection_cut_mid_request_times_out") else {
        return;
    };
    let upstream = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut = Arc::new(AtomicBool::new(false));
    let cut2 = Arc::clone(&cut);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(&upstream).await.unwrap();
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            for (mut from, mut to, cut) in [
                (
                    Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                    Arc::clone(&cut2),
                ),
                (Box::new(sr), Box::new(cw), Arc::clone(&cut2)),
            ] {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16384];
                    loop {
                        let n = match from.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if cut.load(Ordering::SeqCst) {
                            // Swallow everything from now on, keep the sockets open.
                            std::future::pending::<()>().await;
                        }
                        if to.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    });
    let timeout = Duration::from_millis(700);
    // One connection, so the request after the cut goes over the established one.
    let db = RedisDatabase::builder(&format!("redis://127.0.0.1:{port}"))
        .key_prefix(unique_prefix())
        .pool_size(1)
        .connect_timeout(Duration::from_millis(500))
        .operation_timeout(timeout)
        .build()
        .unwrap();
    db.save(b"k", b"v").await.unwrap();
    cut.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let err = db.fetch(b"k").await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(400),
        "{took:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    // The stuck connection was dropped; a new one cannot complete its handshake through
    // the cut proxy either: a timeout again, never a hang.
    let started = Instant::now();
    let err = db.save(b"k", b"w").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < timeout + Duration::from_millis(400));
}

// ---- A failed write changes nothing (issue 10, item 6) ----

/// The next event on `events` (within 5 s).
async fn next_event(events: &mut exampledb_core::ChangeStream) -> ChangeEvent {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("stream open")
}

fn saved(key: &[u8], value: &[u8]) -> ChangeEvent {
    ChangeEvent::Saved {
        key: bytes::Bytes::copy_from_slice(key),
        value: bytes::Bytes::copy_from_slice(value),
    }
}

/// Asserts `err` is a permanent error of `kind` whose message contains every one of
/// `words`.
fn assert_error(err: &Error, kind: ErrorKind, temporary: bool, words: &[&str]) {
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.is_temporary(), temporary, "{err}");
    let text = err.to_string();
    for word in words {
        assert!(text.contains(word), "{word:?} not in: {text}");
    }
}

/// A move into (or out of) a key of another type than set fails with InvalidData and a
/// message naming the type, and changes nothing: the value stays in the source set, the
/// other key keeps its content, and no event is published. The same for save and delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_key_of_another_type_changes_nothing() {
    let Some(url) = redis_url("a_write_to_a_key_of_another_type_changes_nothing") else {
        return;
    };
    let prefix = unique_prefix();
    let db = RedisDatabase::builder(&url)
        .key_prefix(prefix.clone())
        .listener_channel(format!(
            "exampledb-test-{}",
            exampledb_testkit::hex(&prefix)
        ))
        .build()
        .unwrap();
    let full = |k: &[u8]| [prefix.as_slice(), k].concat();
    let mut conn = raw(&url).await;
    db.save(b"src", b"v").await.unwrap();
    let _: () = conn.set(full(b"str"), "not a set").await.unwrap();
    let _: () = conn.hset(full(b"hash"), "f", "g").await.unwrap();
    let _: () = conn.rpush(full(b"list"), "v").await.unwrap();
    db.save(b"set", b"w").await.unwrap();
    let mut events = db.subscribe_active().await.unwrap();

    let err = db.move_value(b"src", b"str", b"v").await.unwrap_err();
    assert_eq!(
        db.fetch(b"src").await.unwrap(),
        vec![bytes::Bytes::from("v")],
        "the failed move removed the value from src: {err}"
    );
    let still: String = conn.get(full(b"str")).await.unwrap();
    assert_eq!(still, "not a set");
    assert_error(
        &err,
        ErrorKind::InvalidData,
        false,
        &["destination key", "string", "not a set"],
    );

    let err = db.move_value(b"src", b"hash", b"v").await.unwrap_err();
    assert_eq!(
        db.fetch(b"src").await.unwrap(),
        vec![bytes::Bytes::from("v")]
    );
    assert_error(
        &err,
        ErrorKind::InvalidData,
        false,
        &["destination key", "hash"],
    );

    let err = db.move_value(b"list", b"set", b"v").await.unwrap_err();
    assert_eq!(
        db.fetch(b"set").await.unwrap(),
        vec![bytes::Bytes::from("w")]
    );
    let list: Vec<String> = conn.lrange(full(b"list"), 0, -1).await.unwrap();
    assert_eq!(list, vec!["v".to_owned()]);
    assert_error(&err, ErrorKind::InvalidData, false, &["source key", "list"]);

    for err in [
        db.save(b"str", b"v").await.unwrap_err(),
        db.delete(b"str", b"not a set").await.unwrap_err(),
    ] {
        assert_error(
            &err,
            ErrorKind::InvalidData,
            false,
            &["string", "WRONGTYPE"],
        );
    }
    let err = db.fetch(b"hash").await.unwrap_err();
    assert_error(&err, ErrorKind::InvalidData, false, &["WRONGTYPE"]);
    let still: String = conn.get(full(b"str")).await.unwrap();
    assert_eq!(still, "not a set");

    // Nothing was published: the first event is the one of this save.
    db.save(b"after", b"x").await.unwrap();
    assert_eq!(next_event(&mut events).await, saved(b"after", b"x"));
}

/// Over `maxmemory` with `noeviction`, Redis refuses SADD (a `denyoom` command) but not
/// SREM: a move is refused without removing the value from its source, a delete still
/// works, and the error is temporary.
#[tokio::test]
async fn a_write_refused_for_memory_changes_nothing() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_write_refused_for_memory_changes_nothing",
            "redis-server is not on PATH",
        );
    }
    let server =
        RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"]).unwrap();
    let db = RedisDatabase::builder(&server.url()).build().unwrap();
    db.save(b"src", b"v").await.unwrap();
    // Over maxmemory from now on: half of what the server uses.
    let mut conn = raw(&server.url()).await;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used / 2)
        .query_async(&mut conn)
        .await
        .unwrap();
    let refused: redis::RedisResult<i64> = conn.sadd("probe", "x").await;
    assert!(refused.unwrap_err().to_string().contains("OOM"));

    let err = db.move_value(b"src", b"dest", b"v").await.unwrap_err();
    assert_error(&err, ErrorKind::Unavailable, true, &["OOM"]);
    assert_eq!(
        db.fetch(b"src").await.unwrap(),
        vec![bytes::Bytes::from("v")]
    );
    assert!(db.fetch(b"dest").await.unwrap().is_empty());
    let err = db.save(b"other", b"x").await.unwrap_err();
    assert_error(&err, ErrorKind::Unavailable, true, &["OOM"]);
    assert!(db.fetch(b"other").await.unwrap().is_empty());
    db.delete(b"src", b"v").await.unwrap();
    assert!(db.fetch(b"src").await.unwrap().is_empty());
}

/// A user without a permission the script needs (Redis 7 gives a new ACL user no channel,
/// so no PUBLISH) gets PermissionDenied and the set is not changed.
#[tokio::test]
async fn a_write_the_acl_does_not_fully_allow_changes_nothing() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_write_the_acl_does_not_fully_allow_changes_nothing",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&[]).unwrap();
    let mut conn = raw(&server.url()).await;
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .unwrap();
    if version.contains("redis_version:6.") {
        return skip_or_fail(
            "a_write_the_acl_does_not_fully_allow_changes_nothing",
            "redis.acl_check_cmd needs Redis 7",
        );
    }
    for args in [
        &["nopub", "on", ">pw", "~*", "+@all", "resetchannels"][..],
        &["nosrem", "on", ">pw", "~*", "+@all", "-srem", "allchannels"][..],
        &["notype", "on", ">pw", "~*", "+@all", "-type", "allchannels"][..],
    ] {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(args)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let url = |user: &str| format!("redis://{user}:pw@127.0.0.1:{}", server.port());

    let nopub = RedisDatabase::builder(&url("nopub")).build().unwrap();
    let err = nopub.save(b"k", b"v").await.unwrap_err();
    let members: Vec<Vec<u8>> = conn.smembers("hypothesis-example:k").await.unwrap();
    assert!(members.is_empty(), "the failed save changed the set: {err}");
    assert_error(&err, ErrorKind::PermissionDenied, false, &["PUBLISH"]);

    let admin = RedisDatabase::builder(&server.url()).build().unwrap();
    admin.save(b"src", b"v").await.unwrap();
    let nosrem = RedisDatabase::builder(&url("nosrem")).build().unwrap();
    let err = nosrem.move_value(b"src", b"dest", b"v").await.unwrap_err();
    assert_eq!(
        admin.fetch(b"src").await.unwrap(),
        vec![bytes::Bytes::from("v")]
    );
    assert!(admin.fetch(b"dest").await.unwrap().is_empty(), "{err}");
    assert_error(
        &err,
        ErrorKind::PermissionDenied,
        false,
        &["SREM", "source key"],
    );

    // Without TYPE (which the script runs first), every write is refused as such.
    let notype = RedisDatabase::builder(&url("notype")).build().unwrap();
    let err = notype.move_value(b"src", b"dest", b"v").await.unwrap_err();
    assert_eq!(
        admin.fetch(b"src").await.unwrap(),
        vec![bytes::Bytes::from("v")]
    );
    assert_error(&err, ErrorKind::PermissionDenied, false, &["TYPE"]);
}

/// On a cluster, a move between slots is two scripts (add to dest, then remove from src).
/// A dest of another type fails the first: nothing changes. A src of another type fails
/// the second: the value is then in dest, and src keeps its content (in both, never in
/// neither).
#[cfg(feature = "cluster")]
#[tokio::test]
async fn a_failed_cross_slot_move_on_a_cluster_never_loses_the_value() {
    let Some(urls) = exampledb_testkit::services::redis_cluster_urls(
        "a_failed_cross_slot_move_on_a_cluster_never_loses_the_value",
    ) else {
        return;
    };
    let prefix = unique_prefix();
    let db = RedisDatabase::builder(&urls[0])
        .cluster_nodes(urls.clone())
        .key_prefix(prefix.clone())
        .build()
        .unwrap();
    // Keys in different slots (the prefix has no hash tag).
    let (src, dest, other) = (
        b"src-a".as_slice(),
        b"dest-b".as_slice(),
        b"other-c".as_slice(),
    );
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    let full = |k: &[u8]| [prefix.as_slice(), k].concat();
    let slot = |k: &[u8]| redis::cmd("CLUSTER").arg("KEYSLOT").arg(full(k)).clone();
    let mut slots = Vec::new();
    for k in [src, dest, other, b"dest-d".as_slice()] {
        let s: u16 = slot(k).query_async(&mut conn).await.unwrap();
        slots.push(s);
    }
    assert!(slots[0] != slots[1] && slots[2] != slots[3], "{slots:?}");
    let _: () = conn.set(full(dest), "not a set").await.unwrap();
    let _: () = conn.set(full(other), "not a set either").await.unwrap();
    db.save(src, b"v").await.unwrap();

    let err = db.move_value(src, dest, b"v").await.unwrap_err();
    assert_eq!(db.fetch(src).await.unwrap(), vec![bytes::Bytes::from("v")]);
    assert_error(
        &err,
        ErrorKind::InvalidData,
        false,
        &["destination key", "string"],
    );

    db.save(b"dest-d", b"w").await.unwrap();
    let err = db.move_value(other, b"dest-d", b"v").await.unwrap_err();
    let mut got = db.fetch(b"dest-d").await.unwrap();
    got.sort();
    assert_eq!(got, vec![bytes::Bytes::from("v"), bytes::Bytes::from("w")]);
    let still: String = conn.get(full(other)).await.unwrap();
    assert_eq!(still, "not a set either");
    assert_error(
        &err,
        ErrorKind::InvalidData,
        false,
        &["source key", "string"],
    );
    let _: () = conn.del(full(dest)).await.unwrap();
    let _: () = conn.del(full(other)).await.unwrap();

    // The size limit is the lowest of the primaries' proto-max-bulk-len.
    let big = vec![b'x'; 2 << 20];
    db.save(b"big", &big).await.unwrap();
    db.delete(b"big", &big).await.unwrap();
    let node_url = db
        .server()
        .trim_start_matches("cluster ")
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let db = RedisDatabase::builder(&format!("redis://{node_url}"))
        .cluster(true)
        .key_prefix(prefix.clone())
        .build()
        .unwrap();
    let mut node = raw(&format!("redis://{node_url}")).await;
    let set_limit = |limit: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("proto-max-bulk-len")
            .arg(limit)
            .clone()
    };
    let _: () = set_limit("1mb").query_async(&mut node).await.unwrap();
    let result = db.save(b"big", &big).await;
    let _: () = set_limit("512mb").query_async(&mut node).await.unwrap();
    assert!(
        matches!(result, Err(Error::TooLarge { limit, .. }) if limit == 1 << 20),
        "{result:?}"
    );
    db.delete(src, b"v").await.unwrap();
    db.delete(b"dest-d", b"v").await.unwrap();
    db.delete(b"dest-d", b"w").await.unwrap();
}

// ---- Error kinds (issue 10, item 7) ----

/// A wrong password is Unauthenticated and not temporary, and says the credentials were
/// refused, without repeating them.
#[tokio::test]
async fn a_wrong_password_is_unauthenticated_and_not_temporary() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_wrong_password_is_unauthenticated_and_not_temporary",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&["--requirepass", "right-secret"]).unwrap();
    let db = RedisDatabase::builder(&format!(
        "redis://:wrong-secret@127.0.0.1:{}",
        server.port()
    ))
    .operation_timeout(Duration::from_secs(2))
    .build()
    .unwrap();
    for err in [
        db.fetch(b"k").await.unwrap_err(),
        db.save(b"k", b"v").await.unwrap_err(),
        db.check().await.unwrap_err(),
    ] {
        assert_error(
            &err,
            ErrorKind::Unauthenticated,
            false,
            &["authentication failed", "refused the credentials"],
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("wrong-secret") && !text.contains("right-secret"),
            "{text}"
        );
    }
}

/// Without a password on a server that requires one, every operation says
/// "authentication required" (Unauthenticated, not temporary), including the writes Redis
/// answers with a protocol error (a command of more than 10 arguments or an argument
/// over 16 KiB from an unauthenticated client) and large values (whose size check asks
/// the server first).
#[tokio::test]
async fn a_missing_password_is_reported_as_authentication_required() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_missing_password_is_reported_as_authentication_required",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&["--requirepass", "pw"]).unwrap();
    let db = RedisDatabase::builder(&server.url())
        .operation_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let big = vec![b'x'; 100 << 10];
    let huge = vec![b'x'; 2 << 20];
    for (what, result) in [
        ("fetch", db.fetch(b"k").await.map(drop)),
        ("save", db.save(b"k", b"v").await),
        ("delete", db.delete(b"k", b"v").await),
        ("move", db.move_value(b"k", b"k2", b"v").await),
        ("save of 100 KiB", db.save(b"k", &big).await),
        ("save of 2 MiB", db.save(b"k", &huge).await),
        ("keys", db.keys().await.map(drop)),
    ] {
        let err = result.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{what}: {err}");
        assert!(!err.is_temporary(), "{what}: {err}");
        assert!(
            err.to_string().contains("authentication required"),
            "{what}: {err}"
        );
    }
}

/// `INFO stats` total_net_input_bytes of a server.
async fn input_bytes(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_net_input_bytes:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// With `proto-max-bulk-len 1mb`, a value (or an event payload, about 4/3 of the value)
/// over it is refused with Error::TooLarge naming what and the server's limit, before
/// anything is sent; not temporary; nothing changes. Values whose arguments all fit in
/// 1 MiB go through without the limit being read.
#[tokio::test]
async fn a_value_over_proto_max_bulk_len_is_refused_before_sending() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_value_over_proto_max_bulk_len_is_refused_before_sending",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&["--proto-max-bulk-len", "1mb"]).unwrap();
    let db = RedisDatabase::builder(&server.url()).build().unwrap();
    let mut conn = raw(&server.url()).await;

    // 700 KB: the payload (933 KB) fits too; one round trip, no CONFIG GET needed.
    let before = db.round_trips();
    db.save(b"k", &vec![b'a'; 700_000]).await.unwrap();
    assert_eq!(db.round_trips() - before, 2, "EVALSHA, then EVAL once");
    let before = db.round_trips();
    db.save(b"k", &vec![b'b'; 700_000]).await.unwrap();
    assert_eq!(db.round_trips() - before, 1);

    let sent = input_bytes(&mut conn).await;
    let before = db.round_trips();
    let value = vec![b'c'; 2 << 20];
    for (what, size, result) in [
        ("value", 2 << 20, db.save(b"k", &value).await),
        ("value", 2 << 20, db.move_value(b"k", b"k2", &value).await),
        ("value", 2 << 20, db.delete(b"k", &value).await),
        // The value fits, its base64 in the event payload does not.
        (
            "event payload",
            r#"["save", ["aw==", ""]]"#.len() + 1_200_000,
            db.save(b"k", &[b'd'; 900_000]).await,
        ),
        (
            "value",
            2 << 20,
            db.save_many(&[(b"k".as_slice(), value.as_slice())]).await,
        ),
    ] {
        let err = result.unwrap_err();
        match &err {
            Error::TooLarge {
                what: w,
                size: s,
                limit,
                ..
            } => {
                assert_eq!((*w, *s, *limit), (what, size as u64, 1 << 20), "{err}");
            }
            other => panic!("not TooLarge: {other:?}"),
        }
        assert_error(&err, ErrorKind::TooLarge, false, &[what, "1048576"]);
    }
    assert_eq!(db.round_trips() - before, 0, "nothing was sent");
    let received = input_bytes(&mut conn).await - sent;
    assert!(received < 64 << 10, "the server received {received} bytes");
    let mut got = db.fetch(b"k").await.unwrap();
    assert_eq!(got.len(), 2);
    got.sort();
    assert_eq!(got[0][..], vec![b'a'; 700_000][..]);
    assert!(db.fetch(b"k2").await.unwrap().is_empty());
    db.check().await.unwrap();
}

/// When the server still closes the connection on a request with an argument over 1 MiB
/// (its limit was lowered after it was read), the request is not retried and the error
/// says the value may exceed proto-max-bulk-len; the limit is read again next time.
#[tokio::test]
async fn a_large_request_the_server_closes_on_is_not_retried() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "a_large_request_the_server_closes_on_is_not_retried",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&[]).unwrap();
    let db = RedisDatabase::builder(&server.url()).build().unwrap();
    db.save(b"warm", b"up").await.unwrap();
    let before = db.round_trips();
    db.save(b"k", &vec![b'a'; 2 << 20]).await.unwrap();
    assert_eq!(
        db.round_trips() - before,
        1,
        "the CONFIG GET is not counted"
    );
    assert_eq!(db.fetch(b"k").await.unwrap()[0].len(), 2 << 20);

    let mut conn = raw(&server.url()).await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = db.round_trips();
    let err = db.save(b"k", &vec![b'b'; 2 << 20]).await.unwrap_err();
    assert_eq!(db.round_trips() - before, 1, "not retried: {err}");
    assert_error(
        &err,
        ErrorKind::TooLarge,
        false,
        &["2097152-byte value", "proto-max-bulk-len"],
    );
    // Read again: now refused before sending, with the server's new limit.
    let err = db.save(b"k", &vec![b'c'; 2 << 20]).await.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
}

/// Where CONFIG is renamed (as on managed Redis), the default limit (512 MiB) is assumed:
/// a 2 MiB value is saved.
#[tokio::test]
async fn without_config_the_default_limit_is_assumed() {
    if redis_server_bin().is_none() {
        return skip_or_fail(
            "without_config_the_default_limit_is_assumed",
            "redis-server is not on PATH",
        );
    }
    let server = RedisServer::start(&["--rename-command", "CONFIG", ""]).unwrap();
    let db = RedisDatabase::builder(&server.url()).build().unwrap();
    db.save(b"k", &vec![b'a'; 2 << 20]).await.unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap()[0].len(), 2 << 20);
}

/// A server that accepts TCP connections and never answers the handshake: connecting
/// times out, and the error names the connect timeout, not the operation timeout.
#[tokio::test]
async fn a_connect_timeout_names_the_connect_timeout() {
    // Never accepted: the kernel completes the TCP handshake (backlog), nothing answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect_timeout = Duration::from_millis(300);
    let operation_timeout = Duration::from_secs(3);
    let db = RedisDatabase::builder(&format!("redis://127.0.0.1:{port}"))
        .connect_timeout(connect_timeout)
        .operation_timeout(operation_timeout)
        .build()
        .unwrap();
    for operation in ["fetch", "save"] {
        let started = Instant::now();
        let err = match operation {
            "fetch" => db.fetch(b"k").await.map(drop).unwrap_err(),
            _ => db.save(b"k", b"v").await.unwrap_err(),
        };
        let took = started.elapsed();
        match &err {
            Error::Timeout { after, .. } => assert_eq!(*after, connect_timeout, "{err}"),
            other => panic!("{operation}: not a timeout: {other:?}"),
        }
        assert!(err.to_string().contains("300ms"), "{err}");
        assert!(err.is_temporary());
        assert!(
            took >= connect_timeout && took < Duration::from_millis(1500),
            "{operation} took {took:?}"
        );
    }
    drop(listener);
}
