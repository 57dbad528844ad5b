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
//! reported rather than shown as an empty database.

use std::process::ExitCode;

use exampledb::choices::{self, Choice};
use exampledb::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt, DATABASE_ENV};
use sha2::{Digest, Sha384};

const USAGE: &str = "usage: exampledb demo | keys [DB] | show KEY-HEX [DB]\n  DB: a directory path or a database URL (file:, redis://, github://OWNER/REPO, readonly:URL, LOCAL;readonly:SHARED); default $EXAMPLEDB_DATABASE, else .hypothesis/examples";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
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
            None => Err(format!("not a hex key: {key:?}")),
        },
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("exampledb: {message}");
            ExitCode::FAILURE
        }
    }
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
    // Reading is all keys and show do: nothing is created, read access suffices.
    db.check_read().await.map_err(|e| e.to_string())?;
    Ok(Store { db, location })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn keys(store: Result<Store, String>) -> Result<(), String> {
    let Store { db, location } = store?;
    let mut keys = db.keys().await.map_err(|e| e.to_string())?;
    keys.sort();
    for key in &keys {
        let n = db.fetch(key).await.map_err(|e| e.to_string())?.len();
        println!("{}  {n} value(s)", hex(key));
    }
    println!("{} key(s) in {location}", keys.len());
    Ok(())
}

async fn show(store: Result<Store, String>, key: &[u8]) -> Result<(), String> {
    let db = store?.db;
    for value in db.fetch_sorted(key).await.map_err(|e| e.to_string())? {
        match choices::decode(&value) {
            Ok(choices) => println!("{}", render(&choices)),
            Err(e) => println!(
                "{} bytes, not a choice sequence ({e}): {}",
                value.len(),
                hex(&value)
            ),
        }
    }
    Ok(())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
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

async fn demo() -> Result<(), String> {
    let db = DirectoryDatabase::default_location().map_err(|e| e.to_string())?;
    let test_name = "exampledb demo: a list of integers sums to less than 1000";
    let key = Sha384::digest(test_name.as_bytes()).to_vec();
    println!("database: {} (Hypothesis's layout)", db.root().display());
    println!("test:     {test_name}");
    println!("key:      {} (SHA-384 of the test's name)", hex(&key));

    // Replay first, as Hypothesis does: shortest stored example first.
    let stored = db.fetch_sorted(&key).await.map_err(|e| e.to_string())?;
    for value in &stored {
        let Some(list) = choices::decode(value).ok().and_then(|c| from_choices(&c)) else {
            continue;
        };
        if !property_holds(&list) {
            println!("replayed the stored failure in 1 run: {list:?}");
            println!(
                "({} byte value; delete {} to search again)",
                value.len(),
                db.root().display()
            );
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
    println!("found a failure after {runs} runs: {failing:?}");

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
    println!("shrunk to: {failing:?}");
    println!(
        "saved {} bytes {} as {}/{}/{}",
        value.len(),
        hex(&value),
        db.root().display(),
        exampledb::hypothesis_hash(&key),
        exampledb::hypothesis_hash(&value)
    );
    println!("run it again to replay the failure from the database");
    Ok(())
}
