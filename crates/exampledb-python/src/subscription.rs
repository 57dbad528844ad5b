//! `exampledb._native.Subscription`: a database's change events, handed to a Python
//! thread.
//!
//! A task on the runtime reads the [`ChangeStream`] into a channel; the Python package's
//! listener thread takes them with [`Subscription::next`] (GIL released while it waits)
//! and broadcasts them itself, so no listener ever runs on a Tokio worker. Closing aborts
//! the task, which drops the stream and so unsubscribes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use exampledb::{ChangeEvent, ChangeStream};
use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::runtime;

/// A live subscription to a database's change events.
#[pyclass(frozen, module = "exampledb._native", name = "Subscription")]
#[derive(Debug)]
pub(crate) struct Subscription {
    events: Mutex<Receiver<ChangeEvent>>,
    task: tokio::task::AbortHandle,
    /// The process that started it: in a child made by `fork` it is dead and left alone.
    pid: u32,
    closed: AtomicBool,
}

impl Subscription {
    /// Starts reading `stream` on this process's runtime.
    pub(crate) fn start(mut stream: ChangeStream) -> PyResult<Self> {
        let (tx, rx) = mpsc::channel();
        let task = runtime::handle()?.spawn(async move {
            while let Some(event) = stream.next().await {
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            events: Mutex::new(rx),
            task: task.abort_handle(),
            pid: std::process::id(),
            closed: AtomicBool::new(false),
        })
    }
}

/// Hypothesis's form of an event: `("save", (key, value))` or `("delete", (key, value))`,
/// the value `None` where the backend cannot know it.
fn as_tuple<'py>(py: Python<'py>, event: &ChangeEvent) -> PyResult<Bound<'py, PyTuple>> {
    match event {
        ChangeEvent::Saved { key, value } => {
            let kv = (PyBytes::new(py, key), PyBytes::new(py, value));
            ("save", kv).into_pyobject(py)
        }
        ChangeEvent::Deleted { key, value } => {
            let value = value.as_ref().map(|v| PyBytes::new(py, v));
            ("delete", (PyBytes::new(py, key), value)).into_pyobject(py)
        }
    }
}

#[pymethods]
impl Subscription {
    /// The next event as Hypothesis's tuple, waiting at most `timeout` seconds; `None`
    /// when none came (or the subscription is closed: see `closed`).
    fn next<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Option<Bound<'py, PyTuple>>> {
        if self.closed.load(Ordering::Acquire) || self.pid != std::process::id() {
            return Ok(None);
        }
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let received = py.detach(|| {
            let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            events.recv_timeout(timeout)
        });
        match received {
            Ok(event) => as_tuple(py, &event).map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                self.closed.store(true, Ordering::Release);
                Ok(None)
            }
        }
    }

    /// Whether no event will come any more (closed, or the listener ended).
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.pid != std::process::id()
    }

    /// Stops listening (the backend stops when its last subscription goes).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if self.pid == std::process::id() {
            self.task.abort();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.pid == std::process::id() {
            self.task.abort();
        }
    }
}
