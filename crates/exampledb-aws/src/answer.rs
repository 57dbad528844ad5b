//! [`WebPageGuard`]: answers that are web pages are not the service's.

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
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
