//! Expiry: `expire_after` installs a lifecycle rule for the database's prefix on the
//! bucket (read back with the raw client), keeping the bucket's other rules;
//! `remove_expiry` removes only that rule; none at the bucket's root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use exampledb_core::{ErrorKind, Operation};

use exampledb_s3::aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use exampledb_s3::aws_sdk_s3::Client;

const DAY: u64 = 86_400;

async fn rules(client: &Client, bucket: &str) -> Vec<LifecycleRule> {
    match client
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(config) => config.rules().to_vec(),
        Err(e) => {
            let code = e.as_service_error().and_then(|s| {
                exampledb_s3::aws_sdk_s3::error::ProvideErrorMetadata::code(s).map(str::to_owned)
            });
            assert_eq!(
                code.as_deref(),
                Some("NoSuchLifecycleConfiguration"),
                "{e:?}"
            );
            Vec::new()
        }
    }
}

fn rule<'a>(rules: &'a [LifecycleRule], id: &str) -> Option<&'a LifecycleRule> {
    rules.iter().find(|r| r.id() == Some(id))
}

fn days(rule: &LifecycleRule) -> Option<i32> {
    rule.expiration().and_then(LifecycleExpiration::days)
}

fn prefix(rule: &LifecycleRule) -> Option<&str> {
    rule.filter().and_then(LifecycleRuleFilter::prefix)
}

#[tokio::test]
async fn expiry_installs_and_removes_only_its_own_rule() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("expiry") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let client = common::raw_client(&endpoint);

    // No configuration at all: installing creates one, removing deletes it.
    let solo = common::builder(&endpoint, &bucket, "solo").build().unwrap();
    solo.expire_after(Duration::from_secs(10)).await.unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now.len(), 1);
    assert_eq!(days(&now[0]), Some(1), "under a day: rounded up to one");
    assert_eq!(prefix(&now[0]), Some("solo/"));
    solo.remove_expiry().await.unwrap();
    assert!(rules(&client, &bucket).await.is_empty());
    solo.remove_expiry().await.unwrap(); // nothing to remove: fine

    // The bucket's own rules, which must survive.
    let theirs = vec![
        LifecycleRule::builder()
            .id("logs")
            .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(30).build())
            .build()
            .unwrap(),
        LifecycleRule::builder()
            .id("old-versions")
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Disabled)
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(7)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    client
        .put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(theirs.clone()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let theirs = rules(&client, &bucket).await; // as the server keeps them

    let db = common::builder(&endpoint, &bucket, "ci/examples")
        .build()
        .unwrap();
    let other = common::builder(&endpoint, &bucket, "fuzz").build().unwrap();
    db.expire_after(Duration::from_secs(30 * DAY + 1))
        .await
        .unwrap();
    other
        .expire_after(Duration::from_secs(7 * DAY))
        .await
        .unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now.len(), 4, "{now:#?}");
    let ours = rule(&now, &db.expiry_rule_id()).expect("our rule");
    assert_eq!(prefix(ours), Some("ci/examples/"), "the prefix filter");
    assert_eq!(days(ours), Some(31), "days rounded up");
    assert_eq!(ours.status(), &ExpirationStatus::Enabled);
    let fuzz = rule(&now, &other.expiry_rule_id()).expect("the other prefix's rule");
    assert_eq!((prefix(fuzz), days(fuzz)), (Some("fuzz/"), Some(7)));
    for r in &theirs {
        assert_eq!(
            rule(&now, r.id().unwrap()),
            Some(r),
            "the bucket's rule kept as it was"
        );
    }

    // Installing again replaces our rule, not adds one.
    db.expire_after(Duration::from_secs(2 * DAY)).await.unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now.len(), 4);
    assert_eq!(days(rule(&now, &db.expiry_rule_id()).unwrap()), Some(2));

    // Removing takes ours away, nothing else.
    db.remove_expiry().await.unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now.len(), 3);
    assert!(rule(&now, &db.expiry_rule_id()).is_none());
    assert!(rule(&now, &other.expiry_rule_id()).is_some());
    for r in &theirs {
        assert_eq!(rule(&now, r.id().unwrap()), Some(r));
    }
    other.remove_expiry().await.unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now, theirs, "back to the bucket's own rules");
}

#[tokio::test]
async fn expiry_needs_a_prefix_and_its_failures_name_the_expiry_operation() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("expiry_prefix") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let client = common::raw_client(&endpoint);

    // At the bucket's root the rule would expire every object of the bucket: refused,
    // and nothing written.
    let root = common::builder(&endpoint, &bucket, "").build().unwrap();
    assert_eq!(root.prefix(), "");
    let err = root
        .expire_after(Duration::from_secs(DAY))
        .await
        .expect_err("expiry of the whole bucket");
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("prefix"), "{err}");
    assert!(
        rules(&client, &bucket).await.is_empty(),
        "no lifecycle configuration written"
    );

    // A prefix without a slash: the rule covers its directory ("ci/"), not "ci2".
    let ci = common::builder(&endpoint, &bucket, "ci").build().unwrap();
    ci.expire_after(Duration::from_secs(DAY)).await.unwrap();
    let now = rules(&client, &bucket).await;
    assert_eq!(now.len(), 1, "{now:#?}");
    assert_eq!(prefix(&now[0]), Some("ci/"), "the rule's filter prefix");
    assert_eq!(now[0].id(), Some(ci.expiry_rule_id().as_str()));
    ci.remove_expiry().await.unwrap();

    // A failure of the lifecycle requests (here: no such bucket) is an error of the
    // Expiry operation.
    let missing = common::builder(&endpoint, "exampledb-no-such-bucket-0002", "p")
        .build()
        .unwrap();
    for err in [
        missing
            .expire_after(Duration::from_secs(DAY))
            .await
            .unwrap_err(),
        missing.remove_expiry().await.unwrap_err(),
    ] {
        assert_eq!(err.operation(), Some(Operation::Expiry), "{err}");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("set expiry"), "{err}");
        assert!(err.to_string().contains("lifecycle"), "{err}");
    }
}
