//! Change events and the subscriber hub backends use to deliver them.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::Result;

/// A change to the stored sets, as Hypothesis's change listeners report it.
///
/// A move is reported as `Deleted` from the source key then `Saved` under the destination.
/// Events are sent only when a stored set actually changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeEvent {
    /// `value` was added to `key`'s set.
    Saved {
        /// The key whose set grew.
        key: Bytes,
        /// The value added.
        value: Bytes,
    },
    /// A value was removed from `key`'s set. `value` is `None` when the backend knows that
    /// something was deleted but not what (for example a file removed by another process).
    Deleted {
        /// The key whose set shrank.
        key: Bytes,
        /// The value removed, where known.
        value: Option<Bytes>,
    },
}

impl ChangeEvent {
    /// The key this event is about.
    pub fn key(&self) -> &Bytes {
        match self {
            ChangeEvent::Saved { key, .. } | ChangeEvent::Deleted { key, .. } => key,
        }
    }
}

/// A `'static` stream of [`ChangeEvent`]s, as returned by
/// [`ExampleDatabase::subscribe`](crate::ExampleDatabase::subscribe).
///
/// Dropping the stream unsubscribes. Every event is delivered to every live subscriber in
/// the order the backend observed them; a subscriber that stops polling makes its own
/// queue grow, and holds nothing else up.
pub type ChangeStream = Pin<Box<dyn Stream<Item = ChangeEvent> + Send + 'static>>;

/// What keeps a backend's listening machinery alive (a file watcher, a pub/sub
/// connection). It is dropped when the last subscriber goes away.
pub type ListenerGuard = Box<dyn Send + 'static>;

/// Fans change events out to subscribers, starting a backend's listener with the first
/// subscriber and stopping it (dropping its [`ListenerGuard`]) when the last one is dropped.
///
/// Backends own one hub each; wrappers forward their members' streams instead.
///
/// ```
/// # use exampledb_core::backend::ChangeHub;
/// # use exampledb_core::ChangeEvent;
/// # use futures_util::StreamExt;
/// # tokio_test_block_on(async {
/// let hub = ChangeHub::new();
/// assert!(!hub.is_listening());
/// let mut events = hub.subscribe(|_sink| Ok(None)).unwrap();
/// assert!(hub.is_listening());
/// hub.emit(ChangeEvent::Saved { key: "k".into(), value: "v".into() });
/// assert_eq!(events.next().await.unwrap().key(), "k");
/// drop(events);
/// assert!(!hub.is_listening());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct ChangeHub {
    shared: Arc<HubShared>,
}

#[derive(Default)]
struct HubShared {
    subscriber_count: AtomicUsize,
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    next_id: u64,
    subscribers: Vec<(u64, mpsc::UnboundedSender<ChangeEvent>)>,
    listener: Option<ListenerGuard>,
}

fn lock(m: &Mutex<HubState>) -> MutexGuard<'_, HubState> {
    // A panic while holding this lock leaves the subscriber list consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for ChangeHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeHub")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

impl ChangeHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether anyone is subscribed; cheap enough to check on every write.
    pub fn is_listening(&self) -> bool {
        self.subscriber_count() > 0
    }

    /// How many subscribers are live.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscriber_count.load(Ordering::Acquire)
    }

    /// Delivers `event` to every live subscriber.
    pub fn emit(&self, event: ChangeEvent) {
        self.shared.emit(event);
    }

    /// A weak handle for a listener thread or task to emit through; it does not keep the
    /// hub alive.
    pub fn sink(&self) -> ChangeSink {
        ChangeSink {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Adds a subscriber. When it is the first, `start` is called (under the hub's lock,
    /// so starts and stops alternate) to start the backend's listener; the guard it returns
    /// is dropped when the last subscriber goes.
    pub fn subscribe<F>(&self, start: F) -> Result<ChangeStream>
    where
        F: FnOnce(ChangeSink) -> Result<Option<ListenerGuard>>,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = lock(&self.shared.state);
        let id = state.next_id;
        state.next_id += 1;
        state.subscribers.push((id, tx));
        // Counted before the listener starts: a listener thread that checks
        // `is_listening` at once must not take itself for abandoned and stop.
        self.shared
            .subscriber_count
            .store(state.subscribers.len(), Ordering::Release);
        if state.subscribers.len() == 1 {
            match start(self.sink()) {
                Ok(listener) => state.listener = listener,
                Err(e) => {
                    state.subscribers.pop();
                    self.shared
                        .subscriber_count
                        .store(state.subscribers.len(), Ordering::Release);
                    return Err(e);
                }
            }
        }
        drop(state);
        Ok(Box::pin(Subscription {
            rx,
            id,
            shared: Arc::clone(&self.shared),
        }))
    }
}

impl HubShared {
    fn emit(&self, event: ChangeEvent) {
        if self.subscriber_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let state = lock(&self.state);
        for (_, tx) in &state.subscribers {
            // A closed receiver is removed by its Subscription's Drop.
            let _ = tx.send(event.clone());
        }
    }
}

/// A weak handle on a [`ChangeHub`] for listener threads and tasks.
#[derive(Clone, Debug)]
pub struct ChangeSink {
    shared: Weak<HubShared>,
}

impl fmt::Debug for HubShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubShared").finish_non_exhaustive()
    }
}

