//! Network stand-ins for fault tests, on plain threads (no runtime needed):
//!
//! - [`TcpProxy`]: forwards a loopback port to a server, with a switch that cuts every
//!   connection and then refuses new ones ([`ProxyMode::Refuse`]) or accepts them and
//!   never answers ([`ProxyMode::Hang`]), as a server that stopped or froze; it also
//!   counts connections, so a test can see how many requests were in flight at once.
//! - [`HttpStub`]: a tiny HTTP/1.1 server whose every answer a test chooses (a service's
//!   error bodies, HTML, bytes that are not HTTP at all, silence, a body that trickles),
//!   counting the requests it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a [`TcpProxy`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward both ways to the target.
    Forward,
    /// Nothing listens on the port: connecting is refused (a stopped server).
    Refuse,
    /// Connections are accepted and never answered (a frozen server, a black hole).
    Hang,
}

/// A TCP proxy from a loopback port to `target`; see the [module](self) docs. Stopped
/// when dropped.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    shared: Arc<ProxyShared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct ProxyShared {
    target: SocketAddr,
    mode: Mutex<ProxyMode>,
    stop: AtomicBool,
    /// Both ends of every live forwarded connection, and every held (hanging) one, so a
    /// mode change can shut them down.
    live: Mutex<Vec<TcpStream>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    accepted: AtomicUsize,
}

impl TcpProxy {
    /// Starts forwarding a free loopback port to `target` (for example moto's address).
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(ProxyShared {
            target,
            mode: Mutex::new(ProxyMode::Forward),
            stop: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(listener, port, &shared))
        };
        Ok(TcpProxy {
            port,
            shared,
            thread: Some(thread),
        })
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches the mode. Leaving [`ProxyMode::Forward`] (or changing mode at all) shuts
    /// down every live connection first, as a server dying would; the listening socket is
    /// closed in [`ProxyMode::Refuse`] and opened again on the same port after. Returns
    /// once the new mode is in force.
    pub fn set_mode(&self, mode: ProxyMode) {
        *lock(&self.shared.mode) = mode;
        self.shared.cut_all();
        // The accept loop applies a listener change within one tick.
        std::thread::sleep(ACCEPT_TICK * 4);
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *lock(&self.shared.mode)
    }

    /// Connections accepted so far (in every mode).
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The most forwarded connections that were open at once since the start or the last
    /// [`reset_max_active`](Self::reset_max_active).
    pub fn max_active(&self) -> usize {
        self.shared.max_active.load(Ordering::SeqCst)
    }

