//! Expiry: a bucket lifecycle rule for the database's prefix.

use std::time::Duration;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use exampledb_core::{Error, ErrorKind, Operation, Result};

use crate::database::S3Database;
use crate::error::Failure;
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
    /// expired objects lazily (usually within a day or two). A key's meta-keys entry is
    /// written again by a save under it once the saving process's last write of it is
    /// [`metakeys_refresh`](crate::S3DatabaseBuilder::metakeys_refresh) old (1 hour) or
    /// from an earlier UTC day, so it does not expire before the values saved under the
    /// key (AWS expires an object at the first midnight UTC after its age passes the
    /// rule's days).
    ///
    /// What the rule covers: **every object whose name starts with `<prefix>/`**, the
    /// layout's and any other, including the objects of databases nested below this one
    /// (a database at `ci` covers one at `ci/sub`, but not one at `ci2`). A database
    /// without a prefix (the bucket's root) is refused (`InvalidConfig`): its rule would
    /// expire every object of the bucket.
    ///
    /// Limits: the bucket's lifecycle configuration is one document, so this reads it,
    /// changes this rule and writes it back; two processes changing the bucket's rules at
    /// the same moment can lose one of the changes (install expiry from one place, once).
    /// On a versioned bucket, expiry only adds delete markers: the expired versions stay,
    /// and cost storage, until a rule of the bucket's own removes noncurrent versions.
    /// Needs `s3:GetLifecycleConfiguration` and `s3:PutLifecycleConfiguration` on the
    /// bucket. Failures are errors of [`Operation::Expiry`] ("set expiry failed").
    pub async fn expire_after(&self, after: Duration) -> Result<()> {
        let prefix = self.rule_prefix()?;
        let days = i32::try_from(after.as_secs().div_ceil(86_400).max(1)).map_err(|_| {
            exampledb_core::config::invalid(BACKEND, "expire_after is too long for S3")
        })?;
        let mut rules = self.other_lifecycle_rules().await?;
        let filter = LifecycleRuleFilter::builder().prefix(prefix).build();
        let rule = LifecycleRule::builder()
            .id(self.expiry_rule_id())
            .filter(filter)
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(days).build())
            .build()
            .map_err(|e| self.lifecycle_error(e))?;
        rules.push(rule);
        self.put_lifecycle_rules(rules).await?;
        tracing::info!(location = %self.location(), days, "installed the expiry lifecycle rule");
        Ok(())
    }

    /// Removes the rule [`expire_after`](Self::expire_after) installed (other rules stay;
    /// the same read-modify-write of the bucket's lifecycle configuration).
    pub async fn remove_expiry(&self) -> Result<()> {
        let rules = self.other_lifecycle_rules().await?;
        self.put_lifecycle_rules(rules).await
    }

    /// The prefix the rule filters on: the database's, which ends with `/` (so that `ci`
    /// does not cover `ci2`); none is refused, since the rule would cover the bucket.
    fn rule_prefix(&self) -> Result<String> {
        let prefix = self.prefix();
        if prefix.is_empty() {
            return Err(exampledb_core::config::invalid(
                BACKEND,
                format!(
                    "expire_after needs a prefix: {} is the bucket's root, and a lifecycle rule for it would expire every object in the bucket, not only this database's (give the database a prefix, or install a rule of your own)",
                    self.location()
                ),
            ));
        }
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(prefix)
    }

    /// The bucket's lifecycle rules but ours.
    async fn other_lifecycle_rules(&self) -> Result<Vec<LifecycleRule>> {
        let store = &self.inner().store;
        let client = store.client().await?;
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
                    Err(store.error(
                        Operation::Expiry,
                        failure.context("reading the bucket's lifecycle configuration"),
                    ))
                }
            }
        }
    }

    async fn put_lifecycle_rules(&self, rules: Vec<LifecycleRule>) -> Result<()> {
        let store = &self.inner().store;
        let client = store.client().await?;
        if rules.is_empty() {
            return client
                .delete_bucket_lifecycle()
                .bucket(self.bucket())
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    store.error(
                        Operation::Expiry,
                        Failure::of(e).context("deleting the bucket's lifecycle configuration"),
                    )
                });
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
            .map_err(|e| {
                store.error(
                    Operation::Expiry,
                    Failure::of(e).context("writing the bucket's lifecycle configuration"),
                )
            })
    }

    fn lifecycle_error(&self, e: aws_sdk_s3::error::BuildError) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation: Operation::Expiry,
            location: self.location().to_owned(),
            kind: ErrorKind::Other,
            temporary: false,
            source: format!("building the lifecycle rule: {e}").into(),
        }
    }
}
