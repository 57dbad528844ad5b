//! [`S3DatabaseBuilder`]: the workspace's configuration convention for S3.

use std::fmt;
use std::time::Duration;

use exampledb_aws::{AwsSettings, AWS_OPTIONS};
use exampledb_core::config::{
    invalid, parse_bool, parse_count, parse_duration, parse_size, percent_decode, DatabaseBuilder,
    QueryUrl,
};
use exampledb_core::Result;

use crate::database::S3Database;
use crate::BACKEND;

/// The S3 backend's own option keys (besides the shared AWS ones: `region`, `endpoint`,
/// `profile`, `connect_timeout`, `operation_timeout`, `max_attempts`).
pub const S3_OPTIONS: &[&str] = &[
    "path_style",
    "fetch_concurrency",
    "poll_interval",
    "max_value_size",
    "metakeys_refresh",
];

/// How many GetObjects one fetch runs at once, by default.
pub const DEFAULT_FETCH_CONCURRENCY: usize = 32;
/// How often `subscribe()` lists the prefix while someone listens, by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The largest value saved or read, by default: 64 MiB, as the directory database.
pub const DEFAULT_MAX_VALUE_SIZE: u64 = 64 << 20;
/// How long a key's meta-keys entry this process wrote is trusted to still be there, by
/// default: one hour (far below S3's shortest expiry, one day).
pub const DEFAULT_METAKEYS_REFRESH: Duration = Duration::from_secs(3600);

/// Settings for an [`S3Database`]; see [`S3Database::builder`] and the
/// [crate documentation](crate) for the options.
#[derive(Clone)]
pub struct S3DatabaseBuilder {
    pub(crate) bucket: Option<String>,
    pub(crate) prefix: String,
    pub(crate) aws: AwsSettings,
    pub(crate) path_style: Option<bool>,
    pub(crate) client: Option<aws_sdk_s3::Client>,
    pub(crate) fetch_concurrency: usize,
    pub(crate) poll_interval: Duration,
    pub(crate) max_value_size: u64,
    pub(crate) metakeys_refresh: Duration,
}

impl fmt::Debug for S3DatabaseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3DatabaseBuilder")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("aws", &self.aws)
            .field("path_style", &self.path_style)
            .field("own_client", &self.client.is_some())
            .field("fetch_concurrency", &self.fetch_concurrency)
            .field("poll_interval", &self.poll_interval)
            .field("max_value_size", &self.max_value_size)
            .field("metakeys_refresh", &self.metakeys_refresh)
            .finish()
    }
}

impl S3DatabaseBuilder {
    pub(crate) fn with_aws(aws: AwsSettings) -> Self {
        S3DatabaseBuilder {
            bucket: None,
            prefix: String::new(),
            aws,
            path_style: None,
            client: None,
            fetch_concurrency: DEFAULT_FETCH_CONCURRENCY,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            metakeys_refresh: DEFAULT_METAKEYS_REFRESH,
        }
    }

    /// The standard AWS chain (environment, profiles, SSO, web identity, container and
    /// instance roles: see [`AwsSettings::from_env`]); the bucket comes from
    /// [`bucket`](Self::bucket) or [`with_url`](Self::with_url). The only place this
    /// backend reads the environment.
    pub fn from_env() -> Self {
        Self::with_aws(AwsSettings::from_env())
    }

