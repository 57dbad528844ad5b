//! [`DynamoDatabaseBuilder`]: the workspace's configuration convention for DynamoDB.

use std::fmt;
use std::time::Duration;

use exampledb_aws::{AwsSettings, AWS_OPTIONS};
use exampledb_core::config::{
    invalid, parse_duration, percent_decode, unknown_option, DatabaseBuilder, QueryUrl,
};
use exampledb_core::Result;

use crate::database::DynamoDatabase;
use crate::BACKEND;

/// The DynamoDB backend's own option keys (besides the shared AWS ones: `region`,
/// `endpoint`, `profile`, `connect_timeout`, `operation_timeout`, `max_attempts`).
pub const DYNAMODB_OPTIONS: &[&str] = &["key_prefix", "prefix", "expire_after", "poll_interval"];

/// The key prefix by default, as Redis's: several databases can share a table, and the
/// partition key is never empty.
pub const DEFAULT_KEY_PREFIX: &[u8] = b"hypothesis-example:";
/// How long an item lives without being saved or fetched, by default: 8 days, as Redis's.
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(8 * 24 * 3600);
/// How often `subscribe()` reads the table's stream while someone listens, by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The longest [`expire_after`](DynamoDatabaseBuilder::expire_after): 100 years.
pub const MAX_EXPIRE_AFTER: Duration = Duration::from_secs(36_500 * 86_400);

/// Settings for a [`DynamoDatabase`]; see [`DynamoDatabase::builder`] and the
/// [crate documentation](crate) for the options.
#[derive(Clone)]
pub struct DynamoDatabaseBuilder {
    pub(crate) table: Option<String>,
    pub(crate) key_prefix: Vec<u8>,
    pub(crate) expire_after: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) aws: AwsSettings,
    pub(crate) client: Option<(aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client)>,
}

impl fmt::Debug for DynamoDatabaseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDatabaseBuilder")
            .field("table", &self.table)
            .field("key_prefix", &String::from_utf8_lossy(&self.key_prefix))
            .field("expire_after", &self.expire_after)
            .field("poll_interval", &self.poll_interval)
            .field("aws", &self.aws)
            .field("own_client", &self.client.is_some())
            .finish()
    }
}

impl DynamoDatabaseBuilder {
    pub(crate) fn with_aws(aws: AwsSettings) -> Self {
        DynamoDatabaseBuilder {
            table: None,
            key_prefix: DEFAULT_KEY_PREFIX.to_vec(),
            expire_after: DEFAULT_EXPIRE_AFTER,
            poll_interval: DEFAULT_POLL_INTERVAL,
            aws,
            client: None,
        }
    }

    /// The standard AWS chain (environment, profiles, SSO, web identity, container and
    /// instance roles); the table comes from [`table`](Self::table) or
    /// [`with_url`](Self::with_url). The only place this backend reads the environment.
    pub fn from_env() -> Self {
        Self::with_aws(AwsSettings::from_env())
    }

