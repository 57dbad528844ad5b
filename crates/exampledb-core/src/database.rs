//! The [`ExampleDatabase`] trait.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ChangeStream, Result};

/// A mapping from a byte-string key to a *set* of byte-string values: Hypothesis's example
/// database, as an async trait usable as `dyn ExampleDatabase`.
///
/// # Contract
/// - [`save`](Self::save) adds a value; saving a value already present changes nothing.
/// - [`fetch`](Self::fetch) returns every value under a key, in no particular order; an
///   unknown key gives an empty list, never an error.
/// - [`delete`](Self::delete) removes a value; deleting an absent value changes nothing.
/// - [`move_value`](Self::move_value) is `delete(src)` then `save(dest)`: the value ends up
///   under `dest` even if it was never under `src`.
/// - [`subscribe`](Self::subscribe) reports [`ChangeEvent`](crate::ChangeEvent)s, only for
///   real changes to the stored sets, including (where the backend can see them) changes
///   made by other processes sharing the store.
///
/// Keys and values are arbitrary bytes: empty, non-UTF-8, holding `/`, `..` or NUL.
///
/// ```
/// use exampledb_core::{ExampleDatabase, InMemoryDatabase};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let db = InMemoryDatabase::new();
/// db.save(b"test-key", b"failing input").await?;
/// db.save(b"test-key", b"failing input").await?; // a set: saved once
/// assert_eq!(db.fetch(b"test-key").await?, vec![bytes::Bytes::from("failing input")]);
/// db.move_value(b"test-key", b"test-key.secondary", b"failing input").await?;
/// assert!(db.fetch(b"test-key").await?.is_empty());
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
#[async_trait]
pub trait ExampleDatabase: Send + Sync + Debug {
    /// Adds `value` to `key`'s set. Saving a value already present does nothing.
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Every value stored under `key`, in no particular order, each once. An unknown key
    /// gives an empty list.
    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>>;

    /// Removes `value` from `key`'s set. Deleting an absent value does nothing.
    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Moves `value` from `src` to `dest`: equivalent to `delete(src, value)` followed by
    /// `save(dest, value)`, so `value` ends up under `dest` even if it was not under `src`.
    /// With `src == dest` it is a save. This is Hypothesis's `move`, renamed because `move`
    /// is a Rust keyword.
    ///
    /// Backends override it where they can move atomically or in one request.
    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        if src == dest {
            return self.save(src, value).await;
        }
        self.delete(src, value).await?;
        self.save(dest, value).await
    }

    /// Every key that holds at least one value, in no particular order, where the store
    /// can list them; [`Error::NotSupported`](crate::Error::NotSupported) where it cannot.
    async fn keys(&self) -> Result<Vec<Bytes>>;

    /// A stream of [`ChangeEvent`](crate::ChangeEvent)s. Listening starts with the first
    /// subscriber and stops when the last stream is dropped.
    /// [`Error::NotSupported`](crate::Error::NotSupported) where the backend cannot listen.
    fn subscribe(&self) -> Result<ChangeStream>;

    /// [`subscribe`](Self::subscribe), returning only once every change made after it
    /// returns will be reported: a Redis subscription active on the server, a DynamoDB
    /// stream's position found, S3's first listing taken. Fails (with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) where waiting is what failed)
    /// when that cannot be had within `wait` or the backend's own timeouts; the plain
    /// `subscribe` keeps trying in the background instead. The default is `subscribe`,
    /// for listeners that are ready as they start (the in-memory and directory
    /// databases). Call it inside a Tokio runtime.
    async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
        let _ = wait;
        self.subscribe()
    }

    /// Makes sure the store can be used now, and says what is wrong if it cannot, instead
    /// of at the first operation: the directory exists (or can be created) and is
    /// writable, the server answers, the artifact can be had. Databases connect lazily,
    /// so this is where a tool reports a bad configuration early. The default (for stores
    /// that cannot fail, like the in-memory one) returns `Ok`.
    async fn check(&self) -> Result<()> {
        Ok(())
    }

    /// [`check`](Self::check) for a database that will only be read (through
    /// [`ReadOnly`](crate::ReadOnly), or by a tool that only reads): only read access is
    /// needed and nothing is created (a directory database whose root does not exist yet
    /// is simply empty). The default is `check`.
    async fn check_read(&self) -> Result<()> {
        self.check().await
    }
}

macro_rules! forward_example_database {
    ($($wrapper:ty),*) => {$(
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: ExampleDatabase + ?Sized> ExampleDatabase for $wrapper {
            async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
                (**self).save(key, value).await
            }
            async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
                (**self).fetch(key).await
            }
            async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
                (**self).delete(key, value).await
            }
            async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
                (**self).move_value(src, dest, value).await
            }
            async fn keys(&self) -> Result<Vec<Bytes>> {
                (**self).keys().await
            }
            fn subscribe(&self) -> Result<ChangeStream> {
                (**self).subscribe()
            }
            async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
                (**self).subscribe_ready(wait).await
            }
            async fn check(&self) -> Result<()> {
                (**self).check().await
            }
            async fn check_read(&self) -> Result<()> {
                (**self).check_read().await
            }
        }
    )*};
}

forward_example_database!(Arc<T>, Box<T>);

/// Conveniences on every [`ExampleDatabase`], kept off the core trait so that backends
/// and wrappers have nothing extra to forward.
#[async_trait]
pub trait ExampleDatabaseExt: ExampleDatabase {
    /// The values under `key` in the order Hypothesis replays them: shortest first, then
    /// by bytes.
    async fn fetch_sorted(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let mut values = self.fetch(key).await?;
        values.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        Ok(values)
    }

    /// Whether `value` is stored under `key`.
    async fn contains(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.fetch(key).await?.iter().any(|v| v == value))
    }

    /// Saves every value of every key of this database into `dest` (a merge: nothing in
    /// `dest` is removed). Returns how many values were offered to `dest` (saving a value
    /// it holds already changes nothing). Needs [`keys`](ExampleDatabase::keys).
    ///
    /// ```
    /// use exampledb_core::{ExampleDatabase, ExampleDatabaseExt, InMemoryDatabase};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (a, b) = (InMemoryDatabase::new(), InMemoryDatabase::new());
    /// a.save(b"k", b"v").await?;
    /// assert_eq!(a.copy_into(&b).await?, 1);
    /// assert_eq!(b.fetch(b"k").await?.len(), 1);
    /// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
    /// ```
    async fn copy_into(&self, dest: &dyn ExampleDatabase) -> Result<u64> {
        let mut offered = 0;
        for key in self.keys().await? {
            for value in self.fetch(&key).await? {
                dest.save(&key, &value).await?;
                offered += 1;
            }
        }
        Ok(offered)
    }
}

impl<T: ExampleDatabase + ?Sized> ExampleDatabaseExt for T {}

/// The sub-key Hypothesis uses for `name` under a test's `key`: `key + b"." + name`
/// (for example `.secondary` for superseded failures, `.pareto` for targeted testing).
///
/// ```
/// assert_eq!(exampledb_core::sub_key(b"k", "secondary"), b"k.secondary");
/// ```
pub fn sub_key(key: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1 + name.len());
    out.extend_from_slice(key);
    out.push(b'.');
    out.extend_from_slice(name.as_bytes());
    out
}
