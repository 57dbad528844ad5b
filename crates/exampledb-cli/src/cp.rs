//! `exampledb cp SRC DST`: copies (merges) every key's values from any database to any
//! other. Idempotent: a value already in DST is not written again, so a copy that was
//! interrupted (Ctrl-C, kill -9, a server gone) completes when run again. Nothing in DST
//! is removed unless `--delete` asks DST to become equal to SRC.
//!
//! Keys go in batches of [`KEYS_PER_BATCH`]: the batch's keys are read from SRC and DST at
//! once, then its writes run [`WRITES_IN_FLIGHT`] at a time, whichever keys they belong
//! to, so a key with thousands of values (a HypoFuzz corpus) is copied as fast as many
//! small keys, and memory holds one batch. (Reads and writes are not interleaved: a read
//! left unpolled behind full write slots could hold a pooled connection that the writes
//! wait for.)
//!
//! A value DST refuses (too large for it) or a SRC key that cannot be read as a set of
//! values is reported on stderr, by key, and the copy goes on; the command then fails.
//! Any other error (a server gone, bad credentials) stops it. `--delete` deletes only
//! after everything else was read and copied without a refusal or a warning (an
//! unreadable file, a key directory that cannot be named): a SRC read only in part must
//! not empty DST. Every value it deletes is one SRC was asked for and does not hold: a
//! key DST holds and SRC does not list is fetched from SRC too, and whatever SRC holds
//! under it is copied and kept.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use exampledb::bytes::Bytes;
use exampledb::{Error, ErrorKind};
use futures_util::{stream, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::log::{one_line, warnings};
use crate::output::{note, out, show_key, Stop};
use crate::store::Store;

/// Keys read (from SRC and DST) at once, and per batch.
const KEYS_PER_BATCH: usize = 16;
/// Saves and deletes in DST at once. Network stores answer each in one round trip or
/// two; this many in flight hides their latency (tens of milliseconds per request on S3)
/// without swamping a local server.
const WRITES_IN_FLIGHT: usize = 64;

/// One write a copy makes in DST.
enum Write {
    Save(Bytes, Bytes),
    Delete(Bytes, Bytes),
}

/// What a copy did (or, with `--dry-run`, would do).
#[derive(Default)]
struct Counts {
    written: AtomicU64,
    present: AtomicU64,
    deleted: AtomicU64,
    /// Values DST refused and SRC keys that could not be read.
    failed: AtomicU64,
}

/// Whether `e` concerns one key or value only (the copy goes on without it), not the
/// store as a whole.
fn concerns_one_item(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::TooLarge | ErrorKind::InvalidData)
}

