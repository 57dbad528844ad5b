//! A directory that real Python Hypothesis wrote after a failing test is listed by
//! `exampledb ls`, and `exampledb cat --json` decodes every value to exactly what
//! Python's `choices_from_bytes` gives, and shows each choice as Python's `repr` (for
//! strings without unassigned code points, whose escaping needs Python's Unicode tables).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

use exampledb_testkit::python::Python;

const PY_FAILING_TEST: &str = r#"
import json, os, struct, sys, unicodedata
from hypothesis import given, settings, strategies as st, HealthCheck
from hypothesis.database import DirectoryBasedExampleDatabase, choices_from_bytes

root = sys.argv[1]

@settings(database=DirectoryBasedExampleDatabase(root), max_examples=300,
          suppress_health_check=list(HealthCheck))
@given(st.integers(), st.floats(), st.text(), st.binary(), st.booleans())
def test(i, f, t, b, flag):
    assert not (i > 10 and len(t) > 1 and flag)

try:
    test()
except AssertionError:
    pass

def typed(c):
    if isinstance(c, bool):
        value = {"bool": c}
    elif isinstance(c, int):
        value = {"int": str(c)}
    elif isinstance(c, float):
        value = {"float": struct.pack("!d", c).hex()}
    elif isinstance(c, bytes):
        value = {"bytes": c.hex()}
    else:
        value = {"str": [ord(ch) for ch in c]}
    # repr is compared where Python's Unicode tables are not needed to know what it
    # escapes: strings without unassigned code points.
    # (and not NaNs, whose payload exampledb shows and Python does not).
    assigned = not isinstance(c, str) or all(unicodedata.category(ch) != "Cn" for ch in c)
    nan = isinstance(c, float) and c != c
    return {"value": value, "repr": repr(c) if assigned and not nan else None}

values = {}
for key_dir in os.listdir(root):
    path = os.path.join(root, key_dir)
    if not os.path.isdir(path):
        continue
    for name in os.listdir(path):
        with open(os.path.join(path, name), "rb") as f:
            value = f.read()
        decoded = choices_from_bytes(value)
        if decoded is not None:
            values[value.hex()] = [typed(c) for c in decoded]
print(json.dumps(values))
"#;

fn exampledb(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .env_remove("EXAMPLEDB_DATABASE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_directory_python_wrote_is_listed_and_decoded_as_python_decodes_it() {
    let Some(py) = Python::for_test("a_directory_python_wrote_is_listed_and_decoded") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let root_s = root.display().to_string();
    let python: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&py.run(PY_FAILING_TEST, &[&root_s], "")).unwrap();
    assert!(!python.is_empty(), "Hypothesis saved the failure");

    let listed: serde_json::Value =
        serde_json::from_str(&exampledb(&["ls", &root_s, "--json"])).unwrap();
    let keys: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(!keys.is_empty());
    let mut decoded = 0;
    for key in &keys {
        let values: serde_json::Value =
            serde_json::from_str(&exampledb(&["cat", &root_s, key, "--json"])).unwrap();
        for value in values.as_array().unwrap() {
            let hex = value["hex"].as_str().unwrap();
            let Some(want) = python.get(hex) else {
                continue; // not a choice sequence (Hypothesis keeps other data too)
            };
            let ours = value["choices"].as_array().unwrap();
            let want = want.as_array().unwrap();
            assert_eq!(ours.len(), want.len(), "value {hex} of key {key}");
            for (ours, want) in ours.iter().zip(want) {
                assert_eq!(ours["value"], want["value"], "value {hex} of key {key}");
                if !want["repr"].is_null() {
                    assert_eq!(ours["repr"], want["repr"], "value {hex} of key {key}");
                }
            }
            decoded += 1;
        }
    }
    assert_eq!(
        decoded,
        python.len(),
        "every value Python decodes was listed and decoded"
    );
}
