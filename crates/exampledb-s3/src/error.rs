//! S3 failures as [`exampledb_core::Error`]s naming the bucket, the prefix and the
//! operation, with the [`ErrorKind`] a caller acts on.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStreamError;
use exampledb_aws::{classify, describe, Classified};
use exampledb_core::{BoxError, Error, ErrorKind, Operation};

use crate::BACKEND;

/// One failed request, classified.
#[derive(Debug)]
pub(crate) struct Failure {
    classified: Classified,
    source: BoxError,
}

/// What the SDK's error says, in one line, kept as the source of an [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Described {
    message: String,
}

impl Failure {
    pub(crate) fn of<E>(e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let classified = classify(&e);
        let mut message = describe(&e);
        if classified.kind == ErrorKind::Protocol {
            message.push_str(" (is the endpoint an S3 server?)");
        }
        Failure {
            classified,
            source: Box::new(Described { message }),
        }
    }

    pub(crate) fn body(e: ByteStreamError) -> Self {
        Failure {
            classified: Classified {
                kind: ErrorKind::Unavailable,
                temporary: true,
                status: None,
                code: None,
            },
            source: Box::new(e),
        }
    }

    /// The HTTP status of S3's answer; none when the answer was not S3's (a web page with
    /// a 412 is not "already stored").
    pub(crate) fn status(&self) -> Option<u16> {
        self.classified
            .status
            .filter(|_| self.classified.kind != ErrorKind::Protocol)
    }

    /// Whether S3 said that the object is not there: a 404 that is not about the bucket
    /// (`NoSuchBucket`) nor from something that is not S3. A HEAD answer has no body, so
    /// a missing bucket looks the same there; the next request says so.
    pub(crate) fn is_absent_object(&self) -> bool {
        self.status() == Some(404)
            && self.classified.kind == ErrorKind::NotFound
            && self.code() != Some("NoSuchBucket")
    }

    pub(crate) fn code(&self) -> Option<&str> {
        self.classified.code.as_deref()
    }
}

/// The error for `failure` while doing `operation` at `location` (`s3://bucket/prefix`).
pub(crate) fn s3_error(operation: Operation, location: &str, failure: Failure) -> Error {
    let Failure { classified, source } = failure;
    let kind = match (classified.kind, classified.code.as_deref()) {
        // A missing bucket is what users get wrong most: say so plainly.
        (ErrorKind::NotFound, Some("NoSuchBucket")) => {
            return Error::Backend {
                backend: BACKEND,
                operation,
                location: location.to_owned(),
                kind: ErrorKind::NotFound,
                temporary: false,
                source: format!("the bucket does not exist ({source})").into(),
            }
        }
        (kind, _) => kind,
    };
    Error::Backend {
        backend: BACKEND,
        operation,
        location: location.to_owned(),
        kind,
        temporary: classified.temporary,
        source,
    }
}
