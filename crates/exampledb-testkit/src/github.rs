//! A local mock of the GitHub REST API's artifact endpoints, with a second server standing
//! in for the pre-signed blob storage downloads redirect to, plus zip builders (ordinary
//! directory-database zips and hostile ones). Feature `github`.
//!
//! The mock implements what the artifact backend uses: `GET
//! /repos/{owner}/{repo}/actions/artifacts` (the `name`, `per_page` and `page` parameters and
//! a `Link: <...>; rel="next"` header) and `GET .../artifacts/{id}/zip`, which answers
//! `302 Found` to `http://127.0.0.1:<blob port>/blob/{id}?sig=...` (or to any Location
//! set with [`MockGitHub::set_download_location`]). The blob server refuses (and counts)
//! any request that carries an `Authorization` header; the API server serves the same
//! `/blob/{id}` route, for redirects relative to the API host. Faults can be injected per
//! endpoint.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use exampledb_core::{hypothesis_hash, METAKEYS_KEY};

/// The token the mock expects by default.
pub const MOCK_TOKEN: &str = "ghs_mockTOKEN0123456789";
/// The signature the blob URLs carry (a credential in real pre-signed URLs).
pub const BLOB_SIGNATURE: &str = "sv=2025&sig=PRESIGNEDsecret";

/// An artifact the mock lists.
#[derive(Debug, Clone)]
pub struct MockArtifact {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `created_at`, RFC 3339.
    pub created_at: String,
    /// Whether GitHub marks it expired (its download then answers 410).
    pub expired: bool,
    /// The zip served for it.
    pub zip: Vec<u8>,
}

impl MockArtifact {
    /// An unexpired artifact.
    pub fn new(id: u64, name: &str, created_at: &str, zip: Vec<u8>) -> Self {
        MockArtifact {
            id,
            name: name.to_owned(),
            created_at: created_at.to_owned(),
            expired: false,
            zip,
        }
    }

    /// The same, marked expired.
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }
}

/// A fault an endpoint answers with instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This HTTP status with a JSON error body.
    Status(u16),
    /// 403 with `x-ratelimit-remaining: 0` and a reset time.
    RateLimited,
    /// 200 with a body that is not the documented JSON.
    MalformedJson,
    /// The body stops halfway (the announced `Content-Length` is not reached).
    Truncated,
    /// No answer at all.
    Hang,
    /// The whole body, one byte at a time with this pause before each (announcing the
    /// full `Content-Length`): a host that never falls silent long enough to time out.
    Trickle(Duration),
}

/// Which endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The artifact listing.
    List,
    /// An artifact's `.../zip` download URL on the API host.
    Download,
    /// The blob host.
    Blob,
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Where it went.
    pub endpoint: Endpoint,
    /// Its path and query.
    pub uri: String,
    /// Its `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Debug, Default)]
struct MockState {
    artifacts: Vec<MockArtifact>,
    page_cap: usize,
    honor_name_filter: bool,
    token: Option<String>,
    list_fault: Option<Fault>,
    download_fault: Option<Fault>,
    blob_fault: Option<Fault>,
    download_location: Option<String>,
    seen: Vec<Seen>,
    api_base: String,
    blob_base: String,
}

