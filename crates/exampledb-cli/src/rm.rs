//! `exampledb rm DB KEY [VALUE]`: deletes one value of a key, or all of them.

use exampledb::ExampleDatabase;

use crate::log::one_line;
use crate::output::{note, out, show_key, Stop};
use crate::store::Store;

/// Deletes `value` from `key`, or every value of `key` when none is given; counts only
/// the values that were there.
pub(crate) async fn run(store: Store, key: &[u8], value: Option<&[u8]>) -> Result<(), Stop> {
    let present = store.db.fetch(key).await?;
    let values: Vec<&[u8]> = match value {
        Some(value) => present
            .iter()
            .map(|v| v.as_ref())
            .filter(|v| *v == value)
            .collect(),
        None => present.iter().map(|v| v.as_ref()).collect(),
    };
    for value in &values {
        store.db.delete(key, value).await?;
    }
    // Count what is gone: a read-only member of a recipe keeps its values.
    let after = store.db.fetch(key).await?;
    let kept = values
        .iter()
        .filter(|v| after.iter().any(|a| a.as_ref() == **v))
        .count();
    if kept > 0 {
        note(&format!(
            "{kept} value(s) of {} remain in {} (held where they cannot be removed: a read-only member)",
            show_key(key),
            store.location
        ));
    }
    let removed = values.len() - kept;
    if values.is_empty() {
        note(&format!(
            "{} holds {} in {}",
            show_key(key),
            if value.is_some() {
                "no such value"
            } else {
                "no values"
            },
            store.location
        ));
    }
    out(format_args!(
        "{}",
        one_line(&format!(
            "removed {removed} value(s) of {} from {}",
            show_key(key),
            store.location
        ))
    ))
}
