//! The stream reader against a scripted DynamoDB Streams stand-in (moto never splits
//! shards, expires iterators or trims records): a shard that was closed before listening
//! began is not read; an expired iterator is renewed after the last record read, losing
//! nothing; a shard that closes is read to its end before its children (so one key's
//! changes stay in order), and the children are read from their start; records that are
//! not of this database (another prefix, a string key, no image) are ignored, and a
//! re-save that only refreshed the time to live is no event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use exampledb_core::{ChangeEvent, ExampleDatabase};
use exampledb_dynamodb::DynamoDatabase;
use exampledb_testkit::conformance::collect_events;
use exampledb_testkit::net::{HttpStub, StubReply, StubRequest};
use serde_json::{json, Value};

/// The parent shard's id sorts after its children's (`shard-9-A` against `shard-2-B` and
/// `shard-3-C`), so a reader that went by id, not by parentage, would read the children
/// first.
const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/stub-table/stream/1";

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn image(key: &[u8], value: &[u8], exp: u64) -> Value {
    json!({
        "k": {"B": b64(&common::partition(key))},
        "h": {"B": b64(&common::sort_key(value))},
        "v": {"B": b64(value)},
        "exp": {"N": exp.to_string()},
    })
}

/// A stream record: `INSERT` (new image), `REMOVE` (old image) or `MODIFY` (both).
fn record(event: &str, seq: u32, old: Option<Value>, new: Option<Value>) -> Value {
    let mut change = json!({
        "ApproximateCreationDateTime": common::now() as f64,
        "SequenceNumber": seq.to_string(),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        change["OldImage"] = old;
    }
    if let Some(new) = new {
        change["NewImage"] = new;
    }
    json!({"eventID": format!("e{seq}"), "eventName": event, "eventVersion": "1.1",
           "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": change})
}

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

fn shard(id: &str, parent: Option<&str>, end: Option<&str>) -> Value {
    let mut range = json!({"StartingSequenceNumber": "0"});
    if let Some(end) = end {
        range["EndingSequenceNumber"] = json!(end);
    }
    let mut s = json!({"ShardId": id, "SequenceNumberRange": range});
    if let Some(parent) = parent {
        s["ParentShardId"] = json!(parent);
    }
    s
}

#[derive(Default)]
struct Script {
    describes: usize,
    expired_once: bool,
    /// GetRecords calls, by iterator, in order.
    reads: Vec<String>,
    /// GetShardIterator calls: (shard, type, sequence number).
    iterators: Vec<(String, String, String)>,
}

fn serve(script: &Mutex<Script>, request: &StubRequest) -> StubReply {
    let mut script = script.lock().unwrap();
    let target = request
        .header("x-amz-target")
        .unwrap_or_default()
        .to_owned();
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let now = common::now();
    let op = target.rsplit('.').next().unwrap_or_default();
    match op {
        "DescribeTable" => answer(
            200,
            json!({"Table": {"TableName": "stub-table", "TableStatus": "ACTIVE", "LatestStreamArn": ARN}}),
        ),
        "DescribeStream" => {
            script.describes += 1;
            let shards = if script.describes == 1 {
                vec![
                    shard("shard-0-old", None, Some("0")),
                    shard("shard-9-A", None, None),
                ]
            } else {
                // A has split into B and C (A still holds records not yet read).
                vec![
                    shard("shard-0-old", None, Some("0")),
                    shard("shard-9-A", None, Some("9")),
                    shard("shard-2-B", Some("shard-9-A"), None),
                    shard("shard-3-C", Some("shard-9-A"), None),
                ]
            };
            answer(
                200,
                json!({"StreamDescription": {"StreamArn": ARN, "StreamStatus": "ENABLED",
                    "StreamViewType": "NEW_AND_OLD_IMAGES", "Shards": shards}}),
            )
        }
        "GetShardIterator" => {
            let field = |n: &str| body[n].as_str().unwrap_or_default().to_owned();
            let (id, kind, seq) = (
                field("ShardId"),
                field("ShardIteratorType"),
                field("SequenceNumber"),
            );
            script
                .iterators
                .push((id.clone(), kind.clone(), seq.clone()));
            answer(200, json!({"ShardIterator": format!("{id}|{kind}|{seq}")}))
        }
        "GetRecords" => {
            let iterator = body["ShardIterator"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            script.reads.push(iterator.clone());
            let records = |records: Vec<Value>, next: Option<&str>| {
                let mut out = json!({"Records": records});
                if let Some(next) = next {
                    out["NextShardIterator"] = json!(next);
                }
                answer(200, out)
            };
            match iterator.as_str() {
                "shard-9-A|LATEST|" => records(
                    vec![
                        record("INSERT", 1, None, Some(image(b"k1", b"v1", now + 3600))),
                        // Not this database's: another prefix, a string key, no image.
                        record(
                            "INSERT",
                            2,
                            None,
                            Some(json!({"k": {"B": b64(b"other:k1")}, "v": {"B": b64(b"x")}})),
                        ),
                        record(
                            "INSERT",
                            3,
                            None,
                            Some(
                                json!({"k": {"S": "hypothesis-example:k1"}, "v": {"B": b64(b"x")}}),
                            ),
                        ),
                        record("REMOVE", 4, None, None),
                    ],
                    Some("A-after-4"),
                ),
                "A-after-4" if !script.expired_once => {
                    script.expired_once = true;
                    answer(
                        400,
                        json!({"__type": "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException",
                               "message": "Iterator expired"}),
                    )
                }
                "shard-9-A|AFTER_SEQUENCE_NUMBER|4" => records(
                    vec![
                        // A refresh of v1's lifetime: no event.
                        record(
                            "MODIFY",
                            5,
                            Some(image(b"k1", b"v1", now + 60)),
                            Some(image(b"k1", b"v1", now + 86_400)),
                        ),
                        record("REMOVE", 6, Some(image(b"k1", b"v1", now + 86_400)), None),
                    ],
                    Some("A-after-6"),
                ),
                // A's last record comes only once its children are known: they must not
                // be read before it.
                "A-after-6" if script.describes < 2 => records(vec![], Some("A-after-6")),
                "A-after-6" => records(
                    vec![record(
                        "INSERT",
                        7,
                        None,
                        Some(image(b"k3", b"v9", now + 3600)),
                    )],
                    None,
                ),
                "shard-2-B|TRIM_HORIZON|" => records(
                    vec![record(
                        "INSERT",
                        10,
                        None,
                        Some(image(b"k1", b"v2", now + 3600)),
                    )],
                    Some("B-idle"),
                ),
                "shard-3-C|TRIM_HORIZON|" => records(
                    vec![record(
                        "INSERT",
                        11,
                        None,
                        Some(image(b"k2", b"v3", now + 3600)),
                    )],
                    Some("C-idle"),
                ),
                "B-idle" | "C-idle" => records(vec![], Some(&iterator)),
                other => answer(
                    400,
                    json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                           "message": format!("unexpected iterator {other}")}),
                ),
            }
        }
        other => answer(
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                   "message": format!("unexpected operation {other}")}),
        ),
    }
}