/// The bar on a terminal (writes done of those planned so far, and keys read), hidden
/// otherwise.
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
    let warnings_before = warnings();
    let mut keys = src.db.keys().await?;
    keys.sort();
    let src_keys = keys.len();
    let progress = progress_bar(src_keys);
    let counts = Counts::default();
    let deletes: Mutex<Vec<Write>> = Mutex::new(Vec::new());
    let keys_read = AtomicU64::new(0);
    let report = |what: String, e: &Error| {
        counts.failed.fetch_add(1, Ordering::Relaxed);
        progress.suspend(|| eprintln!("exampledb: {}: {}", what, one_line(&e.to_string())));
    };
    // Reads one key of SRC and DST: its saves; its deletes are put aside for --delete.
    let plan_key = |key: Bytes| {
        let (src, dst, counts, progress) = (&src, &dst, &counts, &progress);
        let (deletes, keys_read, report) = (&deletes, &keys_read, &report);
        async move {
            let read = futures_util::future::try_join(src.db.fetch(&key), dst.db.fetch(&key));
            let (from, there) = match read.await {
                Ok(both) => both,
                Err(e) if concerns_one_item(&e) => {
                    report(format!("key {} not copied", show_key(&key)), &e);
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e),
            };
            let there_set: HashSet<&Bytes> = there.iter().collect();
            let mut saves = Vec::new();
            for value in &from {
                if there_set.contains(value) {
                    counts.present.fetch_add(1, Ordering::Relaxed);
                } else {
                    saves.push(Write::Save(key.clone(), value.clone()));
                }
            }
            if delete {
                let wanted: HashSet<&Bytes> = from.iter().collect();
                let stale = there.iter().filter(|v| !wanted.contains(v));
                let stale = stale.map(|v| Write::Delete(key.clone(), v.clone()));
                if let Ok(mut deletes) = deletes.lock() {
                    deletes.extend(stale);
                }
            }
            let read = keys_read.fetch_add(1, Ordering::Relaxed) + 1;
            progress.inc_length(saves.len() as u64);
            progress.set_message(format!("{read}/{src_keys} keys read"));
            Ok::<_, Error>(saves)
        }
    };
    let write = |w: Write| {
        let (dst, counts, progress, report) = (&dst, &counts, &progress, &report);
        async move {
            let (key, value, done, result) = match &w {
                Write::Save(key, value) => (
                    key,
                    value,
                    &counts.written,
                    if dry_run {
                        Ok(())
                    } else {
                        dst.db.save(key, value).await
                    },
                ),
                Write::Delete(key, value) => (
                    key,
                    value,
                    &counts.deleted,
                    if dry_run {
                        Ok(())
                    } else {
                        dst.db.delete(key, value).await
                    },
                ),
            };
            match result {
                Ok(()) => {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if concerns_one_item(&e) => report(
                    format!(
                        "a value of {} ({} bytes) not copied",
                        show_key(key),
                        value.len()
                    ),
                    &e,
                ),
                Err(e) => return Err(e),
            }
            progress.inc(1);
            Ok(())
        }
    };
    let write_all = |writes: Vec<Write>| {
        stream::iter(writes)
            .map(write)
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect::<()>()
    };
    // Each batch read whole, then written: (saves made) per batch.
    let (plan_key, write_all) = (&plan_key, &write_all);
    let copy = |keys: Vec<Bytes>| async move {
        let mut saved = 0;
        for batch in keys.chunks(KEYS_PER_BATCH) {
            let planned: Vec<Vec<Write>> = stream::iter(batch.iter().cloned())
                .map(plan_key)
                .buffer_unordered(KEYS_PER_BATCH)
                .try_collect()
                .await?;
            let saves: Vec<Write> = planned.into_iter().flatten().collect();
            saved += saves.len();
            write_all(saves).await?;
        }
        Ok::<usize, Error>(saved)
    };
    copy(keys.clone()).await?;
    // --delete deletes nothing after a refusal or a warning: SRC may have been read in
    // part, and what it seems to lack may only be unread.
    let refuse_deletes = || {
        let failed = counts.failed.load(Ordering::Relaxed);
        let warned = warnings() - warnings_before;
        (failed > 0 || warned > 0).then(|| {
            progress.finish_and_clear();
            let stop = Stop::Failed(format!(
                "{} above: the source may not have been read completely, so --delete deleted nothing; mend them and run again",
                if failed > 0 { "errors" } else { "warnings" }
            ));
            summary(&src, &dst, src_keys, &counts, dry_run, None).err().unwrap_or(stop)
        })
    };
    if delete {
        if let Some(stop) = refuse_deletes() {
            return Err(stop);
        }
        // Keys DST holds that SRC does not list. SRC is asked for each all the same: a key
        // its listing leaves out (a key directory with no meta-keys entry, a member of a
        // recipe that cannot list keys) may hold values, which are then copied and kept.
        let in_src: HashSet<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        let mut unlisted: Vec<Bytes> = dst.db.keys().await?;
        unlisted.retain(|k| !in_src.contains(k.as_ref()));
        unlisted.sort();
        if let Some((dst_key, src_key)) = nested_key(&keys, &unlisted) {
            progress.finish_and_clear();
            summary(&src, &dst, src_keys, &counts, dry_run, None)?;
            return Err(Stop::Failed(format!(
                "SRC and DST share storage: DST's key {} is SRC's key {} under another key prefix, so --delete could remove through DST what SRC holds; copy without --delete",
                show_key(dst_key),
                show_key(src_key)
            )));
        }
        let present_before = counts.present.load(Ordering::Relaxed);
        let saved = copy(unlisted).await?;
        if saved > 0 || counts.present.load(Ordering::Relaxed) > present_before {
            note("the source holds values under keys its listing leaves out (found through the destination's keys); they were kept");
        }
        if let Some(stop) = refuse_deletes() {
            return Err(stop);
        }
        let writes = std::mem::take(
            &mut *deletes
                .lock()
                .map_err(|_| "a copy task panicked".to_owned())?,
        );
        let writes = still_absent(&src, writes).await?;
        progress.inc_length(writes.len() as u64);
        write_all(writes).await?;
    }
    let failed = counts.failed.load(Ordering::Relaxed);
    progress.finish_and_clear();
    summary(&src, &dst, src_keys, &counts, dry_run, Some(delete))?;
    if failed > 0 {
        return Err(Stop::Failed(format!(
            "{failed} key(s) or value(s) were not copied (each is named above)"
        )));
    }
    Ok(())
}