/// The running mock: an API server and a blob server on two loopback ports. Both stop
/// when it is dropped.
#[derive(Debug)]
pub struct MockGitHub {
    state: Arc<Mutex<MockState>>,
    api_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for MockGitHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

type Shared = Arc<Mutex<MockState>>;

fn lock(state: &Shared) -> MutexGuard<'_, MockState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MockGitHub {
    /// Starts both servers on free loopback ports. The API expects [`MOCK_TOKEN`].
    pub async fn start() -> Self {
        let state: Shared = Arc::new(Mutex::new(MockState {
            page_cap: 100,
            honor_name_filter: true,
            token: Some(MOCK_TOKEN.to_owned()),
            ..MockState::default()
        }));
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let blob = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = api.local_addr().unwrap();
        let blob_addr = blob.local_addr().unwrap();
        {
            let mut s = lock(&state);
            s.api_base = format!("http://{api_addr}");
            s.blob_base = format!("http://{blob_addr}");
        }
        let routes = Router::new()
            .route("/repos/{owner}/{repo}/actions/artifacts", get(list))
            .route(
                "/repos/{owner}/{repo}/actions/artifacts/{id}/zip",
                get(download),
            );
        // GitHub Enterprise Server serves the same API under /api/v3.
        let api_app = routes
            .clone()
            .nest("/api/v3", routes)
            .route("/blob/{id}", get(blob_get))
            .with_state(Arc::clone(&state));
        let blob_app = Router::new()
            .route("/blob/{id}", get(blob_get))
            .with_state(Arc::clone(&state));
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_app).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(blob, blob_app).await;
            }),
        ];
        MockGitHub {
            state,
            api_addr,
            tasks,
        }
    }

    /// The API's base URL (what `GITHUB_API_URL` would hold). The same API is also served
    /// under `/api/v3`, as GitHub Enterprise Server serves it.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Adds an artifact to the listing.
    pub fn add(&self, artifact: MockArtifact) {
        lock(&self.state).artifacts.push(artifact);
    }

    /// Serves at most `n` artifacts per page, whatever `per_page` asks (to test pagination).
    pub fn set_page_cap(&self, n: usize) {
        lock(&self.state).page_cap = n.max(1);
    }

    /// Whether the listing applies the `name` filter (old servers ignore it).
    pub fn set_honor_name_filter(&self, honor: bool) {
        lock(&self.state).honor_name_filter = honor;
    }

    /// The token the API accepts (`None`: any or none).
    pub fn set_token(&self, token: Option<&str>) {
        lock(&self.state).token = token.map(str::to_owned);
    }

    /// Makes the listing answer with `fault` (`None` restores it).
    pub fn set_list_fault(&self, fault: Option<Fault>) {
        lock(&self.state).list_fault = fault;
    }

    /// Makes the download URL on the API host answer with `fault`.
    pub fn set_download_fault(&self, fault: Option<Fault>) {
        lock(&self.state).download_fault = fault;
    }

    /// Makes the blob host answer with `fault`.
    pub fn set_blob_fault(&self, fault: Option<Fault>) {
        lock(&self.state).blob_fault = fault;
    }

    /// Makes the download URL redirect to `location`, as given (any scheme, or relative),
    /// instead of the blob host's pre-signed URL; `None` restores it. A relative
    /// `/blob/{id}?{BLOB_SIGNATURE}` is served by the API host itself.
    pub fn set_download_location(&self, location: Option<&str>) {
        lock(&self.state).download_location = location.map(str::to_owned);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state).seen.clone()
    }

    /// How many requests went to `endpoint`.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        lock(&self.state)
            .seen
            .iter()
            .filter(|s| s.endpoint == endpoint)
            .count()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        lock(&self.state).seen.clear();
    }
}

/// A loopback port that never completes a connection: its listen queue (of one) is
/// filled by a connection nobody accepts, so the kernel drops every further connection
/// attempt's SYN and the client waits until its own connect timeout. For connect
/// time-outs, which a listening mock cannot produce (the kernel completes connections
/// before the server accepts them). Linux behaviour; the port stays unconnectable until
/// this is dropped.
#[derive(Debug)]
pub struct Unconnectable {
    addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: tokio::net::TcpStream,
}

impl Unconnectable {
    /// Binds a loopback port with a listen backlog of zero and fills its queue.
    pub async fn start() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let queued = tokio::net::TcpStream::connect(addr).await.unwrap();
        Unconnectable {
            addr,
            _listener: listener,
            _queued: queued,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn record(state: &Shared, endpoint: Endpoint, uri: String, headers: &HeaderMap) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    lock(state).seen.push(Seen {
        endpoint,
        uri,
        authorization,
    });
}

fn authorized(state: &MockState, headers: &HeaderMap) -> bool {
    match &state.token {
        None => true,
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {token}")),
    }
}

fn json_error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"message":"{message}","documentation_url":"https://docs.github.com/rest"}}"#),
    )
        .into_response()
}

async fn fault_response(fault: &Fault, body: Vec<u8>) -> Response {
    match fault {
        Fault::Status(code) => json_error(*code, "mock fault"),
        Fault::RateLimited => {
            let mut r = json_error(403, "API rate limit exceeded");
            let h = r.headers_mut();
            h.insert("x-ratelimit-remaining", "0".parse().unwrap());
            h.insert("x-ratelimit-reset", "1893456000".parse().unwrap());
            r
        }
        Fault::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"total_count": 1, "artifacts": [{"id": "#,
        )
            .into_response(),
        Fault::Truncated => {
            let half = body.len() / 2;
            let full = body.len();
            let stream = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(bytes_of(&body[..half])),
                Err(std::io::Error::other("connection cut by the mock")),
            ]);
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, full.to_string().parse().unwrap());
            r
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            json_error(504, "too late")
        }
        Fault::Trickle(pause) => {
            let pause = *pause;
            let full = body.len();
            let stream = futures_util::stream::unfold((body, 0), move |(body, i)| async move {
                let byte = bytes_of(body.get(i..=i)?);
                tokio::time::sleep(pause).await;
                Some((Ok::<_, std::io::Error>(byte), (body, i + 1)))
            });
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, full.to_string().parse().unwrap());
            r
        }
    }
}

