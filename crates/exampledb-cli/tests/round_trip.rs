//! `exampledb cp` through every network backend: a directory copied to Redis, then to
//! S3, then to DynamoDB, then to a new directory, ends byte-equal to the start (empty and
//! binary keys and values included). Needs the `redis`, `s3` and `dynamodb` features and
//! the services `cargo xtask integration-test` starts.
#![cfg(all(feature = "redis", feature = "s3", feature = "dynamodb"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use exampledb::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt};
use exampledb_testkit::python::Python;
use exampledb_testkit::services::{redis_url, s3_endpoint};

const PY_BUCKET: &str = r#"
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=sys.argv[2])
"#;

/// Every key's values (hex, as sets), keys without values left out.
async fn contents(db: &DirectoryDatabase) -> BTreeMap<String, BTreeSet<String>> {
    let keys = exampledb_testkit::interop::key_set(db).await;
    exampledb_testkit::interop::snapshot(db, &keys).await
}

/// The CLI with the test services' AWS credentials.
fn exampledb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

fn cp(src: &str, dst: &str) {
    let out = exampledb(&["cp", src, dst]);
    assert!(
        out.status.success(),
        "cp {src} {dst}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_redis_s3_dynamodb_directory_is_byte_equal() {
    let test = "directory_redis_s3_dynamodb_directory_is_byte_equal";
    let (Some(redis), Some(endpoint), Some(py)) =
        (redis_url(test), s3_endpoint(test), Python::for_test(test))
    else {
        return;
    };
    let run = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    // The store's own names: a fresh bucket and table.
    let bucket = format!("rt-{}", &run[..16]);
    py.run(PY_BUCKET, &[&endpoint, &bucket], "");
    let table = format!("exampledb-rt-{}", &run[..16]);
    exampledb::dynamodb::DynamoDatabase::builder(&table)
        .endpoint(&endpoint)
        .credentials("testing", "testing", None)
        .build()
        .unwrap()
        .ensure_table()
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let src = DirectoryDatabase::open(tmp.path().join("src")).unwrap();
    let mut digest = [0u8; 48];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = i as u8 ^ 0x5a;
    }
    let keys: Vec<Vec<u8>> = vec![
        digest.to_vec(),
        exampledb::sub_key(&digest, "secondary"),
        b"".to_vec(),
        vec![0, 0xff, b'\n', b'/'],
    ];
    for (i, key) in keys.iter().enumerate() {
        for value in [
            vec![],
            vec![i as u8; 1 + i * 300],
            vec![0x01, 0x41, 0x05],
            vec![0xff; 3],
        ] {
            src.save(key, &value).await.unwrap();
        }
    }
    let from = tmp.path().join("src").display().to_string();
    let redis_db = format!("{redis}?key_prefix=rt-{run}:");
    let s3_db = format!("s3://{bucket}/rt?endpoint={endpoint}");
    let dynamodb_db = format!("dynamodb://{table}?endpoint={endpoint}");
    let to = tmp.path().join("dst").display().to_string();
    cp(&from, &redis_db);
    cp(&redis_db, &s3_db);
    cp(&s3_db, &dynamodb_db);
    cp(&dynamodb_db, &to);
    let dst = DirectoryDatabase::open(tmp.path().join("dst")).unwrap();
    let (want, got) = (contents(&src).await, contents(&dst).await);
    assert_eq!(want.len(), 4);
    assert_eq!(got, want);
}

const PY_DELETE_OBJECT: &str = r#"
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").delete_object(Bucket=sys.argv[2], Key=sys.argv[3])
"#;

/// `cp --delete` from an S3 prefix whose listing leaves a key out (its meta-keys entry is
/// gone, as after `aws s3 sync --delete`): what SRC holds under that key is fetched,
/// copied and kept in DST, never deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_delete_keeps_what_the_source_holds_but_does_not_list() {
    let test = "cp_delete_keeps_what_the_source_holds_but_does_not_list";
    let (Some(endpoint), Some(py)) = (s3_endpoint(test), Python::for_test(test)) else {
        return;
    };
    let run = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    let bucket = format!("unlisted-{}", &run[..16]);
    py.run(PY_BUCKET, &[&endpoint, &bucket], "");
    let s3_url = format!("s3://{bucket}/src?endpoint={endpoint}");
    let s3 = exampledb::s3::S3Database::builder(&bucket)
        .prefix("src/")
        .endpoint(&endpoint)
        .region("us-east-1")
        .credentials("testing", "testing", None)
        .build()
        .unwrap();
    for (k, v) in [(&b"k1"[..], &b"a"[..]), (b"k1", b"b"), (b"k2", b"c")] {
        s3.save(k, v).await.unwrap();
    }
    let entry = format!("src/{}", exampledb::layout::metakey_path(b"k1"));
    py.run(PY_DELETE_OBJECT, &[&endpoint, &bucket, &entry], "");
    assert_eq!(s3.keys().await.unwrap(), vec![b"k2".to_vec()]);

    let tmp = tempfile::tempdir().unwrap();
    let dst = DirectoryDatabase::open(tmp.path()).unwrap();
    for (k, v) in [
        (&b"k1"[..], &b"a"[..]),
        (b"k2", b"c"),
        (b"k2", b"z"),
        (b"k3", b"q"),
    ] {
        dst.save(k, v).await.unwrap();
    }
    let out = exampledb(&["cp", "--delete", &s3_url, &tmp.path().display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("keys its listing leaves out"), "{stderr}");
    assert_eq!(
        dst.fetch_sorted(b"k1").await.unwrap(),
        vec![&b"a"[..], b"b"]
    );
    assert_eq!(dst.fetch_sorted(b"k2").await.unwrap(), vec![&b"c"[..]]);
    assert!(dst.fetch(b"k3").await.unwrap().is_empty());
}

/// `cp --delete` between two views of one Redis database, key prefixes `P:y:` (SRC) and
/// `P:` (DST), spelled so that the URLs do not show it: DST lists SRC's keys with `y:` in
/// front, and deleting through DST would delete SRC's values. Refused, nothing deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_delete_refuses_one_store_seen_under_nested_key_prefixes() {
    let test = "cp_delete_refuses_one_store_seen_under_nested_key_prefixes";
    let Some(redis) = redis_url(test) else {
        return;
    };
    let run = exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..]);
    let src_url = format!("{redis}?key_prefix=share-{run}%3Ay%3A");
    // The option name percent-encoded: the same prefix to the library, not to a reader.
    let dst_url = format!("{redis}?key%5Fprefix=share-{run}%3A");
    let src = exampledb::open(&src_url).unwrap();
    for (k, v) in [(&b"k1"[..], &b"a"[..]), (b"k2", b"b")] {
        src.save(k, v).await.unwrap();
    }
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["cp"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--delete", &src_url, &dst_url]);
        let out = exampledb(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        // Found by the keys themselves, not by the URLs' text.
        assert!(stderr.contains("under another key prefix"), "{stderr}");
        assert_eq!(src.fetch(b"k1").await.unwrap().len(), 1, "{stderr}");
        assert_eq!(src.fetch(b"k2").await.unwrap().len(), 1, "{stderr}");
    }
}
