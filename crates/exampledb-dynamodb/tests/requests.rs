//! The request budget of every operation (the crate docs' table), counted by the SDK
//! interceptor behind `DynamoDatabase::requests()`, against moto; and what each request
//! leaves in the table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::future::Future;

use exampledb_core::ExampleDatabase;
use exampledb_dynamodb::DynamoDatabase;

/// What `f` returned and how many requests `db` sent meanwhile.
async fn cost<T>(db: &DynamoDatabase, f: impl Future<Output = T>) -> (T, u64) {
    let before = db.requests();
    let out = f.await;
    (out, db.requests() - before)
}

async fn fetch_set(db: &DynamoDatabase, key: &[u8]) -> BTreeSet<Vec<u8>> {
    db.fetch(key)
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_vec())
        .collect()
}

fn set(values: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    values.iter().map(|v| v.to_vec()).collect()
}

#[tokio::test]
async fn every_operation_sends_its_documented_requests() {
    let Some((endpoint, table, db)) = common::database("dynamodb_request_budget").await else {
        return;
    };
    let (k, k2) = (&b"k"[..], &b"k2"[..]);

    let (r, n) = cost(&db, db.save(k, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 1, "save: one PutItem");
    let (r, n) = cost(&db, db.save(k, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 1, "a save of a stored value: one (conditional) PutItem");
    db.save(k, b"v2").await.unwrap();
    assert_eq!(
        common::raw_items(&endpoint, &table).await,
        vec![
            (common::partition(k), b"v1".to_vec()),
            (common::partition(k), b"v2".to_vec()),
        ]
    );

    let (got, n) = cost(&db, fetch_set(&db, k)).await;
    assert_eq!(got, set(&[b"v1", b"v2"]));
    assert_eq!(n, 1, "fetch of fresh items: one Query");
    let (got, n) = cost(&db, fetch_set(&db, b"nothing here")).await;
    assert!(got.is_empty());
    assert_eq!(n, 1, "fetch of an empty key: one Query");

    let (r, n) = cost(&db, db.move_value(k, k2, b"v1")).await;
    r.unwrap();
    assert_eq!(n, 1, "move: one TransactWriteItems");
    assert_eq!(fetch_set(&db, k).await, set(&[b"v2"]));
    assert_eq!(fetch_set(&db, k2).await, set(&[b"v1"]));
    // A move whose source lacks the value still puts it into dest (Hypothesis's rule).
    let (r, n) = cost(&db, db.move_value(k, k2, b"v3")).await;
    r.unwrap();
    assert_eq!(n, 1, "move of a value src lacks: one TransactWriteItems");
    assert_eq!(fetch_set(&db, k2).await, set(&[b"v1", b"v3"]));

    let (r, n) = cost(&db, db.delete(k, b"v2")).await;
    r.unwrap();
    assert_eq!(n, 1, "delete: one DeleteItem");
    let (r, n) = cost(&db, db.delete(k, b"v2")).await;
    r.unwrap();
    assert_eq!(n, 1, "delete of a missing value: one DeleteItem");

    let (keys, n) = cost(&db, db.keys()).await;
    let keys: BTreeSet<Vec<u8>> = keys.unwrap().iter().map(|k| k.to_vec()).collect();
    assert_eq!(keys, set(&[k2]));
    assert_eq!(n, 1, "keys on a small table: one Scan");

    let (r, n) = cost(&db, db.check()).await;
    r.unwrap();
    assert_eq!(n, 1, "check: one DescribeTable");
}

/// A key whose items take more than one 1 MB page: fetch reads every page (one Query
/// each), and keys() reads every Scan page.
#[tokio::test]
async fn fetch_and_keys_read_every_page() {
    let Some((_, _, db)) = common::database("dynamodb_pages").await else {
        return;
    };
    // 12 values of 200 KB: 2.4 MB under one key, three 1 MB pages or more.
    let values: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 200_000]).collect();
    for v in &values {
        db.save(b"big", v).await.unwrap();
    }
    let (got, n) = cost(&db, fetch_set(&db, b"big")).await;
    assert_eq!(got, values.iter().cloned().collect::<BTreeSet<_>>());
    assert!(
        (3..=4).contains(&n),
        "a 2.4 MB key: one Query per 1 MB page, got {n}"
    );
    let (keys, n) = cost(&db, db.keys()).await;
    assert_eq!(keys.unwrap(), vec![bytes::Bytes::from_static(b"big")]);
    assert!(
        n >= 1,
        "keys: a Scan projecting the key (one page here), got {n}"
    );
}

/// Two databases with different key prefixes share one table without seeing each other.
#[tokio::test]
async fn prefixes_share_a_table() {
    let Some((endpoint, table, db)) = common::database("dynamodb_prefixes").await else {
        return;
    };
    let other = common::builder(&endpoint, &table)
        .key_prefix(b"other-project:".to_vec())
        .build()
        .unwrap();
    db.save(b"k", b"ours").await.unwrap();
    other.save(b"k", b"theirs").await.unwrap();
    other.save(b"only-theirs", b"x").await.unwrap();
    assert_eq!(fetch_set(&db, b"k").await, set(&[b"ours"]));
    assert_eq!(fetch_set(&other, b"k").await, set(&[b"theirs"]));
    let keys: BTreeSet<Vec<u8>> = db
        .keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys, set(&[b"k"]));
    let keys: BTreeSet<Vec<u8>> = other
        .keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys, set(&[b"k", b"only-theirs"]));
}

/// An item under the database's prefix that is not of the layout (its `v` is a string,
/// not binary): fetch leaves it out, and so does keys(); it is never changed.
#[tokio::test]
async fn items_not_of_the_layout_are_neither_fetched_nor_listed() {
    use exampledb_dynamodb::aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};
    let Some((endpoint, table, db)) = common::database("dynamodb_not_the_layout").await else {
        return;
    };
    common::raw_client(&endpoint)
        .put_item()
        .table_name(&table)
        .item(
            "k",
            AttributeValue::B(Blob::new(common::partition(b"foreign"))),
        )
        .item("h", AttributeValue::B(Blob::new(b"x".to_vec())))
        .item("v", AttributeValue::S("a string, not binary".into()))
        .send()
        .await
        .unwrap();
    db.save(b"ours", b"v").await.unwrap();
    assert!(db.fetch(b"foreign").await.unwrap().is_empty());
    let (keys, requests) = cost(&db, db.keys()).await;
    assert_eq!(
        keys.unwrap(),
        [b"ours".as_slice()],
        "keys() lists only keys fetch shows"
    );
    assert_eq!(requests, 1, "one Scan");
    assert_eq!(common::raw_items(&endpoint, &table).await.len(), 2);
}
