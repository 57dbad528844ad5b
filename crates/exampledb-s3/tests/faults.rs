//! Faults and hostile conditions: a server that stops (and freezes) in the middle of a
//! workload, a bucket that does not exist, endpoints that are not S3, S3's error answers
//! (throttling, access denied, bad credentials), credentials kept out of every message,
//! and values over the size limit.
//!
//! moto stands in for S3 where it can; it checks no credentials and never throttles, so
//! S3's error answers come from an `HttpStub` sending the XML bodies S3 sends (a stand-in
//! for what real S3 answers, shaped after its documented error responses).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exampledb_core::{Error, ErrorKind, ExampleDatabase};
use exampledb_s3::S3Database;
use exampledb_testkit::net::{HttpStub, ProxyMode, StubReply, TcpProxy};
use exampledb_testkit::services::s3_endpoint;
use futures_util::StreamExt;

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

const OPERATION_TIMEOUT: Duration = Duration::from_millis(1500);
/// What an operation may take beyond its timeout (scheduling on a loaded machine).
const SLACK: Duration = Duration::from_millis(500);

/// Runs every operation once on `db` (at once, each timed), and checks each failed with
/// one of `kinds`, temporary as `temporary` says, within `limit`; returns the errors.
async fn every_operation_fails(
    db: &S3Database,
    kinds: &[ErrorKind],
    temporary: bool,
    limit: Duration,
    context: &str,
) -> Vec<Error> {
    let ops = ["check", "save", "fetch", "delete", "move", "keys"];
    let results = futures_util::future::join_all(ops.iter().map(|&op| async move {
        let started = Instant::now();
        let result = match op {
            "check" => db.check().await,
            "save" => db.save(b"k", b"v").await,
            "fetch" => db.fetch(b"k").await.map(drop),
            "delete" => db.delete(b"k", b"v").await,
            "move" => db.move_value(b"k", b"k2", b"v").await,
            _ => db.keys().await.map(drop),
        };
        (op, result, started.elapsed())
    }))
    .await;
    let mut errors = Vec::new();
    for (op, result, took) in results {
        let err = result.expect_err(&format!("{context}: {op} must fail"));
        assert!(
            kinds.contains(&err.kind()),
            "{context}: {op}: kind {:?}, want one of {kinds:?}: {err}",
            err.kind()
        );
        assert_eq!(
            err.is_temporary(),
            temporary,
            "{context}: {op}: is_temporary: {err}"
        );
        assert!(
            took <= limit,
            "{context}: {op} took {took:?} (limit {limit:?}): {err}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains(db.location()),
            "{context}: {op}: the error names s3://bucket/prefix: {shown}"
        );
        errors.push(err);
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_mid_workload_and_comes_back() {
    let Some(endpoint) = s3_endpoint("server_stops") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let proxy = TcpProxy::start(addr(&endpoint)).unwrap();
    let db = common::builder(&proxy.url(), &bucket, "faults")
        .connect_timeout(Duration::from_millis(300))
        .operation_timeout(OPERATION_TIMEOUT)
        .max_attempts(2)
        .poll_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let direct = common::builder(&endpoint, &bucket, "faults")
        .build()
        .unwrap();
    let mut events = db.subscribe().unwrap();

    // A workload saving as fast as it can, recording what was acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workload = {
        let (db, acknowledged, failures, stop) = (
            db.clone(),
            Arc::clone(&acknowledged),
            Arc::clone(&failures),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let (key, value) = (format!("k{}", i % 7), format!("v{i}"));
                let started = Instant::now();
                match db.save(key.as_bytes(), value.as_bytes()).await {
                    Ok(()) => acknowledged.lock().unwrap().push((key, value)),
                    Err(e) => failures.lock().unwrap().push((e, started.elapsed())),
                }
                i += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The server stops: open connections die, new ones are refused.
    proxy.set_mode(ProxyMode::Refuse);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let limit = OPERATION_TIMEOUT + SLACK;
    every_operation_fails(
        &db,
        &[ErrorKind::Unavailable, ErrorKind::Timeout],
        true,
        limit,
        "server stopped",
    )
    .await;
    // The server freezes: connections are accepted and never answered.
    proxy.set_mode(ProxyMode::Hang);
    every_operation_fails(&db, &[ErrorKind::Timeout], true, limit, "server frozen").await;
    stop.store(true, Ordering::SeqCst);
    workload.await.unwrap();
    {
        let failures = failures.lock().unwrap();
        assert!(!failures.is_empty(), "the workload ran into the outage");
        for (e, took) in failures.iter() {
            assert!(
                matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) && e.is_temporary(),
                "workload save during the outage: {e}"
            );
            assert!(*took <= limit, "workload save took {took:?}: {e}");
        }
    }

    // The server is back: everything works again, and nothing acknowledged was lost.
    proxy.set_mode(ProxyMode::Forward);
    db.save(b"after", b"outage").await.unwrap();
    assert_eq!(db.fetch(b"after").await.unwrap().len(), 1);
    db.check().await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 5,
        "the workload saved before the outage"
    );
    for reader in [&db, &direct] {
        let mut stored = std::collections::HashMap::new();
        for (key, value) in &acknowledged {
            if !stored.contains_key(key) {
                let values = reader.fetch(key.as_bytes()).await.unwrap();
                stored.insert(key.clone(), values);
            }
            assert!(
                stored[key].iter().any(|v| v[..] == *value.as_bytes()),
                "acknowledged save ({key}, {value}) lost"
            );
        }
    }
    // The listener recovered too: another process's change after the outage is heard.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {}
    direct.save(b"heard", b"after the outage").await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let ev = events.next().await.unwrap();
            if ev.key()[..] == b"heard"[..] {
                return ev;
            }
        }
    })
    .await
    .expect("the listener hears changes again after the outage");
    assert_eq!(
        ev,
        exampledb_core::ChangeEvent::Saved {
            key: "heard".into(),
            value: "after the outage".into()
        }
    );
}

