//! `exampledb rm DB KEY [VALUE]`: deletes one value of a key, or all of them.

use exampledb::ExampleDatabase;

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
        "removed {} value(s) of {} from {}",
        values.len(),
        show_key(key),
        store.location
    ))
}
