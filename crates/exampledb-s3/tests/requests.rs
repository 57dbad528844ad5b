//! The request budget of every operation (the crate docs' table), counted by the SDK
//! interceptor behind `S3Database::requests()`, against moto; and what fetch concurrency
//! changes (the values: nothing; the requests in flight: counted by an interceptor).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use exampledb_core::layout;
use exampledb_core::ExampleDatabase;
use exampledb_s3::S3Database;
use exampledb_testkit::net::{HttpStub, StubReply};
use futures_util::StreamExt;

/// What `f` returned and how many requests `db` sent meanwhile.
async fn cost<T>(db: &S3Database, f: impl Future<Output = T>) -> (T, u64) {
    let before = db.requests();
    let out = f.await;
    (out, db.requests() - before)
}

fn set(values: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    values.iter().map(|v| v.to_vec()).collect()
}

async fn fetch_set(db: &S3Database, key: &[u8]) -> BTreeSet<Vec<u8>> {
    db.fetch(key)
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_vec())
        .collect()
}

#[tokio::test]
async fn every_operation_sends_its_documented_requests() {
    let Some((endpoint, bucket, db)) = common::database("request_budget", "budget").await else {
        return;
    };
    assert_eq!(
        db.requests(),
        0,
        "nothing is sent before the first operation"
    );
    let (k, k2, k3) = (&b"k"[..], &b"k2"[..], &b"k3"[..]);

    // save: the first under a key writes its meta-keys entry too.
    let (r, n) = cost(&db, db.save(k, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 2, "first save under a key: meta-keys entry + value");
    let objects = common::object_names(&endpoint, &bucket, "budget/").await;
    let mut want = vec![
        format!("budget/{}", layout::metakey_path(k)),
        format!("budget/{}", layout::value_path(k, b"v1")),
    ];
    want.sort();
    assert_eq!(objects, want);
    let head = |name: String| {
        let client = common::raw_client(&endpoint);
        let bucket = bucket.clone();
        async move {
            let h = client
                .head_object()
                .bucket(bucket)
                .key(name)
                .send()
                .await
                .unwrap();
            (h.e_tag().map(str::to_owned), h.last_modified().copied())
        }
    };
    let before = head(format!("budget/{}", layout::value_path(k, b"v1"))).await;
    // A re-save of a stored value: one conditional PutObject, and nothing changes.
    tokio::time::sleep(Duration::from_millis(1100)).await; // Last-Modified has 1 s steps
    let (r, n) = cost(&db, db.save(k, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 1, "re-save: one conditional PutObject");
    assert_eq!(
        head(format!("budget/{}", layout::value_path(k, b"v1"))).await,
        before,
        "a re-save must not rewrite the object (If-None-Match: *)"
    );
    assert_eq!(
        common::object_names(&endpoint, &bucket, "budget/").await,
        objects
    );
    let (r, n) = cost(&db, db.save(k, b"v2")).await;
    r.unwrap();
    assert_eq!(
        n, 1,
        "save under a key whose entry this process wrote within metakeys_refresh (1 h): one PutObject"
    );

    // fetch: one listing, one GetObject per value.
    let (values, n) = cost(&db, fetch_set(&db, k)).await;
    assert_eq!(values, set(&[b"v1", b"v2"]));
    assert_eq!(n, 3, "fetch of 2 values: ListObjectsV2 + 2 GetObject");
    let (values, n) = cost(&db, fetch_set(&db, b"unknown")).await;
    assert!(values.is_empty());
    assert_eq!(n, 1, "fetch of an unknown key: one listing");

    // keys: one listing + one GetObject per key holding values (k3's entry outlives its
    // only value, so it is neither listed nor read).
    db.save(k2, b"x").await.unwrap();
    db.save(k3, b"y").await.unwrap();
    db.delete(k3, b"y").await.unwrap();
    let (keys, n) = cost(&db, db.keys()).await;
    let keys: BTreeSet<Vec<u8>> = keys.unwrap().iter().map(|k| k.to_vec()).collect();
    assert_eq!(keys, set(&[k, k2]));
    assert_eq!(n, 3, "keys(): ListObjectsV2 + a GetObject per listed key");

    // delete: one DeleteObject, whether the value was there or not.
    let (r, n) = cost(&db, db.delete(k, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 1);
    let (r, n) = cost(&db, db.delete(k, b"absent")).await;
    r.unwrap();
    assert_eq!(n, 1);
    assert_eq!(fetch_set(&db, k).await, set(&[b"v2"]));

    // move between recorded keys: CopyObject + DeleteObject.
    let (r, n) = cost(&db, db.move_value(k, k2, b"v2")).await;
    r.unwrap();
    assert_eq!(n, 2, "move: CopyObject + DeleteObject");
    assert!(fetch_set(&db, k).await.is_empty());
    assert_eq!(fetch_set(&db, k2).await, set(&[b"x", b"v2"]));
    // A move of a value src lacks: the copy finds nothing (404), so the value is
    // written to dest (PutObject) and there is nothing to delete.
    let (r, n) = cost(&db, db.move_value(k, k2, b"never saved")).await;
    r.unwrap();
    assert_eq!(
        n, 2,
        "move of a value src lacks: CopyObject (404) + PutObject"
    );
    assert_eq!(
        fetch_set(&db, k2).await,
        set(&[b"x", b"v2", b"never saved"])
    );
    // To a key this process never saved under: its meta-keys entry first.
    let (r, n) = cost(&db, db.move_value(k2, b"k4", b"x")).await;
    r.unwrap();
    assert_eq!(
        n, 3,
        "move to a new key: meta-keys entry + CopyObject + DeleteObject"
    );
    assert_eq!(fetch_set(&db, b"k4").await, set(&[b"x"]));
    // Onto itself: a save of a stored value.
    let (r, n) = cost(&db, db.move_value(k2, k2, b"v2")).await;
    r.unwrap();
    assert_eq!(n, 1);

    // Another process (its own handle) saving under a key: its first save writes the
    // meta-keys entry again (a plain PutObject: the same bytes, its age restarts).
    let other = common::builder(&endpoint, &bucket, "budget")
        .build()
        .unwrap();
    let (r, n) = cost(&other, other.save(k2, b"v2")).await;
    r.unwrap();
    assert_eq!(n, 2);
    let (r, n) = cost(&other, other.save(k2, b"v3")).await;
    r.unwrap();
    assert_eq!(n, 1);
    // Clones share the counter.
    let clone = db.clone();
    let before = db.requests();
    clone.fetch(b"unknown").await.unwrap();
    assert_eq!(db.requests(), before + 1);
}

/// Waits until `db`'s poller has sent its first listing (the baseline).
async fn wait_for_baseline(db: &S3Database, before: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while db.requests() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no baseline listing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the listing's answer arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_listener_costs_one_head_object_more_on_delete_and_move() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("listener_budget") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    // No poll within the test but the first (the baseline): only the operations count.
    let db = common::builder(&endpoint, &bucket, "listening")
        .poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    db.save(b"k2", b"seed").await.unwrap(); // k2 recorded
    let before = db.requests();
    let mut events = db.subscribe().unwrap();
    wait_for_baseline(&db, before).await;
    // The baseline read the meta-keys entry of k2: one listing + one GetObject.
    assert_eq!(db.requests() - before, 2, "baseline: listing + k2's entry");

    let (r, n) = cost(&db, db.save(b"k", b"v")).await;
    r.unwrap();
    assert_eq!(n, 2, "save costs no more while someone listens");
    let (r, n) = cost(&db, db.save(b"k", b"v")).await;
    r.unwrap();
    assert_eq!(n, 1);
    let (r, n) = cost(&db, db.delete(b"k", b"v")).await;
    r.unwrap();
    assert_eq!(n, 2, "delete while listening: HeadObject + DeleteObject");
    db.save(b"k", b"w").await.unwrap();
    let (r, n) = cost(&db, db.move_value(b"k", b"k2", b"w")).await;
    r.unwrap();
    assert_eq!(
        n, 3,
        "move while listening: HeadObject + CopyObject + DeleteObject"
    );
    let got: Vec<_> = events.by_ref().take(4).collect().await;
    assert_eq!(got.len(), 4, "{got:?}");
    drop(events);
    // Nobody listens any more: back to the plain budget.
    let (r, n) = cost(&db, db.delete(b"k2", b"w")).await;
    r.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_concurrency_changes_requests_in_flight_not_values() {
    let Some((endpoint, bucket, db)) = common::database("fetch_concurrency", "conc").await else {
        return;
    };
    let values: Vec<Vec<u8>> = (0..64u32)
        .map(|i| format!("value {i}").into_bytes())
        .collect();
    db.save(b"k", &values[0]).await.unwrap();
    futures_util::stream::iter(&values[1..])
        .for_each_concurrent(16, |v| {
            let db = db.clone();
            async move { db.save(b"k", v).await.unwrap() }
        })
        .await;
    let want: BTreeSet<Vec<u8>> = values.iter().cloned().collect();

    let mut most = Vec::new();
    for concurrency in [1, 32] {
        // The user's own client (the database adds its request counter to it), with an
        // interceptor of the test's counting requests in flight.
        let seen = common::Seen::default();
        let reader = seen
            .database(&endpoint, &bucket, "conc")
            .fetch_concurrency(concurrency)
            .build()
            .unwrap();
        let (got, n) = cost(&reader, fetch_set(&reader, b"k")).await;
        assert_eq!(got, want, "fetch_concurrency {concurrency}");
        assert_eq!(n, 65, "one listing and 64 GetObjects");
        most.push(seen.most_in_flight.load(Ordering::SeqCst));
    }
    assert_eq!(most[0], 1, "fetch_concurrency 1: one request at a time");
    assert!(
        most[1] > 1 && most[1] <= 32,
        "fetch_concurrency 32: several requests in flight, at most 32 ({most:?})"
    );
}

#[tokio::test]
async fn a_key_with_more_than_a_thousand_objects_is_listed_in_pages() {
    // keys() against moto: 1,001 value objects of one key (written by the raw client,
    // concurrently) + its meta-keys entry: two pages, and one GetObject for the entry.
    let Some((endpoint, bucket, db)) = common::database("pagination", "pages").await else {
        return;
    };
    db.save(b"k", b"v0").await.unwrap();
    let started = std::time::Instant::now();
    futures_util::stream::iter(1..1001u32)
        .for_each_concurrent(32, |i| {
            let (endpoint, bucket) = (endpoint.clone(), bucket.clone());
            async move {
                let v = format!("v{i}");
                let name = format!("pages/{}", layout::value_path(b"k", v.as_bytes()));
                common::put_raw(&endpoint, &bucket, &name, v.as_bytes()).await;
            }
        })
        .await;
    eprintln!("1,000 PutObjects in {:?}", started.elapsed());
    let (keys, n) = cost(&db, db.keys()).await;
    assert_eq!(keys.unwrap(), vec![exampledb_core::bytes::Bytes::from("k")]);
    assert_eq!(
        n, 3,
        "keys(): 2 listing pages (1,002 objects) + 1 GetObject"
    );
}

/// A stand-in for S3's ListObjectsV2 with pages of two names (moto's page size is 1,000
/// and cannot be lowered) and GetObject answering each object's name as its content.
fn paged_listing_stub(names: Vec<String>) -> HttpStub {
    HttpStub::start(move |r| {
        let path = r.target.split('?').next().unwrap_or("");
        if r.method == "GET" && r.target.contains("list-type=2") {
            let start: usize = r
                .target
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("continuation-token="))
                .map_or(0, |t| t.parse().unwrap());
            let page = &names[start..(start + 2).min(names.len())];
            let next = start + page.len();
            let truncated = next < names.len();
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>paged</Name>",
            );
            for n in page {
                xml.push_str(&format!(
                    "<Contents><Key>{n}</Key><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
                ));
            }
            xml.push_str(&format!(
                "<KeyCount>{}</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
                page.len()
            ));
            if truncated {
                xml.push_str(&format!("<NextContinuationToken>{next}</NextContinuationToken>"));
            }
            xml.push_str("</ListBucketResult>");
            StubReply::http(200, "application/xml", xml)
        } else if r.method == "GET" {
            // With an ETag, as every S3 GetObject answer.
            let name = path.trim_start_matches("/paged/").to_owned();
            StubReply::Http {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/octet-stream".into()),
                    ("ETag".into(), "\"0123\"".into()),
                ],
                body: name.into_bytes(),
            }
        } else {
            StubReply::http(500, "text/plain", "unexpected")
        }
    })
    .unwrap()
}

#[tokio::test]
async fn fetch_reads_every_page_of_a_listing() {
    let names: Vec<String> = (0..5)
        .map(|i| format!("p/{}", layout::value_path(b"k", format!("v{i}").as_bytes())))
        .collect();
    let stub = paged_listing_stub(names.clone());
    let db = common::stub_builder(&stub.url(), "paged").build().unwrap();
    let (got, n) = cost(&db, fetch_set(&db, b"k")).await;
    let want: BTreeSet<Vec<u8>> = names.iter().map(|n| n.clone().into_bytes()).collect();
    assert_eq!(got, want, "every page's values");
    assert_eq!(n, 3 + 5, "ceil(5 / 2) listings + 5 GetObjects");
    assert_eq!(stub.request_count(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_saves_under_a_key_write_its_entry_once() {
    let Some((_, _, db)) = common::database(
        "concurrent_first_saves_under_a_key_write_its_entry_once",
        "p",
    )
    .await
    else {
        return;
    };
    let (_, sent) = cost(&db, async {
        futures_util::stream::iter(0..32u8)
            .map(|i| {
                let db = db.clone();
                async move { db.save(b"k", &[i]).await.unwrap() }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await
    })
    .await;
    assert_eq!(sent, 33, "32 value PutObjects and one meta-keys entry");
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 32);
}

#[tokio::test]
async fn a_lost_metakeys_entry_comes_back_with_the_next_save_after_metakeys_refresh() {
    // A key's meta-keys entry deleted behind the database's back (lifecycle expiry,
    // `aws s3 sync --delete`): the key is not listed until a save writes the entry again,
    // which the saving process does once its own write of it is metakeys_refresh old.
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("metakeys_refresh") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let entry = format!("mk/{}", layout::metakey_path(b"k"));
    let lose_entry = || {
        let (client, bucket, entry) =
            (common::raw_client(&endpoint), bucket.clone(), entry.clone());
        async move {
            client
                .delete_object()
                .bucket(bucket)
                .key(entry)
                .send()
                .await
                .unwrap();
        }
    };

    // Zero (here from the option's string form): the entry is written at every save.
    let db = common::builder(&endpoint, &bucket, "mk")
        .with_option("metakeys_refresh", "0s")
        .unwrap()
        .build()
        .unwrap();
    let (r, n) = cost(&db, db.save(b"k", b"v1")).await;
    r.unwrap();
    assert_eq!(n, 2, "entry + value");
    lose_entry().await;
    assert!(db.keys().await.unwrap().is_empty(), "no entry, no key");
    let (r, n) = cost(&db, db.save(b"k", b"v2")).await;
    r.unwrap();
    assert_eq!(n, 2, "metakeys_refresh 0: entry + value at every save");
    assert_eq!(
        db.keys().await.unwrap(),
        vec!["k"],
        "the key is listed again"
    );
    // Written again even when the value is stored already.
    lose_entry().await;
    db.save(b"k", b"v1").await.unwrap();
    assert_eq!(db.keys().await.unwrap(), vec!["k"]);

    // A short refresh: within it one PutObject per save; after it the entry again.
    let db = common::builder(&endpoint, &bucket, "mk")
        .metakeys_refresh(Duration::from_millis(500))
        .build()
        .unwrap();
    let (r, n) = cost(&db, db.save(b"k", b"v3")).await;
    r.unwrap();
    assert_eq!(n, 2, "the first save of this process: entry + value");
    lose_entry().await;
    let (r, n) = cost(&db, db.save(b"k", b"v4")).await;
    r.unwrap();
    assert_eq!(n, 1, "within metakeys_refresh: the value only");
    assert!(db.keys().await.unwrap().is_empty(), "not written yet");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (r, n) = cost(&db, db.save(b"k", b"v5")).await;
    r.unwrap();
    assert_eq!(n, 2, "after metakeys_refresh: entry + value");
    assert_eq!(db.keys().await.unwrap(), vec!["k"]);
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 5);
    // A move into the key writes it again the same way.
    lose_entry().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    db.save(b"src", b"moved").await.unwrap();
    db.move_value(b"src", b"k", b"moved").await.unwrap();
    assert_eq!(db.keys().await.unwrap(), vec!["k"]);
}
