//! `exampledb watch DB`: the database's change events as they happen, other processes'
//! included, one line (or one JSON object, `--json`) each, until interrupted.
//!
//! A directory database is watched through its root directory: if that directory is
//! removed or replaced (`rm -rf` and made again), no further change could be seen, so the
//! command says so and fails rather than wait in silence.

use std::path::Path;
use std::time::Duration;

use exampledb::ChangeEvent;
use futures_util::StreamExt;
use serde_json::json;

use crate::output::{hex, out, show_key, Stop};
use crate::store::Store;

/// How often a directory database's root is checked to be the one being watched.
const ROOT_CHECK: Duration = Duration::from_secs(1);

/// What identifies a directory: on Unix its device, inode and (where the file system
/// keeps it) creation time, since a directory made again may get the inode just freed;
/// elsewhere its creation time.
fn identity(root: &Path) -> Option<(u64, u64, Option<std::time::SystemTime>)> {
    let meta = std::fs::metadata(root).ok()?;
    let created = meta.created().ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), created))
    }
    #[cfg(not(unix))]
    {
        meta.is_dir().then_some((0, 0, created))
    }
}

/// Prints one event.
fn print(event: &ChangeEvent, as_json: bool) -> Result<(), Stop> {
    let (kind, key, value) = match event {
        ChangeEvent::Saved { key, value } => ("save", key, Some(value)),
        ChangeEvent::Deleted { key, value } => ("delete", key, value.as_ref()),
    };
    if as_json {
        let line = json!({"event": kind, "key": show_key(key), "key_hex": hex(key),
                          "value": value.map(|v| hex(v))});
        out(format_args!("{line}"))
    } else {
        let value = value.map_or_else(|| "(value unknown)".to_owned(), |v| hex(v));
        out(format_args!("{kind:<6} {} {value}", show_key(key)))
    }
}

/// Prints every change event of `store` until the stream ends, stdout is closed or a
/// watched root goes.
pub(crate) async fn run(store: Store, as_json: bool) -> Result<(), Stop> {
    let mut events = store.db.subscribe()?;
    let root = store.root.as_deref();
    // Subscribing creates a missing root; what is watched is what is there now.
    let watched = root.and_then(identity);
    crate::output::note(&format!("watching {} (Ctrl-C to stop)", store.location));
    let mut check = tokio::time::interval(ROOT_CHECK);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => print(&event, as_json)?,
                None => break,
            },
            _ = check.tick(), if watched.is_some() => {
                if root.and_then(identity) != watched {
                    return Err(Stop::Failed(format!(
                        "{} was removed or replaced: its changes can no longer be seen (run watch again)",
                        store.location
                    )));
                }
            }
        }
    }
    Err(Stop::Failed(format!(
        "the change stream of {} ended",
        store.location
    )))
}
