//! S3Database against moto's server through the shared conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use exampledb_testkit::conformance::{self, Capabilities};

const CAPS: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
    max_key: None,
    max_value: None,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_under_a_prefix() {
    let Some((_, _, db)) = common::database("conformance_under_a_prefix", "ci/examples").await
    else {
        return;
    };
    conformance::run_all(Arc::new(db), CAPS).await;
}
