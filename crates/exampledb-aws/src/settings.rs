//! [`AwsSettings`]: what an AWS client needs, in the workspace's configuration convention.

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use aws_types::SdkConfig;
use exampledb_core::config::{invalid, parse_count, parse_duration};
use exampledb_core::Result;

/// The option keys [`AwsSettings::set_option`] takes, shared by every AWS backend.
pub const AWS_OPTIONS: &[&str] = &[
    "region",
    "endpoint",
    "profile",
    "connect_timeout",
    "operation_timeout",
    "max_attempts",
];

/// Explicit credentials: an access key id, its secret, and a session token for temporary
/// credentials. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl StaticCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        StaticCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticCredentials(<redacted>)")
    }
}

/// Region, endpoint, credentials, profile, timeouts and retries for an AWS client.
///
/// Two starting points, as the workspace's convention has them:
/// - [`AwsSettings::new`]: explicit settings only, no environment read. A region is needed
///   (with an endpoint, `us-east-1` is assumed, as S3-compatible servers expect), and
///   credentials ([`credentials`](Self::credentials)).
/// - [`AwsSettings::from_env`]: the standard AWS chain: `AWS_REGION`, `AWS_ENDPOINT_URL`,
///   `AWS_ACCESS_KEY_ID` and friends, `AWS_PROFILE` and the shared config and credentials
///   files, SSO, web identity, container and instance roles. Explicit settings given as
///   well win over the chain.
///
/// Timeouts and retries are bounded: `connect_timeout` (default 5 s) for each connection,
/// `operation_timeout` (default 30 s) for a whole operation with its retries, and at most
/// `max_attempts` (default 3) attempts per request with backoff capped at 2 s between
/// them (the SDK's standard retry mode: throttling and 5xx answers are retried).
///
/// ```
/// use std::time::Duration;
/// use exampledb_aws::AwsSettings;
/// let mut settings = AwsSettings::new()
///     .region("eu-west-1")
///     .credentials("AKIAEXAMPLE", "secret", None)
///     .operation_timeout(Duration::from_secs(10));
/// settings.set_option("s3", "max_attempts", "5")?;
/// settings.check("s3")?;
/// assert!(!format!("{settings:?}").contains("secret"));
/// # Ok::<(), exampledb_core::Error>(())
/// ```
///
/// An endpoint URL holding user info (`http://KEY:SECRET@host`) is refused by
/// [`set_option`](Self::set_option) and [`check`](Self::check), and `Debug` never shows
/// user info: credentials do not belong in URLs.
#[derive(Clone)]
pub struct AwsSettings {
    chain: bool,
    region: Option<String>,
    endpoint: Option<String>,
    profile: Option<String>,
    credentials: Option<StaticCredentials>,
    connect_timeout: Duration,
    operation_timeout: Duration,
    max_attempts: u32,
    max_backoff: Duration,
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("chain", &self.chain)
            .field("region", &self.region)
            // Never user info, which would be a credential.
            .field("endpoint", &self.endpoint.as_deref().map(redacted_endpoint))
            .field("profile", &self.profile)
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// The refusal of an endpoint URL with user info; it never echoes the URL.
fn user_info_refused(backend: &'static str) -> exampledb_core::Error {
    invalid(
        backend,
        "the endpoint URL holds user info (an '@'): credentials do not belong in URLs (logs, shell history); give them with credentials() or the AWS chain (from_env)",
    )
}

/// Whether an endpoint URL may hold user info: any `@` (a secret may hold `/`, so the
/// authority cannot be told from the path by the first `/`).
fn has_user_info(endpoint: &str) -> bool {
    endpoint.contains('@')
}

/// `endpoint` for `Debug`: with an `@`, only what follows the last one (the host), after
/// the scheme when there is one.
fn redacted_endpoint(endpoint: &str) -> String {
    match endpoint.rsplit_once('@') {
        None => endpoint.to_owned(),
        Some((_, host)) => {
            let scheme = endpoint
                .split_once("://")
                .map(|(scheme, _)| scheme)
                .filter(|scheme| exampledb_core::config::is_scheme(scheme));
            match scheme {
                Some(scheme) => format!("{scheme}://<user info removed>@{host}"),
                None => format!("<user info removed>@{host}"),
            }
        }
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsSettings {
    /// Explicit settings: nothing from the environment.
    pub fn new() -> Self {
        AwsSettings {
            chain: false,
            region: None,
            endpoint: None,
            profile: None,
            credentials: None,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
            max_backoff: Duration::from_secs(2),
        }
    }

    /// The standard AWS chain (see the type's docs), read when the client is first used.
    pub fn from_env() -> Self {
        AwsSettings {
            chain: true,
            ..Self::new()
        }
    }

    /// Whether the standard AWS chain is used.
    pub fn uses_chain(&self) -> bool {
        self.chain
    }

    /// The region (for example `eu-west-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The endpoint URL, for S3- or DynamoDB-compatible servers (MinIO, Ceph, R2, moto,
    /// DynamoDB Local), for example `http://127.0.0.1:9000`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The named profile of the shared config and credentials files (with
    /// [`from_env`](Self::from_env)).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Explicit credentials.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.credentials = Some(StaticCredentials::new(
            access_key_id,
            secret_access_key,
            session_token,
        ));
        self
    }

