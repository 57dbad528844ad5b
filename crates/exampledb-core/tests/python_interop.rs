//! Interop with real Python Hypothesis (pinned in the testkit's requirements), in a venv
//! the testkit creates on first use. Under `cargo xtask integration-test` a missing Python fails these
//! tests; under plain `cargo test` they skip and say why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use exampledb_core::choices::{self, Choice, ChoiceString};
use exampledb_core::{DirectoryDatabase, ExampleDatabase, InMemoryDatabase};
use exampledb_testkit::conformance::{assert_same_events, collect_events};
use exampledb_testkit::python::Python;
use num_bigint::BigInt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use exampledb_testkit::interop::{
    apply, change_sequence_events, key_set, ops_json, snapshot, workload, workload_keys,
    PY_DIRECTORY_APPLY, PY_DIRECTORY_READ,
};
use exampledb_testkit::{hex, unhex};

#[tokio::test]
async fn python_writes_rust_reads() {
    let Some(py) = Python::for_test("python_writes_rust_reads") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ops = workload();
    py.run(
        PY_DIRECTORY_APPLY,
        &[tmp.path().to_str().unwrap()],
        &ops_json(&ops),
    );

    let model = InMemoryDatabase::new();
    apply(&model, &ops).await;
    let all_keys = workload_keys(&ops);
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    assert_eq!(
        snapshot(&db, &all_keys).await,
        snapshot(&model, &all_keys).await
    );
    assert_eq!(
        key_set(&db).await,
        key_set(&model).await,
        "keys() from Python's meta-keys entries"
    );
}

#[tokio::test]
async fn rust_writes_python_reads() {
    let Some(py) = Python::for_test("rust_writes_python_reads") else {
        return;
    };
    for unnamed in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("examples");
        let ops = workload();
        let db = DirectoryDatabase::builder(&root)
            .unnamed_temp_files(unnamed)
            .build()
            .unwrap();
        apply(&db, &ops).await;
        let model = InMemoryDatabase::new();
        apply(&model, &ops).await;
        let all_keys = workload_keys(&ops);
        let keys_json = Value::Array(all_keys.iter().map(|k| json!(hex(k))).collect()).to_string();
        let out: Value =
            serde_json::from_str(&py.run(PY_DIRECTORY_READ, &[root.to_str().unwrap()], &keys_json))
                .unwrap();
        let py_state: BTreeMap<String, BTreeSet<String>> =
            serde_json::from_value(out["state"].clone()).unwrap();
        assert_eq!(
            py_state,
            snapshot(&model, &all_keys).await,
            "Python's view of what Rust wrote"
        );
        let meta: BTreeSet<String> = serde_json::from_value(out["metakeys"].clone()).unwrap();
        for k in py_state.keys() {
            assert!(
                meta.contains(k),
                "key {k} holds values but has no meta-keys entry"
            );
        }
    }
}

const PY_FAILING_TEST: &str = r#"
import json, sys
from hypothesis import given, settings, strategies as st, Phase
from hypothesis.database import DirectoryBasedExampleDatabase
settings.register_profile("replay", phases=[Phase.reuse])
if sys.argv[2] == "replay":
    settings.load_profile("replay")
calls = []
@settings(database=DirectoryBasedExampleDatabase(sys.argv[1]), max_examples=300)
@given(st.integers(), st.text(), st.booleans(), st.floats(), st.binary())
def test_under_1000(n, s, b, f, bs):
    calls.append([n, s.encode("utf-8", "surrogatepass").hex(), b, f.hex(), bs.hex()])
    assert n < 1000
try:
    test_under_1000()
    print(json.dumps({"failed": False, "calls": calls}))
except AssertionError:
    print(json.dumps({"failed": True, "calls": calls}))
"#;

