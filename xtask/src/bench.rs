//! `cargo xtask bench [SUITE]...`: the standard workload (shared/bench/WORKLOAD.md),
//! exampledb beside Python Hypothesis and a floor, interleaved over [`ROUNDS`] rounds in
//! one run. Suites: `disk` (directory databases under the target directory), `tmpfs` (the
//! same on `/dev/shm`, where the file system's own cost is small, so per-operation overhead
//! shows), `memory`, `redis` (a fresh local redis-server, with Python's
//! `RedisExampleDatabase` and `redis-benchmark` as the floor), `github` (the artifact
//! backend on the cached 10,000-entry zip that `anchor_python_artifact.py` builds and times
//! Python's `GitHubArtifactDatabase` on, with the zip crate alone as the floor). No suite
//! named: all of those. `s3` runs only when named (about 3.5 minutes, and the first run
//! installs `s3s-fs`, which builds for several minutes): the S3 backend beside the boto3
//! database of `anchor_python_s3.py` on two servers, moto and `s3s-fs`; see [`s3_suite`].
//! `dynamodb` too (about 2 minutes on moto): the DynamoDB backend beside the boto3
//! database of `anchor_python_dynamodb.py`; see [`dynamodb_suite`]. `cp` too (about 3
//! minutes, and it installs `s3s-fs` like `s3`): `exampledb cp` from a directory into S3
//! and Redis beside `aws s3 sync` and a Python loop over Hypothesis's databases; see
//! [`cp`]. `python` too (a release build of the Python package, then a few minutes): the
//! package from Python beside Hypothesis's directory and Redis databases; see [`python`].
//! `proptest` too (under a minute): exampledb-proptest per call beside proptest's own
//! regression files and the databases awaited directly; see [`proptest`].

mod cp;
mod proptest;
mod python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use exampledb_testkit::python::{target_dir, workspace_root, Python};
use exampledb_testkit::services::{MotoServer, S3sFsServer};
use serde_json::{json, Value};

use crate::{cargo, run};

