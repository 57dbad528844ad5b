//! For backend authors: what a backend crate needs beyond the [`ExampleDatabase`] trait
//! itself. Users of the databases never need these.
//!
//! - [`ChangeHub`]: one per backend; fans change events out to subscribers and starts the
//!   backend's listener with the first subscriber, stopping it (dropping its
//!   [`ListenerGuard`]) when the last one goes.
//! - [`ChangeSink`]: what a listener emits events into.
//! - [`crate::config`]: the configuration convention every backend follows, and its
//!   parsing helpers.
//! - [`crate::layout`]: the directory layout's rules, for backends that store it.
//! - `exampledb_testkit::conformance` (dev-dependency): the behaviour every backend must
//!   show, checked against an in-memory model.
//!
//! [`ExampleDatabase`]: crate::ExampleDatabase

pub use crate::events::{ChangeHub, ChangeSink, ListenerGuard};