    /// The longest wait to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest a whole operation may take, retries included (default 30 s).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Attempts per request, the first included (default 3).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The longest pause between two attempts (default 2 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The operation timeout.
    pub fn operation_timeout_value(&self) -> Duration {
        self.operation_timeout
    }

    /// The endpoint, if one was given explicitly.
    pub fn endpoint_value(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Sets one of [`AWS_OPTIONS`] from its string form. `Ok(false)` when `key` is not one
    /// of them (the backend's own options are then tried). Credentials are not options:
    /// secrets do not belong in URLs, which end up in logs and shell history; an endpoint
    /// with user info (`http://KEY:SECRET@host`) is refused, without echoing it.
    pub fn set_option(&mut self, backend: &'static str, key: &str, value: &str) -> Result<bool> {
        let this = self.clone();
        *self = match key {
            "region" => this.region(value),
            "endpoint" if has_user_info(value) => return Err(user_info_refused(backend)),
            "endpoint" => this.endpoint(value),
            "profile" => this.profile(value),
            "connect_timeout" => this.connect_timeout(parse_duration(backend, key, value)?),
            "operation_timeout" => this.operation_timeout(parse_duration(backend, key, value)?),
            "max_attempts" => {
                let n = parse_count(backend, key, value)?;
                this.max_attempts(u32::try_from(n).map_err(|_| {
                    invalid(
                        backend,
                        format!("option max_attempts: {value} is too large"),
                    )
                })?)
            }
            _ => return Ok(false),
        };
        Ok(true)
    }

    /// Checks the settings without reading anything; `backend` names the backend in
    /// errors (which never echo a credential: an endpoint with user info is refused
    /// without being shown).
    pub fn check(&self, backend: &'static str) -> Result<()> {
        if self.connect_timeout.is_zero() || self.operation_timeout.is_zero() {
            return Err(invalid(
                backend,
                "connect_timeout and operation_timeout must be more than zero",
            ));
        }
        if self.max_attempts == 0 {
            return Err(invalid(backend, "max_attempts must be at least 1"));
        }
        if let Some(endpoint) = &self.endpoint {
            if has_user_info(endpoint) {
                return Err(user_info_refused(backend));
            }
            let valid = ["http://", "https://"]
                .iter()
                .any(|s| endpoint.len() > s.len() && endpoint.to_ascii_lowercase().starts_with(s));
            if !valid {
                return Err(invalid(
                    backend,
                    format!(
                        "endpoint {:?} is not an http(s) URL",
                        exampledb_core::config::without_secrets(endpoint)
                    ),
                ));
            }
        }
        if let Some(region) = &self.region {
            let valid = !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(invalid(
                    backend,
                    format!("region {region:?} is not an AWS region name"),
                ));
            }
        }
        if !self.chain {
            if self.region.is_none() && self.endpoint.is_none() {
                return Err(invalid(
                    backend,
                    "no region: give one (region), an endpoint, or use from_env() for the AWS chain",
                ));
            }
            if self.credentials.is_none() {
                return Err(invalid(
                    backend,
                    "no credentials: give them (credentials), or use from_env() for the AWS chain (environment, profiles, SSO, roles)",
                ));
            }
        }
        Ok(())
    }

