//! Bad input and faults: values and keys too large (typed, before any request), a missing
//! table, tables of the wrong shape, servers that stop, freeze, throttle, fail or are not
//! DynamoDB at all (testkit stand-ins), and credentials that never appear in messages or
//! `Debug`. Every error names the table and the operation and has the kind a caller acts
//! on; no operation hangs past its timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use exampledb_core::{Error, ErrorKind, ExampleDatabase};
use exampledb_dynamodb::aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use exampledb_dynamodb::{DynamoDatabase, DynamoDatabaseBuilder};
use exampledb_testkit::net::{HttpStub, ProxyMode, StubReply, TcpProxy};

/// Generous slack over a configured timeout, for a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(10);

/// The result of every operation once on `db`, with small arguments.
async fn every_operation(db: &DynamoDatabase) -> Vec<(&'static str, exampledb_core::Result<()>)> {
    vec![
        ("check", db.check().await),
        ("save", db.save(b"k", b"v").await),
        ("fetch", db.fetch(b"k").await.map(drop)),
        ("delete", db.delete(b"k", b"v").await),
        ("move", db.move_value(b"k", b"k2", b"v").await),
        ("keys", db.keys().await.map(drop)),
    ]
}

fn stub_builder(url: &str) -> DynamoDatabaseBuilder {
    DynamoDatabase::builder("stub-table")
        .endpoint(url)
        .credentials(common::ACCESS_KEY, "SECRETSECRETSECRET", None)
        .connect_timeout(Duration::from_millis(500))
        .operation_timeout(Duration::from_secs(4))
        .max_attempts(2)
}

/// A DynamoDB JSON error answer, as the service sends it.
fn dynamodb_error(status: u16, code: &str, message: &str) -> StubReply {
    StubReply::Http {
        status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-RequestId".into(), "STUBREQUESTID".into()),
        ],
        body: format!(
            "{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{code}\",\"message\":\"{message}\"}}"
        )
        .into_bytes(),
    }
}

fn assert_names_table(err: &Error, table: &str, what: &str) {
    let message = err.to_string();
    assert!(
        message.contains(&format!("dynamodb://{table}")),
        "{what}: {message}"
    );
    assert!(!message.contains("SECRETSECRET"), "{what}: {message}");
    assert!(
        !format!("{err:?}").contains("SECRETSECRET"),
        "{what}: {err:?}"
    );
}

#[tokio::test]
async fn too_large_keys_and_values_are_refused_before_any_request() {
    let Some((endpoint, table, db)) = common::database("dynamodb_too_large").await else {
        return;
    };
    let prefix = exampledb_dynamodb::DEFAULT_KEY_PREFIX.len();
    let long_key = vec![b'k'; 2048 - prefix + 1];
    let huge = vec![7u8; 400 * 1024];
    let before = db.requests();
    for (what, result) in [
        ("save, key", db.save(&long_key, b"v").await),
        ("fetch, key", db.fetch(&long_key).await.map(drop)),
        ("delete, key", db.delete(&long_key, b"v").await),
        ("move, src", db.move_value(&long_key, b"k", b"v").await),
        ("move, dest", db.move_value(b"k", &long_key, b"v").await),
        ("save, value", db.save(b"k", &huge).await),
        ("move, value", db.move_value(b"a", b"b", &huge).await),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{what}: {err}");
        assert!(matches!(err, Error::TooLarge { .. }), "{what}: {err:?}");
        assert_names_table(&err, &table, what);
    }
    assert_eq!(db.requests(), before, "nothing was sent");
    // The largest key that fits works, and nothing else was written.
    let max_key = vec![b'k'; 2048 - prefix];
    db.save(&max_key, b"v").await.unwrap();
    assert_eq!(db.fetch(&max_key).await.unwrap().len(), 1);
    assert_eq!(common::raw_items(&endpoint, &table).await.len(), 1);
}