#[tokio::test]
async fn real_hypothesis_failure_decodes_and_rust_examples_replay() {
    let Some(py) = Python::for_test("real_hypothesis_failure") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out: Value = serde_json::from_str(&py.run(PY_FAILING_TEST, &[root, "search"], "")).unwrap();
    assert_eq!(out["failed"], json!(true), "the Python test must fail");

    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    let minimal = vec![
        Choice::from(1000),
        Choice::from(""),
        Choice::from(false),
        Choice::from(0.0),
        Choice::Bytes(vec![]),
    ];
    let mut primary = None;
    let mut decoded_any = 0;
    for key in db.keys().await.unwrap() {
        for value in db.fetch(&key).await.unwrap() {
            let Ok(choices) = choices::decode(&value) else {
                continue;
            };
            decoded_any += 1;
            if choices == minimal {
                primary = Some(key.clone());
            }
        }
    }
    assert!(decoded_any > 0, "Hypothesis stored choice sequences");
    let key = primary.expect("the shrunk failure (1000, '', False, 0.0, b'') is stored");
    assert_eq!(key.len(), 48, "a test's key is a SHA-384 digest");

    // Replace it with an example encoded here; Hypothesis's reuse phase must replay it.
    for v in db.fetch(&key).await.unwrap() {
        db.delete(&key, &v).await.unwrap();
    }
    // st.text() forbids surrogates (Hypothesis would replace such a choice), so the
    // replayed string is ordinary; surrogates are covered by the codec tests.
    let text = ChoiceString::from("xé");
    let ours = vec![
        Choice::from(5000),
        Choice::String(text.clone()),
        Choice::from(true),
        Choice::from(1.5),
        Choice::Bytes(b"z".to_vec()),
    ];
    db.save(&key, &choices::encode(&ours)).await.unwrap();
    let out: Value = serde_json::from_str(&py.run(PY_FAILING_TEST, &[root, "replay"], "")).unwrap();
    assert_eq!(out["failed"], json!(true));
    let first = &out["calls"][0];
    assert_eq!(
        first,
        // Python's float.hex() of 1.5.
        &json!([
            5000,
            hex(text.as_bytes()),
            true,
            "0x1.8000000000000p+0",
            "7a"
        ]),
        "Hypothesis replayed the example Rust wrote"
    );
}

const PY_CODEC: &str = r#"
import json, sys
from hypothesis.database import choices_to_bytes, choices_from_bytes
out = []
for h in json.load(sys.stdin):
    d = choices_from_bytes(bytes.fromhex(h))
    out.append(None if d is None else choices_to_bytes(d).hex())
print(json.dumps(out))
"#;

const PY_VECTORS: &str = r#"
import json, struct
from hypothesis.database import choices_to_bytes
nan_payload = struct.unpack("!d", bytes.fromhex("7ff0000000000123"))[0]
vals = [True, False, 0, -1, 127, 128, -128, -129, 255, -256, 2**63-1, -2**63, 2**70, -2**200,
        0.0, -0.0, 1.5, float("nan"), nan_payload, float("inf"), -float("inf"), 5e-324,
        b"", b"a"*31, b"a"*200, bytes(range(256)), "", "\u00e9", "\ud800", "\ud83d\ude00",
        "\U0001f600", "a"*300]
print(json.dumps([choices_to_bytes([v]).hex() for v in vals] + [choices_to_bytes(vals).hex()]))
"#;

#[test]
fn codec_matches_python_on_vectors() {
    let Some(py) = Python::for_test("codec_matches_python_on_vectors") else {
        return;
    };
    let py_hex: Vec<String> = serde_json::from_str(&py.run(PY_VECTORS, &[], "")).unwrap();
    let cp = |p: &[u32]| Choice::String(ChoiceString::from_code_points(p.iter().copied()).unwrap());
    let ours: Vec<Choice> = vec![
        true.into(),
        false.into(),
        0.into(),
        (-1).into(),
        127.into(),
        128.into(),
        (-128).into(),
        (-129).into(),
        255.into(),
        (-256).into(),
        i64::MAX.into(),
        i64::MIN.into(),
        Choice::Integer(BigInt::from(1) << 70),
        Choice::Integer(-(BigInt::from(1u32) << 200u32)),
        0.0.into(),
        (-0.0).into(),
        1.5.into(),
        f64::NAN.into(),
        Choice::Float(f64::from_bits(0x7ff0_0000_0000_0123)),
        f64::INFINITY.into(),
        f64::NEG_INFINITY.into(),
        Choice::Float(f64::from_bits(1)),
        Choice::Bytes(vec![]),
        Choice::Bytes(vec![b'a'; 31]),
        Choice::Bytes(vec![b'a'; 200]),
        Choice::Bytes((0..=255).collect()),
        "".into(),
        "é".into(),
        cp(&[0xd800]),
        cp(&[0xd83d, 0xde00]),
        "😀".into(),
        Choice::from("a".repeat(300).as_str()),
    ];
    assert_eq!(py_hex.len(), ours.len() + 1);
    for (choice, want) in ours.iter().zip(&py_hex) {
        assert_eq!(
            &hex(&choices::encode(std::slice::from_ref(choice))),
            want,
            "encoding {choice:?}"
        );
        assert_eq!(
            &choices::decode(&unhex(want)).unwrap(),
            &vec![choice.clone()],
            "decoding {want}"
        );
    }
    assert_eq!(
        &hex(&choices::encode(&ours)),
        py_hex.last().unwrap(),
        "the whole sequence"
    );
}

