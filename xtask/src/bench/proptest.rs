//! `cargo xtask bench proptest`: what proptest's failure persistence costs per call, over
//! [`ROUNDS`] interleaved rounds in one run (`exampledb-bench proptest ...`): every test
//! loads its file's seeds (none, mostly), a failing test saves one, the next run loads it
//! back for replay.
//!
//! - `exampledb-proptest` on a directory database (disk, under the target directory) and
//!   on a fresh local `redis-server`;
//! - the peer: proptest's own `FileFailurePersistence` (a file beside each source file,
//!   on the same disk);
//! - the floors: the same fetches and saves awaited on each database directly, keys and
//!   values precomputed (no hand-over between threads, no seed parsing).

use std::path::Path;
use std::process::Stdio;

use exampledb_testkit::python::target_dir;
use exampledb_testkit::services::RedisServer;

use super::{bench_cmd, ratio, run_rounds, Medians, Runner, ROUNDS};

/// The phases, as the figures name them.
const PHASES: [&str; 3] = ["load_ops_s", "save_ops_s", "replay_ops_s"];

pub(crate) fn proptest_suite(bin: &Path) -> Result<(), String> {
    let server = RedisServer::start(&["--appendonly", "no"])?;
    let url = server.url();
    // A fresh key prefix per run.
    let prefix = |tag: &str| {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUN: AtomicUsize = AtomicUsize::new(0);
        format!("{tag}-{}:", RUN.fetch_add(1, Ordering::Relaxed))
    };
    let path = |dir: &Path| dir.display().to_string();
    let runners: Vec<Runner> = vec![
        (
            "exampledb-proptest-dir",
            Box::new(|dir| bench_cmd(bin, &["proptest", "dir", &path(dir)], None)),
        ),
        (
            "proptest-file",
            Box::new(|dir| {
                let mut cmd = bench_cmd(bin, &["proptest", "file", &path(dir)], None);
                // It says "Saving this and future failures in ..." once per file.
                cmd.stderr(Stdio::null());
                cmd
            }),
        ),
        (
            "floor-dir-direct",
            Box::new(|dir| bench_cmd(bin, &["proptest", "floor-dir", &path(dir)], None)),
        ),
        (
            "exampledb-proptest-redis",
            Box::new(|_| bench_cmd(bin, &["proptest", "redis", &url, &prefix("ours")], None)),
        ),
        (
            "floor-redis-direct",
            Box::new(|_| {
                bench_cmd(
                    bin,
                    &["proptest", "floor-redis", &url, &prefix("floor")],
                    None,
                )
            }),
        ),
    ];
    let medians = run_rounds("proptest", &target_dir().join("bench-data"), &runners)?;
    print_proptest_ratios(
        &medians,
        &[
            ("exampledb-proptest-dir", "proptest-file"),
            ("exampledb-proptest-dir", "floor-dir-direct"),
            ("exampledb-proptest-redis", "proptest-file"),
            ("exampledb-proptest-redis", "floor-redis-direct"),
        ],
    );
    drop(server);
    Ok(())
}

fn print_proptest_ratios(medians: &Medians, pairs: &[(&str, &str)]) {
    println!("\nproptest: ratios of medians ({ROUNDS} interleaved rounds, this run)");
    println!("{:<52} {:>7} {:>7} {:>7}", "", "load", "save", "replay");
    for (a, b) in pairs {
        let cells: Vec<String> = PHASES
            .iter()
            .map(|m| ratio(medians, (a, m), (b, m)).map_or("-".into(), |r| format!("{r:.2}")))
            .collect();
        println!(
            "{:<52} {:>7} {:>7} {:>7}",
            format!("{a} / {b}"),
            cells[0],
            cells[1],
            cells[2]
        );
    }
    println!();
}