#[tokio::test]
async fn a_bucket_that_does_not_exist() {
    let Some(endpoint) = s3_endpoint("missing_bucket") else {
        return;
    };
    let bucket = "exampledb-no-such-bucket-0000";
    let db = common::builder(&endpoint, bucket, "p").build().unwrap();
    let context = "missing bucket";
    let limit = Duration::from_secs(5);
    for err in every_operation_fails(&db, &[ErrorKind::NotFound], false, limit, context).await {
        let shown = err.to_string();
        assert!(
            shown.contains(bucket) && shown.contains("bucket does not exist"),
            "the error says which bucket is missing: {shown}"
        );
    }
    // The same while someone listens (delete and move ask HeadObject first, whose 404
    // has no body: it must not pass for "no such object").
    let _events = db.subscribe().unwrap();
    every_operation_fails(
        &db,
        &[ErrorKind::NotFound],
        false,
        limit,
        "missing, listening",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    for err in [
        db.sync_to_directory(tmp.path()).await.unwrap_err(),
        db.expire_after(Duration::from_secs(86_400))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains(bucket), "{err}");
    }
}

/// An S3 error answer.
fn s3_error(status: u16, code: &str, message: &str) -> StubReply {
    StubReply::http(
        status,
        "application/xml",
        common::s3_error_body(code, message, "/stub/p"),
    )
}

