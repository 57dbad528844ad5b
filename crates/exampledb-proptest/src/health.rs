//! What this process knows about each store: whether it has been warned about, and whether
//! it is still used. A store that fails gives one warning per process, however many tests
//! and clones of the persistence meet the failure. Stores are told apart by an identity
//! (the URL they were opened from, secrets included, or a number for a database object),
//! never shown; messages name them by their label.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// What one store's failure means for the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It may work next time (a server down, a connection refused): tried again at the
    /// next load or save.
    TryAgain,
    /// It will not work in this run (bad configuration or credentials), or trying again
    /// would cost every later test a wait (a store that did not answer in time): not used
    /// again in this process.
    GiveUp,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    warned: bool,
    off: bool,
}

/// The process-wide table, by store identity.
fn table() -> &'static Mutex<HashMap<String, State>> {
    static TABLE: OnceLock<Mutex<HashMap<String, State>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn with_state<R>(id: &str, f: impl FnOnce(&mut State) -> R) -> R {
    let mut table = table().lock().unwrap_or_else(PoisonError::into_inner);
    // Looked up first: the common case allocates nothing.
    if let Some(state) = table.get_mut(id) {
        return f(state);
    }
    f(table.entry(id.to_owned()).or_default())
}

/// Whether the store `id` is still used in this process.
pub(crate) fn usable(id: &str) -> bool {
    !with_state(id, |s| s.off)
}

/// Records that the store `id` (named `label` in messages) failed with `problem` while
/// doing `what`, and warns the first time only.
pub(crate) fn failed(id: &str, label: &str, what: &str, problem: &str, verdict: Verdict) {
    let first = with_state(id, |s| {
        s.off |= verdict == Verdict::GiveUp;
        !std::mem::replace(&mut s.warned, true)
    });
    let consequence = match verdict {
        Verdict::TryAgain => "the tests go on without it; it is tried again at the next use",
        Verdict::GiveUp => "the tests go on without it; it is not used again in this process",
    };
    tracing::debug!(
        store = label,
        what,
        problem,
        ?verdict,
        "example database failed"
    );
    if first {
        warn(&format!(
            "exampledb-proptest: {what} failed on {label}: {problem}; {consequence} (said once)"
        ));
    }
}

/// Warns about something that is not a store's failure (a seed that cannot be read), once
/// per `topic`.
pub(crate) fn warn_once(topic: &str, message: &str) {
    let first = with_state(&format!("\0topic:{topic}"), |s| {
        !std::mem::replace(&mut s.warned, true)
    });
    if first {
        warn(&format!("exampledb-proptest: {message} (said once)"));
    }
}

/// A warning where the user will see it: written to standard error directly, past the
/// test harness's capture of `eprintln!`, so `cargo test` shows it even when the test
/// that met it passes (nextest keeps a passing test's output: `--no-capture` shows it;
/// in proptest's fork mode the child's output is replayed by its parent, which the
/// harness captures); and through `tracing`, for a program's own logs.
fn warn(message: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{message}\n").as_bytes());
    tracing::warn!("{message}");
}
