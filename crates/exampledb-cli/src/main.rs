//! `exampledb`: run a demonstration job on Hypothesis's default example database, and
//! inspect any directory database (Python Hypothesis's included).
//!
//! ```text
//! exampledb demo                 find, shrink, store and replay a failing example
//! exampledb keys [ROOT]          list keys (hex) and how many values each holds
//! exampledb show KEY-HEX [ROOT]  print a key's values, decoded as choice sequences
//! ```
//!
//! ROOT defaults to Hypothesis's default location (`.hypothesis/examples`, or
//! `$HYPOTHESIS_STORAGE_DIRECTORY/examples`). Built with the `github` feature, ROOT may
//! also be `github:OWNER/REPO[/ARTIFACT-NAME]`: CI's database, the newest GitHub Actions
//! artifact (token from `GITHUB_TOKEN`, API from `GITHUB_API_URL`, cached as Hypothesis
//! caches it; any failure is reported rather than shown as an empty database).

use std::process::ExitCode;

use exampledb::choices::{self, Choice};
use exampledb::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt};
use sha2::{Digest, Sha384};

const USAGE: &str = "usage: exampledb demo | keys [ROOT] | show KEY-HEX [ROOT]\n  ROOT: a directory database (default .hypothesis/examples) or github:OWNER/REPO[/ARTIFACT]";

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
        ["keys", rest @ ..] if rest.len() <= 1 => keys(open(rest.first())).await,
        ["show", key, rest @ ..] if rest.len() <= 1 => show(open(rest.first()), key).await,
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

fn open(root: Option<&&str>) -> Result<Store, String> {
    let directory = |db: exampledb::Result<DirectoryDatabase>| {
        let db = db.map_err(|e| e.to_string())?;
        Ok(Store {
            location: db.root().display().to_string(),
            db: Box::new(db),
        })
    };
    match root {
        Some(spec) if spec.starts_with("github:") => open_github(&spec["github:".len()..]),
        Some(root) => directory(DirectoryDatabase::open(root)),
        None => directory(DirectoryDatabase::default_location()),
    }
}

#[cfg(feature = "github")]
fn open_github(spec: &str) -> Result<Store, String> {
    use exampledb::github::GitHubArtifactDatabase;
    let mut parts = spec.splitn(3, '/');
    let (Some(owner), Some(repo)) = (parts.next(), parts.next()) else {
        return Err(format!("not OWNER/REPO[/ARTIFACT]: {spec:?}"));
    };
    // Strict: someone inspecting CI's database wants to see why it is unavailable.
    let mut builder = GitHubArtifactDatabase::builder(owner, repo).strict(true);
    if let Some(name) = parts.next() {
        builder = builder.artifact_name(name);
    }
    let db = builder.build().map_err(|e| e.to_string())?;
    Ok(Store {
        location: format!(
            "the CI artifact of {owner}/{repo} (cached in {})",
            db.cache_dir().display()
        ),
        db: Box::new(db),
    })
}

#[cfg(not(feature = "github"))]
fn open_github(_spec: &str) -> Result<Store, String> {
    Err("this exampledb was built without GitHub support: build it with `--features github`".into())
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

async fn show(store: Result<Store, String>, key_hex: &str) -> Result<(), String> {
    let db = store?.db;
    let key = unhex(key_hex).ok_or_else(|| format!("not a hex key: {key_hex:?}"))?;
    for value in db.fetch_sorted(&key).await.map_err(|e| e.to_string())? {
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
