//! Sync over async: proptest calls [`FailurePersistence`](proptest::test_runner::FailurePersistence)
//! from a plain thread, a tokio worker, a thread inside a current-thread runtime's
//! `block_on`, a `LocalSet`...; the stores are async.
//!
//! Every operation runs on a runtime of this crate's own (made the first time it is
//! needed, for the life of the process; its worker drives sockets and timers), each
//! store's job driven on a thread of its blocking pool, so a store that blocks its thread (synchronous file I/O on a stalled disk) holds
//! up no other store. The calling thread waits on a channel with a deadline. Nothing is
//! ever run on the caller's runtime: a current-thread runtime cannot be re-entered, and
//! connections opened on a test's runtime would die with that test. The wait blocks the
//! calling thread even on a multi-thread runtime's worker (`block_in_place` would panic
//! inside a `LocalSet`, and its gain is small for a call a test makes once).

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

/// The name of the runtime's threads, as a debugger shows them.
const THREAD_NAME: &str = "exampledb-proptest";

/// How long a waiting caller yields the processor before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// The longest wait there is: longer deadlines are this one (no instant overflows).
const LONGEST: Duration = Duration::from_secs(365 * 86_400);

/// A unit of work: one store's operation.
pub(crate) type Job<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How one job ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// It finished with this.
    Done(T),
    /// It did not finish before the deadline.
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
/// moment for the runtime's own timeouts to report), for all of them. The outcomes are in
/// the order of `jobs`. Never panics and never waits longer, whatever runtime or thread
/// the caller is in.
pub(crate) fn run_all<T: Send + 'static>(jobs: Vec<Job<T>>, deadline: Duration) -> Vec<Outcome<T>> {
    let count = jobs.len();
    if count == 0 {
        return Vec::new();
    }
    let deadline = deadline.min(LONGEST);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(message) => return (0..count).map(|_| Outcome::Lost(message.clone())).collect(),
    };
    let (tx, rx) = mpsc::channel();
    let mut refused = Vec::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let tx = tx.clone();
        let handle = runtime.handle().clone();
        // On the runtime's blocking pool (threads kept for reuse), a thread per job at
        // a time; a panic inside the job drops `tx` unsent: reported lost. The pool
        // panics where the system refuses it a thread: caught, and the job is lost.
        let job = move || {
            // The timer is made inside the runtime's context, not on this thread.
            let timed = async move { tokio::time::timeout(deadline, job).await };
            let outcome = match handle.block_on(timed) {
                Ok(value) => Outcome::Done(value),
                Err(_) => Outcome::TimedOut,
            };
            let _ = tx.send((index, outcome));
        };
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(runtime.spawn_blocking(job));
        }));
        if spawned.is_err() {
            refused.push((
                index,
                "could not start a thread for the operation".to_owned(),
            ));
        }
    }
    drop(tx);
    let mut outcomes = collect(&rx, count, deadline);
    for (index, why) in refused {
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(Outcome::Lost(why));
        }
    }
    outcomes
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Outcome::Lost("the operation panicked".to_owned())))
        .collect()
}

/// What arrives on `rx` before the deadline (with a grace period for the runtime's own
/// timeouts to fire and report); a job that has not reported by then timed out, and one
/// whose sender went away unsent (it panicked) stays `None`.
fn collect<T>(
    rx: &mpsc::Receiver<(usize, Outcome<T>)>,
    count: usize,
    deadline: Duration,
) -> Vec<Option<Outcome<T>>> {
    let mut outcomes: Vec<Option<Outcome<T>>> = (0..count).map(|_| None).collect();
    let started = Instant::now();
    let patience = deadline + Duration::from_secs(1);
    let mut received = 0;
    while received < count {
        // A local store answers in microseconds: yield the processor for a moment before
        // sleeping, so the answer is taken without waking a halted processor.
        let spun = Instant::now();
        let mut ready = rx.try_recv();
        while matches!(ready, Err(mpsc::TryRecvError::Empty)) && spun.elapsed() < SPIN {
            std::thread::yield_now();
            ready = rx.try_recv();
        }
        let next = match ready {
            Ok(message) => Ok(message),
            Err(mpsc::TryRecvError::Disconnected) => Err(mpsc::RecvTimeoutError::Disconnected),
            Err(mpsc::TryRecvError::Empty) => {
                rx.recv_timeout(patience.saturating_sub(started.elapsed()))
            }
        };
        match next {
            Ok((index, outcome)) => {
                if let Some(slot) = outcomes.get_mut(index) {
                    *slot = Some(outcome);
                }
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