#[tokio::test]
async fn s3_error_answers_are_classified_and_retried_as_documented() {
    // Throttling: retried up to max_attempts, then RateLimited and temporary.
    let stub =
        HttpStub::start(|_| s3_error(503, "SlowDown", "Please reduce your request rate.")).unwrap();
    let db = common::stub_builder(&stub.url(), "stub")
        .max_attempts(3)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = db.fetch(b"k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert!(err.is_temporary());
    assert_eq!(stub.request_count(), 3, "three attempts, no more: {err}");
    assert_eq!(db.requests(), 3, "the interceptor counts every attempt");
    // Backoff is bounded (at most 2 s between attempts).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(stub);

    // A 5xx without a code: retried, then Unavailable and temporary.
    let stub =
        HttpStub::start(|_| s3_error(500, "InternalError", "We encountered an internal error."))
            .unwrap();
    let db = common::stub_builder(&stub.url(), "stub")
        .max_attempts(2)
        .build()
        .unwrap();
    let err = db.save(b"k", b"v").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert_eq!(stub.request_count(), 2);
    drop(stub);

    // Access denied: PermissionDenied, not temporary, not retried.
    for (status, code, kind) in [
        (403, "AccessDenied", ErrorKind::PermissionDenied),
        (403, "InvalidAccessKeyId", ErrorKind::Unauthenticated),
        (403, "SignatureDoesNotMatch", ErrorKind::Unauthenticated),
        (400, "ExpiredToken", ErrorKind::Unauthenticated),
    ] {
        let stub = HttpStub::start(move |_| s3_error(status, code, "stub message")).unwrap();
        let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
        let errors = every_operation_fails(&db, &[kind], false, Duration::from_secs(5), code).await;
        for err in errors {
            assert!(err.to_string().contains(code), "{code}: {err}");
        }
        assert_eq!(
            stub.request_count() as u64,
            db.requests(),
            "{code}: one request per operation, none retried"
        );
        assert!(db.requests() <= 6, "{code}: {} requests", db.requests());
    }
}

#[tokio::test]
async fn endpoints_that_are_not_s3() {
    let html = |status| {
        StubReply::http(
            status,
            "text/html",
            "<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>",
        )
    };
    // A web server answering every request with a page.
    let pages = HttpStub::start(move |_| html(200)).unwrap();
    // A web server as most are: no such page, no such method.
    let web = HttpStub::start(move |r| match r.method.as_str() {
        "GET" | "HEAD" => html(404),
        _ => html(405),
    })
    .unwrap();
    // Not HTTP at all (an SSH port, say).
    let ssh = HttpStub::start(|_| StubReply::Raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())).unwrap();
    let limit = Duration::from_secs(5) + SLACK;
    for (stub, what) in [
        (&pages, "HTML pages"),
        (&web, "a web server"),
        (&ssh, "SSH"),
    ] {
        let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
        let errors = every_operation_fails(&db, &[ErrorKind::Protocol], false, limit, what).await;
        for err in errors {
            assert!(
                err.to_string().contains("S3"),
                "{what}: the message says the endpoint does not speak S3: {err}"
            );
        }
    }
    // A server that accepts and never answers: Timeout within the operation timeout.
    let silent = HttpStub::start(|_| StubReply::Silence).unwrap();
    let timeout = Duration::from_millis(500);
    let db = common::stub_builder(&silent.url(), "stub")
        .operation_timeout(timeout)
        .build()
        .unwrap();
    every_operation_fails(&db, &[ErrorKind::Timeout], true, timeout + SLACK, "silence").await;
    // Nothing listens at all: Unavailable, at once.
    let port = exampledb_testkit::services::free_port().unwrap();
    let db = common::stub_builder(&format!("http://127.0.0.1:{port}"), "stub")
        .max_attempts(1)
        .build()
        .unwrap();
    every_operation_fails(
        &db,
        &[ErrorKind::Unavailable],
        true,
        Duration::from_secs(2),
        "connection refused",
    )
    .await;
}

const SECRET: &str = "wJalrXUtnFEMI-secret-K7MDENG";
const TOKEN: &str = "FwoGZXIvYXdzEBY-session-token-aDoNotLeak";

fn assert_no_secret(text: &str, context: &str) {
    assert!(
        !text.contains(SECRET) && !text.contains(TOKEN),
        "{context} shows a credential: {text}"
    );
}

/// Display, Debug and every source of `err`.
fn all_text(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

#[tokio::test]
async fn no_credential_in_any_message_or_debug_output() {
    // S3 answers a bad signature with the canonical request it computed, which holds
    // the session token (x-amz-security-token); the stub does the same with what it got.
    let stub = HttpStub::start(|r| {
        let token = r.header("x-amz-security-token").unwrap_or("").to_owned();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256</StringToSign><CanonicalRequest>{} {}\nx-amz-security-token:{token}</CanonicalRequest><RequestId>1</RequestId></Error>",
            r.method, r.target
        );
        StubReply::http(403, "application/xml", body)
    })
    .unwrap();
    let builder = S3Database::builder("stub")
        .prefix("p")
        .endpoint(stub.url())
        .credentials("AKIAEXAMPLE", SECRET, Some(TOKEN.to_owned()))
        .operation_timeout(Duration::from_secs(5));
    assert_no_secret(&format!("{builder:?}"), "the builder's Debug");
    let db = builder.clone().build().unwrap();
    assert_no_secret(&format!("{db:?}"), "the database's Debug");
    let mut errors = Vec::new();
    for (op, result) in common::every_operation(&db).await {
        let err = result.expect_err(op);
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{op}: {err}");
        errors.push(err);
    }
    assert!(
        stub.requests()
            .iter()
            .all(|r| r.header("x-amz-security-token") == Some(TOKEN)),
        "the token was sent (so the stub echoed it)"
    );
    // Other failures: nothing listening, a missing bucket.
    let port = exampledb_testkit::services::free_port().unwrap();
    let refused = builder
        .clone()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .max_attempts(1)
        .build()
        .unwrap();
    errors.push(refused.save(b"k", b"v").await.unwrap_err());
    if let Some(endpoint) = s3_endpoint("no_credential_in_messages") {
        let missing = builder
            .clone()
            .bucket("exampledb-no-such-bucket-0001")
            .endpoint(endpoint)
            .build()
            .unwrap();
        errors.push(missing.fetch(b"k").await.unwrap_err());
    }
    // Invalid settings echo what was given: never the credentials.
    errors.push(builder.clone().bucket("Not_A_Bucket").build().unwrap_err());
    errors.push(builder.clone().endpoint("ftp://x").build().unwrap_err());
    for err in &errors {
        assert_no_secret(&all_text(err), "an error");
    }
}