impl ChangeSink {
    /// Delivers `event` to the hub's subscribers; returns `false` once the hub is gone,
    /// so a listener can stop.
    pub fn emit(&self, event: ChangeEvent) -> bool {
        match self.shared.upgrade() {
            Some(shared) => {
                shared.emit(event);
                true
            }
            None => false,
        }
    }

    /// Whether the hub still has subscribers.
    pub fn is_listening(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|s| s.subscriber_count.load(Ordering::Acquire) > 0)
    }
}

struct Subscription {
    rx: mpsc::UnboundedReceiver<ChangeEvent>,
    id: u64,
    shared: Arc<HubShared>,
}

impl Stream for Subscription {
    type Item = ChangeEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ChangeEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let listener = {
            let mut state = lock(&self.shared.state);
            state.subscribers.retain(|(id, _)| *id != self.id);
            self.shared
                .subscriber_count
                .store(state.subscribers.len(), Ordering::Release);
            if state.subscribers.is_empty() {
                state.listener.take()
            } else {
                None
            }
        };
        // Dropped outside the lock: stopping a listener may wait for its thread, which
        // may itself be waiting to emit.
        drop(listener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }

    #[test]
    fn listener_starts_with_first_and_stops_with_last_subscriber() {
        let hub = ChangeHub::new();
        let running = Arc::new(AtomicBool::new(false));
        let starts = AtomicUsize::new(0);
        let start = |_sink: ChangeSink| {
            starts.fetch_add(1, Ordering::SeqCst);
            running.store(true, Ordering::SeqCst);
            Ok(Some(Box::new(Flag(Arc::clone(&running))) as ListenerGuard))
        };
        let a = hub.subscribe(start).unwrap();
        let b = hub
            .subscribe(|_| panic!("second subscriber must not start"))
            .unwrap();
        assert!(running.load(Ordering::SeqCst));
        drop(a);
        assert!(running.load(Ordering::SeqCst), "one subscriber is left");
        drop(b);
        assert!(!running.load(Ordering::SeqCst), "last subscriber stops");
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert!(!hub.is_listening());
    }

    #[test]
    fn failed_start_adds_no_subscriber() {
        let hub = ChangeHub::new();
        let r = hub.subscribe(|_| {
            Err(crate::Error::NotSupported {
                backend: "test",
                operation: crate::Operation::Subscribe,
            })
        });
        assert!(r.is_err());
        assert!(!hub.is_listening());
    }

    #[test]
    fn a_starting_listener_already_counts_as_listened_to() {
        // A listener thread may check `is_listening` before `subscribe` returns; it must
        // not take itself for abandoned (a watcher once stopped at its first event so).
        let hub = ChangeHub::new();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&seen);
        let _stream = hub
            .subscribe(move |sink| {
                flag.store(sink.is_listening(), std::sync::atomic::Ordering::SeqCst);
                Ok(None)
            })
            .unwrap();
        assert!(seen.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn sink_outliving_hub_reports_it() {
        let hub = ChangeHub::new();
        let sink = hub.sink();
        drop(hub);
        assert!(!sink.emit(ChangeEvent::Deleted {
            key: Bytes::new(),
            value: None
        }));
    }
}
