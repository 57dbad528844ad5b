//! [`Multiplexed`]: several databases used as one.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use crate::{ChangeStream, Error, ExampleDatabase, Operation, Result};

/// Runs every operation against each of its member databases.
///
/// - `fetch` asks the members in order and returns each value once, even when several
///   members hold it.
/// - `save`, `delete` and `move_value` go to every member. A failing member does not stop
///   the others; the first error is returned once all have been tried.
/// - `keys` is the union over the members that can list keys.
/// - `subscribe` merges the members' event streams (members that cannot listen are left
///   out).
///
/// The usual set-up: a developer's local directory plus a read-only view of CI's or the
/// team's shared database, so shared failures replay locally and local results stay local.
///
/// ```
/// use std::sync::Arc;
/// use exampledb_core::{ExampleDatabase, InMemoryDatabase, Multiplexed, ReadOnly};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let local = InMemoryDatabase::new();
/// let shared = InMemoryDatabase::new();
/// shared.save(b"k", b"found in CI").await?;
/// let db = Multiplexed::new([
///     Arc::new(local.clone()) as Arc<dyn ExampleDatabase>,
///     Arc::new(ReadOnly::new(shared.clone())),
/// ]);
/// db.save(b"k", b"found here").await?;
/// assert_eq!(db.fetch(b"k").await?.len(), 2);
/// assert_eq!(shared.fetch(b"k").await?.len(), 1); // unchanged
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct Multiplexed {
    members: Vec<Arc<dyn ExampleDatabase>>,
}

impl fmt::Debug for Multiplexed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Multiplexed").field(&self.members).finish()
    }
}

impl Multiplexed {
    /// Multiplexes `members`, in fetch order.
    pub fn new(members: impl IntoIterator<Item = Arc<dyn ExampleDatabase>>) -> Self {
        Self {
            members: members.into_iter().collect(),
        }
    }

    /// The member databases, in fetch order.
    pub fn members(&self) -> &[Arc<dyn ExampleDatabase>] {
        &self.members
    }

    async fn each<'a, F>(&'a self, mut op: F) -> Result<()>
    where
        F: FnMut(&'a Arc<dyn ExampleDatabase>) -> futures_util::future::BoxFuture<'a, Result<()>>,
    {
        let mut first_error = None;
        for member in &self.members {
            if let Err(e) = op(member).await {
                tracing::warn!(member = ?member, error = %e, "multiplexed operation failed on one member");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ExampleDatabase for Multiplexed {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.each(|m| m.save(key, value)).await
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for member in &self.members {
            for value in member.fetch(key).await? {
                if seen.insert(value.clone()) {
                    out.push(value);
                }
            }
        }
        Ok(out)
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.each(|m| m.delete(key, value)).await
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        self.each(|m| m.move_value(src, dest, value)).await
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut any_listed = false;
        for member in &self.members {
            match member.keys().await {
                Ok(keys) => {
                    any_listed = true;
                    out.extend(keys.into_iter().filter(|k| seen.insert(k.clone())));
                }
                Err(e @ Error::NotSupported { .. }) => {
                    // The listing goes on without this member: say that it is partial.
                    tracing::warn!(error = %e, "a member cannot list its keys: the multiplexed listing leaves out the keys only it holds");
                }
                Err(e) => return Err(e),
            }
        }
        if !any_listed && !self.members.is_empty() {
            return Err(Error::NotSupported {
                backend: "multiplexed",
                operation: Operation::Keys,
            });
        }
        Ok(out)
    }

    /// Checks every member; the first failure is returned (each is logged).
    async fn check(&self) -> Result<()> {
        self.each(|m| m.check()).await
    }

    async fn check_read(&self) -> Result<()> {
        self.each(|m| m.check_read()).await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        merge(self.members.iter().map(|member| member.subscribe()))
    }

    /// Every member's [`subscribe_ready`](ExampleDatabase::subscribe_ready), at once.
    async fn subscribe_ready(&self, wait: std::time::Duration) -> Result<ChangeStream> {
        let ready = self.members.iter().map(|m| m.subscribe_ready(wait));
        merge(futures_util::future::join_all(ready).await)
    }
}

/// One stream of the members' events; members that cannot listen are left out.
fn merge(subscribed: impl IntoIterator<Item = Result<ChangeStream>>) -> Result<ChangeStream> {
    let mut streams = Vec::new();
    for s in subscribed {
        match s {
            Ok(s) => streams.push(s),
            Err(Error::NotSupported { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if streams.is_empty() {
        return Ok(Box::pin(stream::pending()));
    }
    Ok(stream::select_all(streams).boxed())
}
