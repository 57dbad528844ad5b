//! The two clients (DynamoDB, and DynamoDB Streams for `subscribe`), made on first use
//! from one AWS configuration and sharing one request counter.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use exampledb_aws::{AnswerCheck, AwsSettings, Expect, RequestCounter, WebPageGuard};
use exampledb_core::{Error, Operation, Result};
use tokio::sync::OnceCell;

use crate::error::sdk_error;
use crate::BACKEND;

/// What every successful answer of DynamoDB and DynamoDB Streams carries (AWS's
/// `x-amzn-RequestId`, as DynamoDB Local's and moto's): a server answering `200 {}` to
/// everything is not DynamoDB, and without this check a PutItem it "accepted" would store
/// nothing and look successful (the SDK reads nothing it needs from its answer).
const DYNAMODB_ANSWERS: &[(&str, Expect)] = &[("*", Expect::HeaderPrefix("x-amz"))];

/// How the clients are made.
#[derive(Debug)]
pub(crate) enum Source {
    /// From these settings (the AWS chain, or explicit ones).
    Settings(AwsSettings),
    /// The user's own clients: DynamoDB's and DynamoDB Streams'.
    Given(aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client),
}

#[derive(Debug)]
pub(crate) struct Clients {
    source: Source,
    made: OnceCell<(aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client)>,
    pub(crate) counter: RequestCounter,
    pub(crate) location: String,
}

impl Clients {
    pub(crate) fn new(source: Source, location: String) -> Self {
        Clients {
            source,
            made: OnceCell::new(),
            counter: RequestCounter::default(),
            location,
        }
    }

    async fn made(&self) -> Result<&(aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client)> {
        self.made
            .get_or_try_init(|| async {
                let (tables, streams) = match &self.source {
                    Source::Given(tables, streams) => {
                        (tables.config().to_builder(), streams.config().to_builder())
                    }
                    Source::Settings(settings) => {
                        let sdk = settings.load().await;
                        if sdk.region().is_none() {
                            return Err(exampledb_core::config::invalid(
                                BACKEND,
                                "no region: set AWS_REGION (or a profile's region), or the region option",
                            ));
                        }
                        // A DynamoDB-compatible server (moto, DynamoDB Local) serves the
                        // stream on the same endpoint, which the SDK configuration carries.
                        (
                            aws_sdk_dynamodb::config::Builder::from(&sdk),
                            aws_sdk_dynamodbstreams::config::Builder::from(&sdk),
                        )
                    }
                };
                let tables = tables
                    .interceptor(self.counter.clone())
                    .interceptor(WebPageGuard::new(&[]))
                    .interceptor(AnswerCheck::new(DYNAMODB_ANSWERS))
                    .build();
                let streams = streams
                    .interceptor(self.counter.clone())
                    .interceptor(WebPageGuard::new(&[]))
                    .interceptor(AnswerCheck::new(DYNAMODB_ANSWERS))
                    .build();
                Ok((
                    aws_sdk_dynamodb::Client::from_conf(tables),
                    aws_sdk_dynamodbstreams::Client::from_conf(streams),
                ))
            })
            .await
    }

    /// The DynamoDB client.
    pub(crate) async fn tables(&self) -> Result<&aws_sdk_dynamodb::Client> {
        Ok(&self.made().await?.0)
    }

    /// The DynamoDB Streams client.
    pub(crate) async fn streams(&self) -> Result<&aws_sdk_dynamodbstreams::Client> {
        Ok(&self.made().await?.1)
    }

    /// The error for `e` while doing `operation`.
    pub(crate) fn error<E>(&self, operation: Operation, e: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        sdk_error(operation, &self.location, e)
    }
}
