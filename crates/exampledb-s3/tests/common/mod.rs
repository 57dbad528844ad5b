//! What the S3 tests share: a fresh bucket on the test server per test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use exampledb_s3::aws_sdk_s3;
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

/// A new bucket on the test server (named after the test and a random suffix).
pub async fn fresh_bucket(endpoint: &str) -> String {
    let bucket = format!("exampledb-{}", &hex(&unique_prefix())[..20]);
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
