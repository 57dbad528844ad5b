//! The S3 requests the database makes, each one SDK call: put (conditional or not), list,
//! get, head, delete, copy. The client is made on first use (the AWS chain is read then).

use std::time::Duration;

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use exampledb_aws::{AnswerCheck, AwsSettings, Expect, RequestCounter, WebPageGuard};
use exampledb_core::{Error, Operation, Result};
use tokio::sync::OnceCell;

use crate::error::{s3_error, Failure};
use crate::BACKEND;

/// Attempts at a PutObject that the server answers with 409 (a concurrent conditional
/// write to the same name).
const CONFLICT_ATTEMPTS: usize = 5;

/// The longest a GetObject may take, its body included, when the user's own client has no
/// operation timeout.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What every S3 server sends with a successful answer (AWS, MinIO, Ceph, R2, moto and
/// `s3s-fs` alike): without it the endpoint is not S3, and a write it "accepted" stored
/// nothing. `DeleteObject` answers 204 (moto and `s3s-fs` with no header of S3's at all);
/// a server answering 200 must say it is S3 with an `x-amz-*` header (`x-amz-request-id`).
/// `CopyObject`'s `CopyObjectResult` is checked on the parsed answer.
const S3_ANSWERS: &[(&str, Expect)] = &[
    ("PutObject", Expect::Header("etag")),
    ("GetObject", Expect::Header("etag")),
    ("HeadObject", Expect::Header("etag")),
    ("ListObjectsV2", Expect::BodyContains("ListBucketResult")),
    ("DeleteObject", Expect::StatusOrHeaderPrefix(204, "x-amz")),
];

/// What a GetObject found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Object {
    /// The object's content.
    Found(Bytes),
    /// Nothing there (deleted since it was listed).
    Missing,
    /// Larger than the largest value: not read (a warning was logged).
    TooLarge,
}

impl Object {
    /// The content, when the object was found and read.
    pub(crate) fn found(self) -> Option<Bytes> {
        match self {
            Object::Found(content) => Some(content),
            Object::Missing | Object::TooLarge => None,
        }
    }
}

/// How the client is made.
#[derive(Debug)]
pub(crate) enum Source {
    /// From these settings (the AWS chain, or explicit ones).
    Settings(AwsSettings),
    /// The user's own client.
    Given(Client),
}

/// One bucket's client, made on first use.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) bucket: String,
    pub(crate) location: String,
    source: Source,
    path_style: Option<bool>,
    client: OnceCell<Client>,
    /// The endpoint the client sends to, when one was set (for errors; never user info,
    /// which the settings refuse).
    endpoint: std::sync::OnceLock<Option<String>>,
    pub(crate) counter: RequestCounter,
    pub(crate) max_value_size: u64,
    /// The longest a GetObject may take, its body included: the operation timeout.
    read_timeout: Duration,
}

impl Store {
    pub(crate) fn new(
        bucket: String,
        location: String,
        source: Source,
        path_style: Option<bool>,
        max_value_size: u64,
    ) -> Self {
        let read_timeout = match &source {
            Source::Settings(settings) => settings.operation_timeout_value(),
            Source::Given(client) => client
                .config()
                .timeout_config()
                .and_then(|t| t.operation_timeout())
                .unwrap_or(DEFAULT_READ_TIMEOUT),
        };
        Store {
            bucket,
            location,
            source,
            path_style,
            client: OnceCell::new(),
            endpoint: std::sync::OnceLock::new(),
            counter: RequestCounter::default(),
            max_value_size,
            read_timeout,
        }
    }

