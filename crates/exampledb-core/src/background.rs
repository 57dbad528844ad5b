//! [`BackgroundWrite`]: writes queued to a background task.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::{ChangeStream, Error, ExampleDatabase, Operation, Result};

enum Command {
    Save(Bytes, Bytes),
    Delete(Bytes, Bytes),
    Move(Bytes, Bytes, Bytes),
    Barrier(oneshot::Sender<()>),
}

/// Queues `save`, `delete` and `move_value` to a background tokio task, so a test loop
/// never waits on a slow store; `fetch` and `keys` first wait for every write queued
/// before them, so reads always see this process's earlier writes.
///
/// A write's error is logged (`tracing`) and kept: [`flush`](Self::flush) waits for the
/// queue to drain and returns the first error since the last flush. Queued writes are
/// still carried out after the wrapper is dropped, as long as the runtime runs; call
/// [`close`](Self::close) (or `flush`) before shutting the runtime down so that nothing
/// queued is lost. Outside a tokio runtime, writes are carried out directly.
///
/// ```
/// use exampledb_core::{BackgroundWrite, ExampleDatabase, InMemoryDatabase};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let db = BackgroundWrite::new(InMemoryDatabase::new());
/// db.save(b"k", b"v").await?; // returns at once
/// assert_eq!(db.fetch(b"k").await?.len(), 1); // waits for the save
/// db.close().await?;
/// # Ok::<(), exampledb_core::Error>(()) }).unwrap();
/// ```
pub struct BackgroundWrite<D> {
    inner: Arc<D>,
    queue: OnceLock<mpsc::UnboundedSender<Command>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    first_error: Mutex<Option<Error>>,
    closed: Mutex<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<D: fmt::Debug> fmt::Debug for BackgroundWrite<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackgroundWrite").field(&self.inner).finish()
    }
}

impl<D: ExampleDatabase + 'static> BackgroundWrite<D> {
    /// Wraps `inner`; the background task starts with the first write.
    pub fn new(inner: D) -> Self {
        Self {
            inner: Arc::new(inner),
            queue: OnceLock::new(),
            shared: Arc::default(),
        }
    }

    /// The wrapped database. Writes made through it directly bypass the queue.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Waits until every write queued so far has been carried out; returns the first
    /// error any of them met since the last flush.
    pub async fn flush(&self) -> Result<()> {
        self.barrier().await;
        match lock(&self.shared.first_error).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Flushes, then refuses further writes with [`Error::Closed`].
    pub async fn close(&self) -> Result<()> {
        *lock(&self.shared.closed) = true;
        self.flush().await
    }

    async fn barrier(&self) {
        if let Some(queue) = self.queue.get() {
            let (tx, rx) = oneshot::channel();
            if queue.send(Command::Barrier(tx)).is_ok() {
                let _ = rx.await;
            }
        }
    }

    fn sender(&self) -> Option<&mpsc::UnboundedSender<Command>> {
        if let Some(queue) = self.queue.get() {
            return Some(queue);
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        Some(self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            handle.spawn(run(Arc::clone(&self.inner), rx, Arc::clone(&self.shared)));
            tx
        }))
    }

    async fn enqueue(&self, operation: Operation, command: Command) -> Result<()> {
        if *lock(&self.shared.closed) {
            return Err(Error::Closed {
                backend: "background-write",
                operation,
            });
        }
        match self.sender() {
            Some(queue) => match queue.send(command) {
                Ok(()) => Ok(()),
                Err(mpsc::error::SendError(command)) => execute(&*self.inner, command).await,
            },
            // No tokio runtime to run a task on: write directly.
            None => execute(&*self.inner, command).await,
        }
    }
}

async fn execute<D: ExampleDatabase + ?Sized>(db: &D, command: Command) -> Result<()> {
    match command {
        Command::Save(k, v) => db.save(&k, &v).await,
        Command::Delete(k, v) => db.delete(&k, &v).await,
        Command::Move(s, d, v) => db.move_value(&s, &d, &v).await,
        Command::Barrier(done) => {
            let _ = done.send(());
            Ok(())
        }
    }
}

async fn run<D: ExampleDatabase>(
    db: Arc<D>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
) {
    while let Some(command) = rx.recv().await {
        if let Err(e) = execute(&*db, command).await {
            tracing::warn!(database = ?db, error = %e, "background write failed");
            lock(&shared.first_error).get_or_insert(e);
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: ExampleDatabase + 'static> ExampleDatabase for BackgroundWrite<D> {
    async fn save(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let command = Command::Save(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        self.enqueue(Operation::Save, command).await
    }

    async fn fetch(&self, key: &[u8]) -> Result<Vec<Bytes>> {
        self.barrier().await;
        self.inner.fetch(key).await
    }

    async fn delete(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let command = Command::Delete(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        self.enqueue(Operation::Delete, command).await
    }

    async fn move_value(&self, src: &[u8], dest: &[u8], value: &[u8]) -> Result<()> {
        let command = Command::Move(
            Bytes::copy_from_slice(src),
            Bytes::copy_from_slice(dest),
            Bytes::copy_from_slice(value),
        );
        self.enqueue(Operation::Move, command).await
    }

    async fn keys(&self) -> Result<Vec<Bytes>> {
        self.barrier().await;
        self.inner.keys().await
    }

    fn subscribe(&self) -> Result<ChangeStream> {
        self.inner.subscribe()
    }

    async fn subscribe_ready(&self, wait: std::time::Duration) -> Result<ChangeStream> {
        self.inner.subscribe_ready(wait).await
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }

    async fn check_read(&self) -> Result<()> {
        self.inner.check_read().await
    }
}
