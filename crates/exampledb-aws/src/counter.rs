//! [`RequestCounter`]: how many HTTP requests a client sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// An SDK interceptor counting every HTTP request a client transmits (each attempt of a
/// retried request counts). Clones share the count: install one in the client's config
/// and read it from another.
///
/// ```
/// let counter = exampledb_aws::RequestCounter::default();
/// let shared = counter.clone();
/// assert_eq!(shared.count(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    sent: Arc<AtomicU64>,
}

impl RequestCounter {
    /// Requests transmitted so far.
    pub fn count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "exampledb::RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