    /// Settings from `dynamodb://TABLE?options`, explicit only (no environment); see
    /// [`with_url`](Self::with_url).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::with_aws(AwsSettings::new()).with_url(url)
    }

    /// Sets the table from `dynamodb://TABLE` and applies the query's options.
    ///
    /// ```
    /// use exampledb_dynamodb::DynamoDatabaseBuilder;
    /// let db = DynamoDatabaseBuilder::from_env()
    ///     .with_url("dynamodb://ci-examples?key_prefix=my-repo%3A&expire_after=30d")?
    ///     .build()?;
    /// assert_eq!(db.table(), "ci-examples");
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn with_url(self, url: &str) -> Result<Self> {
        let parsed = QueryUrl::parse(BACKEND, url)?;
        if parsed.scheme() != "dynamodb" {
            return Err(invalid(
                BACKEND,
                format!(
                    "not a dynamodb:// URL: {:?}",
                    exampledb_core::config::without_secrets(url)
                ),
            ));
        }
        let table = percent_decode(BACKEND, parsed.rest())?;
        if table.contains('@') {
            return Err(invalid(
                BACKEND,
                "credentials do not belong in URLs (logs, shell history): use the AWS chain (from_env) or credentials()",
            ));
        }
        if table.contains('/') {
            return Err(invalid(
                BACKEND,
                "dynamodb://TABLE takes no path after the table's name (use key_prefix)",
            ));
        }
        let mut builder = self.table(table);
        for (key, value) in parsed.options() {
            builder = builder.with_option(key, value)?;
        }
        Ok(builder)
    }

    /// The table.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Bytes put in front of every key to make the partition key (default
    /// [`DEFAULT_KEY_PREFIX`]). Databases with different prefixes share a table without
    /// seeing each other's keys.
    pub fn key_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long an item lives after it was last saved or fetched (default 8 days, as
    /// Redis's `expire_after`; at least one second). See the crate docs on the refresh.
    pub fn expire_after(mut self, ttl: Duration) -> Self {
        self.expire_after = ttl;
        self
    }

    /// How often `subscribe()` reads the table's stream while someone listens (default
    /// 500 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.aws = self.aws.region(region);
        self
    }

    /// The endpoint of a DynamoDB-compatible server (DynamoDB Local, moto), for example
    /// `http://127.0.0.1:8000`. The stream is read from the same endpoint.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.aws = self.aws.endpoint(endpoint);
        self
    }

    /// The named profile of the shared AWS config files (with [`from_env`](Self::from_env)).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.aws = self.aws.profile(profile);
        self
    }

    /// Explicit credentials.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.aws = self
            .aws
            .credentials(access_key_id, secret_access_key, session_token);
        self
    }

    /// Your own clients, DynamoDB's and DynamoDB Streams' (for `subscribe`): their
    /// region, credentials and endpoints are used; the database adds only its request
    /// counter. The AWS settings of this builder are then ignored.
    pub fn clients(
        mut self,
        tables: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
    ) -> Self {
        self.client = Some((tables, streams));
        self
    }

    /// The longest wait to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.aws = self.aws.connect_timeout(timeout);
        self
    }

    /// The longest one request may take, its retries included (default 30 s).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.aws = self.aws.operation_timeout(timeout);
        self
    }

    /// Attempts per request (default 3; throttling and 5xx answers are retried with
    /// backoff of at most 2 s).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.aws = self.aws.max_attempts(attempts);
        self
    }

    /// Sets one option by name: the shared AWS ones (`region`, `endpoint`, `profile`,
    /// `connect_timeout`, `operation_timeout`, `max_attempts`) and `key_prefix` (also
    /// spelled `prefix`), `expire_after`, `poll_interval`.
    pub fn with_option(mut self, key: &str, value: &str) -> Result<Self> {
        if self.aws.set_option(BACKEND, key, value)? {
            return Ok(self);
        }
        Ok(match key {
            // `prefix` as the issue that specified the URL spelled it; `key_prefix` as
            // Redis's and Hypothesis's.
            "key_prefix" | "prefix" => self.key_prefix(value.as_bytes().to_vec()),
            "expire_after" => self.expire_after(parse_duration(BACKEND, key, value)?),
            "poll_interval" => self.poll_interval(parse_duration(BACKEND, key, value)?),
            _ => {
                let known: Vec<&str> = AWS_OPTIONS
                    .iter()
                    .chain(DYNAMODB_OPTIONS)
                    .copied()
                    .collect();
                return Err(unknown_option(BACKEND, key, &known));
            }
        })
    }

    /// Checks the settings; nothing is sent until first use (or
    /// [`ensure_table`](DynamoDatabase::ensure_table)).
    pub fn build(self) -> Result<DynamoDatabase> {
        let table = self.table.clone().ok_or_else(|| {
            invalid(
                BACKEND,
                "no table: give one (table, or a dynamodb://TABLE URL)",
            )
        })?;
        let valid = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(invalid(
                BACKEND,
                format!(
                    "{table:?} is not a DynamoDB table name (3-255 letters, digits, '_', '-', '.')"
                ),
            ));
        }
        if self.client.is_none() {
            self.aws.check(BACKEND)?;
        }
        if self.expire_after < Duration::from_secs(1) {
            return Err(invalid(BACKEND, "expire_after must be at least one second"));
        }
        if self.expire_after > MAX_EXPIRE_AFTER {
            return Err(invalid(
                BACKEND,
                "expire_after must be at most 100 years (36500d): `exp` is a time in epoch seconds",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(invalid(BACKEND, "poll_interval must be more than zero"));
        }
        if self.key_prefix.is_empty() {
            return Err(invalid(
                BACKEND,
                "key_prefix must not be empty: the empty key's partition key would be empty",
            ));
        }
        if self.key_prefix.len() >= crate::item::MAX_PARTITION_KEY {
            return Err(invalid(
                BACKEND,
                "key_prefix is longer than a partition key may be",
            ));
        }
        Ok(DynamoDatabase::new(table, self))
    }
}