    /// Forwarded connections open now.
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Starts counting [`max_active`](Self::max_active) again from the connections open
    /// now.
    pub fn reset_max_active(&self) {
        self.shared
            .max_active
            .store(self.shared.active.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const ACCEPT_TICK: Duration = Duration::from_millis(5);

impl ProxyShared {
    fn cut_all(&self) {
        for s in lock(&self.live).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, port: u16, shared: &Arc<ProxyShared>) {
    let mut listener = Some(listener);
    if let Some(l) = &listener {
        let _ = l.set_nonblocking(true);
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let mode = *lock(&shared.mode);
        if mode == ProxyMode::Refuse {
            listener = None;
            std::thread::sleep(ACCEPT_TICK);
            continue;
        }
        if listener.is_none() {
            // std sets SO_REUSEADDR on Unix, so the port can be bound again at once.
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => {
                    let _ = l.set_nonblocking(true);
                    listener = Some(l);
                }
                Err(_) => {
                    std::thread::sleep(ACCEPT_TICK);
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        match l.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                match mode {
                    ProxyMode::Hang => {
                        lock(&shared.live).push(client);
                    }
                    _ => forward(client, shared),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_TICK);
            }
            Err(_) => std::thread::sleep(ACCEPT_TICK),
        }
    }
}

/// Counts a forwarded connection while it is open.
struct Active(Arc<ProxyShared>);

impl Active {
    fn new(shared: &Arc<ProxyShared>) -> Self {
        let now = shared.active.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_active.fetch_max(now, Ordering::SeqCst);
        Active(Arc::clone(shared))
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn forward(client: TcpStream, shared: &Arc<ProxyShared>) {
    let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    {
        let mut live = lock(&shared.live);
        live.push(c3);
        live.push(s3);
    }
    let active = Arc::new(Active::new(shared));
    let a2 = Arc::clone(&active);
    std::thread::spawn(move || pump(client, server, &active));
    std::thread::spawn(move || pump(s2, c2, &a2));
}

/// Copies `from` to `to` until either end closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, _active: &Arc<Active>) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// One request an [`HttpStub`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl StubRequest {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What an [`HttpStub`] answers to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubReply {
    /// A well-formed HTTP/1.1 response (`Content-Length` is added).
    Http {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// These bytes as they are, then the connection is closed (not HTTP at all).
    Raw(Vec<u8>),
    /// No answer; the connection stays open until the stub is dropped.
    Silence,
    /// A well-formed head (`Content-Length` is added, for the whole body), then the body
    /// one byte per `pause` (a server or network that trickles; with a long pause, one
    /// that goes silent after the head), until it is sent, the client goes or the stub is
    /// dropped.
    Trickle {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// The pause before each byte of the body.
        pause: Duration,
    },
}

impl StubReply {
    /// An HTTP answer with one `Content-Type`.
    pub fn http(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        StubReply::Http {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&StubRequest) -> StubReply + Send + Sync;

/// A tiny HTTP/1.1 server on a free loopback port answering every request with what
/// its handler returns; see the [module](self) docs. Stopped when dropped.
pub struct HttpStub {
    port: u16,
    shared: Arc<StubShared>,
    thread: Option<JoinHandle<()>>,
}

struct StubShared {
    handler: Box<Handler>,
    stop: AtomicBool,
    requests: Mutex<Vec<StubRequest>>,
    held: Mutex<Vec<TcpStream>>,
}

impl std::fmt::Debug for HttpStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStub")
            .field("port", &self.port)
            .field("requests", &self.request_count())
            .finish()
    }
}

impl HttpStub {
    /// Starts the stub with `handler`.
    pub fn start(
        handler: impl Fn(&StubRequest) -> StubReply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(StubShared {
            handler: Box::new(handler),
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let shared = Arc::clone(&shared);
                            std::thread::spawn(move || serve(stream, &shared));
                        }
                        Err(_) => std::thread::sleep(ACCEPT_TICK),
                    }
                }
            })
        };
        Ok(HttpStub {
            port,
            shared,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<StubRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for s in lock(&self.shared.held).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, shared: &StubShared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        lock(&shared.requests).push(request.clone());
        match (shared.handler)(&request) {
            StubReply::Http {
                status,
                headers,
                body,
            } => {
                // A HEAD answer carries no body, but says how long it would be.
                let mut bytes = response_head(status, &headers, body.len()).into_bytes();
                if request.method != "HEAD" {
                    bytes.extend_from_slice(&body);
                }
                let close = request
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                if out.write_all(&bytes).is_err() || close {
                    let _ = out.shutdown(Shutdown::Both);
                    return;
                }
            }
            StubReply::Raw(bytes) => {
                let _ = out.write_all(&bytes);
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
            StubReply::Silence => {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                lock(&shared.held).push(out);
                return;
            }
            StubReply::Trickle {
                status,
                headers,
                body,
                pause,
            } => {
                let head = response_head(status, &headers, body.len());
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for byte in body {
                    if !sleep_unless_stopped(pause, shared) || out.write_all(&[byte]).is_err() {
                        let _ = out.shutdown(Shutdown::Both);
                        return;
                    }
                }
            }
        }
    }
}

/// An HTTP/1.1 response head: status line, `headers`, `Content-Length: length`.
fn response_head(status: u16, headers: &[(String, String)], length: usize) -> String {
    let mut head = format!("HTTP/1.1 {status} Stub\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    head
}

/// Sleeps `pause` in short steps; `false` (at once) when the stub is stopped.
fn sleep_unless_stopped(pause: Duration, shared: &StubShared) -> bool {
    let deadline = std::time::Instant::now() + pause;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

/// Reads one request (head, then a `Content-Length` or chunked body); `None` at the end
/// of the connection or on malformed input.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<StubRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut request = StubRequest {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = request.header("content-length") {
        let mut body = vec![0; len.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    }
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        s.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn stub_answers_and_proxy_switches() {
        let stub =
            HttpStub::start(|r| StubReply::http(200, "text/plain", r.target.clone())).unwrap();
        let target: SocketAddr = stub.url()["http://".len()..].parse().unwrap();
        let proxy = TcpProxy::start(target).unwrap();
        assert!(get(proxy.port()).unwrap().ends_with("/x"));
        assert_eq!(stub.request_count(), 1);

        proxy.set_mode(ProxyMode::Refuse);
        let refused = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

        proxy.set_mode(ProxyMode::Hang);
        assert!(
            get(proxy.port()).is_err(),
            "a hanging proxy answers nothing"
        );

        proxy.set_mode(ProxyMode::Forward);
        assert!(get(proxy.port()).unwrap().ends_with("/x"));
        assert_eq!(stub.request_count(), 2);
        assert!(proxy.max_active() >= 1);
    }
}
