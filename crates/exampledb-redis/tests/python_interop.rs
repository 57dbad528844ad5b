//! Interop with Python Hypothesis's `RedisExampleDatabase` (pinned in the testkit's
//! requirements, with redis-py) on one real server: each side reads what the other wrote,
//! and each hears the other's change events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use exampledb_core::{ChangeEvent, ExampleDatabase, InMemoryDatabase};
use exampledb_redis::RedisDatabase;
use exampledb_testkit::conformance::{assert_same_events, collect_events};
use exampledb_testkit::interop::{apply, workload, workload_keys, Op};
use exampledb_testkit::python::Python;
use exampledb_testkit::services::redis_url;
use exampledb_testkit::{hex, unhex, unique_prefix};

/// Sets up `db` as Hypothesis's RedisExampleDatabase on argv[1] with prefix argv[2] (hex)
/// and channel argv[3].
const PY_PRELUDE: &str = r#"
import sys, json, time
from datetime import timedelta
import redis
from hypothesis.extra.redis import RedisExampleDatabase
db = RedisExampleDatabase(redis.Redis.from_url(sys.argv[1]),
                          key_prefix=bytes.fromhex(sys.argv[2]),
                          listener_channel=sys.argv[3])
"#;

struct Setup {
    python: Python,
    url: String,
    prefix: Vec<u8>,
    channel: String,
    db: RedisDatabase,
}

fn setup(test: &str) -> Option<Setup> {
    let url = redis_url(test)?;
    let python = Python::for_test(test)?;
    let prefix = unique_prefix();
    let channel = format!("interop-{}", hex(&prefix));
    let db = RedisDatabase::builder(&url)
        .key_prefix(prefix.clone())
        .listener_channel(channel.clone())
        .build()
        .unwrap();
    Some(Setup {
        python,
        url,
        prefix,
        channel,
        db,
    })
}

impl Setup {
    fn py(&self, body: &str, stdin: &str) -> String {
        let script = format!("{PY_PRELUDE}\n{body}");
        self.python.run(
            &script,
            &[&self.url, &hex(&self.prefix), &self.channel],
            stdin,
        )
    }
}

/// The shared workload's resulting sets, from the in-memory database as the model.
async fn model(ops: &[Op]) -> BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> {
    let memory = InMemoryDatabase::new();
    apply(&memory, ops).await;
    let mut m = BTreeMap::new();
    for k in workload_keys(ops) {
        let values: BTreeSet<Vec<u8>> = memory
            .fetch(&k)
            .await
            .unwrap()
            .iter()
            .map(|v| v.to_vec())
            .collect();
        if !values.is_empty() {
            m.insert(k, values);
        }
    }
    m
}

fn ops_as_lines(ops: &[(&str, Vec<Vec<u8>>)]) -> String {
    ops.iter()
        .map(|(op, a)| {
            let args: Vec<String> = a.iter().map(|x| hex(x)).collect();
            // Commas, not spaces: an empty key or value is an empty field.
            format!("{op},{}\n", args.join(","))
        })
        .collect()
}

const PY_APPLY: &str = r#"
for line in sys.stdin:
    op, *args = line.rstrip("\n").split(",")
    args = [bytes.fromhex(a) for a in args]
    getattr(db, op)(*args)
"#;

#[tokio::test]
async fn python_writes_rust_reads() {
    let Some(s) = setup("python_writes_rust_reads") else {
        return;
    };
    let ops = workload();
    s.py(PY_APPLY, &ops_as_lines(&ops));
    let want = model(&ops).await;
    let keys: BTreeSet<Vec<u8>> =
        s.db.keys()
            .await
            .unwrap()
            .iter()
            .map(|k| k.to_vec())
            .collect();
    assert_eq!(
        keys,
        want.keys().cloned().collect(),
        "keys() lists what Python wrote"
    );
    for (k, values) in &want {
        let got: BTreeSet<Vec<u8>> =
            s.db.fetch(k)
                .await
                .unwrap()
                .iter()
                .map(|v| v.to_vec())
                .collect();
        assert_eq!(&got, values, "key {}", hex(k));
    }
}