const ROUNDS: usize = 3;
const METRICS: &[&str] = &[
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
    "sadd_ops_s",
    "sadd_pipelined_32_ops_s",
    "script_ops_s",
    "script_pipelined_32_ops_s",
    "requests_per_save",
    "requests_per_fetch",
    "requests_per_move",
    "requests_per_delete",
    "save_32_in_flight_ops_s",
    "requests_per_save_32_in_flight",
    "cpu_ms_per_save",
    "cpu_ms_per_fetch",
    "cpu_ms_per_move",
    "cpu_ms_per_delete",
    "cpu_ms_per_save_32_in_flight",
    "test_run_s",
    "load_ops_s",
    "replay_ops_s",
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
    let default = ["disk", "tmpfs", "memory", "redis", "github"];
    let suites: Vec<&str> = if args.is_empty() {
        default.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let only_when_named = [S3.name, DYNAMODB.name, "cp", "python", "proptest"];
    if let Some(bad) = suites
        .iter()
        .find(|s| !default.contains(s) && !only_when_named.contains(s))
    {
        return Err(format!(
            "unknown bench suite {bad:?}; known: {default:?} (the default) and {only_when_named:?} (only when named)"
        ));
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
            "s3" => s3_suite(&bin, python.as_ref())?,
            "dynamodb" => dynamodb_suite(&bin, python.as_ref())?,
            "cp" => cp::cp_suite(&bin, python.as_ref())?,
            "python" => python::python_suite(&bin, &Python::ensure()?)?,
            "proptest" => proptest::proptest_suite(&bin)?,
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

/// Python and the peer's `script` in shared/bench, which `suite` cannot run without.
fn peer_script<'p>(
    suite: &str,
    script: &str,
    python: Option<&'p Python>,
) -> Result<(&'p Python, PathBuf), String> {
    let anchor = anchor_dir().join(script);
    match python.filter(|_| anchor.exists()) {
        Some(python) => Ok((python, anchor)),
        None => Err(format!(
            "the {suite} suite needs Python and {}",
            anchor.display()
        )),
    }
}

/// Each round: `anchor_python_artifact.py` (with its temporary directory under the bench
/// data, so its cached zip can be found) builds the 10,000-entry zip and times Python's
/// `GitHubArtifactDatabase` on it; then exampledb-github and the zip-crate floor run on
/// that same zip.
fn github_suite(bin: &Path, python: Option<&Python>) -> Result<(), String> {
    let (python, anchor) = peer_script("github", "anchor_python_artifact.py", python)?;
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
    let m = medians("github", &samples, ROUNDS);
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

/// The version of `s3s-fs` the `s3` suite installs: the newest that builds with the
/// workspace's Rust.
const S3S_FS_VERSION: &str = "0.14.1";
/// Keys of the workload (of 100) each server's runs use, peer and exampledb alike. The
/// peer reads values one GetObject at a time: on moto (~300 requests/s here) a key costs
/// it ~4.5 s per run, on `s3s-fs` (30-45 ms per GetObject) ~40 s.
const S3_SERVERS: [(&str, usize); 2] = [("moto", 3), ("s3s-fs", 1)];
/// Keys of the workload (of 100) the `dynamodb` suite's runs use, peer and exampledb
/// alike: moto answers ~120 DynamoDB requests/s here and the peer sends 310 per key (100
/// saves, 10 fetches, 50 moves of 2, 100 deletes), ~3.5 s per key and run.
const DYNAMODB_KEYS: usize = 3;
/// The credentials the AWS suites' clients sign with (moto takes any; `s3s-fs` checks
/// these).
const AWS_ACCESS_KEY: &str = "exampledb-bench";
const AWS_SECRET_KEY: &str = "exampledb-bench-secret";

/// `s3s-fs` under the target directory, installed there first when missing (a fresh
/// machine: `cargo install --locked`, minutes, once).
fn s3s_fs() -> Result<PathBuf, String> {
    let root = target_dir().join("s3s-fs");
    let bin = root.join("bin").join("s3s-fs");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(S3S_FS_VERSION));
    if !installed {
        eprintln!(
            "xtask: s3s-fs {S3S_FS_VERSION} is not under {}: installing it with cargo install (it builds for several minutes, once)",
            root.display()
        );
        run(cargo()
            .args(["install", "--locked", "--force", "--root"])
            .arg(&root)
            .args([
                "s3s-fs",
                "--version",
                S3S_FS_VERSION,
                "--features",
                "binary",
            ])
            .arg("--target-dir")
            .arg(target_dir().join("s3s-fs-build")))?;
    }
    Ok(bin)
}

/// Values per key in the workload (shared/bench/WORKLOAD.md).
const V: f64 = 100.0;

/// What tells the AWS suites (`s3`, `dynamodb`) apart. Each runs, on a server started
/// fresh for it, [`ROUNDS`] interleaved rounds of the peer (a boto3 `ExampleDatabase`
/// from shared/bench, one request at a time), the exampledb backend and the floor (the
/// AWS SDK alone, sending the same requests on precomputed names), each run in a store
/// of its own (a bucket, a table) made just before it, on the same first keys of the
/// workload; then the medians against the targets of the suite's issue.
struct AwsSuite {
    /// The suite, as `cargo xtask bench` names it.
    name: &'static str,
    /// The issue whose targets the figures are held against.
    issue: u32,
    /// The peer: its script in shared/bench and its label.
    peer: (&'static str, &'static str),
    /// exampledb's backend and the floor: (label, `exampledb-bench` subcommand).
    ours: (&'static str, &'static str),
    floor: (&'static str, &'static str),
    /// The `exampledb-bench` subcommand making one run's store: `SUB ENDPOINT NAME`.
    make_store: &'static str,
    /// The runs' arguments between ENDPOINT NAME and KEYS.
    store_args: &'static [&'static str],
    /// The least ours / peer the issue asks of the save, fetch, move and delete rates.
    rate_targets: [Option<f64>; 4],
    /// Requests per operation allowed, per phase: (phase, budget, what they are).
    budgets: &'static [(&'static str, f64, &'static str)],
    /// Where the budgets are written down.
    budget_source: &'static str,
}

/// The `s3` suite: exampledb-s3 beside `anchor_python_s3.py` and aws-sdk-s3 sending
/// exampledb-s3's requests, on each server of [`S3_SERVERS`].
const S3: AwsSuite = AwsSuite {
    name: "s3",
    issue: 12,
    peer: ("anchor_python_s3.py", "python-boto3-s3"),
    ours: ("exampledb-s3", "s3"),
    floor: ("floor-aws-sdk", "s3-floor"),
    make_store: "s3-bucket",
    store_args: &["bench/"],
    rate_targets: [Some(1.5), Some(4.0), None, Some(1.5)],
    budgets: &[
        (
            "save",
            1.0 + 1.0 / V,
            "PutObject + the key's meta-keys entry once: 1 + 1/100 values",
        ),
        ("fetch", 1.0 + V, "ListObjectsV2 + a GetObject per value"),
        (
            "move",
            2.0 + 2.0 / V,
            "CopyObject + DeleteObject + dest's meta-keys entry once: 2 + 1/50",
        ),
        ("delete", 1.0, "DeleteObject"),
        ("save_32_in_flight", 1.0 + 1.0 / V, "as save"),
    ],
    budget_source: "exampledb-s3's docs",
};

/// The `dynamodb` suite: exampledb-dynamodb beside `anchor_python_dynamodb.py` and
/// aws-sdk-dynamodb sending the peer's requests (PutItem, Query, DeleteItem; a move is
/// DeleteItem + PutItem, Hypothesis's default), on moto, [`DYNAMODB_KEYS`] keys per run.
const DYNAMODB: AwsSuite = AwsSuite {
    name: "dynamodb",
    issue: 13,
    peer: ("anchor_python_dynamodb.py", "python-boto3-dynamodb"),
    ours: ("exampledb-dynamodb", "dynamodb"),
    floor: ("floor-aws-sdk-dynamodb", "dynamodb-floor"),
    make_store: "dynamodb-table",
    store_args: &[],
    rate_targets: [None; 4],
    budgets: &[
        ("save", 1.0, "PutItem"),
        (
            "fetch",
            1.0,
            "Query, one per 1 MB of the key's items (under 100 KB here)",
        ),
        ("move", 1.0, "TransactWriteItems (delete src + put dest)"),
        ("delete", 1.0, "DeleteItem"),
        ("save_32_in_flight", 1.0, "as save"),
    ],
    budget_source: "issue 13",
};

/// The `s3` suite ([`S3`]): on each server of [`S3_SERVERS`], started fresh for the
/// suite, the rounds of [`aws_server_rounds`] and their figures.
fn s3_suite(bin: &Path, python: Option<&Python>) -> Result<(), String> {
    let (python, anchor) = peer_script(S3.name, S3.peer.0, python)?;
    let s3s_bin = s3s_fs()?;
    // s3s-fs keeps objects as files: on tmpfs where there is one, so that no disk (and no
    // other process's writeback) enters the figures; real S3 has no local disk either.
    let shm = Path::new("/dev/shm");
    let data = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        target_dir().join("bench-data")
    };
    for (server, keys) in S3_SERVERS {
        let root = data.join(format!("exampledb-bench-s3s-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let result = match server {
            "moto" => {
                let moto = MotoServer::start(python)?;
                aws_server_rounds(&S3, server, &moto.endpoint(), keys, bin, python, &anchor)
            }
            _ => {
                let s3s = S3sFsServer::start(&s3s_bin, &root, AWS_ACCESS_KEY, AWS_SECRET_KEY)?;
                aws_server_rounds(&S3, server, &s3s.endpoint(), keys, bin, python, &anchor)
            }
        };
        let _ = std::fs::remove_dir_all(&root);
        print_aws(&S3, server, keys, &result?);
    }
    Ok(())
}

/// The `dynamodb` suite ([`DYNAMODB`]): on a moto server started fresh for it (moto
/// serves DynamoDB and its streams), the rounds of [`aws_server_rounds`] on
/// [`DYNAMODB_KEYS`] keys, each run on a table of its own made as `ensure_table` makes
/// it (the peer's too), and their figures.
fn dynamodb_suite(bin: &Path, python: Option<&Python>) -> Result<(), String> {
    let (python, anchor) = peer_script(DYNAMODB.name, DYNAMODB.peer.0, python)?;
    let moto = MotoServer::start(python)?;
    let medians = aws_server_rounds(
        &DYNAMODB,
        "moto",
        &moto.endpoint(),
        DYNAMODB_KEYS,
        bin,
        python,
        &anchor,
    )?;
    drop(moto);
    print_aws(&DYNAMODB, "moto", DYNAMODB_KEYS, &medians);
    Ok(())
}

/// [`ROUNDS`] interleaved rounds of `suite`'s peer, exampledb backend and floor on the
/// server at `endpoint`, each run on a store of its own made just before it, on the
/// workload's first `keys` keys; the medians.
fn aws_server_rounds(
    suite: &AwsSuite,
    server: &str,
    endpoint: &str,
    keys: usize,
    bin: &Path,
    python: &Python,
    anchor: &Path,
) -> Result<Medians, String> {
    let label = format!("{}-{server}", suite.name);
    eprintln!(
        "xtask: {} suite on {server} at {endpoint}: {keys} of the workload's 100 keys per run, {ROUNDS} rounds",
        suite.name
    );
    let with_credentials = |mut c: Command| {
        c.env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY);
        c
    };
    let keys_arg = keys.to_string();
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for (name, sub) in [(suite.peer.1, "peer"), suite.ours, suite.floor] {
            let store = format!("exampledb-bench-{}-{sub}-{round}", std::process::id());
            json_line_unsynced(&mut with_credentials(bench_cmd(
                bin,
                &[suite.make_store, endpoint, &store],
                None,
            )))?;
            let mut args = vec![endpoint, store.as_str()];
            args.extend_from_slice(suite.store_args);
            args.push(&keys_arg);
            let cmd = if sub == "peer" {
                let mut c = Command::new(python.exe());
                c.arg(anchor).args(args);
                c
            } else {
                let mut c = Command::new(bin);
                c.arg(sub).args(args);
                c
            };
            let started = std::time::Instant::now();
            let mut line = json_line_unsynced(&mut with_credentials(cmd))?;
            eprintln!(
                "{label} round {round} ({:.1} s): {line}",
                started.elapsed().as_secs_f64()
            );
            flatten_cpu(&mut line);
            samples.entry(name).or_default().push(line);
        }
    }
    Ok(medians(&label, &samples, ROUNDS))
}

