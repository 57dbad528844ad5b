//! The CI-to-developer recipe, end to end, in one process:
//!
//! ```sh
//! cargo run -p exampledb-proptest --example ci_recipe                 # a directory as the shared store
//! cargo run -p exampledb-proptest --features redis --example ci_recipe -- redis://127.0.0.1:6379/0
//! ```
//!
//! 1. "CI" runs a property with a planted bug through the recipe with the shared store
//!    written (what `exampledb_proptest::recipe(url)` gives on a CI machine): the failing
//!    seed is saved there.
//! 2. "A developer", with an empty local directory and the shared store read-only (what
//!    `recipe(url)` gives on their machine), runs the same property: CI's failure is the
//!    very first case, and nothing is written to the shared store.
//!
//! In a real project both sides are one line in the test file:
//! `#![proptest_config(ProptestConfig::with_failure_persistence(exampledb_proptest::recipe(URL)))]`.

use std::sync::{Arc, Mutex};

use exampledb_proptest::{DatabasePersistence, DatabasePersistenceBuilder};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = std::env::temp_dir().join(format!("exampledb-ci-recipe-{}", std::process::id()));
    let shared = match std::env::args().nth(1) {
        Some(url) => url,
        None => scratch.join("shared").display().to_string(),
    };
    let local = scratch.join("developer");

    // CI: the recipe on a CI machine (what `exampledb_proptest::recipe(url)` gives where
    // `CI` is set): its own directory, and the shared store written.
    let ci = DatabasePersistenceBuilder::recipe_with(scratch.join("ci"), &shared, true)
        .crate_name("ci-recipe-example")
        .build();
    ci.check()?;
    let ci_cases = run_property(&ci);
    let failing = ci_cases.iter().copied().find(|&n| has_bug(n));
    println!("CI ran {} cases and failed on {failing:?}", ci_cases.len());
    println!(
        "CI saved under {:?}:",
        String::from_utf8_lossy(&ci.key(SOURCE))
    );
    for seed in ci.load(SOURCE) {
        println!("    {seed}");
    }

    // A developer: the recipe off CI, with an empty directory of their own and CI's store
    // read-only.
    let developer = DatabasePersistenceBuilder::recipe_with(&local, &shared, false)
        .crate_name("ci-recipe-example")
        .build();
    let dev_cases = run_property(&developer);
    println!(
        "the developer's first case is {:?}: CI's failure, replayed first",
        dev_cases.first()
    );
    assert_eq!(dev_cases.first().copied(), failing);

    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// The source file the seeds are kept for (proptest's `file!()` in a `proptest!` block).
const SOURCE: &str = file!();

fn has_bug(n: u32) -> bool {
    n % 1000 == 999
}

/// Runs the property with `persistence`; returns every case it ran.
fn run_property(persistence: &DatabasePersistence) -> Vec<u32> {
    let cases = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&cases);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 10_000,
        source_file: Some(SOURCE),
        ..ProptestConfig::with_failure_persistence(persistence.clone())
    });
    let outcome = runner.run(&any::<u32>(), move |n| {
        if let Ok(mut seen) = seen.lock() {
            seen.push(n);
        }
        prop_assert!(!has_bug(n), "the planted bug at {}", n);
        Ok(())
    });
    if let Err(failure) = outcome {
        println!("    proptest: {failure}");
    }
    let cases = cases.lock().map(|c| c.clone()).unwrap_or_default();
    cases
}
