//! The one error type every backend reports through.

use std::fmt;
use std::time::Duration;

/// The operation that failed, named in every [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`ExampleDatabase::save`](crate::ExampleDatabase::save).
    Save,
    /// [`ExampleDatabase::fetch`](crate::ExampleDatabase::fetch).
    Fetch,
    /// [`ExampleDatabase::delete`](crate::ExampleDatabase::delete).
    Delete,
    /// [`ExampleDatabase::move_value`](crate::ExampleDatabase::move_value).
    Move,
    /// [`ExampleDatabase::keys`](crate::ExampleDatabase::keys).
    Keys,
    /// [`ExampleDatabase::subscribe`](crate::ExampleDatabase::subscribe).
    Subscribe,
    /// Opening or connecting to a store.
    Open,
    /// Waiting for queued writes ([`BackgroundWrite::flush`](crate::BackgroundWrite::flush)).
    Flush,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Save => "save",
            Operation::Fetch => "fetch",
            Operation::Delete => "delete",
            Operation::Move => "move",
            Operation::Keys => "keys",
            Operation::Subscribe => "subscribe",
            Operation::Open => "open",
            Operation::Flush => "flush",
        })
    }
}

/// A boxed error from a backend's own client library, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in an example database.
///
/// Every variant names the backend (`"directory"`, `"redis"`, ...) and the operation, and
/// where it helps the location (a path or a server address, never a credential). The
/// underlying cause stays reachable through [`std::error::Error::source`].
/// [`Error::is_temporary`] says whether retrying the same call may succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot do this at all (for example listing keys of a store that has no
    /// index of them).
    #[error("{backend} database: {operation} is not supported")]
    NotSupported {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        operation: Operation,
    },
    /// The database is read-only and a write was asked of it.
    #[error("{backend} database is read-only: {operation} refused (wrap it in ReadOnly to make writes no-ops)")]
    ReadOnly {
        /// The backend's name.
        backend: &'static str,
        /// The write that was refused.
        operation: Operation,
    },
    /// A file-system or socket operation failed.
    #[error("{backend} database: {operation} failed at {location}: {source}")]
    Io {
        /// The backend's name.
        backend: &'static str,
        /// What was being done.
        operation: Operation,
        /// The path or address involved.
        location: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operation did not finish within its configured time limit.
    #[error("{backend} database: {operation} on {location} timed out after {after:?}")]
    Timeout {
        /// The backend's name.
        backend: &'static str,
        /// What was being done.
        operation: Operation,
        /// The server or path involved.
        location: String,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The database was configured with values that cannot work.
    #[error("{backend} database: invalid configuration: {message}")]
    InvalidConfig {
        /// The backend's name.
        backend: &'static str,
        /// What is wrong, and with which setting.
        message: String,
    },
    /// The database (or its background task) was closed and can take no more work.
    #[error("{backend} database: {operation} after the database was closed")]
    Closed {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        operation: Operation,
    },
    /// Any other failure reported by a backend's client library.
    #[error("{backend} database: {operation} failed at {location}: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What was being done.
        operation: Operation,
        /// The server, bucket, table or path involved (never a credential).
        location: String,
        /// Whether retrying may succeed.
        temporary: bool,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An [`Error::Io`] for `backend` doing `operation` at `location`.
    pub fn io(
        backend: &'static str,
        operation: Operation,
        location: impl fmt::Display,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            backend,
            operation,
            location: location.to_string(),
            source,
        }
    }

    /// Whether retrying the same call may succeed: time-outs, interrupted or refused
    /// connections and errors a backend marked temporary. Configuration errors, read-only
    /// refusals and unsupported operations are never temporary.
    pub fn is_temporary(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            Error::Timeout { .. } => true,
            Error::Backend { temporary, .. } => *temporary,
            Error::Io { source, .. } => matches!(
                source.kind(),
                K::Interrupted
                    | K::TimedOut
                    | K::WouldBlock
                    | K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
                    | K::UnexpectedEof
            ),
            _ => false,
        }
    }

    /// The name of the backend that reported this error.
    pub fn backend(&self) -> &'static str {
        match self {
            Error::NotSupported { backend, .. }
            | Error::ReadOnly { backend, .. }
            | Error::Io { backend, .. }
            | Error::Timeout { backend, .. }
            | Error::InvalidConfig { backend, .. }
            | Error::Closed { backend, .. }
            | Error::Backend { backend, .. } => backend,
        }
    }

    /// The operation that failed, where one was under way.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::NotSupported { operation, .. }
            | Error::ReadOnly { operation, .. }
            | Error::Io { operation, .. }
            | Error::Timeout { operation, .. }
            | Error::Closed { operation, .. }
            | Error::Backend { operation, .. } => Some(*operation),
            Error::InvalidConfig { .. } => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_backend_operation_and_location() {
        let e = Error::io(
            "directory",
            Operation::Save,
            "/tmp/x/abc",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        let text = e.to_string();
        assert!(text.contains("directory"), "{text}");
        assert!(text.contains("save"), "{text}");
        assert!(text.contains("/tmp/x/abc"), "{text}");
        assert!(!e.is_temporary());
        assert_eq!(e.backend(), "directory");
        assert_eq!(e.operation(), Some(Operation::Save));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn temporary_classification() {
        let timeout = Error::Timeout {
            backend: "redis",
            operation: Operation::Fetch,
            location: "127.0.0.1:1".into(),
            after: Duration::from_secs(1),
        };
        assert!(timeout.is_temporary());
        let refused = Error::io(
            "redis",
            Operation::Open,
            "127.0.0.1:1",
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert!(refused.is_temporary());
        let ro = Error::ReadOnly {
            backend: "github-artifact",
            operation: Operation::Save,
        };
        assert!(!ro.is_temporary());
        assert!(ro.to_string().contains("ReadOnly"));
    }
}
