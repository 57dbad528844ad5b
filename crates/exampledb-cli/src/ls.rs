//! `exampledb ls [DB]`: every key, with how many values it holds and their bytes.

use futures_util::StreamExt;
use serde_json::json;

use crate::output::{hex, note, out, show_key, Stop};
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

/// Keys fetched at once: a store across the network answers in a round trip each.
const FETCHES_IN_FLIGHT: usize = 16;

/// Every key of `store`, sorted, with its values' count and size, in order as they are
/// fetched ([`FETCHES_IN_FLIGHT`] at once), each handed to `each` as it comes.
pub(crate) async fn listing(
    store: &Store,
    mut each: impl FnMut(&Listed) -> Result<(), Stop>,
) -> Result<Vec<Listed>, Stop> {
    let mut keys = store.db.keys().await?;
    keys.sort();
    let mut fetched = futures_util::stream::iter(keys)
        .map(|key| async move {
            // Name the key: one that is not a set (a foreign value under the prefix) stops
            // the listing, and the user must find it.
            let values = store
                .db
                .fetch(&key)
                .await
                .map_err(|e| format!("key {}: {e}", show_key(&key)))?;
            Ok::<_, String>(Listed {
                key: key.to_vec(),
                values: values.len(),
                bytes: values.iter().map(|v| v.len() as u64).sum(),
            })
        })
        .buffered(FETCHES_IN_FLIGHT);
    let mut listed = Vec::new();
    while let Some(l) = fetched.next().await {
        let l = l?;
        each(&l)?;
        listed.push(l);
    }
    Ok(listed)
}

/// One key as a line of text.
fn line(l: &Listed) -> Result<(), Stop> {
    out(format_args!(
        "{}  {} value(s)  {} bytes",
        show_key(&l.key),
        l.values,
        l.bytes
    ))
}

/// Prints the listing, as text (each key as soon as it is fetched) or as one JSON array;
/// the count on stderr.
pub(crate) async fn run(store: Store, as_json: bool) -> Result<(), Stop> {
    let listed = if as_json {
        listing(&store, |_| Ok(())).await?
    } else {
        listing(&store, line).await?
    };
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
    note(&format!("{} key(s) in {}", listed.len(), store.location));
    Ok(())
}