#[tokio::test]
async fn a_missing_table_is_not_found_for_every_operation() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_missing_table") else {
        return;
    };
    let table = common::fresh_table();
    let db = common::builder(&endpoint, &table).build().unwrap();
    for (what, result) in every_operation(&db).await {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{what}: {err}");
        assert!(!err.is_temporary(), "{what}: {err}");
        assert!(err.to_string().contains("does not exist"), "{what}: {err}");
        assert_names_table(&err, &table, what);
    }
    // ensure_table creates it; then everything works.
    db.ensure_table().await.unwrap();
    for (what, result) in every_operation(&db).await {
        result.unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // A second ensure_table finds it as it should be.
    db.ensure_table().await.unwrap();
}

/// A key attribute: its name, its role, its type.
type KeyAttribute = (&'static str, KeyType, ScalarAttributeType);

/// Creates `table` with these key attributes and no stream or time to live.
async fn create_raw(endpoint: &str, table: &str, keys: &[KeyAttribute]) {
    let mut create = common::raw_client(endpoint)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind, ty) in keys {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ty.clone())
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(kind.clone())
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
}

#[tokio::test]
async fn ensure_table_says_precisely_what_differs() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_wrong_schema") else {
        return;
    };
    use KeyType::{Hash, Range};
    use ScalarAttributeType::{B, S};
    let cases: Vec<(Vec<KeyAttribute>, Vec<&str>)> = vec![
        (
            vec![("id", Hash, S)],
            vec![
                "the partition key is \"id\", not \"k\"",
                "there is no sort key",
                "stream",
            ],
        ),
        (
            vec![("k", Hash, S), ("h", Range, B)],
            vec!["the partition key \"k\" is of type S, not B"],
        ),
        // The table the boto3 database a Hypothesis user writes by hand creates: the
        // right keys, but no stream (nor time to live, which ensure_table would enable on
        // a table that is right otherwise).
        (
            vec![("k", Hash, B), ("h", Range, B)],
            vec!["there is no stream"],
        ),
    ];
    for (keys, differences) in cases {
        let table = common::fresh_table();
        create_raw(&endpoint, &table, &keys).await;
        let db = common::builder(&endpoint, &table).build().unwrap();
        let err = db.ensure_table().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{keys:?}: {err}");
        let message = err.to_string();
        for difference in differences {
            assert!(message.contains(difference), "{keys:?}: {message}");
        }
        assert_names_table(&err, &table, "ensure_table");
    }
}

/// Two processes creating the table at the same moment both succeed.
#[tokio::test]
async fn racing_ensure_tables_both_succeed() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_racing_create") else {
        return;
    };
    let table = common::fresh_table();
    let a = common::builder(&endpoint, &table).build().unwrap();
    let b = common::builder(&endpoint, &table).build().unwrap();
    let (ra, rb) = tokio::join!(a.ensure_table(), b.ensure_table());
    ra.unwrap();
    rb.unwrap();
    a.save(b"k", b"v").await.unwrap();
    assert_eq!(b.fetch(b"k").await.unwrap().len(), 1);
}

