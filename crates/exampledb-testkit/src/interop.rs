//! The workload the interop tests of every backend share: operations with awkward keys
//! and values (empty, NUL, non-UTF-8, `/`, `..`, 100 kB), applied to any database, so
//! each side's result can be checked against the in-memory model.

use std::collections::{BTreeMap, BTreeSet};

use exampledb_core::bytes::Bytes;
use exampledb_core::{ChangeEvent, ExampleDatabase};

/// A Python script applying the operations of [`ops_json`] (stdin) with Hypothesis's
/// `DirectoryBasedExampleDatabase` at `argv[1]`.
pub const PY_DIRECTORY_APPLY: &str = r#"
import json, sys
from hypothesis.database import DirectoryBasedExampleDatabase
db = DirectoryBasedExampleDatabase(sys.argv[1])
for op, *args in json.load(sys.stdin):
    getattr(db, op)(*[bytes.fromhex(a) for a in args])
"#;

/// A Python script printing, as JSON, what Hypothesis's `DirectoryBasedExampleDatabase`
/// at `argv[1]` holds under the hex keys of stdin (`state`) and its meta-keys entries
/// (`metakeys`).
pub const PY_DIRECTORY_READ: &str = r#"
import json, sys
from hypothesis.database import DirectoryBasedExampleDatabase
db = DirectoryBasedExampleDatabase(sys.argv[1])
keys = [bytes.fromhex(k) for k in json.load(sys.stdin)]
state = {k.hex(): sorted(v.hex() for v in db.fetch(k)) for k in keys}
state = {k: v for k, v in state.items() if v}
meta = sorted(k.hex() for k in db.fetch(b".hypothesis-keys"))
print(json.dumps({"state": state, "metakeys": meta}))
"#;

/// One operation: `(name, args)` with args `[key, value]` (save, delete) or
/// `[src, dest, value]` (move).
pub type Op = (&'static str, Vec<Vec<u8>>);

/// Every key the workload's operations name (all arguments but the value).
pub fn workload_keys(ops: &[(&str, Vec<Vec<u8>>)]) -> BTreeSet<Vec<u8>> {
    ops.iter()
        .flat_map(|(_, a)| a[..a.len() - 1].to_vec())
        .collect()
}

/// A workload with awkward keys and values, as (op, args) with hex arguments.
pub fn workload() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        b"plain".to_vec(),
        vec![0, 1, 2],
        vec![0xff, 0xfe],
        b"../x/./y".to_vec(),
        [vec![0xab; 48], b".secondary".to_vec()].concat(),
    ];
    let values: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"abc".to_vec(),
        vec![0x80, 0xff],
        big,
        b"/".to_vec(),
    ];
    let mut ops = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for (j, v) in values.iter().enumerate() {
            if (i + j) % 2 == 0 {
                ops.push(("save", vec![k.clone(), v.clone()]));
            }
        }
    }
    ops.push((
        "move",
        vec![keys[1].clone(), keys[2].clone(), values[2].clone()],
    ));
    ops.push((
        "move",
        vec![keys[0].clone(), keys[3].clone(), values[0].clone()],
    ));
    ops.push((
        "move",
        vec![keys[3].clone(), keys[4].clone(), b"never saved".to_vec()],
    ));
    ops.push(("delete", vec![keys[4].clone(), values[0].clone()]));
    ops.push(("delete", vec![keys[5].clone(), b"absent".to_vec()]));
    ops.push(("save", vec![keys[1].clone(), values[1].clone()]));
    ops
}

/// Applies `ops` to `db` in order; panics on an error (test data).
pub async fn apply(db: &dyn ExampleDatabase, ops: &[(&str, Vec<Vec<u8>>)]) {
    for (op, a) in ops {
        match *op {
            "save" => db.save(&a[0], &a[1]).await.unwrap(),
            "delete" => db.delete(&a[0], &a[1]).await.unwrap(),
            "move" => db.move_value(&a[0], &a[1], &a[2]).await.unwrap(),
            other => unreachable!("{other}"),
        }
    }
}

/// `ops` as JSON for a Python script: `[[op, hex arg, ...], ...]`.
pub fn ops_json(ops: &[(&str, Vec<Vec<u8>>)]) -> String {
    let list: Vec<serde_json::Value> = ops
        .iter()
        .map(|(op, args)| {
            let mut row = vec![serde_json::json!(op)];
            row.extend(args.iter().map(|a| serde_json::json!(crate::hex(a))));
            serde_json::Value::Array(row)
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// What `db` holds under `keys`, hex-encoded, leaving out keys that fetch nothing: the
/// form both sides of an interop test are compared in.
pub async fn snapshot(
    db: &dyn ExampleDatabase,
    keys: &BTreeSet<Vec<u8>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for k in keys {
        let values: BTreeSet<String> = db
            .fetch(k)
            .await
            .unwrap()
            .iter()
            .map(|v| crate::hex(v))
            .collect();
        if !values.is_empty() {
            out.insert(crate::hex(k), values);
        }
    }
    out
}

/// Every key `db.keys()` lists, as a set.
pub async fn key_set(db: &dyn ExampleDatabase) -> BTreeSet<Vec<u8>> {
    db.keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_vec())
        .collect()
}

/// The events a listener must see, in order, when another writer (another process,
/// Python Hypothesis) runs `save(k, v1)`, `save(k, v2)`, `move(k, k.secondary, v1)`,
/// `delete(k, v2)`: a move is a delete then a save, and each delete carries its value.
pub fn change_sequence_events() -> Vec<ChangeEvent> {
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    vec![
        ChangeEvent::Saved {
            key: b("k"),
            value: b("v1"),
        },
        ChangeEvent::Saved {
            key: b("k"),
            value: b("v2"),
        },
        ChangeEvent::Deleted {
            key: b("k"),
            value: Some(b("v1")),
        },
        ChangeEvent::Saved {
            key: b("k.secondary"),
            value: b("v1"),
        },
        ChangeEvent::Deleted {
            key: b("k"),
            value: Some(b("v2")),
        },
    ]
}
