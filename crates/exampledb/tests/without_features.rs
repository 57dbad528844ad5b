//! `exampledb::open` with the network backends' features off: each of their URLs gives an
//! error naming the feature to enable. `cargo xtask integration-test` runs this file with
//! `--no-default-features` (in an all-features build it is empty).
#![cfg(not(any(
    feature = "redis",
    feature = "github",
    feature = "s3",
    feature = "dynamodb"
)))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use exampledb::{open, ErrorKind};

#[test]
fn schemes_whose_feature_is_off_name_the_feature() {
    for (url, feature) in [
        ("redis://127.0.0.1:6379", "`redis`"),
        ("rediss://127.0.0.1:6380", "`redis-tls`"),
        ("github://my-org/my-repo", "`github`"),
        ("s3://bucket/prefix", "`s3`"),
        ("dynamodb://table", "`dynamodb`"),
        (
            ".hypothesis/examples;readonly:github://my-org/my-repo",
            "`github`",
        ),
    ] {
        let err = open(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        let message = err.to_string();
        assert!(message.contains(feature), "{url}: {message}");
        assert!(message.contains("features = ["), "{url}: {message}");
    }
    // What needs no feature still opens.
    assert!(open("memory:").is_ok());
}
