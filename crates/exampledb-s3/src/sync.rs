//! Copying between a bucket and a local directory database, both ways, in Hypothesis's
//! layout: what `aws s3 sync` does, through the database's own rules (values only, keys
//! named by their meta-keys entries, never a partial file).

use std::path::Path;

use exampledb_core::{DirectoryDatabase, ExampleDatabaseExt, Result};

use crate::database::S3Database;

impl S3Database {
    /// Copies every key's values into the directory database at `dir` (created if
    /// missing): afterwards Python Hypothesis's `DirectoryBasedExampleDatabase(dir)` reads
    /// them. A merge: nothing in `dir` is removed. Returns the number of values copied
    /// (values already there count too; writing them again changes nothing).
    pub async fn sync_to_directory(&self, dir: &Path) -> Result<u64> {
        let local = DirectoryDatabase::open(dir)?;
        self.copy_into(&local).await
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
