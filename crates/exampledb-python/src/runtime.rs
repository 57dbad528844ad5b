//! The Tokio runtime the databases run on: one per process, created on first use, and
//! created again in a child made by `fork` (whose copy of the parent's runtime has no
//! threads).
//!
//! Every call from Python goes through [`run`]: it releases the GIL, drives the future on
//! the calling thread (a directory database's file I/O happens right there; network
//! backends' connections are served by the runtime's two worker threads), turns a Rust
//! error into an `exampledb` exception and a panic into `exampledb.InternalError`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::errors;

/// The runtime and the process it was made in.
static RUNTIME: Mutex<Option<(Process, Arc<Runtime>)>> = Mutex::new(None);

/// The operating system's id of the process the runtime was made in: checked only when a
/// call has waited a while (see [`block_on`]).
static RUNTIME_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Which process this is, told apart from its ancestors without a system call: the number
/// of `fork`s that led to it. Whatever a process inherited was made under a smaller one.
pub(crate) type Process = u64;

/// Forks that led to this process (see [`Process`]).
static FORKS: AtomicU64 = AtomicU64::new(0);

/// This process (see [`Process`]).
pub(crate) fn process() -> Process {
    FORKS.load(Ordering::Acquire)
}

/// Counts a fork: run in every child by `os.register_at_fork`, which CPython calls for
/// each `fork` after which Python code can run (`os.fork`, `multiprocessing`, and a C
/// extension's `fork` followed by `PyOS_AfterFork_Child`).
#[pyfunction]
#[pyo3(name = "_after_fork_in_child")]
pub(crate) fn after_fork_in_child() {
    FORKS.fetch_add(1, Ordering::AcqRel);
}

/// Registers [`after_fork_in_child`] with `os.register_at_fork`.
pub(crate) fn watch_forks(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let os = py.import("os")?;
    if !os.hasattr("register_at_fork")? {
        // No fork on this platform (Windows): every call is in the first process.
        return Ok(());
    }
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", module.getattr("_after_fork_in_child")?)?;
    os.call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

/// Worker threads by default: they serve sockets and timers; the futures themselves run
/// on the Python threads that wait for them.
const WORKER_THREADS: usize = 2;

/// Overrides [`WORKER_THREADS`].
const WORKER_THREADS_ENV: &str = "EXAMPLEDB_RUNTIME_THREADS";

fn worker_threads() -> usize {
    std::env::var(WORKER_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(WORKER_THREADS)
}

/// This process's runtime, created if this process has none yet.
pub(crate) fn handle() -> PyResult<Handle> {
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = process();
    if let Some((owner, runtime)) = slot.as_ref() {
        if *owner == pid {
            return Ok(runtime.handle().clone());
        }
    }
    if let Some(inherited) = slot.take() {
        // Made by the parent before a fork: its threads do not exist here, and dropping it
        // would wait for them forever and deregister the parent's sockets from an epoll
        // instance both processes share. It is left alone.
        std::mem::forget(inherited);
    }
    let runtime = Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("exampledb")
        .enable_all()
        .build()
        .map_err(|e| errors::internal(format!("cannot start the Tokio runtime: {e}")))?;
    let handle = runtime.handle().clone();
    *slot = Some((pid, Arc::new(runtime)));
    RUNTIME_PID.store(std::process::id(), Ordering::Release);
    Ok(handle)
}

/// How often a call that waits looks for a signal to deliver (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Runs `f` (which builds a future) to completion with the GIL released, inside this
/// process's runtime. Every [`SIGNAL_CHECK`] of waiting, the GIL is taken back to run
/// Python's signal handlers: a `KeyboardInterrupt` they raise abandons the call (the
/// future is dropped) and is raised. A panic becomes `exampledb.InternalError`; `Err`
/// from the future is mapped by the caller.
pub(crate) fn block_on<F, Fut, T>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    if Handle::try_current().is_ok() {
        return Err(errors::internal(
            "an exampledb database was called from a thread that runs a Tokio runtime; call it from an ordinary thread",
        ));
    }
    let handle = handle()?;
    let mut future = std::pin::pin!(f());
    loop {
        let step = py.detach(|| {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                // The timer is made inside the runtime, where it has a clock.
                let _entered = handle.enter();
                drive(std::pin::pin!(tokio::time::timeout(
                    SIGNAL_CHECK,
                    future.as_mut()
                )))
            }))
        });
        match step {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(_still_waiting)) => {
                if RUNTIME_PID.load(Ordering::Acquire) != std::process::id() {
                    // A fork that skipped CPython's after-fork step (`os.fork` runs it): the
                    // runtime's threads are the parent's and do not exist here, so the
                    // call would wait forever.
                    return Err(errors::internal(
                        "this process was forked without Python's after-fork hooks (use os.fork or multiprocessing); exampledb cannot run in it",
                    ));
                }
                py.check_signals()?
            }
            Err(panic) => return Err(errors::from_panic(panic)),
        }
    }
}

/// How long a waiting call keeps looking for its answer (yielding the processor) before it
/// sleeps: an answer read by a runtime worker is then taken at once, without the cost of
/// waking a sleeping thread.
const SPIN: Duration = Duration::from_micros(200);

/// Wakes the thread that waits in [`drive`].
struct Wakeup {
    woken: std::sync::atomic::AtomicBool,
    thread: std::thread::Thread,
}

impl std::task::Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `future` on this thread until it is ready; between polls, looks for a wake-up for
/// [`SPIN`], yielding the processor, then sleeps until woken.
fn drive<T>(mut future: std::pin::Pin<&mut impl Future<Output = T>>) -> T {
    use std::sync::atomic::Ordering;
    let wakeup = Arc::new(Wakeup {
        woken: std::sync::atomic::AtomicBool::new(false),
        thread: std::thread::current(),
    });
    let waker = std::task::Waker::from(Arc::clone(&wakeup));
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        let waiting = std::time::Instant::now();
        while !wakeup.woken.swap(false, Ordering::Acquire) {
            if waiting.elapsed() < SPIN {
                std::thread::yield_now();
            } else {
                std::thread::park();
            }
        }
    }
}

/// [`block_on`] for a future giving exampledb's `Result`: its error becomes the matching
/// `exampledb` exception.
pub(crate) fn run<F, Fut, T>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = exampledb::Result<T>> + Send,
    T: Send,
{
    block_on(py, f)?.map_err(|e| errors::to_py(py, &e))
}

/// Runs `f` (no I/O: building a database from its settings) inside this process's
/// runtime, where builders that spawn tasks expect to be, catching a panic.
pub(crate) fn enter<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    let handle = handle()?;
    let _entered = handle.enter();
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(errors::from_panic)?
}
