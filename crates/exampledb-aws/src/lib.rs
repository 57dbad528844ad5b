//! # exampledb-aws
//!
//! What exampledb's AWS backends (`exampledb-s3`, `exampledb-dynamodb`) share, so that
//! they are configured, fail and are measured the same way:
//!
//! - [`AwsSettings`]: region, endpoint, credentials, profile, timeouts and retries, in the
//!   workspace's configuration convention (see [`exampledb_core::config`]): explicit
//!   settings read no environment; [`AwsSettings::from_env`] uses the standard AWS chain
//!   (environment, shared config and credentials files with profiles, SSO, web identity,
//!   container and instance roles) through `aws-config`.
//! - [`classify`]: an SDK error as the [`ErrorKind`](exampledb_core::ErrorKind) a caller
//!   acts on, and whether retrying may help.
//! - [`RequestCounter`]: an SDK interceptor that counts the HTTP requests a client sends
//!   (retries included), for the request budgets the backends document and test.
//! - [`WebPageGuard`]: an SDK interceptor that fails answers which are web pages, so that
//!   an endpoint that is not the service is a `Protocol` error, writes included; and
//!   [`AnswerCheck`]: one that fails successful answers lacking what the service always
//!   sends (S3's `ETag` on a `PutObject`), so that a server answering `200 OK` to
//!   everything is a `Protocol` error too.
//!
//! Secrets (the secret access key, the session token) never appear in `Debug` output or
//! messages.
#![deny(missing_docs)]

mod answer;
mod counter;
mod error;
mod settings;

pub use answer::{AnswerCheck, Expect, WebPageGuard};
pub use counter::RequestCounter;
pub use error::{classify, describe, Classified};
pub use settings::{AwsSettings, StaticCredentials, AWS_OPTIONS};

/// Re-exported: the AWS SDK's shared configuration, as [`AwsSettings::load`] returns it.
pub use aws_types::SdkConfig;
