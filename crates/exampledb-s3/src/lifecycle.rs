//! Expiry: a bucket lifecycle rule for the database's prefix.

use std::time::Duration;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use exampledb_core::{Error, ErrorKind, Operation, Result};

use crate::database::S3Database;
use crate::error::{s3_error, Failure};
use crate::BACKEND;

impl S3Database {
    /// The id of the lifecycle rule [`expire_after`](Self::expire_after) installs.
    pub fn expiry_rule_id(&self) -> String {
        format!("exampledb-expire:{}", self.prefix())
    }

    /// Installs (or replaces) a lifecycle rule on the bucket that deletes the objects
    /// under this database's prefix `after` their last write, rounded up to whole days
    /// (S3 counts in days; at least one). Other rules of the bucket are kept.
    ///
    /// **S3 expiry counts from the last write, not the last read.** A value is written
    /// once (saving it again changes nothing: names are content hashes and writes are
    /// conditional), so it expires that long after it was first saved, however often it
    /// is read, unlike Redis, where every access refreshes the time to live. S3 deletes
    /// expired objects lazily (usually within a day or two), and the keys' meta-keys
    /// entries expire the same way. Needs `s3:GetLifecycleConfiguration` and
    /// `s3:PutLifecycleConfiguration` on the bucket.
    pub async fn expire_after(&self, after: Duration) -> Result<()> {
        let days = i32::try_from(after.as_secs().div_ceil(86_400).max(1)).map_err(|_| {
            exampledb_core::config::invalid(BACKEND, "expire_after is too long for S3")
        })?;
        let mut rules = self.other_lifecycle_rules().await?;
        let filter = LifecycleRuleFilter::builder().prefix(self.prefix()).build();
        let rule = LifecycleRule::builder()
            .id(self.expiry_rule_id())
            .filter(filter)
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(days).build())
            .build()
            .map_err(|e| self.lifecycle_error(e))?;
        rules.push(rule);
        self.put_lifecycle_rules(rules).await
    }

    /// Removes the rule [`expire_after`](Self::expire_after) installed (other rules stay).
    pub async fn remove_expiry(&self) -> Result<()> {
        let rules = self.other_lifecycle_rules().await?;
        self.put_lifecycle_rules(rules).await
    }

    /// The bucket's lifecycle rules but ours.
    async fn other_lifecycle_rules(&self) -> Result<Vec<LifecycleRule>> {
        let inner = self.inner();
        let client = inner.store.client().await?;
        let ours = self.expiry_rule_id();
        match client
            .get_bucket_lifecycle_configuration()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(config) => Ok(config
                .rules()
                .iter()
                .filter(|r| r.id() != Some(ours.as_str()))
                .cloned()
                .collect()),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.code() == Some("NoSuchLifecycleConfiguration") {
                    Ok(Vec::new())
                } else {
                    Err(s3_error(Operation::Open, self.location(), failure))
                }
            }
        }
    }

    async fn put_lifecycle_rules(&self, rules: Vec<LifecycleRule>) -> Result<()> {
        let client = self.inner().store.client().await?;
        if rules.is_empty() {
            return client
                .delete_bucket_lifecycle()
                .bucket(self.bucket())
                .send()
                .await
                .map(drop)
                .map_err(|e| s3_error(Operation::Open, self.location(), Failure::of(e)));
        }
        let config = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|e| self.lifecycle_error(e))?;
        client
            .put_bucket_lifecycle_configuration()
            .bucket(self.bucket())
            .lifecycle_configuration(config)
            .send()
            .await
            .map(drop)
            .map_err(|e| s3_error(Operation::Open, self.location(), Failure::of(e)))
    }

    fn lifecycle_error(&self, e: aws_sdk_s3::error::BuildError) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation: Operation::Open,
            location: self.location().to_owned(),
            kind: ErrorKind::Other,
            temporary: false,
            source: Box::new(e),
        }
    }
}
