//! `cargo xtask bench cp`: `exampledb cp` of the standard workload's 10,000 values from a
//! directory database (Hypothesis's layout) into S3 and into Redis, beside what a
//! Hypothesis user has without it and a floor, over [`ROUNDS`] interleaved rounds in one
//! run, each into an empty destination:
//!
//! - **S3** (an `s3s-fs` server on tmpfs, answering in tens of milliseconds as S3 does):
//!   `aws s3 sync` (awscli from the venv) of the same directory, and the floor: every file
//!   put by aws-sdk-s3 alone, 64 at once (`exampledb-bench cp-floor-s3`).
//! - **Redis** (a fresh local `redis-server`): a Python loop over Hypothesis's own
//!   `DirectoryBasedExampleDatabase` and `RedisExampleDatabase` ([`PYTHON_LOOP`]), and the
//!   floor: file reads and SADD over one plain connection, 64 per pipelined batch
//!   (`exampledb-bench cp-floor-redis`).
//!
//! Each command is timed from start to exit (process start-up included: what a user
//! waits for). After each copy the destination is listed with `exampledb ls --json` and
//! must hold every value, so a contender that copied less fails the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use exampledb_testkit::python::{target_dir, Python};
use exampledb_testkit::services::{RedisServer, S3sFsServer};
use serde_json::Value;

use super::{s3s_fs, show_ratio, AWS_ACCESS_KEY, AWS_SECRET_KEY, ROUNDS};
use crate::{cargo, run};

/// The workload's keys and values (shared/bench/WORKLOAD.md).
const KEYS: u64 = 100;
const VALUES: u64 = 10_000;
/// The prefix every S3 contender copies under.
const S3_PREFIX: &str = "bench/";
/// What a Python Hypothesis user writes to copy a directory database into Redis:
/// `python -c PYTHON_LOOP SRC PORT`. The directory database lists its keys in its
/// meta-keys entries (`_metakeys_name`, Hypothesis's own name for them).
const PYTHON_LOOP: &str = r#"
import sys, redis
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.extra.redis import RedisExampleDatabase
src = DirectoryBasedExampleDatabase(sys.argv[1])
dst = RedisExampleDatabase(redis.Redis(port=int(sys.argv[2])))
n = 0
for key in src.fetch(src._metakeys_name):
    for value in src.fetch(key):
        dst.save(key, value)
        n += 1
print(n)
"#;

/// Seconds per run, per contender.
type Samples = BTreeMap<&'static str, Vec<f64>>;

/// Runs `cmd`, which must succeed; its wall time in seconds and its stdout.
fn timed(cmd: &mut Command) -> Result<(f64, String), String> {
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((seconds, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Keys and values `exampledb ls DB --json` lists.
fn listed(exampledb: &Path, db: &str) -> Result<(u64, u64), String> {
    let (_, text) = timed(
        Command::new(exampledb)
            .args(["ls", "--json", db])
            .env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY),
    )?;
    let rows: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("exampledb ls --json {db} printed {text:?}: {e}"))?;
    let rows = rows.as_array().ok_or("exampledb ls --json: not an array")?;
    let values = rows.iter().filter_map(|r| r["values"].as_u64()).sum();
    Ok((rows.len() as u64, values))
}

/// Fails unless `db` lists the whole workload after `who` copied it.
fn check_complete(exampledb: &Path, db: &str, who: &str) -> Result<(), String> {
    let (keys, values) = listed(exampledb, db)?;
    if (keys, values) != (KEYS, VALUES) {
        return Err(format!(
            "after {who}, the destination lists {keys} key(s) and {values} value(s), not {KEYS} and {VALUES}"
        ));
    }
    Ok(())
}

/// The `cp` suite; see the module docs.
pub(super) fn cp_suite(bench_bin: &Path, python: Option<&Python>) -> Result<(), String> {
    let python = python.ok_or("the cp suite needs Python (Hypothesis, redis, awscli)")?;
    let aws = python
        .exe()
        .parent()
        .map(|bin| bin.join("aws"))
        .filter(|aws| aws.exists())
        .ok_or("the venv has no aws (awscli)")?;
    let s3s_bin = s3s_fs()?;
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "exampledb-cli",
        "--features",
        "s3,redis",
    ]))?;
    let exampledb = target_dir().join("release/exampledb");
    let shm = Path::new("/dev/shm");
    let scratch = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        target_dir().join("bench-data")
    };
    let pid = std::process::id();
    let source = scratch.join(format!("exampledb-bench-cp-source-{pid}"));
    let s3_root = scratch.join(format!("exampledb-bench-cp-s3s-fs-{pid}"));
    let result = (|| -> Result<Samples, String> {
        let _ = std::fs::remove_dir_all(&source);
        timed(Command::new(bench_bin).arg("cp-source").arg(&source))?;
        let src = source.to_string_lossy().into_owned();
        let s3s = S3sFsServer::start(&s3s_bin, &s3_root, AWS_ACCESS_KEY, AWS_SECRET_KEY)?;
        let redis = RedisServer::start(&["--appendonly", "no", "--save", ""])?;
        let mut samples = Samples::new();
        for round in 0..ROUNDS {
            s3_round(
                round,
                &src,
                &s3s.endpoint(),
                bench_bin,
                &exampledb,
                &aws,
                &mut samples,
            )?;
            redis_round(
                round,
                &src,
                &redis,
                bench_bin,
                &exampledb,
                python,
                &mut samples,
            )?;
        }
        Ok(samples)
    })();
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&s3_root);
    print(&result?);
    Ok(())
}

