//! Services the integration tests talk to, and how tests find them.
//!
//! `cargo xtask integration-test` starts them (docker compose where a Docker engine runs,
//! otherwise [`RedisServer`] and [`RedisCluster`] from `redis-server` on PATH) and passes
//! their addresses in the environment variables below. A test asks with [`redis_url`] /
//! [`redis_cluster_urls`]; when a service is missing it fails under
//! [`crate::require_services`] and is skipped otherwise.
//!
//! Tests that must stop and restart a server (fault injection) start their own
//! [`RedisServer`].

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::skip_or_fail;

/// URL of a Redis server for tests (`redis://127.0.0.1:PORT`).
pub const REDIS_URL_ENV: &str = "EXAMPLEDB_REDIS_URL";
/// Comma-separated URLs of the nodes of a Redis Cluster for tests.
pub const REDIS_CLUSTER_ENV: &str = "EXAMPLEDB_REDIS_CLUSTER_URLS";
/// The `redis-server` binary tests start themselves (default: `redis-server` on PATH).
pub const REDIS_SERVER_BIN_ENV: &str = "EXAMPLEDB_REDIS_SERVER";

/// The test Redis server's URL, or `None` after reporting it missing (see
/// [`skip_or_fail`]).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_URL_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_or_fail(
                test,
                &format!("no Redis server ({REDIS_URL_ENV} is not set)"),
            );
            None
        }
    }
}

/// The test Redis Cluster's node URLs, or `None` after reporting it missing.
pub fn redis_cluster_urls(test: &str) -> Option<Vec<String>> {
    match std::env::var(REDIS_CLUSTER_ENV) {
        Ok(urls) if !urls.is_empty() => Some(urls.split(',').map(str::to_owned).collect()),
        _ => {
            skip_or_fail(
                test,
                &format!("no Redis Cluster ({REDIS_CLUSTER_ENV} is not set)"),
            );
            None
        }
    }
}

/// The `redis-server` binary to start, if there is one.
pub fn redis_server_bin() -> Option<PathBuf> {
    let bin = std::env::var_os(REDIS_SERVER_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"));
    Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        .then_some(bin)
}

/// A free TCP port on the loopback interface (free when asked; a server started on it
/// right away gets it unless another process races for it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `redis-server` process of the tests' own, on a free loopback port, with its data in
/// its own directory; killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with `extra` arguments (for example `["--appendonly", "yes"]`) and
    /// waits until it answers.
    pub fn start(extra: &[&str]) -> Result<Self, String> {
        let bin = redis_server_bin().ok_or("redis-server not found")?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let dir =
                std::env::temp_dir().join(format!("exampledb-redis-{}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut server = Self {
                bin: bin.clone(),
                port,
                dir,
                args: extra.iter().map(|s| s.to_string()).collect(),
                child: None,
            };
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(format!("redis-server did not start: {last}"))
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10)).map_err(|e| {
            self.kill();
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}; log: {}", tail.lines().last().unwrap_or(""))
        })
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server at once (SIGKILL: no shutdown save).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for_port(port: u16, limit: Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 64];
            if s.write_all(b"PING\r\n").is_ok() {
                if let Ok(n) = s.read(&mut buf) {
                    // +PONG, or -NOAUTH from a server with a password: Redis is up.
                    if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH") {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("nothing answered PING on 127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A three-primary Redis Cluster of the tests' own on free loopback ports.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`
    /// and waits until the cluster reports `cluster_state:ok` on every node.
    pub fn start() -> Result<Self, String> {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(RedisServer::start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
                "--appendonly",
                "no",
            ])?);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &nodes {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &node.port().to_string(), "cluster", "info"])
                    .output()
                    .map_err(|e| format!("cannot run redis-cli: {e}"))?;
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err("the cluster did not reach cluster_state:ok".into());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(Self { nodes })
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// URL of an S3 (and DynamoDB) server for tests: moto's, `http://127.0.0.1:PORT`.
pub const S3_ENDPOINT_ENV: &str = "EXAMPLEDB_S3_ENDPOINT";

/// The test S3 server's endpoint, or `None` after reporting it missing (see
/// [`skip_or_fail`]).
pub fn s3_endpoint(test: &str) -> Option<String> {
    match std::env::var(S3_ENDPOINT_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_or_fail(
                test,
                &format!("no S3 server ({S3_ENDPOINT_ENV} is not set)"),
            );
            None
        }
    }
}

/// moto's server (`moto_server`, from the project's Python venv: S3, DynamoDB and
/// DynamoDB Streams in one process, in memory) on a free loopback port; killed when
/// dropped.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl MotoServer {
    /// Starts `moto_server -H 127.0.0.1 -p PORT` from `python`'s venv and waits until it
    /// answers HTTP.
    pub fn start(python: &crate::python::Python) -> Result<Self, String> {
        let exe = python
            .exe()
            .parent()
            .map(|bin| bin.join("moto_server"))
            .ok_or("the venv has no bin directory")?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let log = std::env::temp_dir()
                .join(format!("exampledb-moto-{}-{port}.log", std::process::id()));
            let log_file =
                std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    log_file
                        .try_clone()
                        .map_err(|e| format!("{}: {e}", log.display()))?,
                )
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
            let mut server = Self {
                port,
                child: Some(child),
                log,
            };
            match wait_for_http(port, Duration::from_secs(30)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let tail = std::fs::read_to_string(&server.log).unwrap_or_default();
                    last = format!("{e}; log: {}", tail.lines().last().unwrap_or(""));
                    server.kill();
                }
            }
        }
        Err(format!("moto_server did not start: {last}"))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Waits until something on `port` answers an HTTP request with a status line.
fn wait_for_http(port: u16, limit: Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            let mut buf = [0u8; 16];
            if s.write_all(request).is_ok()
                && s.read(&mut buf).is_ok_and(|n| n >= 5)
                && buf.starts_with(b"HTTP/")
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("no HTTP answer on 127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An `s3s-fs` server (crate `s3s-fs` with feature `binary`: an S3 server keeping each
/// bucket as a directory under its root, with signature checks) on a free loopback port;
/// killed when dropped. Its root is the caller's: buckets are made by CreateBucket (or as
/// directories under the root).
#[derive(Debug)]
pub struct S3sFsServer {
    port: u16,
    child: Option<Child>,
}

impl S3sFsServer {
    /// Starts `bin --host 127.0.0.1 --port PORT --access-key K --secret-key S root` and
    /// waits until it answers HTTP.
    pub fn start(
        bin: &Path,
        root: &Path,
        access_key: &str,
        secret_key: &str,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let child = Command::new(bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", access_key, "--secret-key", secret_key])
                .arg(root)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            let mut server = Self {
                port,
                child: Some(child),
            };
            match wait_for_http(port, Duration::from_secs(30)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last = e;
                    server.kill();
                }
            }
        }
        Err(format!("s3s-fs did not start: {last}"))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3sFsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
