//! `exampledb cp SRC DST`: copies (merges) every key's values from any database to any
//! other, a few keys at a time. Idempotent: a value already in DST is not written again,
//! so a copy that was interrupted (Ctrl-C, kill -9, a server gone) completes when run
//! again. Nothing in DST is removed unless `--delete` asks DST to become equal to SRC.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{out, Stop};
use crate::store::Store;

/// Keys copied at once.
const KEYS_IN_FLIGHT: usize = 16;

/// A value, owned.
type Value = Vec<u8>;

/// What a copy did (or, with `--dry-run`, would do).
#[derive(Default)]
struct Counts {
    keys: AtomicU64,
    written: AtomicU64,
    present: AtomicU64,
    deleted: AtomicU64,
}

/// Copies SRC into DST; see the module docs.
pub(crate) async fn run(src: Store, dst: Store, dry_run: bool, delete: bool) -> Result<(), Stop> {
    let mut keys = src.db.keys().await?;
    keys.sort();
    let mut stale_keys: Vec<Vec<u8>> = Vec::new();
    if delete {
        let in_src: HashSet<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        stale_keys = dst
            .db
            .keys()
            .await?
            .into_iter()
            .filter(|k| !in_src.contains(k.as_ref()))
            .map(|k| k.to_vec())
            .collect();
    }
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new((keys.len() + stale_keys.len()) as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} keys {elapsed} {msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let counts = Counts::default();
    let copy_key = |key: Vec<u8>| {
        let (src, dst, counts, progress) = (&src, &dst, &counts, &progress);
        async move {
            let from: Vec<Value> = src
                .db
                .fetch(&key)
                .await?
                .iter()
                .map(|v| v.to_vec())
                .collect();
            let there: HashSet<Value> = dst
                .db
                .fetch(&key)
                .await?
                .iter()
                .map(|v| v.to_vec())
                .collect();
            for value in &from {
                if there.contains(value) {
                    counts.present.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !dry_run {
                    dst.db.save(&key, value).await?;
                }
                counts.written.fetch_add(1, Ordering::Relaxed);
            }
            if delete {
                let wanted: HashSet<&Value> = from.iter().collect();
                for value in there.iter().filter(|v| !wanted.contains(v)) {
                    if !dry_run {
                        dst.db.delete(&key, value).await?;
                    }
                    counts.deleted.fetch_add(1, Ordering::Relaxed);
                }
            }
            counts.keys.fetch_add(1, Ordering::Relaxed);
            progress.inc(1);
            Ok::<(), exampledb::Error>(())
        }
    };
    futures_util::stream::iter(keys.into_iter().map(|k| k.to_vec()))
        .map(copy_key)
        .buffer_unordered(KEYS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    // With --delete, keys DST holds and SRC does not lose their values.
    let delete_key = |key: Vec<u8>| {
        let (dst, counts, progress) = (&dst, &counts, &progress);
        async move {
            for value in dst.db.fetch(&key).await? {
                if !dry_run {
                    dst.db.delete(&key, &value).await?;
                }
                counts.deleted.fetch_add(1, Ordering::Relaxed);
            }
            progress.inc(1);
            Ok::<(), exampledb::Error>(())
        }
    };
    futures_util::stream::iter(stale_keys)
        .map(delete_key)
        .buffer_unordered(KEYS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    progress.finish_and_clear();
    let would = if dry_run { "would copy" } else { "copied" };
    out(format_args!(
        "{would} {} value(s) across {} key(s) from {} to {} ({} already there{})",
        counts.written.load(Ordering::Relaxed),
        counts.keys.load(Ordering::Relaxed),
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
