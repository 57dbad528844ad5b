//! [`DynamoDatabase::ensure_table`]: the table as the database needs it.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableDescription, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use exampledb_core::{Error, ErrorKind, Operation, Result};

use crate::database::DynamoDatabase;
use crate::item::{EXPIRES, PARTITION, SORT};
use crate::BACKEND;

/// How long to wait for a new table to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

impl DynamoDatabase {
    /// Creates the table if it does not exist: partition key `k` and sort key `h`
    /// (binary), on-demand billing, a stream with new and old images, and time to live on
    /// `exp`. If it exists, checks it and returns [`ErrorKind::InvalidData`] saying
    /// precisely what differs (its billing mode is left as it is); an existing table
    /// with the right keys and stream is waited for until it is active and gets its time
    /// to live enabled on `exp` if it has none (so that workers that start at once all
    /// succeed, whichever created the table). Needs
    /// `dynamodb:DescribeTable`, `DescribeTimeToLive`, and to create it `CreateTable` and
    /// `UpdateTimeToLive`.
    pub async fn ensure_table(&self) -> Result<()> {
        let inner = self.inner();
        let client = inner.clients.tables().await?;
        let described = client
            .describe_table()
            .table_name(&inner.table)
            .send()
            .await;
        let table = match described {
            Ok(out) => out.table().cloned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return self.create_table().await;
            }
            Err(e) => return Err(inner.clients.error(Operation::Open, e)),
        };
        self.ensure_existing(table.as_ref()).await
    }

    /// The existing table `table` (described): checked, waited for until active, its
    /// time to live enabled if it has none.
    async fn ensure_existing(&self, table: Option<&TableDescription>) -> Result<()> {
        let inner = self.inner();
        let differences = table.map(schema_differences).unwrap_or_default();
        if !differences.is_empty() {
            return Err(not_as_needed(&inner.clients.location, &differences));
        }
        // The table may be another process's, created a moment ago: wait until it is
        // active, and enable its time to live if that process has not yet.
        if table.and_then(TableDescription::table_status) != Some(&TableStatus::Active) {
            self.wait_until_active().await?;
        }
        match self.ttl_difference().await? {
            None => Ok(()),
            Some(Ttl::Disabled) => self.enable_ttl().await,
            Some(Ttl::Other(difference)) => {
                Err(not_as_needed(&inner.clients.location, &[difference]))
            }
        }
    }

    async fn create_table(&self) -> Result<()> {
        let inner = self.inner();
        let client = inner.clients.tables().await?;
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::B)
                .build()
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let schema_error = |e: aws_sdk_dynamodb::error::BuildError| Error::Backend {
            backend: BACKEND,
            operation: Operation::Open,
            location: inner.clients.location.clone(),
            kind: ErrorKind::Other,
            temporary: false,
            source: Box::new(e),
        };
        let created = client
            .create_table()
            .table_name(&inner.table)
            .attribute_definitions(attribute(PARTITION).map_err(schema_error)?)
            .attribute_definitions(attribute(SORT).map_err(schema_error)?)
            .key_schema(key(PARTITION, KeyType::Hash).map_err(schema_error)?)
            .key_schema(key(SORT, KeyType::Range).map_err(schema_error)?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(schema_error)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another process created it at the same moment, perhaps with other keys:
            // check it as any existing table.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                let described = client
                    .describe_table()
                    .table_name(&inner.table)
                    .send()
                    .await
                    .map_err(|e| inner.clients.error(Operation::Open, e))?;
                return Box::pin(self.ensure_existing(described.table())).await;
            }
            Err(e) => return Err(inner.clients.error(Operation::Open, e)),
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    /// Enables time to live on `exp`. Another process may be doing the same at this
    /// moment: a refusal is fine when the time to live is then on `exp`.
    async fn enable_ttl(&self) -> Result<()> {
        let inner = self.inner();
        let client = inner.clients.tables().await?;
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(EXPIRES)
            .build()
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                operation: Operation::Open,
                location: inner.clients.location.clone(),
                kind: ErrorKind::Other,
                temporary: false,
                source: Box::new(e),
            })?;
        let enabled = client
            .update_time_to_live()
            .table_name(&inner.table)
            .time_to_live_specification(specification)
            .send()
            .await;
        match enabled {
            Ok(_) => Ok(()),
            Err(e) => match self.ttl_difference().await? {
                None => Ok(()),
                Some(_) => Err(inner.clients.error(Operation::Open, e)),
            },
        }
    }

    async fn wait_until_active(&self) -> Result<()> {
        let inner = self.inner();
        let client = inner.clients.tables().await?;
        let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
        loop {
            let described = client
                .describe_table()
                .table_name(&inner.table)
                .send()
                .await
                .map_err(|e| inner.clients.error(Operation::Open, e))?;
            if described.table().and_then(TableDescription::table_status)
                == Some(&TableStatus::Active)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Timeout {
                    backend: BACKEND,
                    operation: Operation::Open,
                    location: inner.clients.location.clone(),
                    after: ACTIVE_WAIT,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What is wrong with the table's time to live, if anything.
    async fn ttl_difference(&self) -> Result<Option<Ttl>> {
        let inner = self.inner();
        let client = inner.clients.tables().await?;
        let described = client
            .describe_time_to_live()
            .table_name(&inner.table)
            .send()
            .await
            .map_err(|e| inner.clients.error(Operation::Open, e))?;
        let ttl = described.time_to_live_description();
        let status = ttl.and_then(|t| t.time_to_live_status());
        let attribute = ttl.and_then(|t| t.attribute_name());
        let enabled = matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        let disabling = status == Some(&TimeToLiveStatus::Disabling);
        Ok(match (enabled, attribute) {
            (true, Some(EXPIRES)) => None,
            (true, Some(other)) => Some(Ttl::Other(format!(
                "time to live is on the attribute {other:?}, not {EXPIRES:?}"
            ))),
            // Being switched off: DynamoDB refuses to switch it on again for an hour.
            _ if disabling => Some(Ttl::Other(format!(
                "time to live is being disabled (want it on {EXPIRES:?})"
            ))),
            _ => Some(Ttl::Disabled),
        })
    }
}

/// What is wrong with a table's time to live.
enum Ttl {
    /// Not enabled: `ensure_table` enables it.
    Disabled,
    /// Enabled on another attribute, or being disabled: said in these words.
    Other(String),
}

/// How `table`'s keys and stream differ from what the database needs.
fn schema_differences(table: &TableDescription) -> Vec<String> {
    let mut out = key_differences(table);
    match table.stream_specification() {
        Some(spec) if spec.stream_enabled() => {
            if spec.stream_view_type() != Some(&StreamViewType::NewAndOldImages) {
                out.push(format!(
                    "the stream shows {}, not NEW_AND_OLD_IMAGES",
                    spec.stream_view_type().map_or("nothing", |v| v.as_str())
                ));
            }
        }
        _ => out.push("there is no stream (want one with NEW_AND_OLD_IMAGES)".to_owned()),
    }
    out
}

/// The error for a table that differs from what the database needs (`differences`).
pub(crate) fn not_as_needed(location: &str, differences: &[String]) -> Error {
    Error::Backend {
        backend: BACKEND,
        operation: Operation::Open,
        location: location.to_owned(),
        kind: ErrorKind::InvalidData,
        temporary: false,
        source: format!(
            "the table is not as an example database needs it: {}",
            differences.join("; ")
        )
        .into(),
    }
}

/// How `table`'s partition and sort keys differ from what the database needs (`k` and
/// `h`, binary): with other keys, no operation can work.
pub(crate) fn key_differences(table: &TableDescription) -> Vec<String> {
    let mut out = Vec::new();
    let key_of = |kind: KeyType| {
        table
            .key_schema()
            .iter()
            .find(|k| *k.key_type() == kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let type_of = |name: &str| {
        table
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == name)
            .map(|a| a.attribute_type().as_str().to_owned())
    };
    for (kind, want, what) in [
        (KeyType::Hash, PARTITION, "partition key"),
        (KeyType::Range, SORT, "sort key"),
    ] {
        match key_of(kind) {
            Some(name) if name == want => {
                if let Some(t) = type_of(want).filter(|t| t != "B") {
                    out.push(format!(
                        "the {what} {want:?} is of type {t}, not B (binary)"
                    ));
                }
            }
            Some(name) => out.push(format!("the {what} is {name:?}, not {want:?}")),
            None => out.push(format!("there is no {what} (want {want:?}, binary)")),
        }
    }
    out
}