/// One round into S3: each contender into a new bucket, checked complete.
fn s3_round(
    round: usize,
    src: &str,
    endpoint: &str,
    bench_bin: &Path,
    exampledb: &Path,
    aws: &Path,
    samples: &mut Samples,
) -> Result<(), String> {
    let with_credentials = |c: &mut Command| {
        c.env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1");
    };
    for name in ["aws-s3-sync", "exampledb-cp-s3", "floor-aws-sdk-put"] {
        let bucket = format!("exampledb-bench-cp-{}-{name}-{round}", std::process::id());
        let mut make = Command::new(bench_bin);
        make.args(["s3-bucket", endpoint, &bucket]);
        with_credentials(&mut make);
        timed(&mut make)?;
        let url = format!("s3://{bucket}/{S3_PREFIX}?endpoint={endpoint}&region=us-east-1");
        let mut cmd = match name {
            "aws-s3-sync" => {
                let mut c = Command::new(aws);
                c.args([
                    "s3",
                    "sync",
                    "--only-show-errors",
                    "--endpoint-url",
                    endpoint,
                    src,
                ])
                .arg(format!("s3://{bucket}/{S3_PREFIX}"));
                c
            }
            "exampledb-cp-s3" => {
                let mut c = Command::new(exampledb);
                c.args(["cp", src, &url]);
                c
            }
            _ => {
                let mut c = Command::new(bench_bin);
                c.args(["cp-floor-s3", src, endpoint, &bucket, S3_PREFIX]);
                c
            }
        };
        with_credentials(&mut cmd);
        let (seconds, _) = timed(&mut cmd)?;
        eprintln!("cp round {round}: {name} {seconds:.2} s");
        check_complete(exampledb, &url, name)?;
        samples.entry(name).or_default().push(seconds);
    }
    Ok(())
}

/// One round into Redis: each contender into the flushed server, checked complete.
fn redis_round(
    round: usize,
    src: &str,
    redis: &RedisServer,
    bench_bin: &Path,
    exampledb: &Path,
    python: &Python,
    samples: &mut Samples,
) -> Result<(), String> {
    let port = redis.port().to_string();
    let url = redis.url();
    for name in [
        "python-hypothesis-loop",
        "exampledb-cp-redis",
        "floor-sadd-pipelined",
    ] {
        timed(Command::new("redis-cli").args(["-p", &port, "flushall"]))?;
        let mut cmd = match name {
            "python-hypothesis-loop" => {
                let mut c = Command::new(python.exe());
                c.args(["-c", PYTHON_LOOP, src, &port]);
                c
            }
            "exampledb-cp-redis" => {
                let mut c = Command::new(exampledb);
                c.args(["cp", src, &url]);
                c
            }
            _ => {
                let mut c = Command::new(bench_bin);
                c.args(["cp-floor-redis", src, &port]);
                c
            }
        };
        let (seconds, stdout) = timed(&mut cmd)?;
        eprintln!("cp round {round}: {name} {seconds:.2} s");
        if name == "floor-sadd-pipelined" {
            // The floor's sets are named after key directories: count what it reports.
            let line: Value = serde_json::from_str(stdout.trim())
                .map_err(|e| format!("cp-floor-redis printed {stdout:?}: {e}"))?;
            if line["values"].as_u64() != Some(VALUES) {
                return Err(format!(
                    "cp-floor-redis copied {stdout:?}, not {VALUES} values"
                ));
            }
        } else {
            check_complete(exampledb, &url, name)?;
        }
        samples.entry(name).or_default().push(seconds);
    }
    Ok(())
}

/// The medians and the ratios the issue asks for.
fn print(samples: &Samples) {
    let median = |name: &str| -> Option<f64> {
        let mut v = samples.get(name)?.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    println!(
        "\ncp: the workload's {VALUES} values ({KEYS} keys) from a directory into an empty store, medians of {ROUNDS} interleaved rounds, this run"
    );
    println!("{:<26} {:>9} {:>10}", "contender", "seconds", "values/s");
    for name in samples.keys() {
        if let Some(s) = median(name) {
            println!("{name:<26} {s:>9.2} {:>10.0}", VALUES as f64 / s);
        }
    }
    // Speed-ups: the other's time over ours.
    let over = |a: &str, b: &str| Some(median(a)? / median(b)?);
    println!();
    show_ratio(
        "S3: aws s3 sync time / exampledb cp time (target >= 3)",
        over("aws-s3-sync", "exampledb-cp-s3"),
    );
    show_ratio(
        "S3: floor time / exampledb cp time",
        over("floor-aws-sdk-put", "exampledb-cp-s3"),
    );
    show_ratio(
        "Redis: Python loop time / exampledb cp time (target >= 5)",
        over("python-hypothesis-loop", "exampledb-cp-redis"),
    );
    show_ratio(
        "Redis: floor time / exampledb cp time",
        over("floor-sadd-pipelined", "exampledb-cp-redis"),
    );
    println!();
}