#[tokio::test]
async fn rust_writes_python_reads() {
    let Some(s) = setup("rust_writes_python_reads") else {
        return;
    };
    let ops = workload();
    apply(&s.db, &ops).await;
    let want = model(&ops).await;
    let keys: Vec<String> = ops
        .iter()
        .flat_map(|(_, a)| a[..a.len() - 1].iter().map(|k| hex(k)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let out = s.py(
        r#"
for line in sys.stdin:
    key = bytes.fromhex(line.strip())
    print(",".join([line.strip(), *sorted(v.hex() for v in db.fetch(key))]))
"#,
        &(keys.join("\n") + "\n"),
    );
    let mut got: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.split(',');
        let key = unhex(parts.next().unwrap());
        let values: BTreeSet<Vec<u8>> = parts.map(unhex).collect();
        if !values.is_empty() {
            got.insert(key, values);
        }
    }
    assert_eq!(got, want, "Python's fetch sees what Rust wrote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_changes_are_heard_by_rust() {
    let Some(s) = setup("python_changes_are_heard_by_rust") else {
        return;
    };
    let mut stream = s.db.subscribe_active().await.unwrap();
    let k = b"events".to_vec();
    let ops = vec![
        ("save", vec![k.clone(), b"a".to_vec()]),
        ("save", vec![k.clone(), b"a".to_vec()]), // no change: no event
        ("save", vec![k.clone(), vec![0xff, 0]]),
        ("move", vec![k.clone(), b"other".to_vec(), b"a".to_vec()]),
        ("delete", vec![k.clone(), vec![0xff, 0]]),
        ("delete", vec![k.clone(), b"absent".to_vec()]), // no change: no event
    ];
    s.py(PY_APPLY, &ops_as_lines(&ops));
    let saved = |k: &[u8], v: &[u8]| ChangeEvent::Saved {
        key: k.to_vec().into(),
        value: v.to_vec().into(),
    };
    let deleted = |k: &[u8], v: &[u8]| ChangeEvent::Deleted {
        key: k.to_vec().into(),
        value: Some(v.to_vec().into()),
    };
    let want = vec![
        saved(&k, b"a"),
        saved(&k, &[0xff, 0]),
        deleted(&k, b"a"),
        saved(b"other", b"a"),
        deleted(&k, &[0xff, 0]),
    ];
    let got = collect_events(&mut stream, b"", want.len(), Duration::from_secs(10)).await;
    // Redis delivers in publish order, so the order is checked too.
    assert_eq!(got, want);
    assert_same_events(&got, &want, "Python -> Rust");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_changes_are_heard_by_python() {
    let Some(s) = setup("rust_changes_are_heard_by_python") else {
        return;
    };
    // Hypothesis's listener subscribes but never reads the pub/sub connection itself
    // (no get_message/run_in_thread in hypothesis.extra.redis), so the script pumps it;
    // decoding is Hypothesis's own _handle_message.
    let script = format!(
        "{PY_PRELUDE}\n{}",
        r#"
events = []
db.add_listener(events.append)
print("ready", flush=True)
deadline = time.time() + 15
while len(events) < int(sys.argv[4]) and time.time() < deadline:
    db._pubsub.get_message(timeout=0.1)
for kind, (k, v) in events:
    print(kind, k.hex(), v.hex())
"#
    );
    let mut child = s
        .python
        .command(&script, &[&s.url, &hex(&s.prefix), &s.channel, "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // The subscription is active once Python printed "ready" (redis-py's subscribe waits
    // for nothing, but the SUBSCRIBE was written before): confirm on the server.
    let mut conn = redis::Client::open(s.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for _ in 0..100 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&s.channel)
            .query_async::<Vec<(String, i64)>>(&mut conn)
            .await
            .unwrap()
            .remove(0);
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.db.save(b"k", b"v1").await.unwrap();
    s.db.save(b"k", b"v1").await.unwrap(); // no event
    s.db.move_value(b"k", b"k2", b"v1").await.unwrap();
    s.db.delete(b"k2", b"v1").await.unwrap();
    let heard: Vec<String> = tokio::task::spawn_blocking(move || {
        let out: Vec<String> = lines.map(|l| l.unwrap()).collect();
        child.wait().unwrap();
        out
    })
    .await
    .unwrap();
    let h = |s: &[u8]| hex(s);
    assert_eq!(
        heard,
        vec![
            format!("save {} {}", h(b"k"), h(b"v1")),
            format!("delete {} {}", h(b"k"), h(b"v1")),
            format!("save {} {}", h(b"k2"), h(b"v1")),
            format!("delete {} {}", h(b"k2"), h(b"v1")),
        ]
    );
}