fn addr(endpoint: &str) -> SocketAddr {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A server that stops (connections refused) or freezes (accepted, never answered):
/// every operation fails within its timeout with `Unavailable` or `Timeout`, temporary;
/// when the server is back, everything works again and nothing stored was lost.
#[tokio::test]
async fn a_stopped_or_frozen_server_fails_fast_and_recovers() {
    let Some((endpoint, table, db)) = common::database("dynamodb_server_faults").await else {
        return;
    };
    db.save(b"k", b"kept").await.unwrap();
    let proxy = TcpProxy::start(addr(&endpoint)).unwrap();
    let timeout = Duration::from_secs(2);
    let db = common::builder(&proxy.url(), &table)
        .connect_timeout(Duration::from_millis(300))
        .operation_timeout(timeout)
        .max_attempts(2)
        .build()
        .unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
    for (mode, kinds) in [
        (
            ProxyMode::Refuse,
            [ErrorKind::Unavailable, ErrorKind::Unavailable],
        ),
        (
            ProxyMode::Hang,
            [ErrorKind::Timeout, ErrorKind::Unavailable],
        ),
    ] {
        proxy.set_mode(mode);
        for (what, result) in every_operation(&db).await {
            let started = Instant::now();
            let err = result.unwrap_err();
            assert!(kinds.contains(&err.kind()), "{mode:?} {what}: {err:?}");
            assert!(err.is_temporary(), "{mode:?} {what}: {err}");
            assert_names_table(&err, &table, what);
            assert!(started.elapsed() < timeout + SLACK);
        }
        proxy.set_mode(ProxyMode::Forward);
        // Recovered: the same database answers again. moto shares the machine with the
        // rest of the suite, so one slow answer (over the 2 s limit) is retried.
        let mut values = Vec::new();
        for attempt in 0..5 {
            match db.fetch(b"k").await {
                Ok(v) => {
                    values = v;
                    break;
                }
                Err(e) if e.is_temporary() && attempt < 4 => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{mode:?}: no recovery: {e}"),
            }
        }
        assert!(values.iter().any(|v| &v[..] == b"kept"), "{mode:?}");
    }
}

/// Throttling is retried (bounded) and then `RateLimited`, temporary; a 500 is
/// `Unavailable`; refused credentials are `Unauthenticated` / `PermissionDenied`; a
/// transaction conflict is temporary. The server's message is kept, the secret never.
#[tokio::test]
async fn service_errors_have_the_kind_a_caller_acts_on() {
    let cases = [
        (400, "ThrottlingException", ErrorKind::RateLimited, true),
        (
            400,
            "ProvisionedThroughputExceededException",
            ErrorKind::RateLimited,
            true,
        ),
        (500, "InternalServerError", ErrorKind::Unavailable, true),
        (
            400,
            "UnrecognizedClientException",
            ErrorKind::Unauthenticated,
            false,
        ),
        (
            400,
            "AccessDeniedException",
            ErrorKind::PermissionDenied,
            false,
        ),
        (400, "ResourceNotFoundException", ErrorKind::NotFound, false),
    ];
    for (status, code, kind, temporary) in cases {
        let stub = HttpStub::start(move |_| dynamodb_error(status, code, "stub message")).unwrap();
        let db = stub_builder(&stub.url()).build().unwrap();
        for (what, result) in every_operation(&db).await {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), kind, "{code} {what}: {err}");
            assert_eq!(err.is_temporary(), temporary, "{code} {what}: {err}");
            assert!(err.to_string().contains(code), "{code} {what}: {err}");
            assert_names_table(&err, "stub-table", what);
        }
        // Throttling and 5xx are retried: max_attempts (2) requests per operation.
        let per_op = stub.request_count() / 6;
        let want = if temporary { 2 } else { 1 };
        assert_eq!(per_op, want, "{code}: requests per operation");
    }
    // A move that keeps meeting another transaction: retried, then temporary.
    let stub = HttpStub::start(|_| {
        dynamodb_error(
            400,
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
        )
    })
    .unwrap();
    let db = stub_builder(&stub.url()).build().unwrap();
    let err = db.move_value(b"a", b"b", b"v").await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert_names_table(&err, "stub-table", "move");
}

/// Servers that are not DynamoDB: web pages, bytes that are not HTTP, and silence.
#[tokio::test]
async fn servers_that_are_not_dynamodb() {
    let html = |status: u16| {
        StubReply::http(
            status,
            "text/html",
            "<!DOCTYPE html><html><body>It works!</body></html>",
        )
    };
    let pages = HttpStub::start(move |_| html(200)).unwrap();
    let web = HttpStub::start(move |_| html(405)).unwrap();
    let ssh = HttpStub::start(|_| StubReply::Raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())).unwrap();
    // A server answering `200 {}` to everything: the SDK parses `{}` as an empty PutItem,
    // DeleteItem, Query and Scan answer; without the check, writes would "succeed".
    let empty_json =
        HttpStub::start(|_| StubReply::http(200, "application/x-amz-json-1.0", "{}")).unwrap();
    for (stub, what) in [
        (&pages, "pages"),
        (&web, "a web server"),
        (&ssh, "SSH"),
        (&empty_json, "200 {} to everything"),
    ] {
        let db = stub_builder(&stub.url()).build().unwrap();
        for (op, result) in every_operation(&db).await {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "{what} {op}: {err:?}");
            assert_names_table(&err, "stub-table", op);
        }
    }
    let silent = HttpStub::start(|_| StubReply::Silence).unwrap();
    let db = stub_builder(&silent.url())
        .operation_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    for (op, result) in every_operation(&db).await {
        let started = Instant::now();
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{op}: {err:?}");
        assert!(started.elapsed() < Duration::from_millis(700) + SLACK);
    }
}

