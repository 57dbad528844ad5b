//! Project automation.
//!
//! - `cargo xtask integration-test` (alias `test`): everything the README's test command
//!   promises: prepares the Python venv (Hypothesis and its Redis client, pinned) under the
//!   target directory, starts the services (docker compose where a Docker engine answers,
//!   else `redis-server` processes on free loopback ports), runs every test of the
//!   workspace against them with services required (a missing one fails instead of
//!   skipping), then the doctests, the facade without its backend features and the Python
//!   package's pytest suite (built with `maturin develop` into the venv and into
//!   HypoFuzz's own venv), and stops the services.
//! - `cargo xtask bench [SUITE]...`: the standard workload (shared/bench/WORKLOAD.md) on
//!   each backend beside Python Hypothesis's and a floor, interleaved over several rounds
//!   in one run; prints one JSON line per backend (medians) and the ratios. `s3` (moto and
//!   `s3s-fs` servers against a boto3 peer), `dynamodb` (moto against a boto3 peer) and
//!   `cp` (`exampledb cp` into S3 and Redis against `aws s3 sync` and a Python loop) and
//!   `python` (the Python package against Hypothesis's directory and Redis databases) and
//!   `proptest` (exampledb-proptest against proptest's own regression files) run only when
//!   named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, ExitCode};

use exampledb_testkit::python::workspace_root;

mod bench;
mod services;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("integration-test" | "test") => services::integration_test(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        _ => Err(
            "usage: cargo xtask integration-test [<nextest args>] | bench [disk|tmpfs|memory|redis|github|s3|dynamodb|cp|python|proptest]...\n\
             (bench with no suite named runs disk, tmpfs, memory, redis and github; s3, dynamodb, cp, python and proptest run only when named: \
             s3 about 3.5 minutes on moto and s3s-fs, plus a one-time install of s3s-fs; dynamodb about 2 minutes on moto; \
             cp a few minutes on s3s-fs and redis-server; python a release build of the Python package, then a few minutes; proptest under a minute)"
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
