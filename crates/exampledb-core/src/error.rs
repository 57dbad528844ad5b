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
    /// Setting up or removing the store's own expiry (an S3 bucket lifecycle rule).
    Expiry,
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
            Operation::Expiry => "set expiry",
        })
    }
}

/// What kind of failure an [`Error`] is: the distinctions a caller acts on (ask for new
/// credentials, slow down, shrink the value, retry later) without downcasting the source.
///
/// ```
/// use exampledb_core::{Error, ErrorKind, Operation};
/// let e = Error::TooLarge {
///     backend: "redis",
///     operation: Operation::Save,
///     location: "127.0.0.1:6379/0".into(),
///     what: "value",
///     size: 2 << 20,
///     limit: 1 << 20,
/// };
/// assert_eq!(e.kind(), ErrorKind::TooLarge);
/// assert!(!e.is_temporary());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend cannot do this at all ([`Error::NotSupported`]).
    NotSupported,
    /// A write to a read-only database ([`Error::ReadOnly`]).
    ReadOnly,
    /// The configuration cannot work ([`Error::InvalidConfig`]).
    InvalidConfig,
    /// The database was closed ([`Error::Closed`]).
    Closed,
    /// A time limit passed ([`Error::Timeout`]).
    Timeout,
    /// A key or value is larger than the store accepts ([`Error::TooLarge`]).
    TooLarge,
    /// The store could not be reached, or the connection to it broke (refused, reset,
    /// closed, name not resolved, server loading or down).
    Unavailable,
    /// Credentials are missing, wrong or expired, or the server requires authentication
    /// that was not given.
    Unauthenticated,
    /// The credentials are valid but not allowed to do this (including file permissions).
    PermissionDenied,
    /// The store asked the client to slow down (throttling, rate limits).
    RateLimited,
    /// The bucket, table, repository or artifact the database names does not exist.
    NotFound,
    /// What is stored where the database keeps a key is not in the form it writes (a
    /// Redis key of another type, a damaged archive or layout).
    InvalidData,
    /// The server answered something the client does not understand (not the expected
    /// kind of server, a protocol error).
    Protocol,
    /// Any other local I/O failure.
    Io,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotSupported => "not supported",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::InvalidConfig => "invalid configuration",
            ErrorKind::Closed => "closed",
            ErrorKind::Timeout => "timed out",
            ErrorKind::TooLarge => "too large",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unauthenticated => "authentication failed",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidData => "invalid stored data",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Io => "I/O error",
            ErrorKind::Other => "other",
        })
    }
}

impl ErrorKind {
    /// The kind of a local or socket I/O error.
    pub fn of_io(e: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown => ErrorKind::Unavailable,
            K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::PermissionDenied,
            K::FileTooLarge => ErrorKind::TooLarge,
            K::InvalidData => ErrorKind::InvalidData,
            _ => ErrorKind::Io,
        }
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
    /// A key or value is larger than the store (or the configured limit) accepts. Checked
    /// before anything is sent or written, so nothing changed.
    #[error("{backend} database: {operation} refused at {location}: the {what} is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        operation: Operation,
        /// The server, bucket, table or path involved (never a credential).
        location: String,
        /// What is too large (`"value"`, `"key"`, `"item"`, ...).
        what: &'static str,
        /// Its size in bytes.
        size: u64,
        /// The largest size allowed, in bytes.
        limit: u64,
    },
    /// Any other failure reported by a backend's client library.
    #[error("{backend} database: {operation} failed at {location}: {kind}: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What was being done.
        operation: Operation,
        /// The server, bucket, table or path involved (never a credential).
        location: String,
        /// What kind of failure it is.
        kind: ErrorKind,
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
    /// refusals, values that are too large and unsupported operations are never temporary.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Backend { temporary, .. } => *temporary,
            Error::Io { source, .. } => {
                source.kind() == std::io::ErrorKind::Interrupted
                    || matches!(
                        ErrorKind::of_io(source),
                        ErrorKind::Timeout | ErrorKind::Unavailable
                    )
            }
            _ => false,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotSupported { .. } => ErrorKind::NotSupported,
            Error::ReadOnly { .. } => ErrorKind::ReadOnly,
            Error::Io { source, .. } => ErrorKind::of_io(source),
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Backend { kind, .. } => *kind,
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
            | Error::TooLarge { backend, .. }
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
            | Error::TooLarge { operation, .. }
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
        assert_eq!(ro.kind(), ErrorKind::ReadOnly);
        assert_eq!(refused.kind(), ErrorKind::Unavailable);
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        let denied = Error::io(
            "directory",
            Operation::Save,
            "/x",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        assert!(!denied.is_temporary());
        let auth = Error::Backend {
            backend: "redis",
            operation: Operation::Save,
            location: "127.0.0.1:1/0".into(),
            kind: ErrorKind::Unauthenticated,
            temporary: false,
            source: "WRONGPASS".into(),
        };
        assert_eq!(auth.kind(), ErrorKind::Unauthenticated);
        assert!(auth.to_string().contains("authentication failed"), "{auth}");
    }
}
