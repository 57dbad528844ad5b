//! What the S3 tests share: a fresh bucket on the test server per test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use exampledb_s3::aws_sdk_s3;
use exampledb_s3::aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use exampledb_s3::aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use exampledb_s3::aws_sdk_s3::error::BoxError;
use exampledb_s3::{S3Database, S3DatabaseBuilder};
use exampledb_testkit::services::s3_endpoint;
use exampledb_testkit::{hex, unique_prefix};

/// moto accepts any credentials.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing-secret";

/// A client of the test server, for setting up and inspecting buckets.
pub fn raw_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A new bucket on the test server, with a random name (96 random bits: no two tests,
/// runs or processes share one).
pub async fn fresh_bucket(endpoint: &str) -> String {
    // unique_prefix() is "exampledb-test:" + 12 random bytes + ":": the random part.
    let unique = unique_prefix();
    let bucket = format!("exampledb-{}", hex(&unique[15..27]));
    raw_client(endpoint)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    bucket
}

/// Settings for `bucket` on the test server, with `prefix`.
pub fn builder(endpoint: &str, bucket: &str, prefix: &str) -> S3DatabaseBuilder {
    S3Database::builder(bucket)
        .prefix(prefix)
        .endpoint(endpoint)
        .credentials(ACCESS_KEY, SECRET_KEY, None)
}

/// The test server, and a database on a fresh bucket; `None` (skipped or failed) without
/// a server.
pub async fn database(test: &str, prefix: &str) -> Option<(String, String, S3Database)> {
    let endpoint = s3_endpoint(test)?;
    let bucket = fresh_bucket(&endpoint).await;
    let db = builder(&endpoint, &bucket, prefix)
        .poll_interval(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    Some((endpoint, bucket, db))
}

/// The objects under `prefix` in `bucket`, by name, through the raw client (every page).
pub async fn object_names(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let client = raw_client(endpoint);
    let mut names = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        names.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    names.sort();
    names
}

/// Writes `body` at `name` in `bucket` through the raw client.
pub async fn put_raw(endpoint: &str, bucket: &str, name: &str, body: &[u8]) {
    raw_client(endpoint)
        .put_object()
        .bucket(bucket)
        .key(name)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
}

/// Settings for a stand-in server at `url` (an [`exampledb_testkit::net::HttpStub`]),
/// with short time limits.
pub fn stub_builder(url: &str, bucket: &str) -> S3DatabaseBuilder {
    S3Database::builder(bucket)
        .prefix("p")
        .endpoint(url)
        .credentials(ACCESS_KEY, SECRET_KEY, None)
        .connect_timeout(std::time::Duration::from_millis(500))
        .operation_timeout(std::time::Duration::from_secs(5))
}

/// An S3 error body as S3 sends it (`<Error><Code>..</Code><Message>..</Message>..`).
pub fn s3_error_body(code: &str, message: &str, resource: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><Resource>{resource}</Resource><RequestId>4442587FB7D0A2F9</RequestId><HostId>stub-host-id</HostId></Error>"
    )
}

/// The `(operation, result)` of every `ExampleDatabase` operation (and `check`) once on
/// `db`, with small arguments.
pub async fn every_operation(db: &S3Database) -> Vec<(&'static str, exampledb_core::Result<()>)> {
    use exampledb_core::ExampleDatabase;
    vec![
        ("check", db.check().await),
        ("save", db.save(b"k", b"v").await),
        ("fetch", db.fetch(b"k").await.map(drop)),
        ("delete", db.delete(b"k", b"v").await),
        ("move", db.move_value(b"k", b"k2", b"v").await),
        ("keys", db.keys().await.map(drop)),
    ]
}

/// Waits until the poller behind `stream` has its baseline and hears `other`'s changes:
/// `other` (another handle: another process) saves probe values under the key `probe`
/// until one is heard, then deletes them and drains their events.
pub async fn wait_for_poller(other: &S3Database, stream: &mut exampledb_core::ChangeStream) {
    use exampledb_core::ExampleDatabase;
    use futures_util::StreamExt;
    let poll = std::time::Duration::from_millis(600);
    let mut probes = 0u32;
    loop {
        let v = format!("probe{probes}");
        other.save(b"probe", v.as_bytes()).await.unwrap();
        probes += 1;
        let heard = exampledb_testkit::conformance::collect_events(stream, b"probe", 1, poll).await;
        if !heard.is_empty() {
            break;
        }
        assert!(probes < 20, "the listener never heard the other process");
    }
    for i in 0..probes {
        other
            .delete(b"probe", format!("probe{i}").as_bytes())
            .await
            .unwrap();
    }
    // Drain the probes' deletes (and a late probe's save).
    while let Ok(Some(_)) = tokio::time::timeout(poll, stream.next()).await {}
}

/// What a client sent, seen by an interceptor of the test's: the URI of every GET that is
/// not a listing (GetObject), and the most requests in flight at once.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The URIs of the GetObjects sent.
    pub gets: Arc<Mutex<Vec<String>>>,
    /// Requests in flight now.
    pub in_flight: Arc<AtomicUsize>,
    /// The most requests in flight at once.
    pub most_in_flight: Arc<AtomicUsize>,
}

impl Seen {
    /// The GetObjects of objects whose name ends with `name`.
    pub fn gets_of(&self, name: &str) -> usize {
        let path = format!("/{name}");
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|uri| uri.split('?').next().unwrap_or("").ends_with(&path))
            .count()
    }

    /// A database on `bucket`/`prefix` of the test server whose client reports to this.
    pub fn database(
        &self,
        endpoint: &str,
        bucket: &str,
        prefix: &str,
    ) -> exampledb_s3::S3DatabaseBuilder {
        let client = raw_client(endpoint);
        let client = aws_sdk_s3::Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(self.clone())
                .build(),
        );
        S3Database::builder(bucket).prefix(prefix).client(client)
    }
}

impl Intercept for Seen {
    fn name(&self) -> &'static str {
        "test::Seen"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        if request.method() == "GET" && !request.uri().contains("list-type=2") {
            self.gets.lock().unwrap().push(request.uri().to_owned());
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}
