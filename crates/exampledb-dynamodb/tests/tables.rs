//! `ensure_table` on a table another process is creating, against a scripted DynamoDB: a
//! table found CREATING is waited for and gets its time to live; a CreateTable that loses
//! the race checks the winner's keys; a time to live being disabled, or on another
//! attribute, is refused without changing it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use exampledb_core::ErrorKind;
use exampledb_dynamodb::DynamoDatabase;
use exampledb_testkit::net::{HttpStub, StubReply, StubRequest};
use serde_json::{json, Value};

fn answer(status: u16, body: Value) -> StubReply {
    StubReply::Http {
        status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-RequestId".into(), "STUB".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn error(code: &str, message: &str) -> StubReply {
    answer(
        400,
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": message}),
    )
}

fn op(r: &StubRequest) -> String {
    r.header("x-amz-target")
        .unwrap_or_default()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn table(status: &str, key_type: &str) -> Value {
    json!({"Table": {
        "TableName": "stub-table",
        "TableStatus": status,
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "h", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": key_type}, {"AttributeName": "h", "AttributeType": "B"}],
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "LatestStreamArn": "arn:aws:dynamodb:us-east-1:1:table/stub-table/stream/x"
    }})
}

fn db(url: &str) -> DynamoDatabase {
    DynamoDatabase::builder("stub-table")
        .endpoint(url)
        .credentials("AKIDEXAMPLE", "SECRET", None)
        .max_attempts(1)
        .build()
        .unwrap()
}

/// Another process creates the table (with other keys: a string partition key) between
/// our DescribeTable (not found) and our CreateTable (ResourceInUse): ensure_table checks
/// its keys as those of any existing table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_created_by_another_with_other_keys_is_checked() {
    let describes = Arc::new(Mutex::new(0usize));
    let stub = {
        let describes = Arc::clone(&describes);
        HttpStub::start(move |r| match op(r).as_str() {
            "DescribeTable" => {
                let mut d = describes.lock().unwrap();
                *d += 1;
                if *d == 1 {
                    error("ResourceNotFoundException", "Requested resource not found")
                } else {
                    answer(200, table("ACTIVE", "S"))
                }
            }
            "CreateTable" => error("ResourceInUseException", "Table already exists: stub-table"),
            "UpdateTimeToLive" => answer(
                200,
                json!({"TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}}),
            ),
            "DescribeTimeToLive" => answer(
                200,
                json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}}),
            ),
            other => error("ValidationException", &format!("unexpected {other}")),
        })
        .unwrap()
    };
    let result = db(&stub.url()).ensure_table().await;
    assert_eq!(
        result.as_ref().map_err(exampledb_core::Error::kind).err(),
        Some(ErrorKind::InvalidData),
        "ensure_table over a table with a string partition key: {result:?}"
    );
}

/// A table that is CREATING (another process's), TTL not yet enabled: waited for, then
/// its TTL is enabled on exp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_table_is_waited_for_and_ttl_enabled() {
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let stub = {
        let calls = Arc::clone(&calls);
        HttpStub::start(move |r| {
            let op = op(r);
            let mut calls = calls.lock().unwrap();
            calls.push(op.clone());
            let describes = calls.iter().filter(|c| *c == "DescribeTable").count();
            let ttl_set = calls.iter().any(|c| c == "UpdateTimeToLive");
            match op.as_str() {
                "DescribeTable" if describes < 4 => answer(200, table("CREATING", "B")),
                "DescribeTable" => answer(200, table("ACTIVE", "B")),
                "UpdateTimeToLive" => answer(
                    200,
                    json!({"TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}}),
                ),
                "DescribeTimeToLive" if ttl_set => answer(
                    200,
                    json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLING", "AttributeName": "exp"}}),
                ),
                "DescribeTimeToLive" => answer(
                    200,
                    json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
                ),
                other => error("ValidationException", &format!("unexpected {other}")),
            }
        })
        .unwrap()
    };
    tokio::time::timeout(Duration::from_secs(20), db(&stub.url()).ensure_table())
        .await
        .unwrap()
        .unwrap();
    let calls = calls.lock().unwrap();
    assert!(calls.iter().any(|c| c == "UpdateTimeToLive"), "{calls:?}");
}

/// TTL DISABLING and TTL on another attribute: InvalidData saying so, no UpdateTimeToLive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_disabling_or_other_attribute_is_refused() {
    for (ttl, expect) in [
        (
            json!({"TimeToLiveStatus": "DISABLING", "AttributeName": "exp"}),
            "being disabled",
        ),
        (
            json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}),
            "\"expires\"",
        ),
        (
            json!({"TimeToLiveStatus": "ENABLING", "AttributeName": "ttl"}),
            "\"ttl\"",
        ),
    ] {
        let calls = Arc::new(Mutex::new(Vec::<String>::new()));
        let stub = {
            let calls = Arc::clone(&calls);
            let ttl = ttl.clone();
            HttpStub::start(move |r| {
                let op = op(r);
                calls.lock().unwrap().push(op.clone());
                match op.as_str() {
                    "DescribeTable" => answer(200, table("ACTIVE", "B")),
                    "DescribeTimeToLive" => answer(200, json!({"TimeToLiveDescription": ttl})),
                    other => error("ValidationException", &format!("unexpected {other}")),
                }
            })
            .unwrap()
        };
        let err = db(&stub.url()).ensure_table().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c == "UpdateTimeToLive"));
    }
}
