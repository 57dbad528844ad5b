//! Talking to GitHub: listing artifacts (octocrab, with the API's name filter and
//! pagination) and downloading one to a file. The download URL answers with a redirect to
//! pre-signed blob storage on another host; that redirect is followed by a separate
//! client that holds no token at all, so the token cannot reach the blob host.
//!
//! Both clients share one connector, whose connect timeout bounds establishing each
//! connection. Every wait is bounded twice more: by the operation timeout (each answer,
//! connecting included, and each pause within a body) and by the download's overall
//! deadline, which starts when the client is made, right before the listing.

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::problem::redact_url;
use crate::{Problem, Token};

/// Listing pages followed at most (100 artifacts each): a bound against a server that
/// always answers with another page.
const MAX_PAGES: usize = 50;
/// The largest listing page accepted.
const MAX_LISTING_BYTES: usize = 16 << 20;
/// Redirects followed at most from the download URL.
const MAX_REDIRECTS: usize = 5;

/// One artifact of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub(crate) id: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) download_url: String,
}

#[derive(Deserialize)]
struct Listing {
    artifacts: Vec<ListedArtifact>,
}

#[derive(Deserialize)]
struct ListedArtifact {
    id: u64,
    name: String,
    #[serde(default)]
    expired: bool,
    created_at: String,
    archive_download_url: String,
}

/// What a [`Client`] is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config<'a> {
    /// The API's base URL.
    pub(crate) api_url: &'a str,
    /// Sent to the API's host only.
    pub(crate) token: Option<&'a Token>,
    /// Establishing a connection.
    pub(crate) connect_timeout: Duration,
    /// Each answer's headers (connecting included) and each pause in a body.
    pub(crate) operation_timeout: Duration,
    /// Everything, from the client's creation to the archive's last byte.
    pub(crate) download_timeout: Duration,
    /// Whether the token may go over plain http to a host that is not loopback.
    pub(crate) allow_insecure_http: bool,
}

