//! `exampledb watch DB`: the database's change events as they happen, other processes'
//! included, one line (or one JSON object, `--json`) each, until interrupted.

use exampledb::ChangeEvent;
use futures_util::StreamExt;
use serde_json::json;

use crate::output::{hex, out, show_key, Stop};
use crate::store::Store;

/// Prints every change event of `store` until the stream ends or stdout is closed.
pub(crate) async fn run(store: Store, as_json: bool) -> Result<(), Stop> {
    let mut events = store.db.subscribe()?;
    eprintln!("exampledb: watching {} (Ctrl-C to stop)", store.location);
    while let Some(event) = events.next().await {
        let (kind, key, value) = match &event {
            ChangeEvent::Saved { key, value } => ("save", key, Some(value)),
            ChangeEvent::Deleted { key, value } => ("delete", key, value.as_ref()),
        };
        if as_json {
            let line = json!({"event": kind, "key": show_key(key), "key_hex": hex(key),
                              "value": value.map(|v| hex(v))});
            out(format_args!("{line}"))?;
        } else {
            let value = value.map_or_else(|| "(value unknown)".to_owned(), |v| hex(v));
            out(format_args!("{kind:<6} {} {value}", show_key(key)))?;
        }
    }
    Err(Stop::Failed(format!(
        "the change stream of {} ended",
        store.location
    )))
}
