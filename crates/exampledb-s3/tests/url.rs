//! The `s3://BUCKET/PREFIX?options` URL, and the standard AWS chain.
//!
//! The chain reads the process's environment (`AWS_*`). Those tests never change the
//! test process's own environment (other tests run in it, on other threads): each runs
//! its check in a child process (the test binary again, this one test only, see
//! `exampledb_testkit::process::child_test`) whose environment is set on the `Command`,
//! every inherited `AWS_*` variable removed first. So they hold under `cargo nextest` (a
//! process per test) and under plain `cargo test` (threads in one process) alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use exampledb_core::{ErrorKind, ExampleDatabase};
use exampledb_s3::S3DatabaseBuilder;
use exampledb_testkit::conformance::{self, Capabilities};
use exampledb_testkit::process::{child_role, child_test};
use exampledb_testkit::services::s3_endpoint;

const CAPS: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
    max_key: None,
    max_value: None,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_an_s3_url_passes_the_conformance_checks() {
    let Some(endpoint) = s3_endpoint("s3_url_conformance") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let url = format!(
        "s3://{bucket}/team%20a/examples?endpoint={endpoint}&region=us-east-1&poll_interval=200ms&fetch_concurrency=8&operation_timeout=10s&max_attempts=2"
    );
    let db = S3DatabaseBuilder::from_url(&url)
        .unwrap()
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .build()
        .unwrap();
    assert_eq!(db.bucket(), bucket);
    assert_eq!(
        db.prefix(),
        "team a/examples/",
        "the prefix, percent-decoded"
    );
    assert_eq!(db.location(), format!("s3://{bucket}/team a/examples/"));
    db.check().await.unwrap();
    let db: Arc<dyn ExampleDatabase> = Arc::new(db);
    conformance::basic_semantics(&*db).await;
    conformance::keys_listing(&*db, CAPS).await;
    conformance::concurrent_writers(Arc::clone(&db)).await;
    // The objects are where the URL says.
    db.save(b"where", b"here").await.unwrap();
    let names = common::object_names(&endpoint, &bucket, "").await;
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| n.starts_with("team a/examples/")),
        "{names:?}"
    );
}

/// A command running `entry` of this test binary as a child process with the role
/// `role`, without any `AWS_*` variable of ours, and without the user's AWS files or the
/// instance metadata service.
fn child_without_aws_env(
    entry: &str,
    role: &str,
    scratch: &std::path::Path,
) -> std::process::Command {
    let mut cmd = child_test(entry, role);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_CONFIG_FILE", scratch.join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn run_child(mut cmd: std::process::Command) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_aws_chain_without_a_region_is_an_invalid_config_naming_it() {
    const ENTRY: &str = "the_aws_chain_without_a_region_is_an_invalid_config_naming_it";
    if child_role().as_deref() == Some("no-region") {
        // In the child: credentials from the environment, no region anywhere.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let db = S3DatabaseBuilder::from_env()
                .with_url("s3://some-bucket/prefix")
                .unwrap()
                .build()
                .expect("the chain is read on first use, not by build()");
            let started = std::time::Instant::now();
            let err = db.check().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
            assert!(!err.is_temporary());
            assert!(err.to_string().contains("region"), "{err}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no waiting on the network for a region: {:?}",
                started.elapsed()
            );
            // Every operation says the same.
            for (op, result) in common::every_operation(&db).await {
                let err = result.expect_err(op);
                assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{op}: {err}");
                assert!(err.to_string().contains("region"), "{op}: {err}");
            }
            assert_eq!(db.requests(), 0);
        });
        return;
    }
    if child_role().is_some() {
        return; // a child for another test
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = child_without_aws_env(ENTRY, "no-region", scratch.path());
    cmd.env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY);
    run_child(cmd);
}

