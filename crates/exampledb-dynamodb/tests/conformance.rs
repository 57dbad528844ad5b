//! DynamoDatabase against moto's server through the shared conformance suite, listener
//! conformance through DynamoDB Streams included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use exampledb_testkit::conformance::{self, Capabilities};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_a_fresh_table() {
    let Some((_, _, db)) = common::database("conformance_on_a_fresh_table").await else {
        return;
    };
    conformance::run_all(
        Arc::new(db),
        Capabilities {
            keys: true,
            events: true,
            async_events: true,
            max_key: Some(2048 - exampledb_dynamodb::DEFAULT_KEY_PREFIX.len()),
            // What fits in a 400 KB item beside a short key, as moto counts it too (moto
            // counts a few KB more than DynamoDB's own rule).
            max_value: Some(400_000),
        },
    )
    .await;
}
