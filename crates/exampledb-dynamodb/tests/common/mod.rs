//! What the DynamoDB tests share: a fresh table on the test server (moto) per test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use exampledb_dynamodb::aws_sdk_dynamodb;
use exampledb_dynamodb::aws_sdk_dynamodb::primitives::Blob;
use exampledb_dynamodb::aws_sdk_dynamodb::types::AttributeValue;
use exampledb_dynamodb::{DynamoDatabase, DynamoDatabaseBuilder};
use exampledb_testkit::services::s3_endpoint;
use exampledb_testkit::{hex, unique_prefix};

/// moto accepts any credentials.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing-secret";

/// A table name no other test uses.
pub fn fresh_table() -> String {
    let suffix = hex(&unique_prefix());
    format!("exampledb-{}", &suffix[suffix.len() - 24..])
}

/// Settings for `table` on the test server.
pub fn builder(endpoint: &str, table: &str) -> DynamoDatabaseBuilder {
    DynamoDatabase::builder(table)
        .endpoint(endpoint)
        .credentials(ACCESS_KEY, SECRET_KEY, None)
        .poll_interval(Duration::from_millis(100))
}

/// The test server (moto serves DynamoDB and Streams where it serves S3) and a database on
/// a fresh table, created; `None` (skipped or failed) without a server.
pub async fn database(test: &str) -> Option<(String, String, DynamoDatabase)> {
    let endpoint = s3_endpoint(test)?;
    let table = fresh_table();
    let db = builder(&endpoint, &table).build().unwrap();
    db.ensure_table().await.unwrap();
    Some((endpoint, table, db))
}

/// A client of the test server, for setting up and inspecting tables.
pub fn raw_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The partition key of `key` under the default prefix.
pub fn partition(key: &[u8]) -> Vec<u8> {
    [exampledb_dynamodb::DEFAULT_KEY_PREFIX, key].concat()
}

/// The SHA-384 of `value`: its item's sort key.
pub fn sort_key(value: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha384::digest(value).to_vec()
}

/// Writes the item of `value` under `key` (default prefix) directly, with `exp` if given:
/// what another writer (or a past one) left in the table.
pub async fn put_raw(endpoint: &str, table: &str, key: &[u8], value: &[u8], exp: Option<u64>) {
    let mut put = raw_client(endpoint)
        .put_item()
        .table_name(table)
        .item("k", AttributeValue::B(Blob::new(partition(key))))
        .item("h", AttributeValue::B(Blob::new(sort_key(value))))
        .item("v", AttributeValue::B(Blob::new(value)));
    if let Some(exp) = exp {
        put = put.item("exp", AttributeValue::N(exp.to_string()));
    }
    put.send().await.unwrap();
}

/// The `exp` of `value`'s item under `key`: `None` when the item is missing, `Some(None)`
/// when it has no `exp`.
pub async fn raw_exp(endpoint: &str, table: &str, key: &[u8], value: &[u8]) -> Option<Option<u64>> {
    let got = raw_client(endpoint)
        .get_item()
        .table_name(table)
        .key("k", AttributeValue::B(Blob::new(partition(key))))
        .key("h", AttributeValue::B(Blob::new(sort_key(value))))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = got.item()?;
    Some(item.get("exp").map(|n| n.as_n().unwrap().parse().unwrap()))
}

/// Every item in `table`, as `(partition key, value)`.
pub async fn raw_items(endpoint: &str, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = raw_client(endpoint)
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let b = |n: &str| Some(item.get(n)?.as_b().ok()?.as_ref().to_vec());
            // Items not of the layout (a test's foreign items) have an empty value here.
            out.push((b("k").unwrap_or_default(), b("v").unwrap_or_default()));
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    out.sort();
    out
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Python source defining `db`: the boto3 example database a Hypothesis user writes by
/// hand (as `shared/bench/anchor_python_dynamodb.py`: a subclass of Hypothesis's
/// `ExampleDatabase`, one item per value, no `exp`), on the server `sys.argv[1]` and the
/// table `sys.argv[2]`.
pub const PY_DATABASE: &str = r#"
import sys
from hashlib import sha384
import boto3
from hypothesis.database import ExampleDatabase

PREFIX = b"hypothesis-example:"

class DynamoExampleDatabase(ExampleDatabase):
    def __init__(self, client, table):
        super().__init__()
        self.ddb, self.table = client, table

    def save(self, key, value):
        self.ddb.put_item(TableName=self.table, Item={
            "k": {"B": PREFIX + key}, "h": {"B": sha384(value).digest()}, "v": {"B": value}})

    def fetch(self, key):
        pages = self.ddb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="k = :k",
            ExpressionAttributeValues={":k": {"B": PREFIX + key}})
        for page in pages:
            for item in page["Items"]:
                yield item["v"]["B"]

    def delete(self, key, value):
        self.ddb.delete_item(TableName=self.table, Key={
            "k": {"B": PREFIX + key}, "h": {"B": sha384(value).digest()}})

client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing-secret")
db = DynamoExampleDatabase(client, sys.argv[2])
"#;
