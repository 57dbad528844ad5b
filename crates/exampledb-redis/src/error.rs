//! Errors: what a client-library error means (its [`ErrorKind`], whether retrying may
//! help), and the [`Error`]s the database returns, naming the server and never the
//! password.

use std::time::Duration;

use exampledb_core::{Error, ErrorKind, Operation};
use redis::{ErrorKind as RedisKind, RedisError, ServerErrorKind};

use crate::client::Large;
use crate::{conn, RedisDatabase};

/// The backend name in errors.
pub(crate) const BACKEND: &str = "redis";

impl RedisDatabase {
    pub(crate) fn timeout_error(&self, operation: Operation, after: Duration) -> Error {
        Error::Timeout {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            after,
        }
    }

    pub(crate) fn backend_error(
        &self,
        operation: Operation,
        kind: ErrorKind,
        temporary: bool,
        source: exampledb_core::BoxError,
    ) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation,
            location: self.inner.server.clone(),
            kind,
            temporary,
            source,
        }
    }

    pub(crate) fn redis_error(&self, operation: Operation, e: RedisError) -> Error {
        let (kind, temporary) = classify(&e);
        let source: exampledb_core::BoxError = if is_script_acl_refusal(&e) {
            Box::new(Cause::ScriptNotPermitted(e))
        } else if kind != ErrorKind::Unauthenticated {
            Box::new(e)
        } else if is_missing_auth(&e) {
            Box::new(Cause::AuthRequired(e))
        } else {
            Box::new(Cause::CredentialsRefused(e))
        };
        self.backend_error(operation, kind, temporary, source)
    }

    pub(crate) fn pool_error(&self, operation: Operation, e: conn::GetError) -> Error {
        use deadpool_redis::PoolError as P;
        match e {
            // Connecting (TCP and the handshake) timed out: the pool's create and wait
            // limits and the client's connection timeout are all the connect timeout.
            P::Backend(e) if e.is_timeout() => {
                self.timeout_error(operation, self.inner.connect_timeout)
            }
            P::Timeout(_) => self.timeout_error(operation, self.inner.connect_timeout),
            P::Backend(e) => self.redis_error(operation, e),
            P::Closed => Error::Closed {
                backend: BACKEND,
                operation,
            },
            other => {
                let kind = match other {
                    P::NoRuntimeSpecified => ErrorKind::InvalidConfig,
                    _ => ErrorKind::Other,
                };
                self.backend_error(operation, kind, false, other.to_string().into())
            }
        }
    }

    /// The error for a request with an argument over [`ALWAYS_ACCEPTED`](crate::client::ALWAYS_ACCEPTED) on which the
    /// server closed the connection (or answered a protocol error, and then closed it).
    pub(crate) fn too_large_error(
        &self,
        operation: Operation,
        large: Large,
        e: RedisError,
    ) -> Error {
        let Large { what, size, limit } = large;
        let refused = server_error(&e).is_some_and(|(_, detail)| detail.contains("bulk length"));
        let cause = if refused {
            Cause::RefusedAsTooLarge {
                what,
                size,
                limit,
                source: e,
            }
        } else {
            Cause::MaybeTooLarge {
                what,
                size,
                limit,
                source: e,
            }
        };
        self.backend_error(operation, ErrorKind::TooLarge, false, Box::new(cause))
    }
}

/// Whether the server answered NOSCRIPT (it does not have the script cached).
pub(crate) fn is_noscript(e: &Error) -> bool {
    matches!(e, Error::Backend { source, .. } if source
        .downcast_ref::<RedisError>()
        .is_some_and(|e| e.kind() == RedisKind::Server(ServerErrorKind::NoScript)))
}