impl DatabaseBuilder for DynamoDatabaseBuilder {
    type Database = DynamoDatabase;
    const OPTIONS: &'static [&'static str] = &[
        "region",
        "endpoint",
        "profile",
        "connect_timeout",
        "operation_timeout",
        "max_attempts",
        "key_prefix",
        "prefix",
        "expire_after",
        "poll_interval",
    ];

    fn with_option(self, key: &str, value: &str) -> Result<Self> {
        DynamoDatabaseBuilder::with_option(self, key, value)
    }

    fn build(self) -> Result<DynamoDatabase> {
        DynamoDatabaseBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_options() {
        let b = DynamoDatabaseBuilder::from_url(
            "dynamodb://examples?endpoint=http://127.0.0.1:9&key_prefix=ci%3A&expire_after=1h",
        )
        .unwrap();
        assert_eq!(b.table.as_deref(), Some("examples"));
        assert_eq!(b.key_prefix, b"ci:");
        assert_eq!(b.expire_after, Duration::from_secs(3600));
        // The issue's spelling of the option.
        let b = DynamoDatabaseBuilder::from_url("dynamodb://examples?prefix=ci%3A").unwrap();
        assert_eq!(b.key_prefix, b"ci:");
        // `exp` is now + expire_after in epoch seconds: no overflow, ever.
        let with_credentials =
            |b: DynamoDatabaseBuilder| b.credentials("id", "secret", None).build();
        let err = DynamoDatabaseBuilder::from_url(
            "dynamodb://examples?endpoint=http://127.0.0.1:9&expire_after=18446744073000000000s",
        )
        .and_then(with_credentials)
        .unwrap_err();
        assert!(err.to_string().contains("100 years"), "{err}");
        assert!(DynamoDatabaseBuilder::from_url(
            "dynamodb://examples?endpoint=http://127.0.0.1:9&expire_after=36500d"
        )
        .and_then(with_credentials)
        .is_ok());
        for (bad, expect) in [
            ("dynamodb://examples?colour=red", "colour"),
            ("dynamodb://examples/sub", "no path"),
            ("dynamodb://AKIA:secret@examples", "credentials"),
            ("dynamo://examples", "not a dynamodb"),
            ("dynamodb://examples?expire_after=soon", "expire_after"),
        ] {
            let err = DynamoDatabaseBuilder::from_url(bad).unwrap_err();
            assert!(err.to_string().contains(expect), "{bad}: {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        for bad in ["ab", "bad name", ""] {
            assert!(
                DynamoDatabaseBuilder::from_env()
                    .table(bad)
                    .build()
                    .is_err(),
                "{bad}"
            );
        }
        let err = DynamoDatabaseBuilder::from_env()
            .table("t-1")
            .expire_after(Duration::from_millis(10))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("expire_after"), "{err}");
    }
}