#[tokio::test]
async fn the_aws_chain_from_the_environment_reaches_the_server() {
    const ENTRY: &str = "the_aws_chain_from_the_environment_reaches_the_server";
    if let Some(role) = child_role() {
        if let Some(url) = role.strip_prefix("chain:") {
            // In the child: region, endpoint and credentials from the environment.
            let db = S3DatabaseBuilder::from_env()
                .with_url(url)
                .unwrap()
                .build()
                .unwrap();
            db.check().await.unwrap();
            db.save(b"k", b"from the chain").await.unwrap();
            assert_eq!(db.fetch(b"k").await.unwrap().len(), 1);
        }
        return;
    }
    let Some(endpoint) = s3_endpoint("s3_aws_chain") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd =
        child_without_aws_env(ENTRY, &format!("chain:s3://{bucket}/chain"), scratch.path());
    cmd.env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &endpoint);
    run_child(cmd);
    // Written where the URL says, path-style (an endpoint from the chain is an
    // S3-compatible server too).
    let names = common::object_names(&endpoint, &bucket, "chain/").await;
    assert_eq!(names.len(), 2, "{names:?}");
}

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// An AWS-shaped secret: base64, so it may hold `/` (which a parser splitting at the first
/// `/` takes for the end of the bucket).
const SECRET_PARTS: [&str; 3] = ["wJalrXUtnFEMI", "K7MDENGbPxRfiCY", "EXAMPLEKEY"];

fn secret() -> String {
    SECRET_PARTS.join("/")
}

/// Display, Debug and every source of `err`.
fn all_text(err: &exampledb_core::Error) -> String {
    let mut text = format!("{err}\n{err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

fn assert_no_credential(text: &str, context: &str) {
    assert!(!text.contains(KEY_ID), "{context} shows the key id: {text}");
    for part in SECRET_PARTS {
        assert!(
            !text.contains(part),
            "{context} shows part of the secret ({part}): {text}"
        );
    }
}

#[test]
fn credentials_in_an_s3_url_are_refused_and_never_shown() {
    let secret = secret();
    let urls = [
        format!("s3://{KEY_ID}:{secret}@bucket/prefix"),
        format!("s3://{KEY_ID}:{secret}@bucket"),
        format!("s3://{KEY_ID}:{secret}@bucket/prefix?region=us-east-1"),
        format!("s3://{KEY_ID}@bucket/prefix"),
        format!("s3://bucket/prefix?endpoint=http://{KEY_ID}:{secret}@127.0.0.1:9000"),
        format!("s3://bucket/prefix?endpoint=http%3A%2F%2F{KEY_ID}%3A{secret}%40127.0.0.1%3A9000"),
    ];
    for url in &urls {
        // Refused by the URL's parsing or, at the latest, by build().
        let err = S3DatabaseBuilder::from_url(url)
            .and_then(S3DatabaseBuilder::build)
            .expect_err("credentials in the URL are refused");
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
        assert!(err.to_string().contains("user info"), "{err}");
        assert_no_credential(&all_text(&err), "the error");
    }
    // An '@' of a prefix is written %40.
    let db = S3DatabaseBuilder::from_url("s3://bucket/team%40corp?region=us-east-1")
        .unwrap()
        .credentials(common::ACCESS_KEY, common::SECRET_KEY, None)
        .build()
        .unwrap();
    assert_eq!(db.prefix(), "team@corp/");

    // An endpoint with user info given from code: never shown by Debug, refused by
    // build() without echoing it.
    let builder = exampledb_s3::S3Database::builder("bucket")
        .region("us-east-1")
        .endpoint(format!("http://{KEY_ID}:{secret}@127.0.0.1:9000"));
    let shown = format!("{builder:?}");
    assert_no_credential(&shown, "the builder's Debug");
    assert!(shown.contains("127.0.0.1:9000"), "{shown}");
    let err = builder
        .clone()
        .build()
        .expect_err("user info in the endpoint");
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert_no_credential(&all_text(&err), "the error");
    // A database's Debug, built from a valid URL with explicit credentials.
    let db = S3DatabaseBuilder::from_url("s3://bucket/p?endpoint=http://127.0.0.1:9000")
        .unwrap()
        .region("us-east-1")
        .credentials(KEY_ID, secret.clone(), None)
        .build()
        .unwrap();
    assert_no_credential(&format!("{db:?}"), "the database's Debug");
}