#[tokio::test]
async fn values_over_the_limit_are_refused_before_any_request() {
    let stub =
        HttpStub::start(|_| StubReply::http(500, "text/plain", "no request expected")).unwrap();
    let db = common::stub_builder(&stub.url(), "stub")
        .max_value_size(16)
        .build()
        .unwrap();
    let big = [7u8; 17];
    for (op, result) in [
        ("save", db.save(b"k", &big).await),
        ("move", db.move_value(b"k", b"k2", &big).await),
        ("move onto itself", db.move_value(b"k", b"k", &big).await),
    ] {
        let err = result.expect_err(op);
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    size: 17,
                    limit: 16,
                    ..
                }
            ),
            "{op}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(!err.is_temporary());
    }
    assert_eq!(db.requests(), 0, "no request sent");
    assert_eq!(stub.request_count(), 0);
}

#[tokio::test]
async fn a_bucket_deleted_between_listing_and_reading_is_not_an_empty_key() {
    // A 404 to GetObject means "deleted since it was listed" (skipped) only when it is
    // about the object: NoSuchBucket is an error (stand-in: listing works, then the
    // bucket is gone).
    let name = format!("p/{}", exampledb_core::layout::value_path(b"k", b"v"));
    let stub = HttpStub::start(move |r| {
        if r.target.contains("list-type=2") {
            StubReply::http(
                200,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>stub</Name><Contents><Key>{name}</Key><Size>1</Size></Contents><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"
                ),
            )
        } else {
            s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        }
    })
    .unwrap();
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    let err = db.fetch(b"k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("bucket does not exist"), "{err}");
}

#[tokio::test]
async fn a_conditional_write_conflict_is_retried() {
    // AWS answers 409 ConditionalRequestConflict to a conditional PutObject racing
    // another to the same name (moto never does): retried by the database, not the SDK.
    let seen = Arc::new(Mutex::new(std::collections::HashMap::<String, u32>::new()));
    let stub = {
        let seen = Arc::clone(&seen);
        HttpStub::start(move |r| {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(r.target.clone()).or_default();
            *n += 1;
            if r.method == "PUT" && *n <= 2 {
                s3_error(
                    409,
                    "ConditionalRequestConflict",
                    "A conflicting operation occurred. If using PutObject you can retry the request.",
                )
            } else {
                StubReply::Http {
                    status: 200,
                    headers: vec![("ETag".into(), "\"0123\"".into())],
                    body: Vec::new(),
                }
            }
        })
        .unwrap()
    };
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    db.save(b"k", b"v").await.unwrap();
    assert_eq!(
        stub.request_count(),
        6,
        "meta-keys entry and value: two conflicts and a success each"
    );
    assert_eq!(db.requests(), 6);
}

/// A `ListBucketResult` naming `names`, as S3 answers ListObjectsV2.
fn listing(names: &[String]) -> StubReply {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>stub</Name>",
    );
    for name in names {
        xml.push_str(&format!(
            "<Contents><Key>{name}</Key><Size>64</Size><StorageClass>STANDARD</StorageClass></Contents>"
        ));
    }
    xml.push_str(&format!(
        "<KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>",
        names.len()
    ));
    StubReply::http(200, "application/xml", xml)
}