/// The HTTP clients for one download.
pub(crate) struct Client {
    crab: Octocrab,
    blob: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    api_url: String,
    /// The API's host and port: where octocrab sends the token.
    api_authority: Option<http::uri::Authority>,
    has_token: bool,
    allow_insecure_http: bool,
    connect_timeout: Duration,
    operation_timeout: Duration,
    download_timeout: Duration,
    /// When the download's overall deadline passes.
    deadline: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Clients for `config.api_url`, sending the token to the API's host only. The
    /// download's overall deadline starts now.
    pub(crate) fn new(config: Config<'_>) -> Result<Self, Problem> {
        let Config {
            api_url,
            token,
            connect_timeout,
            operation_timeout,
            download_timeout,
            allow_insecure_http,
        } = config;
        let deadline = Instant::now() + download_timeout;
        let network = |message: String| Problem::Network {
            url: redact_url(api_url),
            message,
        };
        let base: Uri = api_url
            .parse()
            .map_err(|e| network(format!("invalid API URL: {e}")))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| network(format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // octocrab over the same connector, with the layers its default client has: the
        // headers, the base URI and the token, added only to requests for the API's host
        // (the base URI's authority, given as the upload URI too).
        let authorization = token
            .map(|t| {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                    .map_err(|_| network("the token cannot be sent in a header".into()))?;
                value.set_sensitive(true);
                Ok::<_, Problem>(value)
            })
            .transpose()?;
        let headers = vec![
            (
                header::ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            ),
            (
                header::USER_AGENT,
                HeaderValue::from_static(concat!("exampledb-github/", env!("CARGO_PKG_VERSION"))),
            ),
        ];
        let api = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, OctoBody>(connector.clone());
        let crab = match OctocrabBuilder::new_empty()
            .with_service(api)
            .with_layer(&ExtraHeadersLayer::new(Arc::new(headers)))
            .with_layer(&BaseUriLayer::new(base.clone()))
            .with_layer(&AuthHeaderLayer::new(
                authorization,
                base.clone(),
                base.clone(),
            ))
            .with_auth(AuthState::None)
            .build()
        {
            Ok(crab) => crab,
            Err(never) => match never {},
        };
        let blob =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        Ok(Client {
            crab,
            blob,
            api_url: api_url.trim_end_matches('/').to_owned(),
            api_authority: base.authority().cloned(),
            has_token: token.is_some(),
            allow_insecure_http,
            connect_timeout,
            operation_timeout,
            download_timeout,
            deadline,
        })
    }

    /// The newest unexpired artifact named `name` in `owner/repo`, across every page.
    pub(crate) async fn newest_artifact(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
    ) -> Result<Artifact, Problem> {
        let mut next = Some(format!(
            "{}/repos/{owner}/{repo}/actions/artifacts?name={}&per_page=100",
            self.api_url,
            percent_encode(name)
        ));
        let mut best: Option<Artifact> = None;
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let response = self.api_get(&url).await?;
            let (parts, body) = response.into_parts();
            check_status(parts.status, &parts.headers, &url)?;
            let body = self.collect(body, &url, MAX_LISTING_BYTES).await?;
            let listing: Listing =
                serde_json::from_slice(&body).map_err(|e| Problem::MalformedResponse {
                    url: redact_url(&url),
                    message: e.to_string(),
                })?;
            for a in listing.artifacts {
                if a.name != name || a.expired {
                    continue;
                }
                let created_at = DateTime::parse_from_rfc3339(&a.created_at)
                    .map_err(|e| Problem::MalformedResponse {
                        url: redact_url(&url),
                        message: format!("artifact {}: created_at {:?}: {e}", a.id, a.created_at),
                    })?
                    .with_timezone(&Utc);
                let newer = best
                    .as_ref()
                    .is_none_or(|b| (created_at, a.id) > (b.created_at, b.id));
                if newer {
                    best = Some(Artifact {
                        id: a.id,
                        created_at,
                        download_url: a.archive_download_url,
                    });
                }
            }
            next = next_link(&parts.headers);
            if next.is_some() && pages >= MAX_PAGES {
                tracing::warn!(pages, "stopped following the artifact listing's pages");
                break;
            }
        }
        best.ok_or_else(|| Problem::NoArtifact {
            repo: format!("{owner}/{repo}"),
            name: name.to_owned(),
        })
    }

