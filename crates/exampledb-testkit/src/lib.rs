//! # exampledb-testkit
//!
//! What every exampledb backend's tests share:
//!
//! - [`conformance`]: plain `async fn behaviour(db)` checks that every backend and wrapper
//!   runs against its own store: a model-based property test against an in-memory model,
//!   listener conformance, concurrent writers and edge cases. Backend differences are
//!   [`Capabilities`], not copies of the tests.
//! - [`net`]: a TCP proxy with a switch that cuts, refuses or freezes connections, and
//!   an HTTP stub answering what a test chooses, for fault tests.
//! - [`process`]: child processes running one test function (to race, kill and restart
//!   real processes) and values that show a partial read.
//! - [`python`]: a Python venv with Hypothesis, created on first use under the cargo
//!   target directory, for interop tests against the real Python implementation.
//! - [`require_services`]: whether a missing service fails the test (under
//!   `cargo xtask integration-test`) or skips it with a message (plain `cargo test`).
#![deny(missing_docs)]
// Test helpers report failures by panicking, as assertions do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;
#[cfg(feature = "github")]
pub mod github;
pub mod interop;
pub mod net;
pub mod process;
pub mod python;
pub mod services;

pub use conformance::Capabilities;

/// The environment variable `cargo xtask integration-test` sets: when it is `1`, a test whose service
/// (Python, a server) is missing fails instead of skipping.
pub const REQUIRE_SERVICES_ENV: &str = "EXAMPLEDB_REQUIRE_SERVICES";

/// Whether missing services must fail tests rather than skip them.
pub fn require_services() -> bool {
    std::env::var(REQUIRE_SERVICES_ENV).is_ok_and(|v| v == "1")
}

/// Reports that a test cannot run because `what` is missing: panics under
/// [`require_services`], otherwise prints why the test is skipped.
pub fn skip_or_fail(test: &str, what: &str) {
    if require_services() {
        panic!("{test}: {what} (required because {REQUIRE_SERVICES_ENV}=1)");
    }
    eprintln!("SKIPPED {test}: {what}; run `cargo xtask integration-test` to set it up");
}

/// A key prefix no other run shares: 12 random bytes from the process's random hasher
/// seed, a counter and the time, so parallel runs against one store never collide.
pub fn unique_prefix() -> Vec<u8> {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = b"exampledb-test:".to_vec();
    for part in 0..2u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(part);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        out.extend_from_slice(&h.finish().to_le_bytes()[..6]);
    }
    out.push(b':');
    out
}

/// Lowercase hex of `bytes`, for exchanging bytes with Python scripts and in messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inverse of [`hex`]; panics on malformed input (test data).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}
