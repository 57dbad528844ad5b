//! `exampledb ls [DB]`: every key, with how many values it holds and their bytes.

use serde_json::json;

use crate::output::{hex, out, show_key, Stop};
use crate::store::Store;

/// One key of a listing.
pub(crate) struct Listed {
    /// The key.
    pub(crate) key: Vec<u8>,
    /// How many values it holds.
    pub(crate) values: usize,
    /// Their total size.
    pub(crate) bytes: u64,
}

/// Every key of `store`, sorted, with its values' count and size.
pub(crate) async fn listing(store: &Store) -> Result<Vec<Listed>, Stop> {
    let mut keys = store.db.keys().await?;
    keys.sort();
    let mut listed = Vec::with_capacity(keys.len());
    for key in keys {
        let values = store.db.fetch(&key).await?;
        listed.push(Listed {
            key: key.to_vec(),
            values: values.len(),
            bytes: values.iter().map(|v| v.len() as u64).sum(),
        });
    }
    Ok(listed)
}

/// Prints the listing, as text or as one JSON array.
pub(crate) async fn run(store: Store, as_json: bool) -> Result<(), Stop> {
    let listed = listing(&store).await?;
    if as_json {
        let rows: Vec<_> = listed
            .iter()
            .map(|l| {
                json!({"key": show_key(&l.key), "key_hex": hex(&l.key),
                       "values": l.values, "bytes": l.bytes})
            })
            .collect();
        return out(format_args!("{}", serde_json::Value::Array(rows)));
    }
    for l in &listed {
        out(format_args!(
            "{}  {} value(s)  {} bytes",
            show_key(&l.key),
            l.values,
            l.bytes
        ))?;
    }
    out(format_args!(
        "{} key(s) in {}",
        listed.len(),
        store.location
    ))
}