    /// Downloads `artifact` into `dest` (created), at most `limit` bytes; returns the
    /// number of bytes written. The file is flushed to disk before this returns.
    pub(crate) async fn download(
        &self,
        artifact: &Artifact,
        dest: &Path,
        limit: u64,
    ) -> Result<u64, Problem> {
        let url = &artifact.download_url;
        let response = self.api_get(url).await?;
        let (parts, body) = response.into_parts();
        if parts.status.is_success() {
            return self
                .save_body(body, content_length(&parts.headers), url, dest, limit)
                .await;
        }
        if !parts.status.is_redirection() {
            check_status(parts.status, &parts.headers, url)?;
            return Err(Problem::Status {
                url: redact_url(url),
                status: parts.status.as_u16(),
            });
        }
        // Pre-signed blob storage: followed by the client without a token.
        let mut location = redirect_target(&parts.headers, url)?;
        for _ in 0..MAX_REDIRECTS {
            let uri: Uri = location.parse().map_err(|_| Problem::MalformedResponse {
                url: redact_url(url),
                message: "the redirect's Location is not a URL".into(),
            })?;
            let response = self
                .bounded(&location, self.blob.get(uri))
                .await?
                .map_err(|e| self.request_failed(&location, &e))?;
            let (parts, body) = response.into_parts();
            if parts.status.is_redirection() {
                location = redirect_target(&parts.headers, &location)?;
                continue;
            }
            check_status(parts.status, &parts.headers, &location)?;
            if !parts.status.is_success() {
                return Err(Problem::Status {
                    url: redact_url(&location),
                    status: parts.status.as_u16(),
                });
            }
            return self
                .save_body(body, content_length(&parts.headers), &location, dest, limit)
                .await;
        }
        Err(Problem::MalformedResponse {
            url: redact_url(url),
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// `future`, within the operation timeout and the overall deadline, whichever passes
    /// first; a [`Problem::Timeout`] naming `url` and that limit when one passes.
    async fn bounded<F: Future>(&self, url: &str, future: F) -> Result<F::Output, Problem> {
        let pause_ends = Instant::now() + self.operation_timeout;
        let (until, after) = if self.deadline <= pause_ends {
            (self.deadline, self.download_timeout)
        } else {
            (pause_ends, self.operation_timeout)
        };
        tokio::time::timeout_at(until, future)
            .await
            .map_err(|_| Problem::Timeout {
                url: redact_url(url),
                after,
            })
    }

    /// A GET through octocrab, which adds the token when `url` is on the API's host:
    /// refused when that would send the token over plain http off loopback (an answer
    /// that points back at the API's host over http) unless that was allowed.
    async fn api_get(
        &self,
        url: &str,
    ) -> Result<http::Response<BoxBody<Bytes, octocrab::Error>>, Problem> {
        if self.has_token && !self.allow_insecure_http && sends_cleartext(url) {
            let authority = url.parse::<Uri>().ok().and_then(|u| u.authority().cloned());
            if authority.is_none() || authority == self.api_authority {
                return Err(Problem::MalformedResponse {
                    url: redact_url(url),
                    message: "the API pointed to a plain http URL on its own host; the token is not sent in cleartext (allow_insecure_http(true) would send it)".into(),
                });
            }
        }
        let response = self
            .bounded(url, self.crab._get(url))
            .await?
            .map_err(|e| self.request_failed(url, &e))?;
        Ok(response)
    }

    /// The problem a request to `url` that failed before any answer is: a
    /// [`Problem::Timeout`] naming the connect timeout when establishing the connection
    /// took too long, else a [`Problem::Network`].
    fn request_failed(&self, url: &str, e: &(dyn std::error::Error + 'static)) -> Problem {
        if connect_timed_out(e) {
            return Problem::Timeout {
                url: redact_url(url),
                after: self.connect_timeout,
            };
        }
        Problem::Network {
            url: redact_url(url),
            message: error_chain(e),
        }
    }

    /// A whole (small) body, at most `limit` bytes.
    async fn collect<B>(&self, mut body: B, url: &str, limit: usize) -> Result<Vec<u8>, Problem>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::error::Error,
    {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk(&mut body, url).await? {
            if out.len() + chunk.len() > limit {
                return Err(Problem::MalformedResponse {
                    url: redact_url(url),
                    message: format!("answer larger than {limit} bytes"),
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn next_chunk<B>(&self, body: &mut B, url: &str) -> Result<Option<Bytes>, Problem>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::error::Error,
    {
        loop {
            let frame = self.bounded(url, body.frame()).await?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(Problem::Network {
                        url: redact_url(url),
                        message: error_chain(&e),
                    })
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    async fn save_body<B>(
        &self,
        mut body: B,
        expected: Option<u64>,
        url: &str,
        dest: &Path,
        limit: u64,
    ) -> Result<u64, Problem>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::error::Error,
    {
        let too_large = || Problem::DownloadTooLarge {
            url: redact_url(url),
            limit,
        };
        if expected.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Problem::cache(dest, &e))?;
        let mut written: u64 = 0;
        while let Some(chunk) = self.next_chunk(&mut body, url).await? {
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large());
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| Problem::cache(dest, &e))?;
        }
        if let Some(expected) = expected {
            if written != expected {
                return Err(Problem::Truncated {
                    url: redact_url(url),
                    received: written,
                    expected,
                });
            }
        }
        file.sync_all()
            .await
            .map_err(|e| Problem::cache(dest, &e))?;
        Ok(written)
    }
}

/// The problem a non-success status means, `Ok` for success and redirects.
fn check_status(status: StatusCode, headers: &HeaderMap, url: &str) -> Result<(), Problem> {
    if status.is_success() || status.is_redirection() {
        return Ok(());
    }
    let url = redact_url(url);
    let rate_limited = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    Err(match status.as_u16() {
        401 => Problem::Unauthorized { url },
        403 | 429 if rate_limited || status.as_u16() == 429 => Problem::RateLimited {
            url,
            reset_at: headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        },
        403 => Problem::Forbidden { url },
        404 => Problem::NotFound { url },
        410 => Problem::Gone { url },
        status => Problem::Status { url, status },
    })
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The absolute URL a redirect points to: an absolute `http`/`https` URL as it is;
/// relative references (`//host/path`, `/path`, `path`, `?query`) resolved against
/// `from` (dot segments are left to the server). Any other scheme (`file:`, `ftp:`, ...)
/// is refused, naming it.
fn redirect_target(headers: &HeaderMap, from: &str) -> Result<String, Problem> {
    let malformed = |message: String| Problem::MalformedResponse {
        url: redact_url(from),
        message,
    };
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| malformed("redirect without a Location".into()))?;
    if let Some(scheme) = scheme_of(location) {
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            return Ok(location.to_owned());
        }
        return Err(malformed(format!(
            "redirect to an unsupported scheme {}:; only http and https are followed",
            scheme.to_ascii_lowercase()
        )));
    }
    let base: Uri = from
        .parse()
        .map_err(|_| malformed("redirect from something that is not a URL".into()))?;
    let (Some(scheme), Some(authority)) = (base.scheme_str(), base.authority()) else {
        return Err(malformed(
            "relative redirect from a URL without a scheme and host".into(),
        ));
    };
    let path = base.path();
    Ok(if location.starts_with("//") {
        format!("{scheme}:{location}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if location.starts_with('?') {
        format!("{scheme}://{authority}{path}{location}")
    } else {
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{scheme}://{authority}{dir}{location}")
    })
}

/// The scheme of `reference` (RFC 3986: a letter, then letters, digits, `+`, `-` or `.`,
/// before the first `:`, which comes before any `/`, `?` or `#`); `None` for a relative
/// reference.
fn scheme_of(reference: &str) -> Option<&str> {
    let end = reference.find([':', '/', '?', '#'])?;
    let scheme = &reference[..end];
    let valid = reference[end..].starts_with(':')
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(scheme)
}

/// Whether a request to `url` would cross the network in cleartext: plain `http` to a
/// host that is not loopback (`localhost`, `127.0.0.0/8`, `::1`). Unparsable URLs and
/// other schemes give `false` (they are refused elsewhere).
pub(crate) fn sends_cleartext(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let http = uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http"));
    http && !uri.host().is_some_and(is_loopback_host)
}

/// `localhost`, or a loopback IP address (`[::1]` with or without its brackets).
fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

/// `text` as a query-string value.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `e` (or one of its sources) is the connector's connect timeout: an I/O error
/// of kind `TimedOut`.
fn connect_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// An error and its sources, one line (client errors hide the useful part in a source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        h.insert(
            header::LINK,
            "<https://api.github.com/x?page=1>; rel=\"prev\""
                .parse()
                .expect("header"),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn statuses() {
        let mut h = HeaderMap::new();
        assert!(matches!(
            check_status(StatusCode::FORBIDDEN, &h, "u"),
            Err(Problem::Forbidden { .. })
        ));
        h.insert("x-ratelimit-remaining", "0".parse().expect("header"));
        h.insert("x-ratelimit-reset", "1700000000".parse().expect("header"));
        assert_eq!(
            check_status(StatusCode::FORBIDDEN, &h, "u"),
            Err(Problem::RateLimited {
                url: "u".into(),
                reset_at: Some(1_700_000_000)
            })
        );
        assert!(check_status(StatusCode::FOUND, &h, "u").is_ok());
        assert!(matches!(
            check_status(StatusCode::GONE, &h, "u"),
            Err(Problem::Gone { .. })
        ));
    }

    #[test]
    fn redirects_and_encoding() {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, "/blob/1?sig=x".parse().expect("header"));
        assert_eq!(
            redirect_target(&h, "http://127.0.0.1:9/api/zip").as_deref(),
            Ok("http://127.0.0.1:9/blob/1?sig=x")
        );
        assert_eq!(
            percent_encode("hypothesis-example-db"),
            "hypothesis-example-db"
        );
        assert_eq!(percent_encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }

    fn location(to: &str, from: &str) -> Result<String, Problem> {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, to.parse().expect("header"));
        redirect_target(&h, from)
    }

    #[test]
    fn redirects_name_an_unsupported_scheme() {
        let from = "https://api.example/repos/o/r/actions/artifacts/1/zip";
        for (to, scheme) in [
            ("ftp://files.example/a.zip", "ftp:"),
            ("file:///etc/passwd", "file:"),
            ("FILE:/etc/passwd", "file:"),
            ("javascript:alert(1)", "javascript:"),
            ("git+ssh://host/x", "git+ssh:"),
        ] {
            let Err(Problem::MalformedResponse { message, url }) = location(to, from) else {
                panic!("{to}: {:?}", location(to, from));
            };
            assert!(
                message.contains(&format!("unsupported scheme {scheme};"))
                    && message.contains("only http and https"),
                "{to}: {message}"
            );
            assert!(!message.contains("relative"), "{to}: {message}");
            assert_eq!(url, "https://api.example/repos/o/r/actions/artifacts/1/zip");
        }
    }

    #[test]
    fn relative_redirects_resolve_against_the_url_asked() {
        let from = "http://127.0.0.1:9/api/v3/artifacts/1/zip?x=1";
        for (to, expected) in [
            (
                "https://blob.example/b?sig=s",
                "https://blob.example/b?sig=s",
            ),
            ("HTTPS://blob.example/b", "HTTPS://blob.example/b"),
            ("//blob.example/b?sig=s", "http://blob.example/b?sig=s"),
            ("/blob/1?sig=s", "http://127.0.0.1:9/blob/1?sig=s"),
            (
                "blob/1?sig=s",
                "http://127.0.0.1:9/api/v3/artifacts/1/blob/1?sig=s",
            ),
            ("?sig=s", "http://127.0.0.1:9/api/v3/artifacts/1/zip?sig=s"),
            ("blob:1", "redirect to an unsupported scheme blob:;"),
            ("./a:b", "http://127.0.0.1:9/api/v3/artifacts/1/./a:b"),
        ] {
            let got = match location(to, from) {
                Ok(url) => url,
                Err(Problem::MalformedResponse { message, .. }) => message,
                Err(other) => panic!("{to}: {other:?}"),
            };
            assert!(
                got.starts_with(expected) || got.contains(expected),
                "{to}: {got}"
            );
        }
    }

    #[test]
    fn cleartext_means_http_off_loopback() {
        for url in [
            "http://api.example.com",
            "HTTP://ghe.internal:8080/api/v3",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://[::2]:80",
            "http://localhost.example.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            assert!(sends_cleartext(url), "{url}");
        }
        for url in [
            "https://api.example.com",
            "http://127.0.0.1:8080",
            "http://127.9.8.7",
            "http://localhost:3000/api/v3",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "not a url",
        ] {
            assert!(!sends_cleartext(url), "{url}");
        }
    }

    /// An answer that points back at the API's host over plain http is refused before
    /// any request, so the token cannot follow it (octocrab adds the token by host, not
    /// by scheme).
    #[tokio::test]
    async fn the_token_does_not_follow_a_downgrade_to_http() {
        let token = Token::new("ghp_SECRETtoken");
        let config = Config {
            api_url: "https://ghe.example",
            token: Some(&token),
            connect_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(1),
            download_timeout: Duration::from_secs(5),
            allow_insecure_http: false,
        };
        let client = Client::new(config).expect("client");
        let err = client
            .api_get("http://ghe.example/repos/o/r/actions/artifacts/1/zip")
            .await
            .map(|_| ())
            .unwrap_err();
        let Problem::MalformedResponse { message, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("cleartext"), "{message}");
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }
}