#[test]
fn codec_agrees_with_python_on_arbitrary_bytes() {
    let Some(py) = Python::for_test("codec_agrees_with_python_on_arbitrary_bytes") else {
        return;
    };
    // Bytes biased towards headers, sizes and UTF-8 fragments, so every branch is hit.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            0x00, 0x01, 0x1f, 0x28, 0x3f, 0x41, 0x48, 0x5f, 0x60, 0x7f, 0x80, 0x83, 0x9f, 0xa0,
            0xc0, 0xe0, 0xed, 0xff
        ]),
    ];
    let strategy = prop::collection::vec(byte, 0..24);
    let mut runner = TestRunner::deterministic();
    let inputs: Vec<Vec<u8>> = (0..4000)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let request = Value::Array(inputs.iter().map(|b| json!(hex(b))).collect()).to_string();
    let answers: Vec<Option<String>> =
        serde_json::from_str(&py.run(PY_CODEC, &[], &request)).unwrap();
    let mut valid = 0;
    for (input, answer) in inputs.iter().zip(answers) {
        let ours = choices::decode(input)
            .ok()
            .map(|c| hex(&choices::encode(&c)));
        assert_eq!(ours, answer, "input {}", hex(input));
        valid += usize::from(ours.is_some());
    }
    assert!(
        valid > 400 && valid < 3600,
        "both valid and invalid inputs were exercised ({valid})"
    );
}

const PY_CHANGES: &str = r#"
import sys, time
from hypothesis.database import DirectoryBasedExampleDatabase
db = DirectoryBasedExampleDatabase(sys.argv[1])
db.save(b"k", b"v1"); time.sleep(0.2)
db.save(b"k", b"v2"); time.sleep(0.2)
db.move(b"k", b"k.secondary", b"v1"); time.sleep(0.2)
db.delete(b"k", b"v2")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_changes_are_seen_by_subscribe() {
    let Some(py) = Python::for_test("python_changes_are_seen_by_subscribe") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    let mut events = db.subscribe().unwrap();
    py.run(PY_CHANGES, &[tmp.path().to_str().unwrap()], "");
    let want = change_sequence_events();
    let got = collect_events(&mut events, b"", want.len(), Duration::from_secs(10)).await;
    assert_same_events(&got, &want, "Python's changes seen from Rust");
}

const PY_LISTEN: &str = r#"
import json, sys, time
from hypothesis.database import DirectoryBasedExampleDatabase
db = DirectoryBasedExampleDatabase(sys.argv[1])
events = []
db.add_listener(lambda e: events.append([e[0], e[1][0].hex(), None if e[1][1] is None else e[1][1].hex()]))
print("ready", flush=True)
want = int(sys.argv[2])
deadline = time.time() + 10
while len(events) < want and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
db.clear_listeners()
print(json.dumps(events), flush=True)
"#;