    /// Settings from `s3://BUCKET[/PREFIX]?options`, explicit only (no environment); see
    /// [`with_url`](Self::with_url).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::with_aws(AwsSettings::new()).with_url(url)
    }

    /// Sets the bucket and prefix from `s3://BUCKET[/PREFIX]` and applies the query's
    /// options. The prefix is a directory: a trailing `/` is added when missing.
    ///
    /// ```
    /// use exampledb_s3::S3DatabaseBuilder;
    /// let builder = S3DatabaseBuilder::from_env()
    ///     .with_url("s3://ci-examples/my-repo?region=eu-west-1&fetch_concurrency=64")?;
    /// let db = builder.build()?;
    /// assert_eq!(db.location(), "s3://ci-examples/my-repo/");
    /// # Ok::<(), exampledb_core::Error>(())
    /// ```
    pub fn with_url(self, url: &str) -> Result<Self> {
        let parsed = QueryUrl::parse(BACKEND, url)?;
        if parsed.scheme() != "s3" {
            return Err(invalid(
                BACKEND,
                format!(
                    "not an s3:// URL: {:?}",
                    exampledb_core::config::without_secrets(url)
                ),
            ));
        }
        let rest = parsed.rest();
        // User info (`s3://KEY:SECRET@bucket`): anywhere before the query, since a secret
        // may hold `/`. Never echoed. A prefix holding `@` writes it `%40`.
        if rest.contains('@') {
            return Err(invalid(
                BACKEND,
                "the URL holds user info (an '@' before the query): credentials do not belong in URLs (logs, shell history): use the AWS chain (from_env) or credentials(); write an '@' of a prefix as %40",
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = percent_decode(BACKEND, prefix)?;
        let mut builder = self.bucket(bucket).prefix(prefix);
        for (key, value) in parsed.options() {
            builder = builder.with_option(key, value)?;
        }
        Ok(builder)
    }

    /// The bucket.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// The prefix every object name starts with: the database's "directory" in the
    /// bucket (default: none, the bucket's root). A trailing `/` is added when missing.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.prefix = prefix;
        self
    }

    /// The region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.aws = self.aws.region(region);
        self
    }

    /// The endpoint of an S3-compatible server (MinIO, Ceph, R2, Garage, moto), for
    /// example `http://127.0.0.1:9000`. Path-style addressing is then the default.
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

    /// Your own client (its region, credentials and endpoint are used; the database adds
    /// only its request counter). The AWS settings of this builder are then ignored.
    pub fn client(mut self, client: aws_sdk_s3::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Path-style addressing (`http://host/bucket/key`), which S3-compatible servers
    /// need; default on with an endpoint, off (virtual-hosted style) without.
    pub fn path_style(mut self, path_style: bool) -> Self {
        self.path_style = Some(path_style);
        self
    }

    /// The longest wait to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.aws = self.aws.connect_timeout(timeout);
        self
    }

    /// The longest one operation's request may take, its retries included (default 30 s).
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

    /// GetObjects one fetch runs at once (default 32).
    pub fn fetch_concurrency(mut self, n: usize) -> Self {
        self.fetch_concurrency = n;
        self
    }

    /// How often `subscribe()` lists the prefix while someone listens (default 2 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The largest value saved (larger: [`Error::TooLarge`](exampledb_core::Error::TooLarge)
    /// before any request) or read (larger objects are skipped with a warning); default
    /// 64 MiB.
    pub fn max_value_size(mut self, bytes: u64) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// How long this process trusts that a key's meta-keys entry it wrote is still there
    /// (default 1 hour): a save under the key writes the entry again (one more
    /// PutObject) once this process's last write of it is that old or from an earlier
    /// UTC day. So an entry removed behind the database's back (by lifecycle expiry, by
    /// `aws s3 sync --delete` after Python Hypothesis deleted the key) comes back, and
    /// with [`expire_after`](crate::S3Database::expire_after) a key's entry never expires
    /// before the values this process saved under it. Zero writes it at every save.
    pub fn metakeys_refresh(mut self, refresh: Duration) -> Self {
        self.metakeys_refresh = refresh;
        self
    }

    /// Sets one option by name: the shared AWS ones (`region`, `endpoint`, `profile`,
    /// `connect_timeout`, `operation_timeout`, `max_attempts`) and `path_style`,
    /// `fetch_concurrency`, `poll_interval`, `max_value_size`, `metakeys_refresh`.
    pub fn with_option(mut self, key: &str, value: &str) -> Result<Self> {
        if self.aws.set_option(BACKEND, key, value)? {
            return Ok(self);
        }
        Ok(match key {
            "path_style" => self.path_style(parse_bool(BACKEND, key, value)?),
            "fetch_concurrency" => {
                let n = parse_count(BACKEND, key, value)?;
                self.fetch_concurrency(usize::try_from(n).unwrap_or(usize::MAX))
            }
            "poll_interval" => self.poll_interval(parse_duration(BACKEND, key, value)?),
            "max_value_size" => self.max_value_size(parse_size(BACKEND, key, value)?),
            "metakeys_refresh" => self.metakeys_refresh(parse_duration(BACKEND, key, value)?),
            _ => {
                let known: Vec<&str> = AWS_OPTIONS.iter().chain(S3_OPTIONS).copied().collect();
                return Err(exampledb_core::config::unknown_option(BACKEND, key, &known));
            }
        })
    }

    /// Checks the settings; nothing is sent until first use.
    pub fn build(self) -> Result<S3Database> {
        let bucket = self.bucket.clone().ok_or_else(|| {
            invalid(
                BACKEND,
                "no bucket: give one (bucket, or an s3://BUCKET/PREFIX URL)",
            )
        })?;
        check_bucket_name(&bucket)?;
        if self.client.is_none() {
            self.aws.check(BACKEND)?;
        }
        if self.fetch_concurrency == 0 {
            return Err(invalid(BACKEND, "fetch_concurrency must be at least 1"));
        }
        if self.poll_interval.is_zero() {
            return Err(invalid(BACKEND, "poll_interval must be more than zero"));
        }
        if self.max_value_size == 0 {
            return Err(invalid(BACKEND, "max_value_size must be more than zero"));
        }
        Ok(S3Database::new(bucket, self))
    }
}

