//! [`ReadOnly`]: a view of a database that never writes.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ChangeStream, Error, ExampleDatabase, Result};

/// Wraps a database so that `save`, `delete` and `move_value` succeed and do nothing,
/// while `fetch` and `keys` pass through: how developers replay a shared database (CI's,
/// a team's Redis) without writing their local, in-development results back into it.
///
/// [`subscribe`](ExampleDatabase::subscribe) forwards the wrapped database's events (the
/// changes others make to it; this wrapper makes none), and is an empty stream where the
/// wrapped database cannot listen, so that a [`Multiplexed`](crate::Multiplexed) holding a
/// `ReadOnly` can always subscribe.
///
/// ```
/// use exampledb_core::{ExampleDatabase, InMemoryDatabase, ReadOnly};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let shared = InMemoryDatabase::new();
/// shared.save(b"k", b"from CI").await?;
/// let view = ReadOnly::new(shared.clone());
/// view.delete(b"k", b"from CI").await?; // a no-op
/// assert_eq!(view.fetch(b"k").await?.len(), 1);
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ReadOnly<D> {
    inner: D,
}

impl<D> ReadOnly<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        Self { inner }
    }

    /// The wrapped database.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: ExampleDatabase> ExampleDatabase for ReadOnly<D> {
    async fn save(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        self.inner.fetch(key).await
    }

    async fn delete(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn move_value(&self, _src: &[u8], _dest: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        self.inner.keys().await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        match self.inner.subscribe() {
            Err(Error::NotSupported { .. }) => Ok(Box::pin(futures_util::stream::pending())),
            other => other,
        }
    }

    async fn subscribe_ready(&self, wait: Duration) -> Result<ChangeStream> {
        match self.inner.subscribe_ready(wait).await {
            Err(Error::NotSupported { .. }) => Ok(Box::pin(futures_util::stream::pending())),
            other => other,
        }
    }

    /// Reading is all a read-only database does: the wrapped store's
    /// [`check_read`](ExampleDatabase::check_read).
    async fn check(&self) -> Result<()> {
        self.inner.check_read().await
    }

    async fn check_read(&self) -> Result<()> {
        self.inner.check_read().await
    }
}
