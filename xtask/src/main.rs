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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use exampledb_testkit::python::{target_dir, workspace_root, Python};
use exampledb_testkit::REQUIRE_SERVICES_ENV;
use serde_json::{json, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => bench(),
        _ => Err("usage: cargo xtask test [-- <nextest args>] | bench".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

fn run(cmd: &mut Command) -> Result<(), String> {
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

/// Where shared/bench lives: `$EXAMPLEDB_BENCH_DIR`, else `../shared/bench` beside the
/// checkout.
fn anchor_dir() -> PathBuf {
    std::env::var_os("EXAMPLEDB_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/bench"))
}

fn json_line(cmd: &mut Command) -> Result<Value, String> {
    // Written-back pages of the previous run must not be charged to this one.
    let _ = Command::new("sync").status();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("{cmd:?} printed {line:?}: {e}"))
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("bench-data").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ROUNDS: usize = 3;
const METRICS: [&str; 5] = [
    "save_ops_s",
    "fetch_keys_s",
    "fetch_values_s",
    "move_ops_s",
    "delete_ops_s",
];

fn bench() -> Result<(), String> {
    run(cargo().args(["build", "--release", "--quiet", "-p", "exampledb-bench"]))?;
    let bin = target_dir().join("release/exampledb-bench");
    let anchor = anchor_dir().join("anchor_python.py");
    let python = if anchor.exists() {
        Some(Python::ensure()?)
    } else {
        eprintln!(
            "xtask: {} not found; Python ratios are left out",
            anchor.display()
        );
        None
    };
    type Runner<'a> = (&'a str, Box<dyn Fn(&Path) -> Command + 'a>);
    let mut runners: Vec<Runner> = vec![
        (
            "floor-raw-syscalls",
            Box::new(|d| cmd(&bin, &["floor"], Some(d))),
        ),
        ("exampledb-dir", Box::new(|d| cmd(&bin, &["dir"], Some(d)))),
        (
            "exampledb-dir-offload",
            Box::new(|d| cmd_flags(&bin, d, "--offload")),
        ),
        (
            "exampledb-dir-durable",
            Box::new(|d| cmd_flags(&bin, d, "--durable")),
        ),
        (
            "exampledb-memory",
            Box::new(|_| cmd(&bin, &["memory"], None)),
        ),
    ];
    if let Some(py) = &python {
        let (dir_anchor, exe) = (anchor.clone(), py.exe());
        runners.push((
            "python-hypothesis-dir",
            Box::new(move |d| {
                let mut c = Command::new(&exe);
                c.arg(&dir_anchor).arg("dir").arg(d);
                c
            }),
        ));
        let (anchor, exe) = (anchor.clone(), py.exe());
        runners.push((
            "python-hypothesis-memory",
            Box::new(move |_| {
                let mut c = Command::new(&exe);
                c.arg(&anchor).arg("memory");
                c
            }),
        ));
    }
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for (name, make) in &runners {
            let dir = fresh_dir(name);
            let line = json_line(&mut make(&dir))?;
            eprintln!("round {round}: {line}");
            samples.entry(name).or_default().push(line);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let mut medians: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for (name, lines) in &samples {
        let mut row = BTreeMap::new();
        for m in METRICS {
            let mut v: Vec<f64> = lines.iter().filter_map(|l| l[m].as_f64()).collect();
            v.sort_by(f64::total_cmp);
            if let Some(mid) = v.get(v.len() / 2) {
                row.insert(m, *mid);
            }
        }
        println!(
            "{}",
            json!({"backend": name, "median_of": ROUNDS, "figures": row})
        );
        medians.insert(name, row);
    }
    let ratio = |a: &str, b: &str, m: &str| -> Option<f64> {
        Some(medians.get(a)?.get(m)? / medians.get(b)?.get(m)?)
    };
    println!("\nratios (medians of {ROUNDS} interleaved rounds, this run):");
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>8}",
        "", "save", "fetch", "move", "delete"
    );
    let pairs = [
        ("exampledb-dir", "python-hypothesis-dir"),
        ("exampledb-dir", "floor-raw-syscalls"),
        ("exampledb-dir-offload", "exampledb-dir"),
        ("exampledb-dir-durable", "exampledb-dir"),
        ("python-hypothesis-dir", "floor-raw-syscalls"),
        ("exampledb-memory", "python-hypothesis-memory"),
    ];
    for (a, b) in pairs {
        let cells: Vec<String> = ["save_ops_s", "fetch_keys_s", "move_ops_s", "delete_ops_s"]
            .iter()
            .map(|m| ratio(a, b, m).map_or("-".into(), |r| format!("{r:.2}")))
            .collect();
        println!(
            "{:<28} {:>8} {:>8} {:>8} {:>8}",
            format!("{a} / {b}").chars().take(28).collect::<String>(),
            cells[0],
            cells[1],
            cells[2],
            cells[3]
        );
        println!("  ({a} / {b})");
    }
    Ok(())
}

fn cmd(bin: &Path, args: &[&str], dir: Option<&Path>) -> Command {
    let mut c = Command::new(bin);
    c.args(args);
    if let Some(d) = dir {
        c.arg(d);
    }
    c
}

fn cmd_flags(bin: &Path, dir: &Path, flag: &str) -> Command {
    let mut c = Command::new(bin);
    c.arg("dir").arg(dir).arg(flag);
    c
}