/// S3's bucket naming rules (3-63 characters: lowercase letters, digits, `.` and `-`,
/// beginning and ending with a letter or digit), so that a typo is an error at build
/// time rather than a confusing answer from the server.
fn check_bucket_name(bucket: &str) -> Result<()> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(invalid(
            BACKEND,
            format!(
                "{bucket:?} is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
            ),
        ))
    }
}

impl DatabaseBuilder for S3DatabaseBuilder {
    type Database = S3Database;
    const OPTIONS: &'static [&'static str] = &[
        "region",
        "endpoint",
        "profile",
        "connect_timeout",
        "operation_timeout",
        "max_attempts",
        "path_style",
        "fetch_concurrency",
        "poll_interval",
        "max_value_size",
        "metakeys_refresh",
    ];

    fn with_option(self, key: &str, value: &str) -> Result<Self> {
        S3DatabaseBuilder::with_option(self, key, value)
    }

    fn build(self) -> Result<S3Database> {
        S3DatabaseBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_options() {
        let b = S3DatabaseBuilder::from_url(
            "s3://my-bucket/ci/examples?endpoint=http://127.0.0.1:9000&poll_interval=500ms",
        )
        .unwrap();
        assert_eq!(b.bucket.as_deref(), Some("my-bucket"));
        assert_eq!(b.prefix, "ci/examples/");
        assert_eq!(b.poll_interval, Duration::from_millis(500));
        assert_eq!(S3DatabaseBuilder::from_url("s3://b-1").unwrap().prefix, "");
        for (bad, expect) in [
            ("s3://my-bucket?colour=red", "colour"),
            ("s3://my-bucket?fetch_concurrency=x", "fetch_concurrency"),
            ("gs://my-bucket", "not an s3"),
            ("s3://AKIA:secret@my-bucket", "credentials"),
        ] {
            let err = S3DatabaseBuilder::from_url(bad).unwrap_err();
            assert!(err.to_string().contains(expect), "{bad}: {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        for bad in ["My_Bucket", "ab", "-bucket", ""] {
            let err = S3DatabaseBuilder::from_env()
                .bucket(bad)
                .build()
                .unwrap_err();
            assert!(err.to_string().contains("bucket"), "{bad}: {err}");
        }
        // Explicit settings need credentials.
        let err = S3DatabaseBuilder::from_url("s3://my-bucket?region=eu-west-1")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("credentials"), "{err}");
    }
}