fn saved(k: &[u8], v: &[u8]) -> ChangeEvent {
    ChangeEvent::Saved {
        key: Bytes::copy_from_slice(k),
        value: Bytes::copy_from_slice(v),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_expired_iterators_and_foreign_records() {
    let script = Arc::new(Mutex::new(Script::default()));
    let stub = {
        let script = Arc::clone(&script);
        HttpStub::start(move |request| serve(&script, request)).unwrap()
    };
    let db = DynamoDatabase::builder("stub-table")
        .endpoint(stub.url())
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut stream = db.subscribe().unwrap();
    let got = collect_events(&mut stream, b"k", 5, Duration::from_secs(20)).await;
    let deleted = ChangeEvent::Deleted {
        key: Bytes::from_static(b"k1"),
        value: Some(Bytes::from_static(b"v1")),
    };
    // The parent's events first, in order; then the children's, in either order.
    assert_eq!(
        got[..3],
        [saved(b"k1", b"v1"), deleted, saved(b"k3", b"v9")],
        "{got:#?}"
    );
    exampledb_testkit::conformance::assert_same_events(
        &got[3..],
        &[saved(b"k1", b"v2"), saved(b"k2", b"v3")],
        "the children's events",
    );
    drop(stream);

    let script = script.lock().unwrap();
    assert!(
        !script
            .iterators
            .iter()
            .any(|(id, _, _)| id == "shard-0-old"),
        "a shard closed before listening began is history: {:?}",
        script.iterators
    );
    assert!(
        script.iterators.contains(&(
            "shard-9-A".into(),
            "AFTER_SEQUENCE_NUMBER".into(),
            "4".into()
        )),
        "the expired iterator is renewed after the last record read: {:?}",
        script.iterators
    );
    let last_parent_read = script
        .reads
        .iter()
        .rposition(|it| it.starts_with("A-") || it.starts_with("shard-9-A"))
        .unwrap();
    let first_child_read = script
        .reads
        .iter()
        .position(|it| it.starts_with("shard-2-B") || it.starts_with("shard-3-C"))
        .unwrap();
    assert!(
        last_parent_read < first_child_read,
        "children are read after their parent's end: {:?}",
        script.reads
    );
}

/// A shard that names itself as its parent (a confused server) is read, not skipped
/// forever waiting for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_that_is_its_own_parent_is_read() {
    let stub = HttpStub::start(move |request| {
        let target = request.header("x-amz-target").unwrap_or_default();
        match target.rsplit('.').next().unwrap_or_default() {
            "DescribeTable" => answer(
                200,
                json!({"Table": {"TableName": "stub-table", "TableStatus": "ACTIVE", "LatestStreamArn": ARN}}),
            ),
            "DescribeStream" => answer(
                200,
                json!({"StreamDescription": {"StreamArn": ARN, "StreamStatus": "ENABLED",
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                    "Shards": [shard("shard-1-self", Some("shard-1-self"), None)]}}),
            ),
            "GetShardIterator" => answer(200, json!({"ShardIterator": "self-0"})),
            "GetRecords" if request.body.windows(6).any(|w| w == b"self-0") => answer(
                200,
                json!({"Records": [record("INSERT", 1, None, Some(image(b"k1", b"v1", common::now() + 3600)))],
                       "NextShardIterator": "self-1"}),
            ),
            "GetRecords" => answer(200, json!({"Records": [], "NextShardIterator": "self-1"})),
            other => answer(
                400,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                       "message": format!("unexpected operation {other}")}),
            ),
        }
    })
    .unwrap();
    let db = DynamoDatabase::builder("stub-table")
        .endpoint(stub.url())
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut stream = db.subscribe().unwrap();
    let got = collect_events(&mut stream, b"k", 1, Duration::from_secs(20)).await;
    assert_eq!(got, [saved(b"k1", b"v1")]);
}

