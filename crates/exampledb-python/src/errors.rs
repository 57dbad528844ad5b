//! exampledb's errors as Python exceptions: the classes of `exampledb.errors` (written in
//! Python, so that they can also derive from the built-in exception each kind resembles),
//! one per [`ErrorKind`], carrying the Rust error's message unchanged and its kind,
//! backend, operation and whether retrying may help.

use std::any::Any;

use exampledb::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The Python module that defines the exception classes.
const MODULE: &str = "exampledb.errors";

/// The `exampledb.errors` class for each kind of failure.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotSupported => "NotSupportedError",
        ErrorKind::ReadOnly => "ReadOnlyError",
        ErrorKind::InvalidConfig => "ConfigurationError",
        ErrorKind::Closed => "ClosedError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::TooLarge => "TooLargeError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::Unauthenticated => "AuthenticationError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::RateLimited => "RateLimitedError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::InvalidData => "InvalidDataError",
        ErrorKind::Protocol => "ProtocolError",
        ErrorKind::Io => "StorageIOError",
        _ => "ExampleDatabaseError",
    }
}

/// What describes an error besides its message.
struct Details {
    kind: String,
    backend: &'static str,
    operation: Option<String>,
    temporary: bool,
}

/// An instance of `exampledb.errors.<class>(message)` with the details as attributes, or
/// `RuntimeError`
/// when that module cannot be imported (the extension used on its own).
fn make(py: Python<'_>, class: &str, message: &str, details: Option<Details>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let error = py.import(MODULE)?.getattr(class)?.call1((message,))?;
        if let Some(d) = details {
            error.setattr("kind", d.kind)?;
            error.setattr("backend", d.backend)?;
            error.setattr("operation", d.operation)?;
            error.setattr("temporary", d.temporary)?;
        }
        Ok(PyErr::from_value(error))
    };
    build().unwrap_or_else(|_| PyRuntimeError::new_err(message.to_owned()))
}

/// The exception for an exampledb error: same message, class by its kind.
pub(crate) fn to_py(py: Python<'_>, e: &Error) -> PyErr {
    let details = Details {
        kind: e.kind().to_string(),
        backend: e.backend(),
        operation: e.operation().map(|op| op.to_string()),
        temporary: e.is_temporary(),
    };
    make(py, class_name(e.kind()), &e.to_string(), Some(details))
}

/// `exampledb.errors.InternalError`: a bug in exampledb or a misuse it cannot serve.
pub(crate) fn internal(message: impl AsRef<str>) -> PyErr {
    Python::attach(|py| make(py, "InternalError", message.as_ref(), None))
}

/// A panic caught before it could reach Python, as `InternalError` naming it.
pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %what, "exampledb panicked; reported to Python as InternalError");
    internal(format!(
        "exampledb panicked (a bug; please report it): {what}"
    ))
}
