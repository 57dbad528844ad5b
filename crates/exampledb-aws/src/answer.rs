//! Answers that are not the service's: [`WebPageGuard`] (web pages) and [`AnswerCheck`]
//! (successes without what the service always sends).

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// An SDK interceptor that fails every answer whose body is an HTML page (it begins with
/// `<!DOCTYPE html` or `<html`) and whose status is below 500: a web server (or a captive
/// portal, a misrouted proxy) at the endpoint, not the service. Without it, a server
/// answering `200 OK` with a page to everything would make writes look successful, since
/// the SDK reads nothing from their answers' bodies. The SDK reports it as a response
/// error, which [`classify`](crate::classify) calls
/// [`Protocol`](exampledb_core::ErrorKind::Protocol).
///
/// The body is looked at, not the `Content-Type`: some servers (moto among them) label
/// empty answers `text/html`. 5xx pages pass: they are a gateway's error pages in front of
/// the service, and the status says what happened. Streamed answers are not read, and
/// operations that answer with content of the caller's own (S3's `GetObject`) can be
/// exempted by name.
///
/// ```
/// let guard = exampledb_aws::WebPageGuard::new(&["GetObject"]);
/// # let _ = guard;
/// ```
#[derive(Debug, Clone, Default)]
pub struct WebPageGuard {
    exempt: &'static [&'static str],
}

impl WebPageGuard {
    /// A guard for every operation but those named in `exempt` (the SDK's operation
    /// names, for example `GetObject`).
    pub fn new(exempt: &'static [&'static str]) -> Self {
        WebPageGuard { exempt }
    }
}

/// The error [`WebPageGuard`] fails an answer with.
#[derive(Debug)]
struct WebPage {
    status: u16,
}

impl fmt::Display for WebPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the endpoint answered with a web page (HTTP {}), not the service's protocol",
            self.status
        )
    }
}

impl std::error::Error for WebPage {}

impl Intercept for WebPageGuard {
    fn name(&self) -> &'static str {
        "exampledb::WebPageGuard"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let status = response.status().as_u16();
        // Bodies the SDK read whole (not streams) are in memory by now.
        let page = status < 500 && response.body().bytes().is_some_and(is_web_page);
        if !page {
            return Ok(());
        }
        let exempt = cfg
            .load::<Metadata>()
            .is_some_and(|m| self.exempt.contains(&m.name()));
        if exempt {
            return Ok(());
        }
        Err(Box::new(WebPage { status }))
    }
}

/// What a successful (2xx) answer of one operation always carries when the service sent
/// it, for [`AnswerCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// This header (its name in lowercase), for example S3's `etag` on `PutObject`.
    Header(&'static str),
    /// This text in the body, for example the root element of an XML answer
    /// (`ListBucketResult`). Not checked on streamed bodies, which are not read.
    BodyContains(&'static str),
    /// This status, or else some header whose name starts with this prefix (lowercase),
    /// for example S3's `DeleteObject`: 204, or a 200 with `x-amz-request-id`.
    StatusOrHeaderPrefix(u16, &'static str),
    /// Some header whose name starts with this prefix (lowercase), for example
    /// DynamoDB's `x-amzn-requestid` on every answer: `HeaderPrefix("x-amz")`.
    HeaderPrefix(&'static str),
}

impl Expect {
    fn holds(self, status: u16, response: &HttpResponse) -> bool {
        match self {
            Expect::Header(name) => response.headers().get(name).is_some(),
            Expect::BodyContains(text) => response.body().bytes().is_none_or(|body| {
                body.windows(text.len().max(1))
                    .any(|w| w == text.as_bytes())
            }),
            Expect::StatusOrHeaderPrefix(want, prefix) => {
                status == want || has_header_prefix(response, prefix)
            }
            Expect::HeaderPrefix(prefix) => has_header_prefix(response, prefix),
        }
    }
}

/// Whether `response` has a header whose name starts with `prefix` (lowercase).
fn has_header_prefix(response: &HttpResponse, prefix: &str) -> bool {
    response
        .headers()
        .iter()
        .any(|(name, _)| name.to_ascii_lowercase().starts_with(prefix))
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Header(name) => write!(f, "the {name} header"),
            Expect::BodyContains(text) => write!(f, "{text} in the body"),
            Expect::StatusOrHeaderPrefix(status, prefix) => {
                write!(f, "status {status} or a {prefix}* header")
            }
            Expect::HeaderPrefix(prefix) => write!(f, "a {prefix}* header"),
        }
    }
}

/// An SDK interceptor that fails a successful (2xx) answer to one of the named operations
/// when it lacks what the service always sends with it ([`Expect`]): a server that
/// answers `200 OK` with plain text, JSON or nothing to every request is not the service,
/// and without this check writes would look successful while storing nothing (the SDK
/// reads nothing it needs from their answers). The SDK reports it as a response error,
/// which [`classify`](crate::classify) calls [`Protocol`](exampledb_core::ErrorKind::Protocol).
///
/// ```
/// use exampledb_aws::{AnswerCheck, Expect};
/// let check = AnswerCheck::new(&[("PutObject", Expect::Header("etag"))]);
/// # let _ = check;
/// ```
#[derive(Debug, Clone, Default)]
pub struct AnswerCheck {
    expected: &'static [(&'static str, Expect)],
}

impl AnswerCheck {
    /// A check of the operations named (the SDK's operation names, for example
    /// `PutObject`; `*` names every operation); answers to other operations pass.
    pub fn new(expected: &'static [(&'static str, Expect)]) -> Self {
        AnswerCheck { expected }
    }
}

/// The error [`AnswerCheck`] fails an answer with.
#[derive(Debug)]
struct NotTheService {
    operation: String,
    status: u16,
    missing: Expect,
}

impl fmt::Display for NotTheService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the endpoint answered {} with HTTP {} but without {}, which the service always sends: it did not answer like the service",
            self.operation, self.status, self.missing
        )
    }
}

impl std::error::Error for NotTheService {}

impl Intercept for AnswerCheck {
    fn name(&self) -> &'static str {
        "exampledb::AnswerCheck"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Ok(());
        }
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_owned()) else {
            return Ok(());
        };
        for (name, expect) in self.expected {
            if (*name == operation || *name == "*") && !expect.holds(status, response) {
                return Err(Box::new(NotTheService {
                    operation,
                    status,
                    missing: *expect,
                }));
            }
        }
        Ok(())
    }
}

/// Whether `body` begins (after white space) with `<!DOCTYPE html` or `<html`, in any case.
fn is_web_page(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    [&b"<!doctype html"[..], b"<html"].iter().any(|tag| {
        body.get(..tag.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(tag))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_pages() {
        assert!(is_web_page(b"<!DOCTYPE html><html></html>"));
        assert!(is_web_page(b"\n  <HTML><body>It works!</body></HTML>"));
        assert!(!is_web_page(b""));
        assert!(!is_web_page(
            b"<?xml version=\"1.0\"?><ListBucketResult></ListBucketResult>"
        ));
        assert!(!is_web_page(b"<Error><Code>NoSuchKey</Code></Error>"));
        assert!(!is_web_page(b"<htm"));
    }
}