#[test]
fn credentials_never_appear_in_debug_or_messages() {
    let builder = DynamoDatabase::builder("t-able")
        .region("eu-west-1")
        .credentials(
            "AKIDEXAMPLE",
            "SECRETSECRETSECRET",
            Some("TOKENTOKENTOKEN".into()),
        );
    let debug = format!("{builder:?}");
    assert!(
        !debug.contains("SECRETSECRET") && !debug.contains("TOKENTOKEN"),
        "{debug}"
    );
    let db = builder.build().unwrap();
    let debug = format!("{db:?}");
    assert!(
        !debug.contains("SECRETSECRET") && !debug.contains("TOKENTOKEN"),
        "{debug}"
    );
    // URLs never carry credentials: refused without echoing them.
    for url in [
        "dynamodb://AKID:SECRETSECRETSECRET@table",
        "dynamodb://table?endpoint=http://AKID:SECRETSECRETSECRET@127.0.0.1:1",
        "dynamodb://table?secret_access_key=SECRETSECRETSECRET",
    ] {
        let err = exampledb_dynamodb::DynamoDatabaseBuilder::from_url(url)
            .and_then(|b| b.build())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{url}: {err}");
        assert!(!err.to_string().contains("SECRETSECRET"), "{url}: {err}");
    }
}

