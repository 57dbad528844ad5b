//! RedisDatabase against a real redis-server (and a real Redis Cluster): the testkit's
//! conformance suite, round trips, TTL, and faults. `cargo xtask integration-test` starts
//! the servers; under plain `cargo test` these tests skip and say why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use exampledb_core::{ChangeEvent, Error, ExampleDatabase};
use exampledb_redis::RedisDatabase;
use exampledb_testkit::conformance::{self, wait_until_listening};
use exampledb_testkit::services::{redis_cluster_urls, redis_server_bin, redis_url, RedisServer};
use exampledb_testkit::{skip_or_fail, unique_prefix, Capabilities};
use futures_util::StreamExt;
use redis::AsyncCommands;

const CAPS: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
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
    db.ping().await.unwrap();
    conformance::run_all(Arc::new(db), CAPS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cluster() {
    let Some(urls) = redis_cluster_urls("conformance_cluster") else {
        return;
    };
    let prefix = unique_prefix();
    let db = RedisDatabase::cluster(urls)
        .key_prefix(prefix.clone())
        .listener_channel(format!(
            "exampledb-test-{}",
            exampledb_testkit::hex(&prefix)
        ))
        .build()
        .unwrap();
    db.ping().await.unwrap();
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
    wait_until_listening(&db, &mut events).await;
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
        .command_timeout(Duration::from_secs(1))
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
        .command_timeout(Duration::from_secs(2))
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
    let ok = RedisDatabase::open(&format!(
        "redis://:right-secret@127.0.0.1:{}",
        server.port()
    ))
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
        .command_timeout(timeout)
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
        .command_timeout(timeout)
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