fn bytes_of(b: &[u8]) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(b)
}

async fn list(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Response {
    record(&state, Endpoint::List, uri.to_string(), &headers);
    let fault = {
        let s = lock(&state);
        if !authorized(&s, &headers) {
            return json_error(401, "Bad credentials");
        }
        s.list_fault.clone()
    };
    if let Some(fault) = fault {
        return fault_response(&fault, Vec::new()).await;
    }
    let s = lock(&state);
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100)
        .min(s.page_cap);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let name = query.get("name").filter(|_| s.honor_name_filter);
    // GitHub lists newest first.
    let mut matching: Vec<&MockArtifact> = s
        .artifacts
        .iter()
        .filter(|a| name.is_none_or(|n| &a.name == n))
        .collect();
    matching.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let total = matching.len();
    let items: Vec<String> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|a| {
            format!(
                r#"{{"id":{id},"node_id":"MDg6QXJ0aWZhY3Qx","name":"{name}","size_in_bytes":{size},"url":"{api}/repos/{owner}/{repo}/actions/artifacts/{id}","archive_download_url":"{api}/repos/{owner}/{repo}/actions/artifacts/{id}/zip","expired":{expired},"created_at":"{created}","updated_at":"{created}","expires_at":"2099-01-01T00:00:00Z","workflow_run":{{"id":7,"repository_id":1,"head_repository_id":1,"head_branch":"main","head_sha":"abc"}}}}"#,
                id = a.id,
                name = a.name,
                size = a.zip.len(),
                api = s.api_base,
                expired = a.expired,
                created = a.created_at,
            )
        })
        .collect();
    let body = format!(
        r#"{{"total_count":{total},"artifacts":[{}]}}"#,
        items.join(",")
    );
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if page * per_page < total {
        let mut next = format!(
            "{}/repos/{owner}/{repo}/actions/artifacts?per_page={per_page}&page={}",
            s.api_base,
            page + 1
        );
        if let Some(n) = query.get("name") {
            next.push_str(&format!("&name={n}"));
        }
        let link = format!(r#"<{next}>; rel="next", <{next}>; rel="last""#);
        response
            .headers_mut()
            .insert(header::LINK, link.parse().unwrap());
    }
    response
}

