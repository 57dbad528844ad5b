//! `cargo xtask bench [SUITE]...`: the standard workload (shared/bench/WORKLOAD.md),
//! exampledb beside Python Hypothesis and a floor, interleaved over [`ROUNDS`] rounds in
//! one run. Suites: `disk` (directory databases under the target directory), `tmpfs` (the
//! same on `/dev/shm`, where the file system's own cost is small, so per-operation overhead
//! shows), `memory`, `redis` (a fresh local redis-server, with Python's
//! `RedisExampleDatabase` and `redis-benchmark` as the floor), `github` (the artifact
//! backend on the cached 10,000-entry zip that `anchor_python_artifact.py` builds and times
//! Python's `GitHubArtifactDatabase` on, with the zip crate alone as the floor). No suite
//! named: all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use exampledb_testkit::python::{target_dir, workspace_root, Python};
use serde_json::{json, Value};

use crate::{cargo, run};

const ROUNDS: usize = 3;
const METRICS: [&str; 15] = [
    "open_ms",
    "save_ops_s",
    "fetch_keys_s",
    "fetch_values_s",
    "move_ops_s",
    "delete_ops_s",
    "round_trips_per_save",
    "round_trips_per_fetch",
    "round_trips_per_move",
    "round_trips_per_delete",
    "save_32_in_flight_ops_s",
    "sadd_ops_s",
    "sadd_pipelined_32_ops_s",
    "script_ops_s",
    "script_pipelined_32_ops_s",
];

/// A backend of a suite: its label and how to start one run in a fresh data directory.
type Runner<'a> = (&'a str, Box<dyn Fn(&Path) -> Command + 'a>);

/// Where shared/bench lives: `$EXAMPLEDB_BENCH_DIR`, else `../shared/bench` beside the
/// checkout.
fn anchor_dir() -> PathBuf {
    std::env::var_os("EXAMPLEDB_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/bench"))
}

pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    let all = ["disk", "tmpfs", "memory", "redis", "github"];
    let suites: Vec<&str> = if args.is_empty() {
        all.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    if let Some(bad) = suites.iter().find(|s| !all.contains(s)) {
        return Err(format!("unknown bench suite {bad:?}; known: {all:?}"));
    }
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
    let py = python
        .as_ref()
        .map(|p| (p.exe().to_path_buf(), anchor.clone()));
    for suite in suites {
        match suite {
            "disk" => directory_suite("disk", &target_dir().join("bench-data"), &bin, py.clone())?,
            "tmpfs" => {
                let shm = Path::new("/dev/shm");
                if shm.is_dir() {
                    let root = shm.join(format!("exampledb-bench-{}", std::process::id()));
                    let result = directory_suite("tmpfs", &root, &bin, py.clone());
                    let _ = std::fs::remove_dir_all(&root);
                    result?;
                } else {
                    eprintln!("xtask: no /dev/shm here; the tmpfs suite is skipped");
                }
            }
            "redis" => redis_suite(&bin, py.clone())?,
            "github" => github_suite(&bin, python.as_ref())?,
            _ => memory_suite(&bin, py.clone())?,
        }
    }
    Ok(())
}

fn bench_cmd(bin: &Path, args: &[&str], dir: Option<&Path>) -> Command {
    let mut c = Command::new(bin);
    c.args(args);
    if let Some(d) = dir {
        c.arg(d);
    }
    c
}

fn directory_suite(
    label: &str,
    root: &Path,
    bin: &Path,
    python: Option<(PathBuf, PathBuf)>,
) -> Result<(), String> {
    let mut runners: Vec<Runner> = vec![
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
            "exampledb-dir-offload",
            Box::new(|d| bench_cmd(bin, &["dir", &d.to_string_lossy(), "--offload"], None)),
        ),
        (
            "exampledb-dir-durable",
            Box::new(|d| bench_cmd(bin, &["dir", &d.to_string_lossy(), "--durable"], None)),
        ),
    ];
    let tmp = root.join("tmp");
    if let Some((exe, anchor)) = python {
        let tmp = tmp.clone();
        runners.push((
            "python-hypothesis-dir",
            Box::new(move |d| {
                let mut c = Command::new(&exe);
                // Hypothesis writes its temporary file in the system temp directory and
                // renames it; on another file system it falls back to copying. Its temp
                // directory is put on the data's file system so it runs its normal path.
                c.arg(&anchor).arg("dir").arg(d).env("TMPDIR", &tmp);
                c
            }),
        ));
    }
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let medians = run_rounds(label, root, &runners)?;
    print_ratios(
        label,
        &medians,
        &[
            ("exampledb-dir", "python-hypothesis-dir"),
            ("exampledb-dir", "floor-raw-syscalls"),
            ("exampledb-dir", "floor-atomic-syscalls"),
            ("floor-atomic-syscalls", "python-hypothesis-dir"),
            ("exampledb-dir-offload", "exampledb-dir"),
            ("exampledb-dir-durable", "exampledb-dir"),
            ("python-hypothesis-dir", "floor-raw-syscalls"),
        ],
    );
    Ok(())
}

