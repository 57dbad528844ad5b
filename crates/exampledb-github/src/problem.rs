//! Why the artifact could not be used: [`Problem`].

use std::path::PathBuf;
use std::time::Duration;

use exampledb_core::ErrorKind;

/// Why CI's database could not be downloaded or read.
///
/// By default a problem is logged as a `tracing` warning and the database falls back to
/// the expired cache, else behaves as an empty database (as Hypothesis does); the problem
/// stays available through [`GitHubArtifactDatabase::status`](crate::GitHubArtifactDatabase::status).
/// In strict mode it is returned as the [`source`](std::error::Error::source) of an
/// [`exampledb_core::Error::Backend`] instead.
///
/// Messages name the repository, the API URL or the archive's path, never the token and
/// never a pre-signed download URL's query (which is itself a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// 401: the token is missing, wrong or expired.
    #[error("GitHub answered 401 Unauthorized for {url}: give a token that can read Actions artifacts (token(), or GITHUB_TOKEN with from_env())")]
    Unauthorized {
        /// The API URL asked.
        url: String,
    },
    /// 403 or 429 with the rate limit used up.
    #[error("GitHub rate limit exceeded for {url}{}", reset_note(*.reset_at))]
    RateLimited {
        /// The API URL asked.
        url: String,
        /// When the limit resets (seconds since the Unix epoch), if GitHub said.
        reset_at: Option<u64>,
    },
    /// 403 for another reason: usually a token without `actions:read` (or `repo`) scope.
    #[error("GitHub answered 403 Forbidden for {url}: the token may lack the actions:read scope")]
    Forbidden {
        /// The API URL asked.
        url: String,
    },
    /// 404: the repository does not exist or the token cannot see it.
    #[error(
        "GitHub answered 404 Not Found for {url}: no such repository, or the token cannot see it"
    )]
    NotFound {
        /// The API URL asked.
        url: String,
    },
    /// 410: the artifact expired or was deleted between listing and download.
    #[error("GitHub answered 410 Gone for {url}: the artifact expired or was deleted")]
    Gone {
        /// The URL asked.
        url: String,
    },
    /// Any other unexpected HTTP status (5xx included).
    #[error("unexpected HTTP status {status} from {url}")]
    Status {
        /// The URL asked (without its query when it is a download URL).
        url: String,
        /// The status code.
        status: u16,
    },
    /// The connection failed (DNS, refused, reset, TLS).
    #[error("could not reach {url}: {message}")]
    Network {
        /// The URL asked (without its query when it is a download URL).
        url: String,
        /// The client's message.
        message: String,
    },
    /// A time limit passed: no connection within the
    /// [`connect_timeout`](crate::GitHubArtifactDatabaseBuilder::connect_timeout), no
    /// answer (or no next part of one) within the
    /// [`operation_timeout`](crate::GitHubArtifactDatabaseBuilder::operation_timeout), or
    /// the whole download not finished within the
    /// [`download_timeout`](crate::GitHubArtifactDatabaseBuilder::download_timeout).
    #[error("gave up waiting for {url} after {after:?} (a time limit passed)")]
    Timeout {
        /// The URL asked (without its query when it is a download URL).
        url: String,
        /// The limit that passed.
        after: Duration,
    },
    /// The API answered something that is not the documented JSON.
    #[error("malformed answer from {url}: {message}")]
    MalformedResponse {
        /// The API URL asked.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The repository has no unexpired artifact with that name.
    #[error("{repo} has no unexpired artifact named {name:?}")]
    NoArtifact {
        /// `owner/repo`.
        repo: String,
        /// The artifact name looked for.
        name: String,
    },
    /// The download was larger than the configured limit.
    #[error("the artifact download from {url} is larger than the limit of {limit} bytes")]
    DownloadTooLarge {
        /// The URL (without its query).
        url: String,
        /// The limit ([`ArchiveLimits::max_download_size`](crate::ArchiveLimits::max_download_size)).
        limit: u64,
    },
    /// The download ended before the length the server announced.
    #[error("the artifact download from {url} was cut short: {received} of {expected} bytes")]
    Truncated {
        /// The URL (without its query).
        url: String,
        /// Bytes received.
        received: u64,
        /// Bytes announced by `Content-Length`.
        expected: u64,
    },
    /// The archive is not a readable zip, or an entry failed its CRC check.
    #[error("corrupt artifact archive {path}: {message}")]
    CorruptArchive {
        /// The cached zip.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The archive exceeds one of the [`ArchiveLimits`](crate::ArchiveLimits): a zip bomb
    /// or not an example database.
    #[error("artifact archive {path} exceeds the {what} limit of {limit} (it has {actual})")]
    ArchiveLimit {
        /// The zip.
        path: PathBuf,
        /// Which limit: `entry count`, `central directory size` (at most 512 bytes per
        /// declared entry on average, plus 64 KiB), `entry size` or `total size`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// What the archive has (or declares).
        actual: u64,
    },
    /// Reading or writing the cache directory failed.
    #[error("artifact cache {path}: {message}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

fn reset_note(reset_at: Option<u64>) -> String {
    match reset_at {
        Some(at) => format!(" (resets at Unix time {at})"),
        None => String::new(),
    }
}

impl Problem {
    /// Whether trying again later may help: network failures, time-outs, rate limits and
    /// server errors.
    pub fn is_temporary(&self) -> bool {
        match self {
            Problem::Network { .. } | Problem::Timeout { .. } | Problem::RateLimited { .. } => true,
            Problem::Status { status, .. } => *status >= 500,
            Problem::Truncated { .. } => true,
            _ => false,
        }
    }

    /// The [`ErrorKind`] a caller acts on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Problem::Unauthorized { .. } => ErrorKind::Unauthenticated,
            Problem::RateLimited { .. } => ErrorKind::RateLimited,
            Problem::Forbidden { .. } => ErrorKind::PermissionDenied,
            Problem::NotFound { .. } | Problem::Gone { .. } | Problem::NoArtifact { .. } => {
                ErrorKind::NotFound
            }
            Problem::Status { status, .. } if *status >= 500 => ErrorKind::Unavailable,
            Problem::Status { .. } | Problem::MalformedResponse { .. } => ErrorKind::Protocol,
            Problem::Network { .. } | Problem::Truncated { .. } => ErrorKind::Unavailable,
            Problem::Timeout { .. } => ErrorKind::Timeout,
            Problem::DownloadTooLarge { .. } => ErrorKind::TooLarge,
            Problem::CorruptArchive { .. } | Problem::ArchiveLimit { .. } => ErrorKind::InvalidData,
            Problem::Cache { .. } => ErrorKind::Io,
        }
    }

    pub(crate) fn cache(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        Problem::Cache {
            path: path.into(),
            message: e.to_string(),
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Problem::CorruptArchive {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// `url` without its query, fragment and user info: what may appear in messages. A
/// pre-signed blob URL carries its signature in the query.
pub(crate) fn redact_url(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let mut out = String::new();
            if let Some(scheme) = uri.scheme_str() {
                out.push_str(scheme);
                out.push_str("://");
            }
            if let Some(authority) = uri.authority() {
                out.push_str(authority.host());
                if let Some(port) = authority.port() {
                    out.push(':');
                    out.push_str(port.as_str());
                }
            }
            out.push_str(uri.path());
            out
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_query_and_user_info() {
        assert_eq!(
            redact_url("https://user:secret@blob.example:8443/path/a.zip?sig=SECRET&se=1"),
            "https://blob.example:8443/path/a.zip"
        );
        assert_eq!(redact_url("not a url at all"), "<unparsable URL>");
    }

    #[test]
    fn temporary_problems() {
        let url = String::from("u");
        assert!(Problem::Status {
            url: url.clone(),
            status: 502
        }
        .is_temporary());
        assert!(!Problem::Status {
            url: url.clone(),
            status: 422
        }
        .is_temporary());
        assert!(!Problem::Unauthorized { url: url.clone() }.is_temporary());
        assert_eq!(
            Problem::Unauthorized { url: url.clone() }.kind(),
            ErrorKind::Unauthenticated
        );
        let limited = Problem::RateLimited {
            url,
            reset_at: Some(42),
        };
        assert!(limited.is_temporary());
        assert_eq!(limited.kind(), ErrorKind::RateLimited);
        assert!(limited.to_string().contains("Unix time 42"));
    }
}
