//! Change events from another process: a second `S3Database` handle on the same bucket and
//! prefix (its own client, state and listener, as another process has) changes the
//! database; the first, subscribed with a short poll interval, hears exactly those
//! changes, its own once, none for changes that change nothing, and stops polling when
//! its last subscriber goes; an object over `max_value_size` is read once, never
//! reported; the first poll names the keys with concurrent reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use exampledb_core::bytes::Bytes;
use exampledb_core::layout;
use exampledb_core::{ChangeEvent, ChangeStream, ExampleDatabase};
use exampledb_s3::S3Database;
use exampledb_testkit::conformance::{assert_same_events, collect_events};
use futures_util::StreamExt;

const POLL: Duration = Duration::from_millis(200);
/// Enough for a few polls.
const DEADLINE: Duration = Duration::from_secs(5);

fn saved(k: &str, v: &str) -> ChangeEvent {
    ChangeEvent::Saved {
        key: Bytes::copy_from_slice(k.as_bytes()),
        value: Bytes::copy_from_slice(v.as_bytes()),
    }
}

fn deleted(k: &str, v: Option<&str>) -> ChangeEvent {
    ChangeEvent::Deleted {
        key: Bytes::copy_from_slice(k.as_bytes()),
        value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
    }
}

/// Waits for `want` (as a multiset) and then a few polls more for anything extra.
async fn expect(stream: &mut ChangeStream, want: &[ChangeEvent], context: &str) {
    let got = collect_events(stream, b"", want.len(), DEADLINE).await;
    // collect_events listens 400 ms (two polls) for extras after the last wanted one.
    assert_same_events(&got, want, context);
}

/// The events in `got` and not in `want`, and the reverse, as multisets.
fn differences(got: &[ChangeEvent], want: &[ChangeEvent]) -> (Vec<ChangeEvent>, Vec<ChangeEvent>) {
    let mut missing = want.to_vec();
    let mut extra = Vec::new();
    for ev in got {
        match missing.iter().position(|w| w == ev) {
            Some(i) => {
                missing.remove(i);
            }
            None => extra.push(ev.clone()),
        }
    }
    (extra, missing)
}

