//! `exampledb demo`: a real job on the embedded default, the directory database at
//! Hypothesis's default location: find a failure, shrink it, store it, replay it.

use exampledb::choices::{self, Choice};
use exampledb::{DirectoryDatabase, ExampleDatabase, ExampleDatabaseExt};
use sha2::{Digest, Sha384};

use crate::output::{hex, out, Stop};

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

/// Finds, shrinks, stores and replays a failing example on Hypothesis's default database.
pub(crate) async fn run() -> Result<(), Stop> {
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
