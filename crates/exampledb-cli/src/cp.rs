//! `exampledb cp SRC DST`: copies (merges) every key's values from any database to any
//! other. Idempotent: a value already in DST is not written again, so a copy that was
//! interrupted (Ctrl-C, kill -9, a server gone) completes when run again. Nothing in DST
//! is removed unless `--delete` asks DST to become equal to SRC.
//!
//! Concurrency is bounded twice: [`KEYS_IN_FLIGHT`] keys are read (from SRC and DST) at
//! once, and [`WRITES_IN_FLIGHT`] saves and deletes run at once, whichever keys they
//! belong to, so a key with thousands of values (a HypoFuzz corpus) is copied as fast as
//! many small ones, and memory stays bounded by the keys being read.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use exampledb::bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{out, Stop};
use crate::store::Store;

/// Keys read (SRC and DST fetched) at once.
const KEYS_IN_FLIGHT: usize = 16;
/// Saves and deletes in DST at once. Network stores answer each in one round trip or
/// two; this many in flight hides their latency (about 40 ms per request on S3) without
/// swamping a local server.
const WRITES_IN_FLIGHT: usize = 64;

/// One write a copy makes in DST.
enum Write {
    Save(Bytes, Bytes),
    Delete(Bytes, Bytes),
}

/// What a copy did (or, with `--dry-run`, would do).
#[derive(Default)]
struct Counts {
    keys: AtomicU64,
    written: AtomicU64,
    present: AtomicU64,
    deleted: AtomicU64,
}

/// The bar on a terminal (values written or deleted, of those planned so far, and keys
/// read), hidden otherwise.
fn progress_bar(keys: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} writes {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(format!("0/{keys} keys read"));
    bar
}

/// Copies SRC into DST; see the module docs.
pub(crate) async fn run(src: Store, dst: Store, dry_run: bool, delete: bool) -> Result<(), Stop> {
    let mut keys = src.db.keys().await?;
    keys.sort();
    // With --delete, keys DST holds and SRC does not lose all their values.
    let mut stale_keys: Vec<Bytes> = Vec::new();
    if delete {
        let in_src: HashSet<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        stale_keys = dst
            .db
            .keys()
            .await?
            .into_iter()
            .filter(|k| !in_src.contains(k.as_ref()))
            .collect();
        stale_keys.sort();
    }
    let src_keys = keys.len();
    let total_keys = src_keys + stale_keys.len();
    let progress = progress_bar(total_keys);
    let counts = Counts::default();
    // Reads one key of SRC (or a stale key: nothing) and DST, and says what to write.
    let plan_key = |(key, in_src): (Bytes, bool)| {
        let (src, dst, counts, progress) = (&src, &dst, &counts, &progress);
        async move {
            let (from, there) = if in_src {
                futures_util::future::try_join(src.db.fetch(&key), dst.db.fetch(&key)).await?
            } else {
                (Vec::new(), dst.db.fetch(&key).await?)
            };
            let there_set: HashSet<&Bytes> = there.iter().collect();
            let mut writes = Vec::new();
            for value in &from {
                if there_set.contains(value) {
                    counts.present.fetch_add(1, Ordering::Relaxed);
                } else {
                    writes.push(Write::Save(key.clone(), value.clone()));
                }
            }
            if delete {
                let wanted: HashSet<&Bytes> = from.iter().collect();
                for value in there.iter().filter(|v| !wanted.contains(v)) {
                    writes.push(Write::Delete(key.clone(), value.clone()));
                }
            }
            let read = counts.keys.fetch_add(1, Ordering::Relaxed) + 1;
            progress.inc_length(writes.len() as u64);
            progress.set_message(format!("{read}/{total_keys} keys read"));
            Ok::<_, exampledb::Error>(stream::iter(writes.into_iter().map(Ok)))
        }
    };
    let write = |w: Write| {
        let (dst, counts, progress) = (&dst, &counts, &progress);
        async move {
            match w {
                Write::Save(key, value) => {
                    if !dry_run {
                        dst.db.save(&key, &value).await?;
                    }
                    counts.written.fetch_add(1, Ordering::Relaxed);
                }
                Write::Delete(key, value) => {
                    if !dry_run {
                        dst.db.delete(&key, &value).await?;
                    }
                    counts.deleted.fetch_add(1, Ordering::Relaxed);
                }
            }
            progress.inc(1);
            Ok::<(), exampledb::Error>(())
        }
    };
    let all_keys = keys
        .into_iter()
        .map(|k| (k, true))
        .chain(stale_keys.into_iter().map(|k| (k, false)));
    stream::iter(all_keys)
        .map(plan_key)
        .buffer_unordered(KEYS_IN_FLIGHT)
        .try_flatten()
        .map_ok(write)
        .try_buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    progress.finish_and_clear();
    let would = if dry_run { "would copy" } else { "copied" };
    out(format_args!(
        "{would} {} value(s) across {} key(s) from {} to {} ({} already there{})",
        counts.written.load(Ordering::Relaxed),
        src_keys,
        src.location,
        dst.location,
        counts.present.load(Ordering::Relaxed),
        if delete {
            format!(
                "; {} {} value(s) not in the source",
                if dry_run { "would delete" } else { "deleted" },
                counts.deleted.load(Ordering::Relaxed)
            )
        } else {
            String::new()
        }
    ))
}
