//! `exampledb stats DB`: keys, values and bytes per key suffix (`.secondary`, `.pareto`,
//! `.hypofuzz.corpus`, ... and none).

use std::collections::BTreeMap;

use serde_json::json;

use crate::output::{note, out, suffix_of, Stop};
use crate::store::Store;

/// Prints the counts per suffix, as text or as one JSON array.
pub(crate) async fn run(store: Store, as_json: bool) -> Result<(), Stop> {
    let listed = crate::ls::listing(&store, |_| Ok(())).await?;
    let mut per: BTreeMap<String, (usize, usize, u64)> = BTreeMap::new();
    for l in &listed {
        let suffix = suffix_of(&l.key).unwrap_or("").to_owned();
        let entry = per.entry(suffix).or_default();
        entry.0 += 1;
        entry.1 += l.values;
        entry.2 += l.bytes;
    }
    if as_json {
        let rows: Vec<_> = per
            .iter()
            .map(|(suffix, (keys, values, bytes))| {
                json!({"suffix": suffix, "keys": keys, "values": values, "bytes": bytes})
            })
            .collect();
        return out(format_args!("{}", serde_json::Value::Array(rows)));
    }
    out(format_args!(
        "{:<24} {:>8} {:>10} {:>14}",
        "suffix", "keys", "values", "bytes"
    ))?;
    for (suffix, (keys, values, bytes)) in &per {
        let name = if suffix.is_empty() { "(none)" } else { suffix };
        out(format_args!(
            "{name:<24} {keys:>8} {values:>10} {bytes:>14}"
        ))?;
    }
    note(&format!("{} key(s) in {}", listed.len(), store.location));
    Ok(())
}
