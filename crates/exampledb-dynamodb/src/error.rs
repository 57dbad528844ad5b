//! DynamoDB's errors as [`exampledb_core::Error`]s naming the table and the operation,
//! with the kind a caller acts on.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use exampledb_aws::{classify, describe};
use exampledb_core::{Error, ErrorKind, Operation};

use crate::BACKEND;

/// DynamoDB's answer, in one line (no credential is part of it), as an error's source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Described(String);

/// The error for an SDK failure while doing `operation` on `location`.
pub(crate) fn sdk_error<E>(
    operation: Operation,
    location: &str,
    e: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let classified = classify(&e);
    let mut message = describe(&e);
    let (kind, temporary) = match classified.code.as_deref() {
        Some("ResourceNotFoundException") => {
            message = format!("the table (or its stream) does not exist; DynamoDatabase::ensure_table creates it in this layout (binary partition key k, binary sort key h, a stream of new and old images): {message}");
            (ErrorKind::NotFound, false)
        }
        // Another transaction or write touched the same item at that moment.
        Some("TransactionCanceledException" | "TransactionConflictException") => {
            (ErrorKind::Other, true)
        }
        _ => (classified.kind, classified.temporary),
    };
    if kind == ErrorKind::Protocol {
        message.push_str(" (is the endpoint a DynamoDB server?)");
    }
    Error::Backend {
        backend: BACKEND,
        operation,
        location: location.to_owned(),
        kind,
        temporary,
        source: Box::new(Described(message)),
    }
}
