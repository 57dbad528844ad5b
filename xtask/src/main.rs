//! Project automation.
//!
//! - `cargo xtask test`: everything the README's test command promises: prepares the
//!   Python venv (Hypothesis, pinned) under the target directory, runs every test of the
//!   workspace with services required (a missing one fails instead of skipping), then the
//!   doctests.
//! - `cargo xtask bench`: the standard workload (shared/bench/WORKLOAD.md) on the memory
//!   and directory databases, Python Hypothesis's and the raw file-system floor,
//!   interleaved over several rounds in one run; prints one JSON line per backend (medians)
//!   and the ratios.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, ExitCode};

use exampledb_testkit::python::{workspace_root, Python};

mod bench;
use exampledb_testkit::REQUIRE_SERVICES_ENV;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        _ => Err(
            "usage: cargo xtask test [-- <nextest args>] | bench [disk|tmpfs|memory]..."
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn test(extra: &[String]) -> Result<(), String> {
    let python = Python::ensure()?;
    eprintln!(
        "xtask: Python Hypothesis ready at {}",
        python.exe().display()
    );
    let mut tests = cargo();
    if has_nextest() {
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]);
    } else {
        tests.args(["test", "--workspace", "--all-features", "--no-fail-fast"]);
    }
    tests.args(extra).env(REQUIRE_SERVICES_ENV, "1");
    run(&mut tests)?;
    run(cargo()
        .args(["test", "--workspace", "--all-features", "--doc"])
        .env(REQUIRE_SERVICES_ENV, "1"))
}