/// A busy shard whose pages are limited by their 1 MB of records, not by 1,000 records:
/// one poll reads on, up to eight pages, so the reader keeps up with the shard. (With a
/// poll interval of a minute, only the first poll happens during the test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_full_by_size_are_read_on() {
    const PAGES: u64 = 30;
    let reads = Arc::new(Mutex::new(0u64));
    let stub = {
        let reads = Arc::clone(&reads);
        HttpStub::start(move |request| {
            let target = request.header("x-amz-target").unwrap_or_default();
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            match target.rsplit('.').next().unwrap_or_default() {
                "DescribeTable" => answer(
                    200,
                    json!({"Table": {"TableName": "stub-table", "TableStatus": "ACTIVE", "LatestStreamArn": ARN}}),
                ),
                "DescribeStream" => answer(
                    200,
                    json!({"StreamDescription": {"StreamArn": ARN, "StreamStatus": "ENABLED",
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                        "Shards": [shard("shard-1-busy", None, None)]}}),
                ),
                "GetShardIterator" => answer(200, json!({"ShardIterator": "page-0"})),
                "GetRecords" => {
                    *reads.lock().unwrap() += 1;
                    let page: u64 = body["ShardIterator"]
                        .as_str()
                        .and_then(|it| it.strip_prefix("page-"))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(PAGES);
                    let records: Vec<Value> = if page < PAGES {
                        (0..20u64)
                            .map(|i| {
                                let seq = (page * 20 + i + 1) as u32;
                                let mut r = record("INSERT", seq, None,
                                    Some(image(b"busy", format!("v{seq}").as_bytes(), common::now() + 3600)));
                                // 20 records of 50 KB: a page full by size.
                                r["dynamodb"]["SizeBytes"] = json!(50_000);
                                r
                            })
                            .collect()
                    } else {
                        vec![]
                    };
                    let next = format!("page-{}", (page + 1).min(PAGES));
                    answer(200, json!({"Records": records, "NextShardIterator": next}))
                }
                other => answer(
                    400,
                    json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                           "message": format!("unexpected operation {other}")}),
                ),
            }
        })
        .unwrap()
    };
    let db = DynamoDatabase::builder("stub-table")
        .endpoint(stub.url())
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .poll_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut stream = db.subscribe().unwrap();
    let got = collect_events(&mut stream, b"busy", 8 * 20, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 8 * 20, "the first poll reads eight full pages");
    assert_eq!(*reads.lock().unwrap(), 8);
}
