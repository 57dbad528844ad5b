//! `exampledb cat DB KEY`: a key's values, as hex, or decoded (`--decode`): choice
//! sequences as Python's `repr` of each choice, HypoFuzz's JSON values pretty-printed.
//! `--json` gives each value's hex, size, choices (typed value and `repr`) and JSON.

use exampledb::choices::{self, Choice};
use exampledb::ExampleDatabaseExt;
use serde_json::json;

use crate::output::{hex, out, Stop};
use crate::store::Store;

/// A value decoded for people: HypoFuzz's JSON pretty-printed, a choice sequence as
/// `(choice, ...)`, anything else said to be neither, in hex.
fn decoded(value: &[u8]) -> String {
    if let Some(pretty) = json_value(value).and_then(|v| serde_json::to_string_pretty(&v).ok()) {
        return pretty;
    }
    match choices::decode(value) {
        Ok(choices) => {
            let parts: Vec<String> = choices.iter().map(ToString::to_string).collect();
            format!("({})", parts.join(", "))
        }
        Err(e) => format!(
            "{} bytes, not a choice sequence ({e}): {}",
            value.len(),
            hex(value)
        ),
    }
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

/// One choice for `--json`: its value, typed (`bool`, `int` as decimal text, `float` as
/// its 64 bits in hex, `bytes` in hex, `str` as its code points, lone surrogates
/// included), and its `repr` as `--decode` prints it.
fn choice_json(choice: &Choice) -> serde_json::Value {
    let value = match choice {
        Choice::Boolean(b) => json!({"bool": b}),
        Choice::Integer(n) => json!({"int": n.to_string()}),
        Choice::Float(x) => json!({"float": format!("{:016x}", x.to_bits())}),
        Choice::Bytes(b) => json!({"bytes": hex(b)}),
        Choice::String(s) => json!({"str": s.code_points().collect::<Vec<u32>>()}),
    };
    json!({"value": value, "repr": choice.to_string()})
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
        return out(format_args!("{}", serde_json::Value::Array(rows)));
    }
    for value in &values {
        if decode {
            out(format_args!("{}", decoded(value)))?;
        } else {
            out(format_args!("{}", hex(value)))?;
        }
    }
    Ok(())
}