/// Nothing at all for a few polls.
async fn expect_nothing(stream: &mut ChangeStream, context: &str) {
    if let Ok(Some(ev)) = tokio::time::timeout(POLL * 4, stream.next()).await {
        panic!("{context}: unexpected event {ev:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processes_changes_are_heard_once_each() {
    let Some((endpoint, bucket, db)) = common::database("events_other_process", "ev").await else {
        return;
    };
    // The other process: a handle of its own.
    let other = common::builder(&endpoint, &bucket, "ev").build().unwrap();
    // Before anyone listens: part of the baseline, never read by the listener.
    other.save(b"k0", b"v0").await.unwrap();

    let mut stream = db.subscribe().unwrap();
    common::wait_for_poller(&other, &mut stream).await;

    other.save(b"k", b"v1").await.unwrap();
    expect(&mut stream, &[saved("k", "v1")], "save").await;
    other.save(b"k", b"v2").await.unwrap();
    expect(&mut stream, &[saved("k", "v2")], "second save").await;
    other.save(b"k", b"v1").await.unwrap();
    expect_nothing(&mut stream, "re-save of a stored value").await;

    // A move: the value reaches dest, then leaves src. (Seen in one poll it is reported
    // delete then save; a poll between the copy and the delete sees the save first, so
    // only the multiset is checked.)
    other.move_value(b"k", b"k.secondary", b"v1").await.unwrap();
    expect(
        &mut stream,
        &[deleted("k", Some("v1")), saved("k.secondary", "v1")],
        "move",
    )
    .await;

    // Deletes carry the value the listener had read...
    other.delete(b"k", b"v2").await.unwrap();
    expect(&mut stream, &[deleted("k", Some("v2"))], "delete").await;
    // ...and None for a value it never read (stored before it listened).
    other.delete(b"k0", b"v0").await.unwrap();
    expect(
        &mut stream,
        &[deleted("k0", None)],
        "delete of an unread value",
    )
    .await;
    // Deletes and moves that change nothing.
    other.delete(b"k", b"v2").await.unwrap();
    other.delete(b"absent", b"x").await.unwrap();
    expect_nothing(&mut stream, "deletes of absent values").await;
    // Saved again after its delete: a real change again.
    other.save(b"k", b"v2").await.unwrap();
    expect(&mut stream, &[saved("k", "v2")], "save after delete").await;

    // This process's own changes: reported by the calls, once, not again by the poller.
    db.save(b"mine", b"m").await.unwrap();
    db.move_value(b"mine", b"mine2", b"m").await.unwrap();
    db.delete(b"mine2", b"m").await.unwrap();
    expect(
        &mut stream,
        &[
            saved("mine", "m"),
            deleted("mine", Some("m")),
            saved("mine2", "m"),
            deleted("mine2", Some("m")),
        ],
        "own changes",
    )
    .await;
    expect_nothing(&mut stream, "own changes, after a few polls").await;
    // Both at once: each change heard once.
    db.save(b"both", b"a").await.unwrap();
    other.save(b"both", b"b").await.unwrap();
    other.save(b"both", b"a").await.unwrap(); // stored already: nothing
    expect(
        &mut stream,
        &[saved("both", "a"), saved("both", "b")],
        "changes from both",
    )
    .await;
}

/// Waits until `db.requests()` has not changed for `quiet`, and returns it.
async fn settled_requests(db: &S3Database, quiet: Duration) -> u64 {
    let mut last = db.requests();
    loop {
        tokio::time::sleep(quiet).await;
        let now = db.requests();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_runs_only_while_someone_listens() {
    let Some((_, _, db)) = common::database("events_polling_stops", "stop").await else {
        return;
    };
    db.save(b"k", b"v").await.unwrap();
    let idle = db.requests();
    tokio::time::sleep(POLL * 3).await;
    assert_eq!(db.requests(), idle, "no polling before anyone subscribes");

    let first = db.subscribe().unwrap();
    let second = db.subscribe().unwrap();
    tokio::time::sleep(POLL * 5).await;
    let polled = db.requests() - idle;
    // The baseline reads k's meta-keys entry; then one listing per poll.
    assert!(
        (2..=9).contains(&polled),
        "about one listing per {POLL:?} while listening: {polled} requests"
    );
    drop(first);
    let before = db.requests();
    tokio::time::sleep(POLL * 3).await;
    assert!(
        db.requests() > before,
        "one subscriber left: polling goes on"
    );
    drop(second);
    // A poll in flight may finish; then nothing more.
    let stopped = settled_requests(&db, POLL * 2).await;
    tokio::time::sleep(POLL * 5).await;
    assert_eq!(
        db.requests(),
        stopped,
        "polling stopped with the last subscriber"
    );

    // Subscribing again starts again, with a new baseline (no event for what is there).
    let mut again = db.subscribe().unwrap();
    tokio::time::sleep(POLL * 3).await;
    assert!(db.requests() > stopped);
    if let Ok(Some(ev)) = tokio::time::timeout(POLL * 2, again.next()).await {
        panic!("no event for values stored before subscribing: {ev:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_changes_racing_polls_are_reported_once() {
    // Polls back to back, so that they overlap this process's own writes in every way:
    // a poll that lists while a save is in flight must take neither the missing object
    // for a delete nor the new one for another process's save.
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("events_own_race") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let db = common::builder(&endpoint, &bucket, "race")
        .poll_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let mut stream = db.subscribe().unwrap();
    let mut want = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..60 {
        let v = format!("v{i}");
        db.save(b"k", v.as_bytes()).await.unwrap();
        want.push(saved("k", &v));
        if i % 2 == 0 {
            db.delete(b"k", v.as_bytes()).await.unwrap();
            want.push(deleted("k", Some(&v)));
        }
        if i % 3 == 0 {
            db.move_value(b"k", b"k2", v.as_bytes()).await.unwrap();
            if i % 2 == 0 {
                // Not in k any more: the move writes it to k2 only.
                want.push(saved("k2", &v));
            } else {
                want.push(deleted("k", Some(&v)));
                want.push(saved("k2", &v));
            }
        }
    }
    eprintln!("{} changes in {:?}", want.len(), started.elapsed());
    let got = collect_events(&mut stream, b"", want.len(), DEADLINE).await;
    // A few polls more, for late duplicates.
    let mut got = got;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
        got.push(ev);
    }
    let (extra, missing) = differences(&got, &want);
    assert!(
        extra.is_empty() && missing.is_empty(),
        "own changes while polls run back to back:\nextra: {extra:?}\nmissing: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_max_value_size_is_read_once_and_never_reported() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("events_oversized") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let seen = common::Seen::default();
    let db = seen
        .database(&endpoint, &bucket, "big")
        .max_value_size(16)
        .poll_interval(POLL)
        .build()
        .unwrap();
    // Another process, whose limit is the default.
    let other = common::builder(&endpoint, &bucket, "big").build().unwrap();
    let mut stream = db.subscribe().unwrap();
    common::wait_for_poller(&other, &mut stream).await;

    let big = vec![b'x'; 64];
    other.save(b"k", &big).await.unwrap();
    other.save(b"k", b"small").await.unwrap();
    expect(
        &mut stream,
        &[saved("k", "small")],
        "only the value within the limit",
    )
    .await;
    let before = db.requests();
    tokio::time::sleep(POLL * 8).await;
    assert!(
        db.requests() - before >= 4,
        "the listener kept polling: {} requests",
        db.requests() - before
    );
    let big_name = format!("big/{}", layout::value_path(b"k", &big));
    assert_eq!(
        seen.gets_of(&big_name),
        1,
        "the oversized object is read (its answer's head) once, not at every poll"
    );
    assert_eq!(
        seen.gets_of(&format!("big/{}", layout::value_path(b"k", b"small"))),
        1
    );
    expect_nothing(&mut stream, "the oversized value, polls later").await;
    // Its deletion is no event either (it was never reported), and a value within the
    // limit is still heard.
    other.delete(b"k", &big).await.unwrap();
    other.save(b"k", b"after").await.unwrap();
    expect(
        &mut stream,
        &[saved("k", "after")],
        "after the oversized value went",
    )
    .await;
    assert_eq!(seen.gets_of(&big_name), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_poll_names_the_keys_with_concurrent_reads() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("events_first_poll") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let other = common::builder(&endpoint, &bucket, "first")
        .build()
        .unwrap();
    const KEYS: u64 = 16;
    futures_util::stream::iter(0..KEYS)
        .for_each_concurrent(8, |i| {
            let other = other.clone();
            async move { other.save(format!("k{i}").as_bytes(), b"v").await.unwrap() }
        })
        .await;
    let seen = common::Seen::default();
    let db = seen
        .database(&endpoint, &bucket, "first")
        .poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let _stream = db.subscribe().unwrap();
    // The baseline: one listing and one GetObject per key's meta-keys entry.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while db.requests() < 1 + KEYS || seen.in_flight.load(Ordering::SeqCst) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no baseline: {} requests",
            db.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(db.requests(), 1 + KEYS, "a listing and one read per key");
    let most = seen.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most > 1,
        "the meta-keys entries are read concurrently ({most} at most in flight)"
    );
}