async fn download(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Response {
    record(&state, Endpoint::Download, uri.to_string(), &headers);
    let (fault, expired, location) = {
        let s = lock(&state);
        if !authorized(&s, &headers) {
            return json_error(401, "Bad credentials");
        }
        let Some(artifact) = s.artifacts.iter().find(|a| a.id == id) else {
            return json_error(404, "Not Found");
        };
        let location = s
            .download_location
            .clone()
            .unwrap_or_else(|| format!("{}/blob/{id}?{BLOB_SIGNATURE}", s.blob_base));
        (s.download_fault.clone(), artifact.expired, location)
    };
    if let Some(fault) = fault {
        return fault_response(&fault, Vec::new()).await;
    }
    if expired {
        return json_error(410, "Artifact has expired");
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn blob_get(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Response {
    record(&state, Endpoint::Blob, uri.to_string(), &headers);
    if headers.contains_key(header::AUTHORIZATION) {
        // What Azure blob storage does with a pre-signed URL plus a bearer token; and here,
        // the test's evidence of a leak.
        return (
            StatusCode::BAD_REQUEST,
            "Authorization header sent to the blob host",
        )
            .into_response();
    }
    if uri.query() != Some(BLOB_SIGNATURE) {
        return (StatusCode::FORBIDDEN, "signature missing").into_response();
    }
    let (fault, zip) = {
        let s = lock(&state);
        let Some(artifact) = s.artifacts.iter().find(|a| a.id == id) else {
            return (StatusCode::NOT_FOUND, "no such blob").into_response();
        };
        (s.blob_fault.clone(), artifact.zip.clone())
    };
    if let Some(fault) = fault {
        return fault_response(&fault, zip).await;
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/zip")],
        zip,
    )
        .into_response()
}

/// One entry of a [`raw_zip`], with everything a hostile archive may lie about.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// The name, as stored (any bytes).
    pub name: Vec<u8>,
    /// The uncompressed content.
    pub data: Vec<u8>,
    /// Deflate (else stored).
    pub deflate: bool,
    /// The uncompressed size to declare instead of the real one.
    pub declared_size: Option<u32>,
    /// The CRC-32 to declare instead of the real one.
    pub crc: Option<u32>,
    /// The Unix mode in the external attributes (`0o120777` is a symlink).
    pub unix_mode: u32,
}

impl RawEntry {
    /// A regular file, deflated.
    pub fn file(name: impl AsRef<[u8]>, data: impl Into<Vec<u8>>) -> Self {
        RawEntry {
            name: name.as_ref().to_vec(),
            data: data.into(),
            deflate: true,
            declared_size: None,
            crc: None,
            unix_mode: 0o100_644,
        }
    }
}

/// A zip of `entries` written byte by byte (no zip64), so tests can make archives no
/// well-behaved writer would: lying sizes and CRCs, links, any names.
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let (mut out, central) = raw_entries(entries);
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// [`raw_zip`] ending in ZIP64 end records (a ZIP64 end-of-central-directory record, its
/// locator, and a classic end record whose count, size and offset are saturated), as
/// writers end archives of more than 65,535 entries.
pub fn raw_zip64(entries: &[RawEntry]) -> Vec<u8> {
    let (mut out, central) = raw_entries(entries);
    let cd_offset = out.len() as u64;
    out.extend_from_slice(&central);
    push_zip64_end(
        &mut out,
        entries.len() as u64,
        central.len() as u64,
        cd_offset,
    );
    out
}

/// A zip whose ZIP64 end records declare `entries` entries in a central directory of
/// `central_directory` (any bytes, not parsed before the declared count is checked):
/// the start of a many-entry bomb, in a few bytes.
pub fn zip64_declaring(entries: u64, central_directory: &[u8]) -> Vec<u8> {
    let mut out = central_directory.to_vec();
    push_zip64_end(&mut out, entries, central_directory.len() as u64, 0);
    out
}

fn push_zip64_end(out: &mut Vec<u8>, entries: u64, cd_size: u64, cd_offset: u64) {
    let record_at = out.len() as u64;
    out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
    out.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of the record
    out.extend_from_slice(&45u16.to_le_bytes()); // made by
    out.extend_from_slice(&45u16.to_le_bytes()); // needed
    out.extend_from_slice(&[0; 8]); // this disk, the central directory's disk
    out.extend_from_slice(&entries.to_le_bytes()); // on this disk
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    // Locator.
    out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&record_at.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    // Classic end record, saturated.
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&u16::MAX.to_le_bytes());
    out.extend_from_slice(&u16::MAX.to_le_bytes());
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
}

/// The local headers with their data, and the central directory, of `entries`.
fn raw_entries(entries: &[RawEntry]) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let crc = e.crc.unwrap_or_else(|| crc32fast::hash(&e.data));
        let size = e.declared_size.unwrap_or(e.data.len() as u32);
        let body = if e.deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let method: u16 = if e.deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let name_len = e.name.len() as u16;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x5821u16.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&body);
        // Central directory header (made by Unix, so the mode counts).
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x0314u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x5821u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(body.len() as u32).to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&(e.unix_mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    (out, central)
}

/// The entries a Hypothesis directory database holding `model` has (`<h(key)>/<h(value)>`
/// plus the meta-keys entry for every key), without directory entries, as
/// actions/upload-artifact zips them.
pub fn model_entries(model: &BTreeMap<Vec<u8>, Vec<Vec<u8>>>) -> Vec<RawEntry> {
    let mut entries = Vec::new();
    for (key, values) in model {
        if values.is_empty() {
            continue;
        }
        let dir = hypothesis_hash(key);
        entries.push(RawEntry::file(
            format!("{}/{}", hypothesis_hash(METAKEYS_KEY), dir),
            key.clone(),
        ));
        for value in values {
            entries.push(RawEntry::file(
                format!("{dir}/{}", hypothesis_hash(value)),
                value.clone(),
            ));
        }
    }
    entries
}

/// A zip of the directory database holding `model` (see [`model_entries`]).
pub fn model_zip(model: &BTreeMap<Vec<u8>, Vec<Vec<u8>>>) -> Vec<u8> {
    raw_zip(&model_entries(model))
}
