//! Expiry with a short time to live, against moto (which, like every local server, never
//! deletes expired items): expired items are left out of fetch and keys; items with less
//! than half their lifetime left are refreshed, once, by fetch and by save; fresh items
//! are not rewritten; items without `exp` (the boto3 database a Hypothesis user writes by
//! hand) never expire and are never rewritten.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use exampledb_core::ExampleDatabase;

const TTL: u64 = 1000;

#[tokio::test]
async fn expired_items_are_left_out_and_stale_ones_refreshed_once() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_expiry") else {
        return;
    };
    let table = common::fresh_table();
    let db = common::builder(&endpoint, &table)
        .expire_after(Duration::from_secs(TTL))
        .build()
        .unwrap();
    db.ensure_table().await.unwrap();
    let now = common::now();

    // What a save writes: exp = now + TTL.
    db.save(b"k", b"saved").await.unwrap();
    let exp = common::raw_exp(&endpoint, &table, b"k", b"saved")
        .await
        .unwrap()
        .unwrap();
    assert!(
        (now + TTL..=common::now() + TTL).contains(&exp),
        "exp {exp} is now + {TTL} s"
    );

    // Items another writer left: expired, stale (less than half their lifetime left),
    // fresh, and without exp.
    common::put_raw(&endpoint, &table, b"k", b"expired", Some(now - 1)).await;
    common::put_raw(&endpoint, &table, b"k", b"stale", Some(now + TTL / 4)).await;
    common::put_raw(&endpoint, &table, b"k", b"fresh", Some(now + TTL * 3 / 4)).await;
    common::put_raw(&endpoint, &table, b"k", b"no exp", None).await;
    common::put_raw(&endpoint, &table, b"gone", b"expired", Some(now - 1)).await;

    let before = db.requests();
    let mut got: Vec<Vec<u8>> = db
        .fetch(b"k")
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_vec())
        .collect();
    got.sort();
    let want: Vec<Vec<u8>> = [&b"fresh"[..], b"no exp", b"saved", b"stale"]
        .iter()
        .map(|v| v.to_vec())
        .collect();
    assert_eq!(got, want, "the expired item is left out");
    assert_eq!(
        db.requests() - before,
        2,
        "one Query and one UpdateItem: only the stale item is refreshed"
    );
    let refreshed = common::raw_exp(&endpoint, &table, b"k", b"stale")
        .await
        .unwrap()
        .unwrap();
    assert!(
        refreshed >= now + TTL,
        "refreshed to now + TTL: {refreshed}"
    );
    assert_eq!(
        common::raw_exp(&endpoint, &table, b"k", b"fresh").await,
        Some(Some(now + TTL * 3 / 4)),
        "a fresh item is not rewritten"
    );
    assert_eq!(
        common::raw_exp(&endpoint, &table, b"k", b"no exp").await,
        Some(None),
        "an item without exp is left as it is"
    );
    assert_eq!(
        common::raw_exp(&endpoint, &table, b"k", b"expired").await,
        Some(Some(now - 1)),
        "an expired item is not revived by a fetch"
    );

    // A second fetch refreshes nothing.
    let before = db.requests();
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 4);
    assert_eq!(db.requests() - before, 1, "nothing left to refresh");

    // keys() leaves out a key whose only item has expired.
    let keys = db.keys().await.unwrap();
    assert_eq!(keys, vec![bytes::Bytes::from_static(b"k")]);

    // A save of an expired value brings it back with a new lifetime; a save of a stale
    // one refreshes it; a save of a fresh one writes nothing.
    db.save(b"gone", b"expired").await.unwrap();
    assert_eq!(db.fetch(b"gone").await.unwrap().len(), 1);
    assert!(
        common::raw_exp(&endpoint, &table, b"gone", b"expired")
            .await
            .unwrap()
            .unwrap()
            >= now + TTL
    );
    common::put_raw(&endpoint, &table, b"s", b"stale", Some(now + TTL / 4)).await;
    db.save(b"s", b"stale").await.unwrap();
    assert!(
        common::raw_exp(&endpoint, &table, b"s", b"stale")
            .await
            .unwrap()
            .unwrap()
            >= now + TTL
    );
    common::put_raw(&endpoint, &table, b"s", b"fresh", Some(now + TTL * 3 / 4)).await;
    db.save(b"s", b"fresh").await.unwrap();
    assert_eq!(
        common::raw_exp(&endpoint, &table, b"s", b"fresh").await,
        Some(Some(now + TTL * 3 / 4))
    );
}

/// Real time passing: with a 2 s lifetime a saved value is gone from fetch and keys
/// after about 2 s, with nothing deleting it (moto never does).
#[tokio::test]
async fn a_short_lifetime_runs_out() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_short_ttl") else {
        return;
    };
    let table = common::fresh_table();
    let db = common::builder(&endpoint, &table)
        .expire_after(Duration::from_secs(2))
        .build()
        .unwrap();
    db.ensure_table().await.unwrap();
    db.save(b"k", b"v").await.unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
    // exp is whole seconds: after 3.1 s it has passed whatever the sub-second start.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(db.fetch(b"k").await.unwrap().is_empty());
    assert!(db.keys().await.unwrap().is_empty());
    assert_eq!(
        common::raw_items(&endpoint, &table).await.len(),
        1,
        "still in the table: filtered on read, not deleted"
    );
}

/// Credentials that may read but not write (a CI reader): the refresh of stale values is
/// refused, and the fetch still returns them (the refusal is logged). A stand-in server
/// answers Query with two stale items and UpdateItem with AccessDeniedException.
#[tokio::test]
async fn a_refused_refresh_does_not_fail_the_fetch() {
    use exampledb_testkit::net::{HttpStub, StubReply};
    let exp = common::now() + 60; // a minute left of eight days: stale
    let item = |value_b64: &str| {
        format!(
            r#"{{"k":{{"B":"aHlwb3RoZXNpcy1leGFtcGxlOms="}},"h":{{"B":"aA=="}},"v":{{"B":"{value_b64}"}},"exp":{{"N":"{exp}"}}}}"#
        )
    };
    let query = format!(
        r#"{{"Count":2,"ScannedCount":2,"Items":[{},{}]}}"#,
        item("c3RhbGUgb25l"),
        item("c3RhbGUgdHdv")
    );
    let stub = HttpStub::start(move |request| {
        let target = request.header("x-amz-target").unwrap_or_default();
        let (status, body) = if target.ends_with(".Query") {
            (200, query.clone())
        } else {
            (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"not allowed to dynamodb:UpdateItem"}"#.to_owned(),
            )
        };
        StubReply::Http {
            status,
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.0".into()),
                ("x-amzn-RequestId".into(), "STUB".into()),
            ],
            body: body.into_bytes(),
        }
    })
    .unwrap();
    let db = exampledb_dynamodb::DynamoDatabase::builder("stub-table")
        .endpoint(stub.url())
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .build()
        .unwrap();
    let mut got: Vec<Vec<u8>> = db
        .fetch(b"k")
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_vec())
        .collect();
    got.sort();
    assert_eq!(got, vec![b"stale one".to_vec(), b"stale two".to_vec()]);
    let updates = stub
        .requests()
        .iter()
        .filter(|r| {
            r.header("x-amz-target")
                .is_some_and(|t| t.ends_with(".UpdateItem"))
        })
        .count();
    assert_eq!(updates, 2, "each stale value's refresh was tried once");
}