#[tokio::test]
async fn a_server_answering_200_to_everything_is_not_s3() {
    // A server that is not S3 answering every request `200 OK` with plain text, JSON or
    // nothing: writes must not "succeed" (the SDK needs nothing from their answers).
    let limit = Duration::from_secs(5) + SLACK;
    for (content_type, body) in [
        ("text/plain", "OK"),
        ("application/json", "{\"ok\":true}"),
        ("text/plain", ""),
    ] {
        let stub =
            HttpStub::start(move |_| StubReply::http(200, content_type, body.to_owned())).unwrap();
        let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
        let what = format!("200 {content_type} {body:?}");
        let errors = every_operation_fails(&db, &[ErrorKind::Protocol], false, limit, &what).await;
        for err in errors {
            assert!(
                err.to_string().contains("S3"),
                "{what}: the message says the endpoint does not answer like S3: {err}"
            );
        }
        // The same while someone listens (delete and move ask HeadObject first).
        let _events = db.subscribe().unwrap();
        for (op, result) in [
            ("delete", db.delete(b"k", b"v").await),
            ("move", db.move_value(b"k", b"k2", b"v").await),
        ] {
            let err = result.expect_err(&format!("{what}, listening: {op}"));
            assert_eq!(
                err.kind(),
                ErrorKind::Protocol,
                "{what}, listening: {op}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn a_copy_without_a_copy_object_result_is_not_s3_and_src_is_kept() {
    // Every answer has S3's headers (so puts and deletes pass), but CopyObject's has no
    // CopyObjectResult: the copy did not happen, and src must not be deleted.
    let stub = HttpStub::start(|_| StubReply::Http {
        status: 200,
        headers: vec![
            ("ETag".into(), "\"0123\"".into()),
            ("x-amz-request-id".into(), "stub".into()),
        ],
        body: Vec::new(),
    })
    .unwrap();
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    db.save(b"k", b"v").await.unwrap(); // a stand-in that answers like S3 to a put
    let err = db.move_value(b"k", b"k2", b"v").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(err.to_string().contains("CopyObjectResult"), "{err}");
    let requests = stub.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.header("x-amz-copy-source").is_some()),
        "a CopyObject was sent"
    );
    assert!(
        requests.iter().all(|r| r.method != "DELETE"),
        "src is not deleted after a copy S3 did not confirm: {requests:?}"
    );
}

#[tokio::test]
async fn a_plain_text_404_is_not_s3_but_s3_own_404s_mean_not_there() {
    // A web server's 404 (plain text, no S3 error code) is not "no such bucket" or "no
    // such object": Protocol.
    let stub =
        HttpStub::start(|_| StubReply::http(404, "text/plain", "404 page not found\n")).unwrap();
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    let limit = Duration::from_secs(5) + SLACK;
    for err in
        every_operation_fails(&db, &[ErrorKind::Protocol], false, limit, "404 text/plain").await
    {
        assert!(err.to_string().contains("S3"), "{err}");
    }
    // S3's own 404s (an XML NoSuchKey, a HEAD's empty 404) still mean "not there".
    let Some((_, _, db)) = common::database("plain_404", "p").await else {
        return;
    };
    let _events = db.subscribe().unwrap(); // delete and move ask HeadObject first
    assert!(db.fetch(b"k").await.unwrap().is_empty());
    db.delete(b"k", b"absent").await.unwrap();
    db.move_value(b"k", b"k2", b"absent").await.unwrap();
    assert_eq!(db.fetch(b"k2").await.unwrap(), vec!["absent"]);
    assert_eq!(db.keys().await.unwrap(), vec!["k2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_bounded_by_the_operation_timeout() {
    // The listing names a value and a meta-keys entry; their GetObject answers send a
    // correct head, then the body one byte every 2 s (64 bytes: over two minutes). The
    // operation timeout (1 s) bounds the whole read, body included.
    let value = format!("p/{}", exampledb_core::layout::value_path(b"k", b"v"));
    let entry = format!("p/{}", exampledb_core::layout::metakey_path(b"k"));
    let names = vec![entry, value];
    let stub = HttpStub::start(move |r| {
        if r.method == "GET" && r.target.contains("list-type=2") {
            listing(&names)
        } else if r.method == "GET" {
            StubReply::Trickle {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/octet-stream".into()),
                    ("ETag".into(), "\"0123\"".into()),
                    ("x-amz-request-id".into(), "stub".into()),
                ],
                body: vec![b'v'; 64],
                pause: Duration::from_secs(2),
            }
        } else {
            StubReply::http(500, "text/plain", "unexpected")
        }
    })
    .unwrap();
    let db = common::stub_builder(&stub.url(), "stub")
        .operation_timeout(Duration::from_secs(1))
        .max_attempts(1)
        .build()
        .unwrap();
    for op in ["fetch", "keys"] {
        let read = async {
            match op {
                "fetch" => db.fetch(b"k").await,
                _ => db.keys().await,
            }
        };
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .unwrap_or_else(|_| {
                panic!("{op} hung on a trickling body: the operation timeout must bound it")
            });
        let err = result.expect_err(op);
        assert_eq!(err.kind(), ErrorKind::Timeout, "{op}: {err}");
        assert!(err.is_temporary(), "{op}: {err}");
        assert!(err.to_string().contains(db.location()), "{op}: {err}");
        eprintln!("{op}: {err} after {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn conflicts_wrong_regions_and_unknown_keys_have_their_kinds() {
    // A conditional write conflict that does not go away: temporary, Unavailable.
    let stub = HttpStub::start(|r| {
        if r.method == "PUT" {
            s3_error(
                409,
                "ConditionalRequestConflict",
                "A conflicting operation occurred. If using PutObject you can retry the request.",
            )
        } else {
            StubReply::http(500, "text/plain", "unexpected")
        }
    })
    .unwrap();
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    let err = db.save(b"k", b"v").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.is_temporary(),
        "a conflict is worth retrying later: {err}"
    );
    assert!(
        err.to_string().contains("ConditionalRequestConflict"),
        "{err}"
    );
    assert_eq!(stub.request_count(), 5, "tried 5 times, then reported");
    drop(stub);

    // s3s-based servers answer an unknown access key with NotSignedUp.
    let stub = HttpStub::start(|_| {
        s3_error(
            403,
            "NotSignedUp",
            "Your account is not signed up for the S3 service.",
        )
    })
    .unwrap();
    let db = common::stub_builder(&stub.url(), "stub").build().unwrap();
    every_operation_fails(
        &db,
        &[ErrorKind::Unauthenticated],
        false,
        Duration::from_secs(5),
        "NotSignedUp",
    )
    .await;
    drop(stub);

    // The bucket is in another region: S3 answers 301 PermanentRedirect (with the
    // bucket's region in a header; a HEAD gets no body) or, signed for the wrong region,
    // 400 AuthorizationHeaderMalformed. Both are configuration errors naming the region.
    let redirect = HttpStub::start(|r| {
        let body = if r.method == "HEAD" {
            Vec::new()
        } else {
            common::s3_error_body(
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
                "/stub/p",
            )
            .into_bytes()
        };
        StubReply::Http {
            status: 301,
            headers: vec![
                ("Content-Type".into(), "application/xml".into()),
                ("x-amz-bucket-region".into(), "eu-west-1".into()),
            ],
            body,
        }
    })
    .unwrap();
    // (A HEAD gets a 400 without a body, so without a code: the header tells.)
    let malformed = HttpStub::start(|_| StubReply::Http {
        status: 400,
        headers: vec![
            ("Content-Type".into(), "application/xml".into()),
            ("x-amz-bucket-region".into(), "eu-west-1".into()),
        ],
        body: common::s3_error_body(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'",
            "/stub/p",
        )
        .into_bytes(),
    })
    .unwrap();
    for (stub, what) in [
        (&redirect, "PermanentRedirect"),
        (&malformed, "AuthorizationHeaderMalformed"),
    ] {
        let db = common::stub_builder(&stub.url(), "stub")
            .region("us-east-1")
            .build()
            .unwrap();
        let errors = every_operation_fails(
            &db,
            &[ErrorKind::InvalidConfig],
            false,
            Duration::from_secs(5),
            what,
        )
        .await;
        for err in errors {
            let shown = err.to_string();
            assert!(
                shown.contains("wrong region") && shown.contains("us-east-1"),
                "{what}: the error says the region is wrong, and which the client used: {shown}"
            );
        }
        // While someone listens, delete asks HeadObject first (whose redirect has no
        // body).
        let _events = db.subscribe().unwrap();
        let err = db.delete(b"k", b"v").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{what}, HEAD: {err}");
        assert!(err.to_string().contains("region"), "{what}, HEAD: {err}");
    }
    for stub in [&redirect, &malformed] {
        let db = common::stub_builder(&stub.url(), "stub")
            .region("us-east-1")
            .build()
            .unwrap();
        let err = db.fetch(b"k").await.unwrap_err();
        assert!(
            err.to_string().contains("region=eu-west-1"),
            "the bucket's region, from S3's answer: {err}"
        );
    }
}
