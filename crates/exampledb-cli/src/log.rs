//! Diagnostics on stderr: the `tracing` subscriber (warnings of exampledb's crates by
//! default, more with `EXAMPLEDB_LOG`), a count of the warnings logged, and every line
//! made safe for a terminal, since it may quote a file name, a stored value or a server's
//! reply.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What is logged when `EXAMPLEDB_LOG` is not set: exampledb's warnings (an unreadable
/// value file, a value skipped), not those of the HTTP and AWS libraries beneath, whose
/// failures reach the user as the command's error.
const DEFAULT_LOG: &str = "exampledb=warn";

/// Warnings and errors exampledb's crates logged so far.
static WARNINGS: AtomicU64 = AtomicU64::new(0);

/// How many warnings (and errors) exampledb's crates have logged, whatever
/// `EXAMPLEDB_LOG` shows.
pub(crate) fn warnings() -> u64 {
    WARNINGS.load(Ordering::Relaxed)
}

/// Counts exampledb's warnings and errors into [`WARNINGS`].
struct CountWarnings;

impl<S: tracing::Subscriber> Layer<S> for CountWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() <= tracing::Level::WARN && meta.target().starts_with("exampledb") {
            WARNINGS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `text` as one line a terminal cannot be driven by: every character Python's `repr`
/// would escape (controls, line breaks, bidi overrides, zero-width characters, ...)
/// written as `\u{...}`.
pub(crate) fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if exampledb::choices::is_unprintable(u32::from(c)) {
            line.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            line.push(c);
        }
    }
    line
}

/// One log event, written to stderr as one safe line when dropped.
#[derive(Default)]
struct SafeLine(Vec<u8>);

impl Write for SafeLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SafeLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if !text.is_empty() {
            // Nowhere left to report a failure to write a diagnostic.
            let _ = writeln!(std::io::stderr().lock(), "{}", one_line(text));
        }
    }
}

/// Installs the subscriber; see the module docs.
pub(crate) fn init() {
    let filter =
        EnvFilter::try_from_env("EXAMPLEDB_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let shown = tracing_subscriber::fmt::layer()
        .with_writer(SafeLine::default)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_filter(filter);
    tracing_subscriber::registry()
        .with(shown)
        .with(CountWarnings)
        .init();
}
