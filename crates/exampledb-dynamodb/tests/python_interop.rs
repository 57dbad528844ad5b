//! Interop with Python both ways, on one table: what `DynamoDatabase` writes is what the
//! boto3 database a Hypothesis user writes by hand (FORMATS.md, "DynamoDB layout") reads,
//! and the other way round, both compared with the in-memory model of the shared interop
//! workload (empty, NUL, non-UTF-8 and 100 kB keys and values); and a Hypothesis test
//! using that Python database replays a failure the Rust side saved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use exampledb_core::choices::{self, Choice};
use exampledb_core::{ExampleDatabase, InMemoryDatabase};
use exampledb_testkit::hex;
use exampledb_testkit::interop::{apply, key_set, ops_json, snapshot, workload, workload_keys};
use exampledb_testkit::python::Python;
use serde_json::{json, Value};

/// Applies the JSON ops on stdin to `db`.
const PY_APPLY: &str = r#"
import json
for op, *args in json.load(sys.stdin):
    getattr(db, op)(*[bytes.fromhex(a) for a in args])
"#;

/// Prints what `db` fetches under the hex keys on stdin.
const PY_READ: &str = r#"
import json
keys = [bytes.fromhex(k) for k in json.load(sys.stdin)]
state = {k.hex(): sorted(v.hex() for v in db.fetch(k)) for k in keys}
print(json.dumps({k: v for k, v in state.items() if v}))
"#;

async fn model_of(ops: &[(&str, Vec<Vec<u8>>)]) -> BTreeMap<String, BTreeSet<String>> {
    let model = InMemoryDatabase::new();
    apply(&model, ops).await;
    snapshot(&model, &workload_keys(ops)).await
}

#[tokio::test]
async fn rust_writes_python_reads() {
    let Some((endpoint, table, db)) = common::database("dynamodb_python_interop_down").await else {
        return;
    };
    let Some(py) = Python::for_test("dynamodb_python_interop_down") else {
        return;
    };
    let ops = workload();
    apply(&db, &ops).await;
    let keys = workload_keys(&ops);
    let keys_json = Value::Array(keys.iter().map(|k| Value::String(hex(k))).collect()).to_string();
    let script = format!("{}{}", common::PY_DATABASE, PY_READ);
    let read: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_str(&py.run(&script, &[&endpoint, &table], &keys_json)).unwrap();
    assert_eq!(read, model_of(&ops).await);
}

#[tokio::test]
async fn python_writes_rust_reads() {
    let Some((endpoint, table, db)) = common::database("dynamodb_python_interop_up").await else {
        return;
    };
    let Some(py) = Python::for_test("dynamodb_python_interop_up") else {
        return;
    };
    let ops = workload();
    let script = format!("{}{}", common::PY_DATABASE, PY_APPLY);
    py.run(&script, &[&endpoint, &table], &ops_json(&ops));
    let want = model_of(&ops).await;
    assert_eq!(snapshot(&db, &workload_keys(&ops)).await, want);
    // keys() lists them too (items without `exp` never expire).
    let listed: BTreeSet<String> = key_set(&db).await.iter().map(|k| hex(k)).collect();
    assert_eq!(listed, want.keys().cloned().collect());
}

/// A Hypothesis test with the Python database: `search` finds and stores its failure,
/// `replay` only replays what the database holds; prints whether it failed and the
/// arguments of every call.
const PY_FAILING_TEST: &str = r#"
import json
from hypothesis import given, settings, strategies as st, Phase

phases = [Phase.reuse] if sys.argv[3] == "replay" else list(Phase)
calls = []

@settings(database=db, phases=phases, max_examples=200, derandomize=False)
@given(st.integers())
def test_under_1000(n):
    calls.append(n)
    assert n < 1000

try:
    test_under_1000()
    print(json.dumps({"failed": False, "calls": calls}))
except AssertionError:
    print(json.dumps({"failed": True, "calls": calls}))
"#;

/// Hypothesis, with the boto3 database on our table, stores its shrunk failure; Rust
/// reads and decodes it, replaces it with an example encoded here, and Hypothesis
/// replays that one first.
#[tokio::test]
async fn a_hypothesis_failure_round_trips() {
    let Some((endpoint, table, db)) = common::database("dynamodb_hypothesis_failure").await else {
        return;
    };
    let Some(py) = Python::for_test("dynamodb_hypothesis_failure") else {
        return;
    };
    let script = format!("{}{}", common::PY_DATABASE, PY_FAILING_TEST);
    let run = |phase: &str| -> Value {
        serde_json::from_str(&py.run(&script, &[&endpoint, &table, phase], "")).unwrap()
    };
    assert_eq!(run("search")["failed"], json!(true));
    let minimal = vec![Choice::from(1000)];
    let mut primary = None;
    for key in db.keys().await.unwrap() {
        for value in db.fetch(&key).await.unwrap() {
            if choices::decode(&value).is_ok_and(|c| c == minimal) {
                primary = Some(key.clone());
            }
        }
    }
    let key = primary.expect("the shrunk failure (n=1000) is stored");
    assert_eq!(key.len(), 48, "a test's key is a SHA-384 digest");
    for v in db.fetch(&key).await.unwrap() {
        db.delete(&key, &v).await.unwrap();
    }
    db.save(&key, &choices::encode(&[Choice::from(5000)]))
        .await
        .unwrap();
    let out = run("replay");
    assert_eq!(out["failed"], json!(true));
    assert_eq!(
        out["calls"][0],
        json!(5000),
        "Hypothesis replayed our example"
    );
}