/// A key DST holds and SRC does not list that is one of SRC's keys with bytes in front,
/// or the end of one of them, with that SRC key: what one store seen under two key
/// prefixes, one beginning the other, shows (Redis or DynamoDB with `key_prefix`es `p:`
/// and `p:x:`), however the two URLs spell the server. Deleting through DST there would
/// delete from SRC. Empty keys take no part (every key ends with one).
fn nested_key<'a>(src_keys: &'a [Bytes], unlisted: &'a [Bytes]) -> Option<(&'a Bytes, &'a Bytes)> {
    let src: HashMap<&[u8], &Bytes> = src_keys.iter().map(|k| (k.as_ref(), k)).collect();
    let mut src_ends: HashMap<&[u8], &Bytes> = HashMap::new();
    for k in src_keys {
        for i in 1..k.len() {
            src_ends.entry(&k[i..]).or_insert(k);
        }
    }
    unlisted.iter().find_map(|d| {
        let longer = (1..d.len()).find_map(|i| src.get(&d[i..]).copied());
        longer
            .or_else(|| src_ends.get(d.as_ref()).copied())
            .map(|s| (d, s))
    })
}

/// The deletes among `writes` whose value SRC still does not hold, asked again key by
/// key just before deleting: a value another process saved into SRC during the copy is
/// kept. (One saved between this read and the delete can still go: DST becomes equal to
/// SRC as it was read.)
async fn still_absent(src: &Store, writes: Vec<Write>) -> Result<Vec<Write>, Error> {
    let mut per_key: BTreeMap<Bytes, Vec<Bytes>> = BTreeMap::new();
    for w in writes {
        if let Write::Delete(key, value) = w {
            per_key.entry(key).or_default().push(value);
        }
    }
    let checked: Vec<Vec<Write>> = stream::iter(per_key)
        .map(|(key, values)| async move {
            let now: HashSet<Bytes> = src.db.fetch(&key).await?.into_iter().collect();
            Ok::<_, Error>(
                values
                    .into_iter()
                    .filter(|v| !now.contains(v))
                    .map(|v| Write::Delete(key.clone(), v))
                    .collect(),
            )
        })
        .buffer_unordered(KEYS_PER_BATCH)
        .try_collect()
        .await?;
    Ok(checked.into_iter().flatten().collect())
}

/// The summary line; `deleted`: whether deletes were asked for and made (`None`: asked
/// for, but refused).
fn summary(
    src: &Store,
    dst: &Store,
    keys: usize,
    counts: &Counts,
    dry_run: bool,
    deleted: Option<bool>,
) -> Result<(), Stop> {
    let would = if dry_run { "would copy" } else { "copied" };
    let deletes = match deleted {
        Some(true) => format!(
            "; {} {} value(s) not in the source",
            if dry_run { "would delete" } else { "deleted" },
            counts.deleted.load(Ordering::Relaxed)
        ),
        Some(false) => String::new(),
        None => "; nothing deleted".to_owned(),
    };
    // Locations are the user's paths and URLs: shown safe for a terminal.
    out(format_args!(
        "{}",
        one_line(&format!(
            "{would} {} value(s) across {keys} key(s) from {} to {} ({} already there{deletes})",
            counts.written.load(Ordering::Relaxed),
            src.location,
            dst.location,
            counts.present.load(Ordering::Relaxed),
        ))
    ))
}