    /// The SDK configuration: the AWS chain's (with the explicit settings on top) or the
    /// explicit settings alone.
    pub async fn load(&self) -> SdkConfig {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.operation_timeout)
            .build();
        let retries = RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_max_backoff(self.max_backoff);
        let region = self
            .region
            .clone()
            .or_else(|| (self.endpoint.is_some() && !self.chain).then(|| "us-east-1".to_owned()))
            .map(Region::new);
        let credentials = self.credentials.as_ref().map(|c| {
            SharedCredentialsProvider::new(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "exampledb",
            ))
        });
        if !self.chain {
            let mut builder = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region)
                .timeout_config(timeouts)
                .retry_config(retries);
            if let Some(sleep) = aws_smithy_async_sleep() {
                builder = builder.sleep_impl(sleep);
            }
            if let Some(credentials) = credentials {
                builder = builder.credentials_provider(credentials);
            }
            if let Some(endpoint) = &self.endpoint {
                builder = builder.endpoint_url(endpoint);
            }
            return builder.build();
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some(region) = region {
            loader = loader.region(region);
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        loader.load().await
    }
}

/// The Tokio sleep the SDK uses for timeouts and retry backoff.
fn aws_smithy_async_sleep() -> Option<aws_smithy_async::rt::sleep::SharedAsyncSleep> {
    aws_smithy_async::rt::sleep::default_async_sleep()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_settings_need_region_and_credentials() {
        assert!(AwsSettings::new().check("t").is_err());
        assert!(AwsSettings::new().region("eu-west-1").check("t").is_err());
        assert!(AwsSettings::new()
            .endpoint("http://127.0.0.1:9000")
            .credentials("a", "b", None)
            .check("t")
            .is_ok());
        assert!(AwsSettings::from_env().check("t").is_ok());
        for bad in ["ftp://x", "http://", "127.0.0.1:9000"] {
            let err = AwsSettings::from_env()
                .endpoint(bad)
                .check("t")
                .unwrap_err();
            assert!(err.to_string().contains("endpoint"), "{err}");
        }
        assert!(AwsSettings::from_env()
            .region("eu west")
            .check("t")
            .is_err());
        assert!(AwsSettings::from_env().max_attempts(0).check("t").is_err());
    }

    #[test]
    fn options_and_secrets() {
        let mut s = AwsSettings::from_env().credentials("AKIA", "SECRETKEY", Some("TOKEN".into()));
        assert!(s.set_option("t", "region", "eu-west-1").unwrap());
        assert!(s.set_option("t", "operation_timeout", "2s").unwrap());
        assert!(!s.set_option("t", "bucket_acl", "x").unwrap());
        assert!(s.set_option("t", "max_attempts", "many").is_err());
        assert_eq!(s.operation_timeout_value(), Duration::from_secs(2));
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("SECRETKEY") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn endpoints_with_user_info_are_refused_and_never_shown() {
        let url = "http://AKIAX:SECRET/WITH/SLASH@127.0.0.1:9";
        let mut s = AwsSettings::from_env();
        let err = s.set_option("t", "endpoint", url).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(err.to_string().contains("user info"), "{err}");
        let s = AwsSettings::from_env().endpoint(url);
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("AKIAX"),
            "{shown}"
        );
        assert!(shown.contains("127.0.0.1:9"), "{shown}");
        let err = s.check("t").unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[tokio::test]
    async fn explicit_settings_load_without_the_environment() {
        let config = AwsSettings::new()
            .endpoint("http://127.0.0.1:9")
            .credentials("a", "b", None)
            .load()
            .await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:9"));
    }
}