fn memory_suite(bin: &Path, python: Option<(PathBuf, PathBuf)>) -> Result<(), String> {
    let mut runners: Vec<Runner> = vec![(
        "exampledb-memory",
        Box::new(|_| bench_cmd(bin, &["memory"], None)),
    )];
    if let Some((exe, anchor)) = python {
        runners.push((
            "python-hypothesis-memory",
            Box::new(move |_| {
                let mut c = Command::new(&exe);
                c.arg(&anchor).arg("memory");
                c
            }),
        ));
    }
    let medians = run_rounds("memory", &target_dir().join("bench-data"), &runners)?;
    print_ratios(
        "memory",
        &medians,
        &[("exampledb-memory", "python-hypothesis-memory")],
    );
    Ok(())
}

fn redis_suite(bin: &Path, python: Option<(PathBuf, PathBuf)>) -> Result<(), String> {
    let server = exampledb_testkit::services::RedisServer::start(&["--appendonly", "no"])?;
    let port = server.port().to_string();
    let url = server.url();
    let flush = |port: &str| {
        let _ = Command::new("redis-cli")
            .args(["-p", port, "flushall"])
            .stdout(std::process::Stdio::null())
            .status();
    };
    let mut runners: Vec<Runner> = vec![
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
    ];
    if let Some((exe, anchor)) = python {
        let port = port.clone();
        runners.push((
            "python-hypothesis-redis",
            Box::new(move |_| {
                let mut c = Command::new(&exe);
                c.arg(&anchor).arg("redis").arg(&port);
                c
            }),
        ));
    }
    let medians = run_rounds("redis", &target_dir().join("bench-data"), &runners)?;
    print_ratios(
        "redis",
        &medians,
        &[("exampledb-redis", "python-hypothesis-redis")],
    );
    let lines = [
        (
            "exampledb-redis save / redis-benchmark SADD (1 conn)",
            "save_ops_s",
            "sadd_ops_s",
        ),
        (
            "exampledb-redis save, 32 in flight / SADD -P 32",
            "save_32_in_flight_ops_s",
            "sadd_pipelined_32_ops_s",
        ),
        (
            "exampledb-redis save / redis-benchmark EVALSHA write script",
            "save_ops_s",
            "script_ops_s",
        ),
        (
            "exampledb-redis save, 32 in flight / EVALSHA script -P 32",
            "save_32_in_flight_ops_s",
            "script_pipelined_32_ops_s",
        ),
    ];
    for (label, ours, floor) in lines {
        show_ratio(
            label,
            ratio(
                &medians,
                ("exampledb-redis", ours),
                ("floor-redis-benchmark", floor),
            ),
        );
    }
    println!();
    drop(server);
    Ok(())
}

