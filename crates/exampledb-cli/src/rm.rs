//! `exampledb rm DB KEY [VALUE]`: deletes one value of a key, or all of them.

use exampledb::ExampleDatabase;

use crate::output::{out, show_key, Stop};
use crate::store::Store;

/// Deletes `value` from `key`, or every value of `key` when none is given.
pub(crate) async fn run(store: Store, key: &[u8], value: Option<&[u8]>) -> Result<(), Stop> {
    let values = match value {
        Some(value) => vec![value.to_vec()],
        None => store
            .db
            .fetch(key)
            .await?
            .into_iter()
            .map(|v| v.to_vec())
            .collect(),
    };
    for value in &values {
        store.db.delete(key, value).await?;
    }
    out(format_args!(
        "removed {} value(s) of {} from {}",
        values.len(),
        show_key(key),
        store.location
    ))
}
