//! `cargo xtask bench python`: the Python package (crates/exampledb-python, built with
//! `maturin develop --release` into the venv) measured from Python, beside Hypothesis's own
//! databases and a floor, over [`super::ROUNDS`] interleaved rounds in one run:
//!
//! - **The standard workload on tmpfs** (`/dev/shm`, where per-call overhead shows):
//!   `exampledb.DirectoryDatabase` against Hypothesis's `DirectoryBasedExampleDatabase`
//!   (both driven by `anchor_python.py`'s own `run()`), with the Rust directory database
//!   and the floors of the `tmpfs` suite beside them: raw syscalls, and the syscalls
//!   Hypothesis compatibility requires (`exampledb-bench dir` / `floor` / `floor-atomic`).
//! - **The standard workload on Redis** (a fresh local `redis-server`):
//!   `exampledb.RedisDatabase` against Hypothesis's `RedisExampleDatabase`, with the Rust
//!   Redis database and `redis-benchmark` as the floor.
//! - **A Hypothesis test run of 1,000 examples that uses the database** (a targeted test
//!   and a failing test shrunk, saved and replayed; `bench.py testrun`), with the
//!   package's directory database against Hypothesis's own, on tmpfs.
//!
//! Targets (issue 15): at least 2x Hypothesis's ops/s in every workload phase, and a test
//! run no slower.

use std::path::{Path, PathBuf};
use std::process::Command;

use exampledb_testkit::python::{target_dir, workspace_root, Python};
use exampledb_testkit::services::RedisServer;

use super::{
    anchor_dir, bench_cmd, print_ratios, ratio, run_rounds, run_rounds_n, show_ratio, Runner,
};

/// Rounds of the test-run comparison.
const TESTRUN_ROUNDS: usize = 9;

/// The benchmark script, run by the venv's Python.
fn script() -> PathBuf {
    workspace_root().join("crates/exampledb-python/bench/bench.py")
}

/// The suite; `bin` is the release `exampledb-bench`.
pub(crate) fn python_suite(bin: &Path, python: &Python) -> Result<(), String> {
    crate::services::maturin_develop(python, true)?;
    let anchors = anchor_dir();
    let anchor = anchors.join("anchor_python.py");
    if !anchor.exists() {
        return Err(format!(
            "{} not found: the python suite compares with it",
            anchor.display()
        ));
    }
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        shm.join(format!("exampledb-bench-python-{}", std::process::id()))
    } else {
        eprintln!("xtask: no /dev/shm here; the python suite runs under the target directory");
        target_dir().join("bench-data/python")
    };
    let result = suites(bin, python, &anchor, &anchors, &root);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn suites(
    bin: &Path,
    python: &Python,
    anchor: &Path,
    anchors: &Path,
    root: &Path,
) -> Result<(), String> {
    let exe = python.exe();
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let ours = |args: Vec<String>| {
        let exe = exe.clone();
        move |d: &Path| {
            let mut c = Command::new(&exe);
            c.arg(script()).args(&args).arg(d);
            c
        }
    };
    let anchors_arg = anchors.to_string_lossy().into_owned();

    // The workload on tmpfs.
    let hypothesis_dir = {
        let (exe, anchor, tmp) = (exe.clone(), anchor.to_path_buf(), tmp.clone());
        move |d: &Path| {
            let mut c = Command::new(&exe);
            // Hypothesis's temporary files on the data's file system, so that it renames
            // them as it normally does.
            c.arg(&anchor).arg("dir").arg(d).env("TMPDIR", &tmp);
            c
        }
    };
    let runners: Vec<Runner> = vec![
        (
            "floor-raw-syscalls",
            Box::new(|d| bench_cmd(bin, &["floor"], Some(d))),
        ),
        (
            "floor-atomic-syscalls",
            Box::new(|d| bench_cmd(bin, &["floor-atomic"], Some(d))),
        ),
        (
            "exampledb-dir",
            Box::new(|d| bench_cmd(bin, &["dir"], Some(d))),
        ),
        (
            "exampledb-python-dir",
            Box::new(ours(vec![
                "workload".into(),
                anchors_arg.clone(),
                "dir".into(),
            ])),
        ),
        ("python-hypothesis-dir", Box::new(hypothesis_dir)),
    ];
    let medians = run_rounds("python-dir", root, &runners)?;
    print_ratios(
        "python-dir",
        &medians,
        &[
            ("exampledb-python-dir", "python-hypothesis-dir"),
            ("exampledb-python-dir", "exampledb-dir"),
            ("exampledb-python-dir", "floor-raw-syscalls"),
            ("floor-atomic-syscalls", "python-hypothesis-dir"),
        ],
    );

    // The workload on Redis.
    let server = RedisServer::start(&["--appendonly", "no"])?;
    let (port, url) = (server.port().to_string(), server.url());
    let flush = |port: &str| {
        let _ = Command::new("redis-cli")
            .args(["-p", port, "flushall"])
            .stdout(std::process::Stdio::null())
            .status();
    };
    let runners: Vec<Runner> = vec![
        (
            "floor-redis-benchmark",
            Box::new(|_| bench_cmd(bin, &["redis-floor", &port], None)),
        ),
        (
            "exampledb-redis",
            Box::new(|_| {
                flush(&port);
                bench_cmd(bin, &["redis", &url], None)
            }),
        ),
        (
            "exampledb-python-redis",
            Box::new(|_| {
                flush(&port);
                let mut c = Command::new(&exe);
                c.arg(script())
                    .args(["workload", &anchors_arg, "redis", &url]);
                c
            }),
        ),
        (
            "python-hypothesis-redis",
            Box::new(|_| {
                let mut c = Command::new(&exe);
                c.arg(anchor).arg("redis").arg(&port);
                c
            }),
        ),
    ];
    let medians = run_rounds("python-redis", root, &runners)?;
    print_ratios(
        "python-redis",
        &medians,
        &[
            ("exampledb-python-redis", "python-hypothesis-redis"),
            ("exampledb-python-redis", "exampledb-redis"),
        ],
    );
    show_ratio(
        "exampledb-python-redis save / redis-benchmark SADD (1 conn)",
        ratio(
            &medians,
            ("exampledb-python-redis", "save_ops_s"),
            ("floor-redis-benchmark", "sadd_ops_s"),
        ),
    );
    drop(server);

    // A Hypothesis test run of 1,000 examples.
    let runners: Vec<Runner> = vec![
        (
            "exampledb-testrun",
            Box::new(ours(vec!["testrun".into(), "exampledb".into()])),
        ),
        (
            "hypothesis-testrun",
            Box::new(ours(vec!["testrun".into(), "hypothesis".into()])),
        ),
    ];
    // Runs differ by what their (unseeded) examples cost: more rounds than elsewhere.
    let medians = run_rounds_n("python-testrun", root, &runners, TESTRUN_ROUNDS)?;
    println!(
        "\npython-testrun: a Hypothesis test run of 1,000 examples (medians of {TESTRUN_ROUNDS} rounds)"
    );
    show_ratio(
        "Hypothesis's directory database / exampledb's (>= 1: no slower)",
        ratio(
            &medians,
            ("hypothesis-testrun", "test_run_s"),
            ("exampledb-testrun", "test_run_s"),
        ),
    );
    println!();
    Ok(())
}
