//! Change events from the listener channel, on a dedicated pub/sub connection that
//! reconnects and resubscribes when the server restarts or the link goes silent.

use std::sync::Arc;
use std::time::Duration;

use exampledb_core::backend::{ChangeSink, ListenerGuard};
use exampledb_core::{ChangeStream, Error, Operation, Result};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::error::BACKEND;
use crate::{payload, RedisDatabase};

/// With no message for this long, the pub/sub connection is checked with a PING.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Reconnection back-off bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Whether the subscription is active on the server right now.
pub(crate) struct State {
    active: Arc<watch::Sender<bool>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            active: Arc::new(watch::channel(false).0),
        }
    }
}

/// Aborts the listening task when the last subscriber goes.
struct Guard {
    task: tokio::task::JoinHandle<()>,
    active: Arc<watch::Sender<bool>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
        self.active.send_replace(false);
    }
}

pub(crate) fn subscribe(db: &RedisDatabase) -> Result<ChangeStream> {
    let inner = &db.inner;
    inner.hub.subscribe(|sink| {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::Backend {
            backend: BACKEND,
            operation: Operation::Subscribe,
            location: inner.server.clone(),
            // The caller's misuse, not a state of the store: no more specific kind fits.
            kind: exampledb_core::ErrorKind::Other,
            temporary: false,
            source: "subscribe() must be called within a tokio runtime".into(),
        })?;
        let listen = Listen {
            clients: inner.listen_to.clone(),
            channel: inner.channel.clone(),
            server: inner.server.clone(),
            connect_timeout: inner.connect_timeout,
            operation_timeout: inner.operation_timeout,
            active: Arc::clone(&inner.listener.active),
        };
        let task = runtime.spawn(listen.run(sink));
        let guard: ListenerGuard = Box::new(Guard {
            task,
            active: Arc::clone(&inner.listener.active),
        });
        Ok(Some(guard))
    })
}

/// Waits until the subscription is active on the server.
pub(crate) async fn wait_active(db: &RedisDatabase, limit: Option<Duration>) -> Result<()> {
    let inner = &db.inner;
    let mut rx = inner.listener.active.subscribe();
    let own = inner.connect_timeout + inner.operation_timeout;
    let limit = limit.map_or(own, |wait| wait.min(own));
    let ready =
        tokio::time::timeout(limit, async { rx.wait_for(|active| *active).await.is_ok() }).await;
    match ready {
        Ok(true) => Ok(()),
        _ => Err(Error::Timeout {
            backend: BACKEND,
            operation: Operation::Subscribe,
            location: inner.server.clone(),
            after: limit,
        }),
    }
}

struct Listen {
    clients: Vec<redis::Client>,
    channel: String,
    server: String,
    connect_timeout: Duration,
    operation_timeout: Duration,
    active: Arc<watch::Sender<bool>>,
}

impl Listen {
    async fn run(self, sink: ChangeSink) {
        let mut backoff = BACKOFF_MIN;
        let mut attempt = 0usize;
        let mut was_connected = false;
        loop {
            let client = &self.clients[attempt % self.clients.len()];
            attempt += 1;
            let connect = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            match tokio::time::timeout(self.connect_timeout + self.operation_timeout, connect).await
            {
                Ok(Ok(pubsub)) => {
                    if was_connected {
                        tracing::info!(server = %self.server, channel = %self.channel, "change listener resubscribed");
                    }
                    was_connected = true;
                    backoff = BACKOFF_MIN;
                    self.active.send_replace(true);
                    if !self.pump(pubsub, &sink).await {
                        return; // the database is gone
                    }
                    self.active.send_replace(false);
                    tracing::warn!(
                        server = %self.server,
                        channel = %self.channel,
                        "change listener lost its connection; reconnecting (events published meanwhile are lost)"
                    );
                }
                Ok(Err(e)) => {
                    tracing::debug!(server = %self.server, error = %e, "change listener cannot subscribe yet");
                }
                Err(_) => {
                    tracing::debug!(server = %self.server, "change listener: subscribing timed out");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Delivers messages until the connection ends or stops answering; `false` when the
    /// hub is gone and listening should stop.
    async fn pump(&self, pubsub: redis::aio::PubSub, sink: &ChangeSink) -> bool {
        let (mut control, mut messages) = pubsub.split();
        loop {
            match tokio::time::timeout(KEEPALIVE, messages.next()).await {
                Ok(Some(msg)) => match payload::decode(msg.get_payload_bytes()) {
                    Ok(event) => {
                        if !sink.emit(event) {
                            return false;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(channel = %self.channel, error = %e, "ignoring a message that is not a change event");
                    }
                },
                Ok(None) => return true,
                Err(_) => {
                    let ping = control.ping::<redis::Value>();
                    if !matches!(
                        tokio::time::timeout(self.operation_timeout, ping).await,
                        Ok(Ok(_))
                    ) {
                        return true;
                    }
                }
            }
        }
    }
}
