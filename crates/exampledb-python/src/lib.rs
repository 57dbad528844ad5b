//! `exampledb._native`, the Rust half of the Python package `exampledb`: every exampledb
//! backend (directory, Redis, S3, DynamoDB, GitHub artifacts, the multiplexed recipe)
//! callable from Python, for Python Hypothesis and HypoFuzz.
//!
//! The pure-Python half (`python/exampledb`) wraps `exampledb._native.Database` in
//! subclasses of Hypothesis's `ExampleDatabase` and runs the listener thread; see the
//! package's README. Built with maturin (`pip install ./crates/exampledb-python`); not part
//! of the workspace's default members, so a plain `cargo build` needs no Python.
//!
//! - Each call releases the GIL while it waits, so many Python threads can use one
//!   database at once.
//! - The Tokio runtime is made on first use in each process, and again in a child made by
//!   `fork`, which also opens its own copy of each database (module `spec`).
//! - Errors become `exampledb.errors` exceptions with the Rust message; a panic never
//!   crosses into Python (it becomes `exampledb.errors.InternalError`).
//! - exampledb's warnings go to stderr through `tracing`, filtered by `EXAMPLEDB_LOG`
//!   (default: warnings of exampledb's crates).
#![deny(missing_docs)]

mod database;
mod errors;
mod runtime;
mod spec;
mod subscription;

use pyo3::prelude::*;

/// What is logged when `EXAMPLEDB_LOG` is not set.
const DEFAULT_LOG: &str = "exampledb=warn";

/// Sends exampledb's `tracing` events to stderr, unless the process already has a
/// subscriber.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXAMPLEDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Panics inside a database call: shows that a panic reaches Python as
/// `exampledb.errors.InternalError` (the package's tests call it).
#[pyfunction]
#[pyo3(name = "_panic_for_tests")]
fn panic_for_tests(py: Python<'_>) -> PyResult<()> {
    runtime::run(py, || async {
        let fail = std::hint::black_box(true);
        if fail {
            panic!("a deliberate panic, for a test");
        }
        Ok(())
    })
}

/// The extension module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<database::Database>()?;
    m.add_class::<subscription::Subscription>()?;
    m.add_function(wrap_pyfunction!(panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::after_fork_in_child, m)?)?;
    runtime::watch_forks(m)?;
    Ok(())
}