/// A 200 answer as DynamoDB sends it.
fn ok(body: &str) -> StubReply {
    StubReply::Http {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-RequestId".into(), "STUB".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// The operation a request is (its `X-Amz-Target`'s last part).
fn operation_of(r: &exampledb_testkit::net::StubRequest) -> String {
    let target = r.header("x-amz-target").unwrap_or_default();
    target.rsplit('.').next().unwrap_or_default().to_owned()
}

/// A server whose Query, Scan and DescribeStream always say there is another page, at
/// the same position: fetch and keys end with a `Protocol` error instead of paging
/// forever, and the listener does not page forever either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_pagination_is_a_protocol_error() {
    // "hypothesis-example:k", base64.
    const PK: &str = "aHlwb3RoZXNpcy1leGFtcGxlOms=";
    let stub = HttpStub::start(|r| match operation_of(r).as_str() {
        "Query" | "Scan" => ok(&format!(
            r#"{{"Items":[{{"k":{{"B":"{PK}"}},"h":{{"B":"AA=="}},"v":{{"B":"dg=="}}}}],"Count":1,"LastEvaluatedKey":{{"k":{{"B":"{PK}"}},"h":{{"B":"AA=="}}}}}}"#
        )),
        "DescribeTable" => ok(
            r#"{"Table":{"TableName":"stub-table","TableStatus":"ACTIVE","LatestStreamArn":"arn:aws:dynamodb:us-east-1:1:table/stub-table/stream/x"}}"#,
        ),
        "DescribeStream" => ok(
            r#"{"StreamDescription":{"Shards":[{"ShardId":"s1","SequenceNumberRange":{"StartingSequenceNumber":"1"}}],"LastEvaluatedShardId":"s1"}}"#,
        ),
        "GetShardIterator" => ok(r#"{"ShardIterator":"it"}"#),
        "GetRecords" => ok(r#"{"Records":[],"NextShardIterator":"it"}"#),
        _ => ok("{}"),
    })
    .unwrap();
    let db = stub_builder(&stub.url())
        .poll_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    for (op, result) in [
        (
            "fetch",
            tokio::time::timeout(SLACK, db.fetch(b"k"))
                .await
                .map(|r| r.map(drop)),
        ),
        (
            "keys",
            tokio::time::timeout(SLACK, db.keys())
                .await
                .map(|r| r.map(drop)),
        ),
    ] {
        let err = result
            .unwrap_or_else(|_| panic!("{op} pages forever"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{op}: {err:?}");
        assert!(err.to_string().contains("page position"), "{op}: {err}");
    }
    let before = stub.request_count();
    let listening = db.subscribe_positioned(Duration::from_secs(3)).await;
    let sent = stub.request_count() - before;
    assert_eq!(
        listening.map(drop).unwrap_err().kind(),
        ErrorKind::Timeout,
        "a stream whose shards cannot be listed is never positioned"
    );
    // One DescribeTable, then two DescribeStream pages per poll (every 200 ms).
    assert!(
        sent < 60,
        "{sent} requests in 3 s at a 200 ms poll interval"
    );
}

/// A server (a debugging proxy, a hostile endpoint) that echoes the request's
/// credentials in its error message: neither the session token nor the signature or
/// access key id reaches our message or `Debug`.
#[tokio::test]
async fn credentials_echoed_by_a_server_are_kept_out_of_messages() {
    let stub = HttpStub::start(|r| StubReply::Http {
        status: 400,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-RequestId".into(), "STUB".into()),
        ],
        body: format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"token={} auth={}"}}"#,
            r.header("x-amz-security-token").unwrap_or("-"),
            r.header("authorization").unwrap_or("-")
        )
        .into_bytes(),
    })
    .unwrap();
    // A session token as STS hands them out: hundreds of base64 characters.
    let token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx".repeat(6);
    let db = DynamoDatabase::builder("stub-table")
        .endpoint(stub.url())
        .credentials("AKIDEXAMPLEKEYID", "SECRETSECRET", Some(token.clone()))
        .max_attempts(1)
        .build()
        .unwrap();
    let err = db.save(b"k", b"v").await.unwrap_err();
    let text = format!("{err} / {err:?}");
    assert!(text.contains("ValidationException"), "{text}");
    for secret in [&token[..20], "AKIDEXAMPLEKEYID", "SECRETSECRET"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // The request's signature: its marker may stay, its value not.
    assert_eq!(
        text.matches("Signature=").count(),
        text.matches("Signature=<removed>").count(),
        "{text}"
    );
}

/// A table with other keys than the database needs: `check()` says how they differ.
#[tokio::test]
async fn check_refuses_a_table_with_other_keys() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_check_wrong_keys")
    else {
        return;
    };
    let table = common::fresh_table();
    common::raw_client(&endpoint)
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("k")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("k")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let db = common::builder(&endpoint, &table).build().unwrap();
    let err = db.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("not B (binary)") && text.contains("sort key"),
        "{text}"
    );
}

/// A second process's `ensure_table` while the first has created the table but not yet
/// enabled its time to live (on AWS a new table is CREATING for seconds): it succeeds,
/// and the table ends as the database needs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_table_succeeds_while_another_process_is_creating_it() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("dynamodb_slow_creator") else {
        return;
    };
    let table = common::fresh_table();
    let proxy = TcpProxy::start(addr(&endpoint)).unwrap();
    let creator = common::builder(&proxy.url(), &table)
        .operation_timeout(Duration::from_secs(3))
        .max_attempts(1)
        .build()
        .unwrap();
    let other = common::builder(&endpoint, &table).build().unwrap();
    let raw = common::raw_client(&endpoint);
    let creating = tokio::spawn(async move { creator.ensure_table().await });
    while raw
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The creator is stuck between CreateTable and UpdateTimeToLive.
    proxy.set_mode(ProxyMode::Hang);
    other.ensure_table().await.unwrap();
    proxy.set_mode(ProxyMode::Forward);
    let _ = creating.await.unwrap();
    let ttl = raw
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("exp"), "{ttl:?}");
    other.save(b"k", b"v").await.unwrap();
    assert_eq!(other.fetch(b"k").await.unwrap().len(), 1);
}
