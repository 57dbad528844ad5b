//! Copying between a bucket and a local directory database, both ways, in Hypothesis's
//! layout: what `aws s3 sync` does, through the database's own rules (values only, keys
//! named by their meta-keys entries, never a partial file).

use std::path::Path;

use exampledb_core::layout::key_dir;
use exampledb_core::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt, Operation, Result};

use crate::database::S3Database;

/// How many key directories a warning about unnamed ones lists.
const LISTED_UNNAMED: usize = 8;

impl S3Database {
    /// Copies every key's values into the directory database at `dir` (created if
    /// missing): afterwards Python Hypothesis's `DirectoryBasedExampleDatabase(dir)` reads
    /// them. A merge: nothing in `dir` is removed. Returns the number of values copied
    /// (values already there count too; writing them again changes nothing).
    ///
    /// A key is named by its meta-keys entry (a key directory's name is a one-way hash of
    /// the key), so values under a key directory whose entry is missing (removed by
    /// lifecycle expiry, or by `aws s3 sync --delete` after Python Hypothesis deleted the
    /// key) cannot be saved under their key: they are not copied, and a warning says how
    /// many such directories there are and names some. `aws s3 sync`, which copies object
    /// names as they are, copies them; the next save under such a key by exampledb writes
    /// its entry again (see
    /// [`metakeys_refresh`](crate::S3DatabaseBuilder::metakeys_refresh)).
    pub async fn sync_to_directory(&self, dir: &Path) -> Result<u64> {
        let local = DirectoryDatabase::open(dir)?;
        let inner = self.inner();
        let listing = inner.list_layout(Operation::Keys).await?;
        let keys = inner.named_keys(Operation::Keys, &listing).await?;
        let named: std::collections::HashSet<String> = keys.iter().map(|k| key_dir(k)).collect();
        let mut unnamed: Vec<&String> = listing
            .holding
            .iter()
            .filter(|d| !named.contains(*d))
            .collect();
        if !unnamed.is_empty() {
            unnamed.sort();
            tracing::warn!(
                location = %self.location(),
                key_directories = unnamed.len(),
                some = ?unnamed.iter().take(LISTED_UNNAMED).collect::<Vec<_>>(),
                "not copied: values under key directories that have no meta-keys entry (their keys cannot be named; aws s3 sync copies them by name, and the next save under such a key writes its entry again)"
            );
        }
        let mut copied = 0;
        for key in keys {
            for value in self.fetch(&key).await? {
                local.save(&key, &value).await?;
                copied += 1;
            }
        }
        Ok(copied)
    }

    /// Copies every key's values of the directory database at `dir` (Python Hypothesis's
    /// included) into the bucket. A merge: nothing in the bucket is removed. Returns the
    /// number of values offered (a value already in the bucket costs one conditional
    /// PutObject and is not written again).
    pub async fn sync_from_directory(&self, dir: &Path) -> Result<u64> {
        let local = DirectoryDatabase::open(dir)?;
        local.copy_into(self).await
    }
}
