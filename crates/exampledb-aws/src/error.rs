//! AWS SDK errors as the [`ErrorKind`] a caller acts on.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use exampledb_core::ErrorKind;

/// What an SDK error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The kind a caller acts on.
    pub kind: ErrorKind,
    /// Whether retrying the call later may succeed (the SDK has already retried within
    /// its attempts).
    pub temporary: bool,
    /// The HTTP status, when the service answered.
    pub status: Option<u16>,
    /// The service's error code (`NoSuchBucket`, `AccessDenied`, ...), when it gave one.
    pub code: Option<String>,
}

/// Classifies an SDK error: the service's error code first, then the HTTP status, then
/// the kind of transport failure.
///
/// | cause | kind | temporary |
/// |---|---|---|
/// | `NoSuchBucket`, `ResourceNotFoundException`, 404 | `NotFound` | no |
/// | `AccessDenied`, 403 | `PermissionDenied` | no |
/// | `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `ExpiredToken`, `UnrecognizedClientException`, `NotSignedUp` (an unknown access key on `s3s`-based servers), 401, missing credentials | `Unauthenticated` | no |
/// | `SlowDown`, `ThrottlingException`, `ProvisionedThroughputExceededException`, 429, 503 | `RateLimited` | yes |
/// | `InternalError`, other 5xx, connection refused or reset | `Unavailable` | yes |
/// | `ConditionalRequestConflict`, `OperationAborted` (409: a conflicting write to the same object is in progress; retrying later succeeds) | `Unavailable` | yes |
/// | `PermanentRedirect`, `TemporaryRedirect`, `AuthorizationHeaderMalformed`, `IllegalLocationConstraintException`, any 3xx (a body-less redirect answers a HEAD): the bucket is in another region than the client's, or the endpoint is not the bucket's | `InvalidConfig` | no |
/// | time limits, `RequestTimeout` | `Timeout` | yes |
/// | an answer that is not the service's protocol (not S3 at all: bytes that are not HTTP, a web page (with [`WebPageGuard`](crate::WebPageGuard)), a 2xx answer without what the service always sends (with [`AnswerCheck`](crate::AnswerCheck)), a 2xx body that does not parse, a 4xx other than 408 and 429 whose body holds no error code of the service) | `Protocol` | no |
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = match err {
        SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
        _ => None,
    };
    let (kind, temporary) = match err {
        SdkError::TimeoutError(_) => (ErrorKind::Timeout, true),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => (ErrorKind::Timeout, true),
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            (ErrorKind::InvalidConfig, false)
        }
        // Bytes that are not HTTP (hyper cannot parse them; it says nothing more): the
        // endpoint is not the service. Transient "other" failures keep their kind.
        SdkError::DispatchFailure(failure)
            if failure.is_other() && failure.as_other().is_none() =>
        {
            (ErrorKind::Protocol, false)
        }
        SdkError::DispatchFailure(_) => (ErrorKind::Unavailable, true),
        SdkError::ResponseError(_) => (ErrorKind::Protocol, false),
        SdkError::ConstructionFailure(_) => {
            if mentions_credentials(err) {
                (ErrorKind::Unauthenticated, false)
            } else {
                (ErrorKind::Other, false)
            }
        }
        // A success status whose body could not be read as the service's answer.
        SdkError::ServiceError(_)
            if code.is_none() && status.is_some_and(|s| (200..300).contains(&s)) =>
        {
            (ErrorKind::Protocol, false)
        }
        // An error answer with a body but no error code of the service: a plain-text or
        // JSON 404 or 405 from a web server, not the service (whose errors always carry a
        // code; only HEAD answers have no body to carry it). Timeouts and throttling from
        // a proxy in front of the service keep their meaning.
        SdkError::ServiceError(_)
            if code.is_none()
                && status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
                && has_body(err) =>
        {
            (ErrorKind::Protocol, false)
        }
        SdkError::ServiceError(_) => by_code_or_status(code.as_deref(), status),
        _ => (ErrorKind::Other, false),
    };
    Classified {
        kind,
        temporary,
        status,
        code,
    }
}

/// Whether the answer behind `err` had a body (in memory: the SDK reads error answers
/// whole).
fn has_body<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response()
        .and_then(|r| r.body().bytes())
        .is_some_and(|b| !b.iter().all(u8::is_ascii_whitespace))
}

