//! Sync over async: proptest calls [`FailurePersistence`](proptest::test_runner::FailurePersistence)
//! from a plain thread, a tokio worker or a thread that is inside a current-thread
//! runtime's `block_on`; the stores are async.
//!
//! Every operation runs on one runtime of this crate's own (a worker thread made the first
//! time it is needed, for the life of the process), and the calling thread waits for it
//! with a deadline. Nothing is ever run on the caller's runtime: a current-thread runtime
//! cannot be re-entered, and connections opened on a test's runtime would die with that
//! test. On a multi-thread runtime the wait is inside `block_in_place`, so the caller's
//! other tasks move to other workers meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// The name of the worker thread, as a debugger shows it.
const THREAD_NAME: &str = "exampledb-proptest";

/// A unit of work: one store's operation.
pub(crate) type Job<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How one job ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// It finished with this.
    Done(T),
    /// It did not finish before the deadline (it was cancelled).
    TimedOut,
    /// It panicked, or the runtime could not run it (the message says which).
    Lost(String),
}

/// The runtime every job runs on, made once.
fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .map_err(|e| format!("could not start exampledb-proptest's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `jobs` at once on this crate's runtime and waits, at most `deadline` (plus a
/// moment for the cancelled ones to say so), for all of them. The outcomes are in the
/// order of `jobs`. Never panics and never waits longer, whatever runtime the caller is in.
pub(crate) fn run_all<T: Send + 'static>(jobs: Vec<Job<T>>, deadline: Duration) -> Vec<Outcome<T>> {
    let count = jobs.len();
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(message) => return (0..count).map(|_| Outcome::Lost(message.clone())).collect(),
    };
    let (tx, rx) = mpsc::channel();
    for (index, job) in jobs.into_iter().enumerate() {
        let tx = tx.clone();
        // A panic inside the job drops `tx` unsent: the job is reported lost.
        runtime.spawn(async move {
            let outcome = match tokio::time::timeout(deadline, job).await {
                Ok(value) => Outcome::Done(value),
                Err(_) => Outcome::TimedOut,
            };
            let _ = tx.send((index, outcome));
        });
    }
    drop(tx);
    let wait = move || collect(&rx, count, deadline);
    let mut outcomes = match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    };
    outcomes
        .iter_mut()
        .map(|slot| {
            slot.take()
                .unwrap_or_else(|| Outcome::Lost("the operation panicked".to_owned()))
        })
        .collect()
}

/// What arrives on `rx` before the deadline (with a grace period for the runtime's own
/// timeouts to fire and report); missing outcomes stay `None`.
fn collect<T>(
    rx: &mpsc::Receiver<(usize, Outcome<T>)>,
    count: usize,
    deadline: Duration,
) -> Vec<Option<Outcome<T>>> {
    let mut outcomes: Vec<Option<Outcome<T>>> = (0..count).map(|_| None).collect();
    let until = Instant::now() + deadline + Duration::from_secs(1);
    let mut received = 0;
    while received < count {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((index, outcome)) => {
                outcomes[index] = Some(outcome);
                received += 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                for slot in outcomes.iter_mut().filter(|s| s.is_none()) {
                    *slot = Some(Outcome::TimedOut);
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    outcomes
}