    /// The client, made now if it was not yet. Without a region (none set, none in the
    /// AWS chain) there is nothing to send requests to: a configuration error.
    pub(crate) async fn client(&self) -> Result<&Client> {
        self.client
            .get_or_try_init(|| async {
                let base = match &self.source {
                    Source::Given(client) => client.config().to_builder(),
                    Source::Settings(settings) => {
                        let sdk = settings.load().await;
                        if sdk.region().is_none() {
                            return Err(exampledb_core::config::invalid(
                                crate::BACKEND,
                                "no region: set AWS_REGION (or a profile's region), or the region option",
                            ));
                        }
                        let endpoint = settings.endpoint_value().or(sdk.endpoint_url());
                        let _ = self
                            .endpoint
                            .set(endpoint.map(exampledb_core::config::without_secrets));
                        let path_style = self.path_style.unwrap_or(endpoint.is_some());
                        aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style)
                    }
                };
                let mut builder = base
                    .interceptor(self.counter.clone())
                    // An endpoint answering web pages is not S3, whatever the status
                    // (GetObject answers with the object's own content type).
                    .interceptor(WebPageGuard::new(&["GetObject"]))
                    // Nor is one whose successes lack what S3 always sends.
                    .interceptor(AnswerCheck::new(S3_ANSWERS))
                    // Only what a request needs: S3-compatible servers differ in the
                    // optional checksums they understand.
                    .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                    .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
                if let (Source::Given(_), Some(path_style)) = (&self.source, self.path_style) {
                    builder = builder.force_path_style(path_style);
                }
                Ok(Client::from_conf(builder.build()))
            })
            .await
    }

    /// The error for `failure` while doing `operation`, naming the location (and, for a
    /// region mismatch, the client's region and endpoint).
    pub(crate) fn error(&self, operation: Operation, failure: Failure) -> Error {
        let region = self
            .client
            .get()
            .and_then(|c| c.config().region())
            .map(|r| r.as_ref().to_owned());
        let endpoint = self.endpoint.get().cloned().flatten();
        s3_error(
            operation,
            &self.location,
            failure,
            region.as_deref(),
            endpoint.as_deref(),
        )
    }

    /// Writes `body` at `name`, replacing what is there (the meta-keys entries: written
    /// again so that their age, which lifecycle expiry counts, restarts).
    pub(crate) async fn put(&self, operation: Operation, name: &str, body: &[u8]) -> Result<()> {
        self.put_object(operation, name, body, false)
            .await
            .map(drop)
    }

    /// Writes `body` at `name` unless an object is there (`If-None-Match: *`). `Ok(true)`
    /// when this call created it; 412 (already there) is `Ok(false)`. On servers that
    /// ignore the condition the object is simply written (names are content hashes, so
    /// the content is the same) and `Ok(true)` is returned.
    pub(crate) async fn put_if_absent(
        &self,
        operation: Operation,
        name: &str,
        body: &[u8],
    ) -> Result<bool> {
        self.put_object(operation, name, body, true).await
    }

    /// One PutObject, with `If-None-Match: *` when `if_absent` (then 412 is `Ok(false)`),
    /// tried again a few times when S3 answers 409 (another write to the same name,
    /// conditional or racing a conditional one, is in progress): the SDK does not retry
    /// it.
    async fn put_object(
        &self,
        operation: Operation,
        name: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<bool> {
        let client = self.client().await?;
        let body = Bytes::copy_from_slice(body);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = client
                .put_object()
                .bucket(&self.bucket)
                .key(name)
                .set_if_none_match(if_absent.then(|| "*".to_owned()))
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(true),
                Err(e) => match Failure::of(e) {
                    f if if_absent && f.status() == Some(412) => return Ok(false),
                    // A write racing another (a conditional one) to the same name.
                    f if f.status() == Some(409) && attempt < CONFLICT_ATTEMPTS => {
                        tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
                    }
                    f => return Err(self.error(operation, f)),
                },
            }
        }
    }

    /// Every object name starting with `prefix`, across every page.
    pub(crate) async fn list(&self, operation: Operation, prefix: &str) -> Result<Vec<String>> {
        let client = self.client().await?;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error(operation, Failure::of(e)))?;
            names.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    /// The object `name`: [`Object::Missing`] when it is not there (deleted since it was
    /// listed), [`Object::TooLarge`] (with a warning) when it is larger than the largest
    /// value. The whole request, the body's transfer included, is bounded by the
    /// operation timeout (the SDK's own bounds only the wait for the answer's head).
    pub(crate) async fn get(&self, operation: Operation, name: &str) -> Result<Object> {
        let client = self.client().await?;
        match tokio::time::timeout(self.read_timeout, self.get_with(client, operation, name)).await
        {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(object = name, bucket = %self.bucket, timeout = ?self.read_timeout, "GetObject timed out");
                Err(Error::Timeout {
                    backend: BACKEND,
                    operation,
                    location: self.location.clone(),
                    after: self.read_timeout,
                })
            }
        }
    }

    async fn get_with(&self, client: &Client, operation: Operation, name: &str) -> Result<Object> {
        let answer = client
            .get_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) => {
                let failure = Failure::of(e);
                if failure.is_absent_object() {
                    return Ok(Object::Missing);
                }
                return Err(self.error(operation, failure));
            }
        };
        if output
            .content_length()
            .is_some_and(|n| u64::try_from(n).unwrap_or(0) > self.max_value_size)
        {
            tracing::warn!(object = name, bucket = %self.bucket, size = output.content_length(), limit = self.max_value_size, "skipping an object larger than max_value_size");
            return Ok(Object::TooLarge);
        }
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| self.error(operation, Failure::body(e)))?;
        Ok(Object::Found(body.into_bytes()))
    }

    /// Whether the object `name` is there.
    pub(crate) async fn exists(&self, operation: Operation, name: &str) -> Result<bool> {
        let client = self.client().await?;
        match client
            .head_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.is_absent_object() {
                    Ok(false)
                } else {
                    Err(self.error(operation, failure))
                }
            }
        }
    }

    /// Removes the object `name` (S3 answers the same whether it was there or not).
    pub(crate) async fn delete(&self, operation: Operation, name: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .delete_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| self.error(operation, Failure::of(e)))
    }

    /// Copies `src` to `dest` on the server. `Ok(false)` when `src` is not there.
    pub(crate) async fn copy(&self, operation: Operation, src: &str, dest: &str) -> Result<bool> {
        let client = self.client().await?;
        let sent = client
            .copy_object()
            .bucket(&self.bucket)
            .key(dest)
            .copy_source(copy_source(&self.bucket, src))
            .send()
            .await;
        match sent {
            // S3 always answers a copy with a CopyObjectResult holding the new ETag.
            Ok(out) if out.copy_object_result().and_then(|r| r.e_tag()).is_none() => Err(self
                .error(
                    operation,
                    Failure::not_s3("CopyObject answered without a CopyObjectResult"),
                )),
            Ok(_) => Ok(true),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.is_absent_object() {
                    Ok(false)
                } else {
                    Err(self.error(operation, failure))
                }
            }
        }
    }
}

/// `bucket/key` for `x-amz-copy-source`, the key percent-encoded (but for `/`).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + 1 + key.len());
    out.push_str(bucket);
    out.push('/');
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_encoded() {
        assert_eq!(
            copy_source("b", "ci db/04e6b3400353b141/a+b"),
            "b/ci%20db/04e6b3400353b141/a%2Bb"
        );
    }
}
