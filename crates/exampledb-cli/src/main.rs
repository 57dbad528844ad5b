//! `exampledb`: run a demonstration job on Hypothesis's default example database, and
//! inspect any example database (Python Hypothesis's included).
//!
//! ```text
//! exampledb demo               find, shrink, store and replay a failing example
//! exampledb keys [DB]          list keys (hex) and how many values each holds
//! exampledb show KEY-HEX [DB]  print a key's values, decoded as choice sequences
//! ```
//!
//! DB is anything `exampledb::open` takes: a directory path, `file:PATH?options`,
//! `redis://HOST` (built with the `redis` feature), `github://OWNER/REPO[/ARTIFACT]` (the
//! `github` feature: CI's database, the newest GitHub Actions artifact, token from
//! `GITHUB_TOKEN`, API from `GITHUB_API_URL`), `readonly:URL`, or the recipe
//! `LOCAL;readonly:SHARED`. It defaults to `$EXAMPLEDB_DATABASE`, else Hypothesis's
//! default location (`.hypothesis/examples`, or `$HYPOTHESIS_STORAGE_DIRECTORY/examples`).
//! The database is checked before it is read, so an unreachable server or artifact is
//! reported rather than shown as an empty database, and a directory database that does
//! not exist (a mistyped path) is an error, not an empty listing. Data goes to stdout,
//! diagnostics (warnings about unreadable values included) to stderr; errors are one line
//! and a non-zero exit. Output into a closed pipe (`exampledb keys | head -1`) ends the
//! command quietly.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use exampledb::choices::{self, Choice};
use exampledb::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt, DATABASE_ENV};
use sha2::{Digest, Sha384};

const USAGE: &str = "usage: exampledb demo | keys [DB] | show KEY-HEX [DB]\n  DB: a directory path or a database URL (file:, redis://, github://OWNER/REPO, readonly:URL, LOCAL;readonly:SHARED); default $EXAMPLEDB_DATABASE, else .hypothesis/examples";

/// Why a command stopped early.
enum Stop {
    /// An error, to report on stderr as one line.
    Failed(String),
    /// stdout was closed by its reader: nothing more to say.
    ClosedPipe,
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Failed(message)
    }
}

/// Writes one line to stdout; a closed pipe stops the command quietly.
fn out(line: std::fmt::Arguments<'_>) -> Result<(), Stop> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Stop::ClosedPipe),
        Err(e) => Err(Stop::Failed(format!("cannot write to stdout: {e}"))),
    }
}