#[tokio::test]
async fn rust_changes_are_heard_by_python_listener() {
    let Some(py) = Python::for_test("rust_changes_are_heard_by_python_listener") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = DirectoryDatabase::open(tmp.path()).unwrap();
    // Key directories exist before Python listens (its watcher, like ours, can miss files
    // written into a directory created a moment earlier).
    db.save(b"k", b"seed").await.unwrap();
    db.save(b"k2", b"seed").await.unwrap();
    let mut child = py
        .command(PY_LISTEN, &[tmp.path().to_str().unwrap(), "5"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    for step in 0..4 {
        match step {
            0 => db.save(b"k", b"v1").await.unwrap(),
            1 => db.save(b"k", b"v2").await.unwrap(),
            2 => db.move_value(b"k", b"k2", b"v1").await.unwrap(),
            _ => db.delete(b"k", b"v2").await.unwrap(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    let got: Vec<(String, String, Option<String>)> = serde_json::from_str(&line).unwrap();
    let (k, k2, v1, v2) = (hex(b"k"), hex(b"k2"), hex(b"v1"), hex(b"v2"));
    let mut want = vec![
        ("save".to_string(), k.clone(), Some(v1.clone())),
        ("save".to_string(), k.clone(), Some(v2.clone())),
        ("delete".to_string(), k.clone(), Some(v1.clone())),
        ("save".to_string(), k2.clone(), Some(v1.clone())),
        ("delete".to_string(), k.clone(), None),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "Python's listener heard: {got:?}");
    std::io::stdout().flush().unwrap();
}

const PY_REPR: &str = r#"
import json, sys
from hypothesis.database import choices_from_bytes
print(json.dumps([[repr(c) for c in choices_from_bytes(bytes.fromhex(h))] for h in json.load(sys.stdin)]))
"#;

/// `Choice`'s Display is Python's `repr` of the same choice (what `exampledb show` and
/// `cat --decode` print): floats of every magnitude (`1e+16`, `1e-05`, `-0.0`), integers,
/// bytes and strings with both quotes, controls, bidi overrides, zero-width and other
/// unprintable characters, lone surrogates and astral characters.
#[test]
fn display_is_pythons_repr() {
    let Some(py) = Python::for_test("display_is_pythons_repr") else {
        return;
    };
    let special: Vec<u32> = vec![
        0x27, 0x22, 0x5c, 0x09, 0x0a, 0x0d, 0x00, 0x1b, 0x7f, 0x85, 0xa0, 0xad, 0xe9, 0x300, 0x61c,
        0x200b, 0x200d, 0x200e, 0x2028, 0x202e, 0x2066, 0x2069, 0x3000, 0xd800, 0xdfff, 0xe000,
        0xfeff, 0xfffe, 0x4e2d, 0x1f600, 0xe0041, 0x10fffd, 0x41, 0x20,
    ];
    let code_point = prop_oneof![prop::sample::select(special), 0x20u32..0x7f];
    let string = prop::collection::vec(code_point, 0..6).prop_map(|cps| {
        let bytes: Vec<u8> = cps
            .iter()
            .flat_map(|&cp| {
                // UTF-8, surrogates included (as Python's surrogatepass writes them).
                let mut out = Vec::new();
                match cp {
                    0..=0x7f => out.push(cp as u8),
                    0x80..=0x7ff => out.extend([0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
                    0x800..=0xffff => out.extend([
                        0xe0 | (cp >> 12) as u8,
                        0x80 | ((cp >> 6) & 0x3f) as u8,
                        0x80 | (cp & 0x3f) as u8,
                    ]),
                    _ => out.extend([
                        0xf0 | (cp >> 18) as u8,
                        0x80 | ((cp >> 12) & 0x3f) as u8,
                        0x80 | ((cp >> 6) & 0x3f) as u8,
                        0x80 | (cp & 0x3f) as u8,
                    ]),
                }
                out
            })
            .collect();
        Choice::String(ChoiceString::from_surrogatepass_bytes(bytes).unwrap())
    });
    let float = prop_oneof![
        any::<f64>().prop_filter("NaN payloads are shown, unlike Python", |x| !x.is_nan()),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e16,
            1e15,
            1e-4,
            1e-5,
            0.1,
            1.5,
            123456789.125,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]),
        (-40i32..40, 1u32..1000).prop_map(|(e, m)| f64::from(m) * 10f64.powi(e)),
    ];
    let choice = prop_oneof![
        any::<bool>().prop_map(Choice::from),
        any::<i64>().prop_map(Choice::from),
        float.prop_map(Choice::from),
        prop::collection::vec(
            prop_oneof![any::<u8>(), prop::sample::select(vec![b'\'', b'"', b'\\'])],
            0..8
        )
        .prop_map(Choice::Bytes),
        string,
    ];
    let strategy = prop::collection::vec(choice, 1..6);
    let mut runner = TestRunner::deterministic();
    let inputs: Vec<Vec<Choice>> = (0..1500)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let request = Value::Array(
        inputs
            .iter()
            .map(|c| json!(hex(&choices::encode(c))))
            .collect(),
    )
    .to_string();
    let answers: Vec<Vec<String>> = serde_json::from_str(&py.run(PY_REPR, &[], &request)).unwrap();
    for (input, python) in inputs.iter().zip(answers) {
        let ours: Vec<String> = input.iter().map(ToString::to_string).collect();
        assert_eq!(ours, python, "{}", hex(&choices::encode(input)));
    }
}

/// What Python cannot show: NaN payloads, and integers of more than 4,300 digits (which
/// Python refuses to convert); the latter in hexadecimal, in linear time.
#[test]
fn display_shows_nan_payloads_and_huge_integers_in_hex() {
    let payload = f64::from_bits(0x7ff0_0000_0000_0123);
    assert_eq!(Choice::from(payload).to_string(), "nan(0x7ff0000000000123)");
    assert_eq!(Choice::from(-f64::NAN).to_string(), "-nan");
    let huge = BigInt::from(1) << 3_200_000u32; // a 400 KB integer
    let shown = Choice::Integer(-huge).to_string();
    assert!(shown.starts_with("-0x1000"), "{}", &shown[..10]);
    assert_eq!(shown.len(), "-0x1".len() + 800_000);
    let small = BigInt::from(10).pow(4_000);
    assert_eq!(
        Choice::Integer(small.clone()).to_string(),
        small.to_string()
    );
}