fn by_code_or_status(code: Option<&str>, status: Option<u16>) -> (ErrorKind, bool) {
    match code {
        Some("NoSuchBucket" | "ResourceNotFoundException" | "TableNotFoundException") => {
            return (ErrorKind::NotFound, false)
        }
        Some("AccessDenied" | "AccessDeniedException" | "AllAccessDisabled") => {
            return (ErrorKind::PermissionDenied, false)
        }
        Some(
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidToken"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException"
            | "TokenRefreshRequired"
            | "NotSignedUp",
        ) => return (ErrorKind::Unauthenticated, false),
        // S3: another conditional write to the same object is in progress.
        Some("ConditionalRequestConflict" | "OperationAborted") => {
            return (ErrorKind::Unavailable, true)
        }
        // S3: the bucket is in another region than the client's (or the endpoint is not
        // the bucket's).
        Some(
            "PermanentRedirect"
            | "TemporaryRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => return (ErrorKind::InvalidConfig, false),
        Some(
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException",
        ) => return (ErrorKind::RateLimited, true),
        Some("RequestTimeout" | "RequestTimeoutException") => return (ErrorKind::Timeout, true),
        Some("InternalError" | "InternalServerError" | "ServiceUnavailable") => {
            return (ErrorKind::Unavailable, true)
        }
        Some("EntityTooLarge" | "ItemCollectionSizeLimitExceededException") => {
            return (ErrorKind::TooLarge, false)
        }
        _ => {}
    }
    match status {
        // A redirect (S3's answer to a request for a bucket in another region; without a
        // body for HEAD): the client goes to the wrong place.
        Some(300..=399) => (ErrorKind::InvalidConfig, false),
        Some(401) => (ErrorKind::Unauthenticated, false),
        Some(403) => (ErrorKind::PermissionDenied, false),
        Some(404) => (ErrorKind::NotFound, false),
        Some(429 | 503) => (ErrorKind::RateLimited, true),
        Some(s) if s >= 500 => (ErrorKind::Unavailable, true),
        _ => (ErrorKind::Other, false),
    }
}

fn mentions_credentials<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: std::error::Error + 'static,
{
    describe(err).to_ascii_lowercase().contains("credentials")
}

/// The error and its causes in one line (each one's `Display`, joined by `: `): the
/// service's code and message, or the transport failure.
///
/// Never the raw answer, which the SDK's `Debug` output (and so `DisplayErrorContext`)
/// includes: S3 answers a bad signature with the canonical request it computed, session
/// token included.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + 'static,
{
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their source's text.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    scrub(&out)
}

/// The longest text of an answer kept in a message: a server's message is for a person,
/// and a hostile one could be any size.
const MAX_DESCRIBED: usize = 1_000;

/// `text` without what could be a credential that a server (a debugging proxy, a hostile
/// endpoint) echoed from the request into its message: the values after `Credential=`,
/// `Signature=`, an `Authorization` header and `X-Amz-Security-Token`, and any run of 100
/// or more base64 characters in mixed case (session tokens are hundreds; names and
/// request ids stay); cut at
/// [`MAX_DESCRIBED`] bytes.
pub(crate) fn scrub(text: &str) -> String {
    const MARKERS: [&str; 4] = [
        "credential=",
        "signature=",
        "authorization",
        "x-amz-security-token",
    ];
    // A hostile message may be any size: only its start is kept, and the scan below is
    // linear in what is kept.
    let mut keep = text.len().min(4 * MAX_DESCRIBED);
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let text = &text[..keep];
    // ASCII lowercasing keeps every byte where it was: `lower[i..]` is `text[i..]`.
    let lower = text.to_ascii_lowercase();
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '%');
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        // A marker: keep it, hide the value that follows (after separators). The
        // `authorization` marker counts only as a header (`Authorization:` or `=`), not
        // in words such as `AuthorizationHeaderMalformed`.
        let marker = MARKERS.iter().find(|m| {
            lower[at..].starts_with(**m)
                && (**m != "authorization" || rest[m.len()..].trim_start().starts_with([':', '=']))
        });
        if let Some(marker) = marker {
            out.push_str(&rest[..marker.len()]);
            let after = &rest[marker.len()..];
            let value_start = after
                .find(|c: char| !matches!(c, ':' | '=' | ' ' | '"' | '\''))
                .unwrap_or(after.len());
            out.push_str(&after[..value_start]);
            let value = &after[value_start..];
            let mut value_end = value
                .find(|c: char| !is_token_char(c) && c != '-' && c != '_')
                .unwrap_or(value.len());
            // An Authorization header's value is its scheme, then the credential: hide
            // both.
            if *marker == "authorization" && value.starts_with("AWS4-") {
                value_end = value.find([',', '"', '\n']).unwrap_or(value.len());
            }
            if value_end > 0 {
                out.push_str("<removed>");
            }
            at += marker.len() + value_start + value_end;
            continue;
        }
        // A long token-like run in mixed case: a session token (hundreds of characters)
        // that a server echoed without its header's name. The secret key is never sent,
        // so it cannot be echoed; shorter runs (role and table names, request ids) stay.
        let run = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let mixed = |t: &str| {
            t.bytes().any(|b| b.is_ascii_lowercase()) && t.bytes().any(|b| b.is_ascii_uppercase())
        };
        if run >= 100 && mixed(&rest[..run]) {
            out.push_str("<removed>");
            at += run;
            continue;
        }
        let step = if run > 0 {
            run
        } else {
            rest.chars().next().map_or(1, char::len_utf8)
        };
        out.push_str(&rest[..step]);
        at += step;
    }
    if out.len() > MAX_DESCRIBED || keep < text.len() {
        let mut cut = out.len().min(MAX_DESCRIBED);
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrub_hides_echoed_credentials() {
        let token = "FQoGZXIvYXdzEBYaDH".repeat(10);
        let text = format!(
            "ValidationException: bad header Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abcdef0123 x-amz-security-token: {token} and token={token}"
        );
        let out = super::scrub(&text);
        for secret in ["AKIAEXAMPLE", "abcdef0123", "FQoGZXIvYXdz", "AWS4-HMAC"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("ValidationException: bad header"), "{out}");
        // Ordinary messages stay whole.
        for message in [
            "AuthorizationHeaderMalformed: the region 'us-east-1' is wrong; expecting 'eu-west-1'",
            "Authorization header requires 'Credential' parameter.",
            "User: arn:aws:sts::123456789012:assumed-role/GitHubActionsDeploymentRole/GitHubActions is not authorized",
            "Table: HypothesisExampleDatabaseIntegrationTests not found",
            "request id: 4KC3AJR9O7B1HQ3E3IPN0O1PBBVV4KQNSO5AEMVJF66Q9ASUAAJG",
            "the table does not exist",
        ] {
            assert_eq!(super::scrub(message), message);
        }
        // Cut, on character boundaries, whatever the size.
        for long in ["é".repeat(2_000), "a ".repeat(500_000)] {
            assert!(super::scrub(&long).len() <= super::MAX_DESCRIBED + 3);
        }
    }
}