/// The arguments as UTF-8, or the error naming the first one that is not.
fn utf8_args(args: impl Iterator<Item = OsString>) -> Result<Vec<String>, String> {
    args.enumerate()
        .map(|(i, arg)| {
            arg.into_string().map_err(|arg| {
                format!(
                    "argument {} is not valid UTF-8: {:?}",
                    i + 1,
                    arg.to_string_lossy()
                )
            })
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Warnings (an unreadable value file, a value skipped) reach the user on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EXAMPLEDB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_target(false)
        .without_time()
        .init();
    let args = match utf8_args(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("exampledb: {message}");
            return ExitCode::from(2);
        }
    };
    let result: Result<(), Stop> = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["demo"] | [] => demo().await,
        ["keys", rest @ ..] if rest.len() <= 1 => keys(open(rest.first()).await).await,
        ["show", key, rest @ ..] if rest.len() <= 1 => match unhex(key) {
            // The key is checked before the database is opened.
            Some(key) => show(open(rest.first()).await, &key).await,
            None => Err(Stop::Failed(format!(
                "not a hex key: {key:?} (an even number of digits 0-9, a-f)"
            ))),
        },
        _ => Err(Stop::Failed(USAGE.to_string())),
    };
    match result {
        Ok(()) | Err(Stop::ClosedPipe) => ExitCode::SUCCESS,
        Err(Stop::Failed(message)) => {
            eprintln!("exampledb: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The directory a database URL names, when it is a plain directory database (a path or
/// `file:`), without its options.
fn directory_of(url: &str) -> Option<std::path::PathBuf> {
    if url.contains(';') || url.starts_with("readonly:") || url.starts_with("memory:") {
        return None;
    }
    let path = match url.strip_prefix("file:") {
        Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
        None if url.contains("://") => return None,
        None => url,
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    Some(std::path::PathBuf::from(path))
}

/// A database to inspect, and how to name it to the user.
struct Store {
    db: Box<dyn ExampleDatabase>,
    location: String,
}

/// Opens `url` (or the default database) and checks it can be read now (creating
/// nothing).
async fn open(url: Option<&&str>) -> Result<Store, String> {
    let (db, location) = match url {
        Some(url) => (
            exampledb::open(url),
            exampledb::config::without_secrets(url),
        ),
        None => (
            exampledb::open_default(),
            std::env::var(DATABASE_ENV)
                .ok()
                .filter(|u| !u.trim().is_empty())
                .map(|u| exampledb::config::without_secrets(&u))
                .unwrap_or_else(|| {
                    exampledb::directory::storage_home()
                        .join("examples")
                        .display()
                        .to_string()
                }),
        ),
    };
    let db = db.map_err(|e| e.to_string())?;
    // A directory database that is not there is a mistyped path (or no test has run):
    // say so, rather than list it as empty.
    let named = match url {
        Some(url) => Some((*url).to_owned()),
        None => std::env::var(DATABASE_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty()),
    };
    let directory = match &named {
        Some(url) => directory_of(url),
        None => Some(exampledb::directory::storage_home().join("examples")),
    };
    if let Some(dir) = directory.filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(format!(
                "no example database at {}: {}",
                dir.display(),
                if dir.exists() {
                    "it is not a directory"
                } else {
                    "the directory does not exist (mistyped, or no test has saved an example yet)"
                }
            ));
        }
    }
    // Reading is all keys and show do: nothing is created, read access suffices.
    db.check_read().await.map_err(|e| e.to_string())?;
    Ok(Store { db, location })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn keys(store: Result<Store, String>) -> Result<(), Stop> {
    let Store { db, location } = store?;
    let mut keys = db.keys().await.map_err(|e| e.to_string())?;
    keys.sort();
    for key in &keys {
        let n = db.fetch(key).await.map_err(|e| e.to_string())?.len();
        out(format_args!("{}  {n} value(s)", hex(key)))?;
    }
    out(format_args!("{} key(s) in {location}", keys.len()))
}

async fn show(store: Result<Store, String>, key: &[u8]) -> Result<(), Stop> {
    let db = store?.db;
    for value in db.fetch_sorted(key).await.map_err(|e| e.to_string())? {
        match choices::decode(&value) {
            Ok(choices) => out(format_args!("{}", render(&choices)))?,
            Err(e) => out(format_args!(
                "{} bytes, not a choice sequence ({e}): {}",
                value.len(),
                hex(&value)
            ))?,
        }
    }
    Ok(())
}

/// `s` as bytes: an even number of hex digits and nothing else (`u8::from_str_radix`
/// alone would take a leading `+`).
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn render(choices: &[Choice]) -> String {
    let parts: Vec<String> = choices.iter().map(ToString::to_string).collect();
    format!("({})", parts.join(", "))
}

/// The property under test: a list of integers sums to less than 1000.
fn property_holds(list: &[i64]) -> bool {
    list.iter().sum::<i64>() < 1000
}

/// The choices that draw `list`: per element a `True` then the integer, then `False`
/// (how a list strategy draws: "another element?" then the element).
fn to_choices(list: &[i64]) -> Vec<Choice> {
    let mut out: Vec<Choice> = list
        .iter()
        .flat_map(|&n| [Choice::from(true), Choice::from(n)])
        .collect();
    out.push(Choice::from(false));
    out
}

fn from_choices(choices: &[Choice]) -> Option<Vec<i64>> {
    let mut list = Vec::new();
    let mut it = choices.iter();
    loop {
        match it.next()? {
            Choice::Boolean(false) => return Some(list),
            Choice::Boolean(true) => match it.next()? {
                Choice::Integer(n) => list.push(i64::try_from(n).ok()?),
                _ => return None,
            },
            _ => return None,
        }
    }
}

async fn demo() -> Result<(), Stop> {
    let db = DirectoryDatabase::default_location().map_err(|e| e.to_string())?;
    let test_name = "exampledb demo: a list of integers sums to less than 1000";
    let key = Sha384::digest(test_name.as_bytes()).to_vec();
    out(format_args!(
        "database: {} (Hypothesis's layout)",
        db.root().display()
    ))?;
    out(format_args!("test:     {test_name}"))?;
    out(format_args!(
        "key:      {} (SHA-384 of the test's name)",
        hex(&key)
    ))?;

    // Replay first, as Hypothesis does: shortest stored example first.
    let stored = db.fetch_sorted(&key).await.map_err(|e| e.to_string())?;
    for value in &stored {
        let Some(list) = choices::decode(value).ok().and_then(|c| from_choices(&c)) else {
            continue;
        };
        if !property_holds(&list) {
            out(format_args!(
                "replayed the stored failure in 1 run: {list:?}"
            ))?;
            out(format_args!(
                "({} byte value; delete {} to search again)",
                value.len(),
                db.root().display()
            ))?;
            return Ok(());
        }
        // Fixed since it was stored: drop it, as Hypothesis does.
        db.delete(&key, value).await.map_err(|e| e.to_string())?;
    }

    // Search: a small deterministic generator.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut runs = 0;
    let mut failing = loop {
        runs += 1;
        let len = next() % 8;
        let list: Vec<i64> = (0..len).map(|_| (next() % 400) as i64).collect();
        if !property_holds(&list) {
            break list;
        }
    };
    out(format_args!(
        "found a failure after {runs} runs: {failing:?}"
    ))?;

    // Shrink: drop elements, then lower each one, while it still fails.
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..failing.len()).rev() {
            let mut shorter = failing.clone();
            shorter.remove(i);
            if !property_holds(&shorter) {
                failing = shorter;
                changed = true;
            }
        }
        for i in 0..failing.len() {
            let (mut lo, mut hi) = (0, failing[i]);
            while lo < hi {
                let mid = (lo + hi) / 2;
                let mut candidate = failing.clone();
                candidate[i] = mid;
                if property_holds(&candidate) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if hi != failing[i] {
                failing[i] = hi;
                changed = true;
            }
        }
    }
    let value = choices::encode(&to_choices(&failing));
    db.save(&key, &value).await.map_err(|e| e.to_string())?;
    out(format_args!("shrunk to: {failing:?}"))?;
    out(format_args!(
        "saved {} bytes {} as {}/{}/{}",
        value.len(),
        hex(&value),
        db.root().display(),
        exampledb::hypothesis_hash(&key),
        exampledb::hypothesis_hash(&value)
    ))?;
    out(format_args!(
        "run it again to replay the failure from the database"
    ))?;
    Ok(())
}