/// `client_cpu_ms_per_op: {"save": x, ...}` as flat `cpu_ms_per_save: x`, ... (medians
/// are taken of flat figures).
fn flatten_cpu(line: &mut Value) {
    let cpu = line
        .get("client_cpu_ms_per_op")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(obj) = line.as_object_mut() {
        for (phase, ms) in cpu {
            obj.insert(format!("cpu_ms_per_{phase}"), ms);
        }
    }
}

/// One AWS suite's figures on one server against its issue's targets: rates and CPU per
/// operation beside the peer's and the floor's, requests per operation beside the
/// budget, the request rate the server sustained, and a verdict.
fn print_aws(suite: &AwsSuite, server: &str, keys: usize, m: &Medians) {
    let (ours_name, peer_name, floor_name) = (suite.ours.0, suite.peer.1, suite.floor.0);
    let get = |backend: &str, metric: &str| m.get(backend)?.get(metric).copied();
    let num = |v: Option<f64>| match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
        None => "-".to_string(),
    };
    let plural = if keys == 1 { "key" } else { "keys" };
    println!(
        "\n{} on {server}: the workload's first {keys} {plural} (of 100), medians of {ROUNDS} interleaved rounds, this run",
        suite.name
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9} {:>8} {:>4} {:>10} {:>10}",
        "figure",
        "exampledb",
        "peer",
        "SDK floor",
        "ours/peer",
        "target",
        "met",
        "ours/floor",
        "floor/peer"
    );
    // Whether ours / peer meets the target of the row, when it has one.
    let row = |label: &str, metric: &str, target: Option<(bool, f64)>| -> Option<bool> {
        let r = ratio(m, (ours_name, metric), (peer_name, metric));
        let (target_text, ok) = match target {
            // (true, x): at least x; (false, x): at most x.
            Some((true, x)) => (format!(">= {x}"), r.map(|r| r >= x)),
            Some((false, x)) => (format!("<= {x}"), r.map(|r| r <= x)),
            None => ("-".to_string(), None),
        };
        let two = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
        println!(
            "{label:<28} {:>10} {:>10} {:>10} {:>9} {target_text:>8} {:>4} {:>10} {:>10}",
            num(get(ours_name, metric)),
            num(get(peer_name, metric)),
            num(get(floor_name, metric)),
            two(r),
            match ok {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            },
            two(ratio(m, (ours_name, metric), (floor_name, metric))),
            two(ratio(m, (floor_name, metric), (peer_name, metric))),
        );
        ok
    };
    let rates = [
        ("save ops/s", "save_ops_s"),
        ("fetch keys/s", "fetch_keys_s"),
        ("move ops/s", "move_ops_s"),
        ("delete ops/s", "delete_ops_s"),
    ];
    let mut rates_met = Vec::new();
    for ((label, metric), target) in rates.into_iter().zip(suite.rate_targets) {
        rates_met.push(row(label, metric, target.map(|x| (true, x))));
    }
    let mut cpu_met = Vec::new();
    for phase in ["save", "fetch", "move", "delete"] {
        cpu_met.push(row(
            &format!("client CPU ms per {phase}"),
            &format!("cpu_ms_per_{phase}"),
            Some((false, 0.1)),
        ));
    }
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9}  budget ({})",
        "requests per operation", "exampledb", "peer", "SDK floor", "budget", suite.budget_source
    );
    let mut budgets_met = Vec::new();
    for &(phase, budget, why) in suite.budgets {
        let metric = format!("requests_per_{phase}");
        let ours = get(ours_name, &metric);
        let within = ours.map(|o| o <= budget + 1e-9);
        budgets_met.push(within);
        let verdict = match within {
            Some(true) => "within",
            Some(false) => "OVER",
            None => "-",
        };
        println!(
            "{:<28} {:>10} {:>10} {:>10} {budget:>9.2}  {verdict}: {why}",
            format!("  {phase}"),
            num(ours),
            num(get(peer_name, &metric)),
            num(get(floor_name, &metric)),
        );
    }
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9}  (/ the peer's sequential save; CPU {} ms per save)",
        "save, 32 in flight, ops/s",
        num(get(ours_name, "save_32_in_flight_ops_s")),
        num(get(peer_name, "save_ops_s")),
        "",
        ratio(
            m,
            (ours_name, "save_32_in_flight_ops_s"),
            (peer_name, "save_ops_s")
        )
        .map_or("-".to_string(), |r| format!("{r:.2}")),
        num(get(ours_name, "cpu_ms_per_save_32_in_flight")),
    );
    // What the server sustained (rate x requests per operation): a bound for every client.
    println!("server requests/s per phase (exampledb / peer / SDK floor):");
    for phase in ["save", "fetch", "move", "delete"] {
        let rate = if phase == "fetch" {
            "fetch_keys_s".to_string()
        } else {
            format!("{phase}_ops_s")
        };
        let rps = |b: &str| {
            let per = get(b, &format!("requests_per_{phase}"));
            get(b, &rate)
                .zip(per)
                .map_or("-".to_string(), |(r, per)| format!("{:.0}", r * per))
        };
        println!(
            "  {phase:<8} {:>6} / {:>6} / {:>6}",
            rps(ours_name),
            rps(peer_name),
            rps(floor_name)
        );
    }
    // How many of the targets' cells are met, of those with figures.
    let tally = |met: &[Option<bool>]| {
        let known: Vec<bool> = met.iter().flatten().copied().collect();
        let yes = known.iter().filter(|&&ok| ok).count();
        format!("{yes} of {}", known.len())
    };
    println!(
        "against the targets of issue {}: requests per operation within budget: {}; client CPU per operation <= 1/10 of the peer's: {} phases{}",
        suite.issue,
        tally(&budgets_met),
        tally(&cpu_met),
        if suite.rate_targets.iter().any(Option::is_some) {
            format!("; rates at their targets: {}", tally(&rates_met))
        } else {
            String::new()
        }
    );
    println!();
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
    run_rounds_n(suite, root, runners, ROUNDS)
}