/// Each round: `anchor_python_artifact.py` (with its temporary directory under the bench
/// data, so its cached zip can be found) builds the 10,000-entry zip and times Python's
/// `GitHubArtifactDatabase` on it; then exampledb-github and the zip-crate floor run on
/// that same zip.
fn github_suite(bin: &Path, python: Option<&Python>) -> Result<(), String> {
    let anchor = anchor_dir().join("anchor_python_artifact.py");
    let Some(python) = python.filter(|_| anchor.exists()) else {
        return Err(format!(
            "the github suite needs Python and {}",
            anchor.display()
        ));
    };
    let root = target_dir().join("bench-data").join("github");
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..ROUNDS {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut py = Command::new(python.exe());
        py.arg(&anchor).env("TMPDIR", &root);
        let line = json_line(&mut py)?;
        eprintln!("github round {round}: {line}");
        samples
            .entry("python-hypothesis-github-artifact")
            .or_default()
            .push(line);
        let zip = find_zip(&root)?.ok_or("the anchor left no cached zip")?;
        let zip = zip.to_string_lossy().into_owned();
        for (name, sub) in [
            ("exampledb-github", "github"),
            ("floor-zip-crate", "github-floor"),
        ] {
            let line = json_line(&mut bench_cmd(bin, &[sub, &zip], None))?;
            eprintln!("github round {round}: {line}");
            samples.entry(name).or_default().push(line);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    let m = medians("github", &samples);
    let ours = "exampledb-github";
    let py = "python-hypothesis-github-artifact";
    let floor = "floor-zip-crate";
    println!("\ngithub: ratios of medians ({ROUNDS} interleaved rounds, this run)");
    // Rates divide ours by theirs; times divide theirs by ours: both read as speed-ups.
    let lines = [
        (
            "fetch keys/s: exampledb-github / Python",
            (ours, "fetch_keys_s"),
            (py, "fetch_keys_s"),
        ),
        (
            "open: Python time / exampledb-github time",
            (py, "open_ms"),
            (ours, "open_ms"),
        ),
        (
            "fetch keys/s: exampledb-github / zip-crate floor",
            (ours, "fetch_keys_s"),
            (floor, "fetch_keys_s"),
        ),
        (
            "open: floor time / exampledb-github time",
            (floor, "open_ms"),
            (ours, "open_ms"),
        ),
    ];
    for (label, a, b) in lines {
        show_ratio(label, ratio(&m, a, b));
    }
    println!();
    Ok(())
}

/// `a`'s median of a metric over `b`'s, each given as (backend, metric).
fn ratio(medians: &Medians, a: (&str, &str), b: (&str, &str)) -> Option<f64> {
    let get = |(backend, metric): (&str, &str)| medians.get(backend)?.get(metric).copied();
    Some(get(a)? / get(b)?)
}

/// One labelled ratio line; `-` when a figure is missing.
fn show_ratio(label: &str, r: Option<f64>) {
    match r {
        Some(r) => println!("{label:<60} {r:>7.2}"),
        None => println!("{label:<60} {:>7}", "-"),
    }
}

/// The first `*.zip` under `dir`.
fn find_zip(dir: &Path) -> Result<Option<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_zip(&path)? {
                return Ok(Some(found));
            }
        } else if path.extension().is_some_and(|e| e == "zip") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

type Medians = BTreeMap<String, BTreeMap<&'static str, f64>>;

/// Runs every runner once per round, in order, each in a fresh directory under `root`
/// after a `sync`; prints each run and the medians, one JSON line per backend.
fn run_rounds(suite: &str, root: &Path, runners: &[Runner]) -> Result<Medians, String> {
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for (name, make) in runners {
            let dir = root.join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let line = json_line(&mut make(&dir))?;
            eprintln!("{suite} round {round}: {line}");
            samples.entry(name).or_default().push(line);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(medians(suite, &samples))
}

/// The median of every metric per backend, printed as one JSON line per backend.
fn medians(suite: &str, samples: &BTreeMap<&str, Vec<Value>>) -> Medians {
    let mut medians = Medians::new();
    for (name, lines) in samples {
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
            json!({"suite": suite, "backend": name, "median_of": ROUNDS, "figures": row})
        );
        medians.insert(name.to_string(), row);
    }
    medians
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

fn print_ratios(suite: &str, medians: &Medians, pairs: &[(&str, &str)]) {
    println!("\n{suite}: ratios of medians ({ROUNDS} interleaved rounds, this run)");
    println!(
        "{:<48} {:>7} {:>7} {:>7} {:>7}",
        "", "save", "fetch", "move", "delete"
    );
    for (a, b) in pairs {
        let cells: Vec<String> = ["save_ops_s", "fetch_keys_s", "move_ops_s", "delete_ops_s"]
            .iter()
            .map(|m| ratio(medians, (a, m), (b, m)).map_or("-".into(), |r| format!("{r:.2}")))
            .collect();
        println!(
            "{:<48} {:>7} {:>7} {:>7} {:>7}",
            format!("{a} / {b}"),
            cells[0],
            cells[1],
            cells[2],
            cells[3]
        );
    }
    println!();
}