/// Whether `e` means the connection is unusable (as opposed to an answer from the server).
pub(crate) fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// The cause of a failure in words, kept as the source of an [`Error::Backend`] where the
/// client library's own message would mislead; that error stays reachable as its source.
#[derive(Debug, thiserror::Error)]
enum Cause {
    /// The server wants a password and none was given (`NOAUTH`, or the protocol error
    /// Redis answers to an unauthenticated client's long command).
    #[error("authentication required: the server has a password (requirepass or ACL users) and the URL gives none")]
    AuthRequired(#[source] RedisError),
    /// `AUTH` failed.
    #[error("the server refused the credentials in the URL (a wrong user name or password, a disabled user, or a password for a server that has none)")]
    CredentialsRefused(#[source] RedisError),
    /// Redis 7 refused, inside the write script, a command the user's ACL does not allow.
    #[error("the server's ACL does not let this user run a command the write script needs (TYPE, SADD, SREM, EXPIRE and PUBLISH on the listener channel; for example +@set +type +expire +publish and the channel's &pattern)")]
    ScriptNotPermitted(#[source] RedisError),
    /// The server closed the connection on a request with a large argument.
    #[error("the server closed the connection on a request with a {size}-byte {what}: the {what} may exceed the server's proto-max-bulk-len ({limit} bytes when last read) or the whole request its client-query-buffer-limit; not retried")]
    MaybeTooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
        #[source]
        source: RedisError,
    },
    /// The server answered "invalid bulk length" to a request with a large argument.
    #[error("the server refused a request with a {size}-byte {what} as longer than its proto-max-bulk-len (read earlier as {limit} bytes); not retried")]
    RefusedAsTooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
        #[source]
        source: RedisError,
    },
}

/// The code and text of the (first) error the server answered, if it answered one.
fn server_error(e: &RedisError) -> Option<(String, String)> {
    let errors = e.clone().into_server_errors()?;
    let (_, first) = errors.first()?;
    Some((
        first.code().to_owned(),
        first.details().unwrap_or_default().to_owned(),
    ))
}

/// Whether the server answered a protocol error, after which it closes the connection.
pub(crate) fn is_protocol_error(e: &RedisError) -> bool {
    server_error(e)
        .is_some_and(|(code, detail)| code == "ERR" && detail.starts_with("Protocol error"))
}

/// Whether the server refused a command inside a script for the user's ACL.
fn is_script_acl_refusal(e: &RedisError) -> bool {
    server_error(e).is_some_and(|(code, detail)| {
        code == "ERR" && detail.contains("The user executing the script can't run this command")
    })
}

/// Whether the server refused a command for want of authentication: `NOAUTH`, or the
/// protocol error Redis answers (before `NOAUTH` could be) when an unauthenticated client
/// sends a command of more than 10 arguments or an argument over 16 KiB.
fn is_missing_auth(e: &RedisError) -> bool {
    server_error(e).is_some_and(|(code, detail)| {
        code == "NOAUTH" || (code == "ERR" && detail.starts_with("Protocol error: unauthenticated"))
    })
}

/// What kind of failure a client-library error is, and whether retrying may succeed.
pub(crate) fn classify(e: &RedisError) -> (ErrorKind, bool) {
    if is_missing_auth(e) {
        return (ErrorKind::Unauthenticated, false);
    }
    match e.kind() {
        RedisKind::AuthenticationFailed => (ErrorKind::Unauthenticated, false),
        RedisKind::Io if e.is_timeout() => (ErrorKind::Timeout, true),
        // Refused, reset, closed, unreachable, not resolved...; only permission and
        // unsupported-operation errors are not worth retrying.
        RedisKind::Io => match e.retry_method() {
            redis::RetryMethod::NoRetry => (ErrorKind::Io, false),
            _ => (ErrorKind::Unavailable, true),
        },
        RedisKind::ClusterConnectionNotFound => (ErrorKind::Unavailable, true),
        RedisKind::Parse | RedisKind::UnexpectedReturnType | RedisKind::RESP3NotSupported => {
            (ErrorKind::Protocol, false)
        }
        RedisKind::InvalidClientConfig => (ErrorKind::InvalidConfig, false),
        RedisKind::Server(kind) => match kind {
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask => (ErrorKind::Unavailable, true),
            ServerErrorKind::NoPerm => (ErrorKind::PermissionDenied, false),
            // A replica: the URL names a server that takes no writes.
            ServerErrorKind::ReadOnly => (ErrorKind::ReadOnly, false),
            ServerErrorKind::ResponseError if is_protocol_error(e) => (ErrorKind::Protocol, false),
            // An ACL refusal inside a script (Redis 7 reports it as ERR, not NOPERM): the
            // user may not run a command the write script needs (TYPE, say).
            ServerErrorKind::ResponseError if is_script_acl_refusal(e) => {
                (ErrorKind::PermissionDenied, false)
            }
            _ => (ErrorKind::Other, false),
        },
        RedisKind::Extension => match server_error(e).map(|(code, _)| code).as_deref() {
            Some("WRONGPASS") => (ErrorKind::Unauthenticated, false),
            // A key of another type than set: not written by an example database.
            Some("WRONGTYPE") => (ErrorKind::InvalidData, false),
            // Over maxmemory with noeviction, a script running, too few replicas, a failed
            // background save: the server takes writes again once that has passed.
            Some("OOM" | "BUSY" | "NOREPLICAS" | "MISCONF") => (ErrorKind::Unavailable, true),
            _ => (ErrorKind::Other, false),
        },
        _ => (ErrorKind::Other, false),
    }
}

/// Whether the server refused a command (unknown, renamed, not permitted), as opposed to
/// failing to answer or wanting authentication.
pub(crate) fn is_refusal(e: &RedisError) -> bool {
    server_error(e).is_some()
        && matches!(
            classify(e).0,
            ErrorKind::Other | ErrorKind::PermissionDenied
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::DEFAULT_BULK_LIMIT;

    /// The error the client library makes of the server's error reply `line`.
    fn reply_error(line: &str) -> RedisError {
        redis::parse_redis_value(format!("-{line}\r\n").as_bytes())
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn errors_are_classified_by_cause() {
        use ErrorKind as K;
        for (line, kind, temporary) in [
            ("NOAUTH Authentication required.", K::Unauthenticated, false),
            (
                "ERR Protocol error: unauthenticated multibulk length",
                K::Unauthenticated,
                false,
            ),
            (
                "WRONGPASS invalid username-password pair or user is disabled.",
                K::Unauthenticated,
                false,
            ),
            (
                "ERR The user executing the script can't run this command or subcommand script: 4b0a..., on @user_script:8.",
                K::PermissionDenied,
                false,
            ),
            (
                "WRONGTYPE exampledb: the key holds a string, not a set",
                K::InvalidData,
                false,
            ),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                K::InvalidData,
                false,
            ),
            (
                "NOPERM exampledb: this user may not PUBLISH to the listener channel",
                K::PermissionDenied,
                false,
            ),
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                K::Unavailable,
                true,
            ),
            (
                "LOADING Redis is loading the dataset in memory",
                K::Unavailable,
                true,
            ),
            (
                "ERR Protocol error: invalid bulk length",
                K::Protocol,
                false,
            ),
            ("ERR unknown command 'CONFIG'", K::Other, false),
        ] {
            assert_eq!(classify(&reply_error(line)), (kind, temporary), "{line}");
        }
        let failed_auth = RedisError::from((
            RedisKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert_eq!(classify(&failed_auth), (K::Unauthenticated, false));
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&reset), (K::Unavailable, true));
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(classify(&timed_out), (K::Timeout, true));

        // CONFIG refused or renamed: assume the default; not for a missing password.
        assert!(is_refusal(&reply_error("ERR unknown command 'CONFIG'")));
        assert!(is_refusal(&reply_error(
            "NOPERM this user has no permissions to run the 'config|get' command"
        )));
        assert!(!is_refusal(&reply_error("NOAUTH Authentication required.")));
        assert!(!is_refusal(&reset));
    }

    #[test]
    fn messages_name_the_cause() {
        let db = RedisDatabase::builder("redis://127.0.0.1:1")
            .build()
            .unwrap();
        let err = db.redis_error(
            Operation::Save,
            reply_error("NOAUTH Authentication required."),
        );
        assert!(err.to_string().contains("authentication required"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        let failed_auth = RedisError::from((
            RedisKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        let err = db.redis_error(Operation::Save, failed_auth);
        assert!(err.to_string().contains("refused the credentials"), "{err}");
        let err = db.redis_error(
            Operation::Move,
            reply_error("ERR The user executing the script can't run this command or subcommand script: 1, on @user_script:9."),
        );
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("TYPE"), "{err}");
        let large = Large {
            what: "value",
            size: 2 << 20,
            limit: DEFAULT_BULK_LIMIT,
        };
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let err = db.too_large_error(Operation::Save, large, reset);
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(!err.is_temporary());
        let text = err.to_string();
        assert!(text.contains("2097152-byte value"), "{text}");
        assert!(
            text.contains("may exceed the server's proto-max-bulk-len (536870912"),
            "{text}"
        );
        let err = db.too_large_error(
            Operation::Save,
            large,
            reply_error("ERR Protocol error: invalid bulk length"),
        );
        assert!(
            err.to_string()
                .contains("as longer than its proto-max-bulk-len"),
            "{err}"
        );
    }
}
