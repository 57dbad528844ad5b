//! Change events from DynamoDB Streams (on moto's server): other processes' changes
//! (another handle, and a Python boto3 writer) are reported exactly; a re-save that only
//! refreshes the time to live is no event; a re-save of an expired item is a save; a
//! move is a delete and a save; nothing is read from the stream while nobody listens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use exampledb_core::{ChangeEvent, ExampleDatabase};
use exampledb_testkit::conformance::{assert_same_events, collect_events, wait_until_listening};
use exampledb_testkit::python::Python;

const DEADLINE: Duration = Duration::from_secs(20);

fn saved(k: &[u8], v: &[u8]) -> ChangeEvent {
    ChangeEvent::Saved {
        key: Bytes::copy_from_slice(k),
        value: Bytes::copy_from_slice(v),
    }
}

fn deleted(k: &[u8], v: &[u8]) -> ChangeEvent {
    ChangeEvent::Deleted {
        key: Bytes::copy_from_slice(k),
        value: Some(Bytes::copy_from_slice(v)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_writers_changes_are_reported_exactly() {
    let Some((endpoint, table, db)) = common::database("dynamodb_events_others").await else {
        return;
    };
    let other = common::builder(&endpoint, &table).build().unwrap();
    let mut stream = db.subscribe().unwrap();
    wait_until_listening(&db, &mut stream).await;

    other.save(b"ev:a", b"1").await.unwrap();
    other.save(b"ev:a", b"1").await.unwrap(); // stored and fresh: nothing changes
    other.save(b"ev:a", b"2").await.unwrap();
    other.move_value(b"ev:a", b"ev:b", b"1").await.unwrap();
    other.delete(b"ev:a", b"2").await.unwrap();
    other.delete(b"ev:a", b"2").await.unwrap(); // already gone: nothing changes
    let want = vec![
        saved(b"ev:a", b"1"),
        saved(b"ev:a", b"2"),
        deleted(b"ev:a", b"1"),
        saved(b"ev:b", b"1"),
        deleted(b"ev:a", b"2"),
    ];
    let got = collect_events(&mut stream, b"ev:", want.len(), DEADLINE).await;
    assert_same_events(&got, &want, "another handle's changes");
}

/// An item whose lifetime is running out, re-saved: the stream shows a MODIFY, and no
/// event is reported (the value did not change). An expired item re-saved: the value was
/// gone and is back, a save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_are_no_events_and_revivals_are_saves() {
    let Some((endpoint, table, db)) = common::database("dynamodb_events_refresh").await else {
        return;
    };
    let now = common::now();
    common::put_raw(&endpoint, &table, b"ev:stale", b"v", Some(now + 60)).await;
    common::put_raw(&endpoint, &table, b"ev:expired", b"v", Some(now - 60)).await;
    let mut stream = db.subscribe().unwrap();
    wait_until_listening(&db, &mut stream).await;

    // Lifetime of 8 days: an item with a minute left is stale and is rewritten.
    db.save(b"ev:stale", b"v").await.unwrap();
    assert!(
        common::raw_exp(&endpoint, &table, b"ev:stale", b"v")
            .await
            .unwrap()
            .unwrap()
            > now + 3600
    );
    db.fetch(b"ev:stale").await.unwrap();
    db.save(b"ev:expired", b"v").await.unwrap();
    let got = collect_events(&mut stream, b"ev:", 1, DEADLINE).await;
    assert_same_events(&got, &[saved(b"ev:expired", b"v")], "refresh and revival");
}

/// While nobody listens nothing is read from the stream; while someone listens the cost
/// per poll interval is bounded (one GetRecords per open shard, a DescribeStream every ten
/// polls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_read_only_while_someone_listens() {
    let Some((_, _, db)) = common::database("dynamodb_events_idle").await else {
        return;
    };
    let before = db.requests();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(db.requests(), before, "no listener, no requests");

    let mut stream = db.subscribe().unwrap();
    wait_until_listening(&db, &mut stream).await;
    let start = db.requests();
    let polls = 10u64; // the tests' poll interval is 100 ms
    tokio::time::sleep(Duration::from_millis(100 * polls)).await;
    let idle = db.requests() - start;
    // moto's stream has one shard: about one GetRecords per poll, plus a DescribeStream
    // every ten; the sleep between polls comes after each poll's requests.
    assert!(
        (1..=2 * polls + 2).contains(&idle),
        "{idle} requests in {polls} poll intervals"
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = db.requests();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(db.requests(), after, "unsubscribed: no more requests");
}

/// A Python process writing with boto3 (the database a Hypothesis user writes by hand):
/// its saves and deletes are reported, and its items, which have no `exp`, are read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_writers_changes_are_reported() {
    let Some((endpoint, table, db)) = common::database("dynamodb_events_python").await else {
        return;
    };
    let Some(py) = Python::for_test("dynamodb_events_python") else {
        return;
    };
    let mut stream = db.subscribe().unwrap();
    wait_until_listening(&db, &mut stream).await;
    let script = format!(
        "{}\ndb.save(b'ev:py', b'one')\ndb.save(b'ev:py', b'two')\ndb.delete(b'ev:py', b'one')\n",
        common::PY_DATABASE
    );
    py.run(&script, &[&endpoint, &table], "");
    let want = vec![
        saved(b"ev:py", b"one"),
        saved(b"ev:py", b"two"),
        deleted(b"ev:py", b"one"),
    ];
    let got = collect_events(&mut stream, b"ev:", want.len(), DEADLINE).await;
    assert_same_events(&got, &want, "a Python writer's changes");
    assert_eq!(
        db.fetch(b"ev:py").await.unwrap(),
        vec![Bytes::from_static(b"two")]
    );
}

/// `subscribe_positioned` returns once the listener knows where the stream ends: a save
/// made right after it returns is reported, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_right_after_subscribe_positioned_is_reported() {
    let Some((_, _, db)) = common::database("dynamodb_positioned").await else {
        return;
    };
    for i in 0..3u32 {
        let mut stream = db
            .subscribe_positioned(Duration::from_secs(20))
            .await
            .unwrap();
        let value = format!("x{i}").into_bytes();
        db.save(b"positioned", &value).await.unwrap();
        let got = collect_events(&mut stream, b"positioned", 1, DEADLINE).await;
        assert_eq!(got, [saved(b"positioned", &value)], "round {i}");
        drop(stream);
        // The listener stops; the next round starts a new one.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
