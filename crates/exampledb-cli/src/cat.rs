//! `exampledb cat DB KEY`: a key's values, as hex, or decoded (`--decode`): choice
//! sequences as Python's `repr` of each choice, HypoFuzz's JSON values pretty-printed,
//! exampledb-proptest's seeds as their text.
//! `--json` gives each value's hex, size, choices (typed value and `repr`) and JSON.

use exampledb::choices::{self, Choice};
use exampledb::ExampleDatabaseExt;
use serde_json::json;

use crate::output::{hex, note, out, proptest_key, show_key, Stop};
use crate::store::Store;

/// Whether `key` is one of HypoFuzz's (`.hypofuzz.corpus`, `hypofuzz.test_keys`, ...),
/// whose values are mostly JSON.
fn is_hypofuzz_key(key: &[u8]) -> bool {
    key.windows(8).any(|w| w == b"hypofuzz")
}

/// `value` as a choice sequence, in Python's `repr` of a tuple.
fn choices_repr(value: &[u8]) -> Option<String> {
    let choices = choices::decode(value).ok()?;
    let parts: Vec<String> = choices.iter().map(ToString::to_string).collect();
    Some(match parts.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", parts.join(", ")),
    })
}

/// JSON text with every character Python's `repr` would escape that serde_json leaves
/// raw (DEL, C1 controls, bidi overrides, zero-width characters, ...) written as a JSON
/// `\u` escape. serde_json escapes the C0 controls itself, so such characters can only be
/// inside strings, and the text stays the same JSON.
pub(crate) fn json_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        if u32::from(c) >= 0x7f && choices::is_unprintable(u32::from(c)) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                safe.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            safe.push(c);
        }
    }
    safe
}

/// A value decoded for people: a proptest seed under a proptest key as its text, a choice
/// sequence as `(choice, ...)`, HypoFuzz's JSON pretty-printed, anything else said to be
/// neither, in hex. Under HypoFuzz's keys JSON
/// is tried first (a value can be both), elsewhere the choice sequence.
fn decoded(key: &[u8], value: &[u8]) -> String {
    // exampledb-proptest's seeds are proptest's text form (`cc 4f1a...`).
    if proptest_key(key).is_some()
        && !value.is_empty()
        && value.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        if let Ok(text) = std::str::from_utf8(value) {
            return format!("proptest seed {text}");
        }
    }
    let pretty = || {
        json_value(value)
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map(|text| json_safe(&text))
    };
    let found = if is_hypofuzz_key(key) {
        pretty().or_else(|| choices_repr(value))
    } else {
        choices_repr(value).or_else(pretty)
    };
    found.unwrap_or_else(|| {
        let why = choices::decode(value)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        format!(
            "{} bytes, not a choice sequence ({why}): {}",
            value.len(),
            hex(value)
        )
    })
}

/// `value` as JSON, when it is a JSON object or array (HypoFuzz's reports and corpus
/// entries); a choice sequence never starts with `{` or `[`... unless it happens to, so
/// only a whole, valid document counts.
fn json_value(value: &[u8]) -> Option<serde_json::Value> {
    let first = value.iter().find(|b| !b.is_ascii_whitespace())?;
    if !matches!(first, b'{' | b'[') {
        return None;
    }
    serde_json::from_slice(value).ok()
}

/// One choice for `--json`: its value, typed (`bool`, `int` as decimal text, or as
/// `0x` hex over 4,300 digits as `--decode` shows it, `float` as its 64 bits in hex,
/// `bytes` in hex, `str` as its code points, lone surrogates included), and its `repr` as
/// `--decode` prints it.
fn choice_json(choice: &Choice) -> serde_json::Value {
    let repr = choice.to_string();
    let value = match choice {
        Choice::Boolean(b) => json!({"bool": b}),
        Choice::Integer(_) => json!({"int": repr}),
        Choice::Float(x) => json!({"float": format!("{:016x}", x.to_bits())}),
        Choice::Bytes(b) => json!({"bytes": hex(b)}),
        Choice::String(s) => json!({"str": s.code_points().collect::<Vec<u32>>()}),
    };
    json!({"value": value, "repr": repr})
}

/// Prints the values of `key`, shortest first (the order Hypothesis replays them in).
pub(crate) async fn run(store: Store, key: &[u8], decode: bool, as_json: bool) -> Result<(), Stop> {
    let values = store.db.fetch_sorted(key).await?;
    if as_json {
        let rows: Vec<_> = values
            .iter()
            .map(|v| {
                let choices = choices::decode(v)
                    .ok()
                    .map(|c| c.iter().map(choice_json).collect::<Vec<_>>());
                json!({"hex": hex(v), "bytes": v.len(), "choices": choices, "json": json_value(v)})
            })
            .collect();
        return out(format_args!(
            "{}",
            json_safe(&serde_json::Value::Array(rows).to_string())
        ));
    }
    if values.is_empty() {
        note(&format!(
            "{} holds no values in {}",
            show_key(key),
            store.location
        ));
    }
    for value in &values {
        if decode {
            out(format_args!("{}", decoded(key, value)))?;
        } else {
            out(format_args!("{}", hex(value)))?;
        }
    }
    Ok(())
}