/// [`run_rounds`] with `rounds` rounds.
fn run_rounds_n(
    suite: &str,
    root: &Path,
    runners: &[Runner],
    rounds: usize,
) -> Result<Medians, String> {
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for round in 0..rounds {
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
    Ok(medians(suite, &samples, rounds))
}

/// The median of every metric per backend, printed as one JSON line per backend.
fn medians(suite: &str, samples: &BTreeMap<&str, Vec<Value>>, rounds: usize) -> Medians {
    let mut medians = Medians::new();
    for (name, lines) in samples {
        let mut row = BTreeMap::new();
        for &m in METRICS {
            let mut v: Vec<f64> = lines.iter().filter_map(|l| l[m].as_f64()).collect();
            v.sort_by(f64::total_cmp);
            if let Some(mid) = v.get(v.len() / 2) {
                row.insert(m, *mid);
            }
        }
        println!(
            "{}",
            json!({"suite": suite, "backend": name, "median_of": rounds, "figures": row})
        );
        medians.insert(name.to_string(), row);
    }
    medians
}

fn json_line(cmd: &mut Command) -> Result<Value, String> {
    // Written-back pages of the previous run must not be charged to this one.
    let _ = Command::new("sync").status();
    json_line_unsynced(cmd)
}

/// [`json_line`] without the `sync` first: for runs that write nothing to disk (the `s3`
/// suite's servers keep their data in memory or on tmpfs), where a `sync` would only
/// wait for other processes' writes (minutes, on a shared machine).
fn json_line_unsynced(cmd: &mut Command) -> Result<Value, String> {
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
