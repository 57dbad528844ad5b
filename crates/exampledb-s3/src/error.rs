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
    /// The bucket's region, as S3 names it in `x-amz-bucket-region` when the request went
    /// to the wrong one.
    bucket_region: Option<String>,
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
        let mut classified = classify(&e);
        let mut message = describe(&e);
        if classified.kind == ErrorKind::Protocol {
            message.push_str(" (the endpoint did not answer like S3: is it an S3 server?)");
        }
        let bucket_region = e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .filter(|r| is_region_name(r))
            .map(str::to_owned);
        // S3 answers a HEAD signed for another region than the bucket's with a body-less
        // 400 (no error code to tell it by) naming the bucket's region in a header.
        if classified.kind == ErrorKind::Other
            && classified.status == Some(400)
            && classified.code.is_none()
            && bucket_region.is_some()
        {
            classified.kind = ErrorKind::InvalidConfig;
            classified.temporary = false;
        }
        Failure {
            classified,
            bucket_region,
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
            bucket_region: None,
            source: Box::new(e),
        }
    }

    /// A successful answer that S3 would not have sent (`what` says why).
    pub(crate) fn not_s3(what: &str) -> Self {
        Failure {
            classified: Classified {
                kind: ErrorKind::Protocol,
                temporary: false,
                status: None,
                code: None,
            },
            bucket_region: None,
            source: Box::new(Described {
                message: format!(
                    "{what}: the endpoint did not answer like S3 (is it an S3 server?)"
                ),
            }),
        }
    }

    /// The same failure, its message preceded by what was being done.
    pub(crate) fn context(self, doing: &str) -> Self {
        Failure {
            source: format!("{doing}: {}", self.source).into(),
            ..self
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

/// Whether `s` looks like an AWS region name (so that only such is echoed from an answer).
fn is_region_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The error for `failure` while doing `operation` at `location` (`s3://bucket/prefix`);
/// `region` and `endpoint` are the client's (named when the request went to the wrong
/// place; the endpoint without user info).
pub(crate) fn s3_error(
    operation: Operation,
    location: &str,
    failure: Failure,
    region: Option<&str>,
    endpoint: Option<&str>,
) -> Error {
    let Failure {
        classified,
        bucket_region,
        source,
    } = failure;
    let source: BoxError = match (classified.kind, classified.code.as_deref()) {
        // A missing bucket is what users get wrong most: say so plainly.
        (ErrorKind::NotFound, Some("NoSuchBucket")) => {
            format!("the bucket does not exist ({source})").into()
        }
        // A redirect or a refused region: the bucket is not where the client sends.
        (ErrorKind::InvalidConfig, _) => {
            let client = match (region, endpoint) {
                (Some(r), Some(e)) => format!("region {r} at endpoint {e}"),
                (Some(r), None) => format!("region {r}"),
                (None, Some(e)) => format!("endpoint {e}"),
                (None, None) => "the client's region and endpoint".to_owned(),
            };
            let bucket = match &bucket_region {
                Some(b) => format!(
                    "S3 says the bucket is in region {b}: set region={b} (and leave the endpoint to AWS, or use that region's)"
                ),
                None => "set the bucket's region (and its endpoint, if it is not AWS's)".to_owned(),
            };
            format!(
                "the request went to the wrong region or endpoint ({client}): {bucket} ({source})"
            )
            .into()
        }
        _ => source,
    };
    Error::Backend {
        backend: BACKEND,
        operation,
        location: location.to_owned(),
        kind: classified.kind,
        temporary: classified.temporary,
        source,
    }
}
