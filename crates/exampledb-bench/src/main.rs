//! The standard workload, one JSON line per run, with the keys of
//! `shared/bench/anchor_python.py` so the two can be compared line by line.
//!
//! ```text
//! exampledb-bench memory
//! exampledb-bench dir PATH [--durable] [--offload]
//! exampledb-bench floor PATH      raw file-system calls for the same work, no database
//! exampledb-bench floor-atomic PATH  the least a Hypothesis-compatible directory database
//!                                 must do, as bare system calls (Linux): atomic no-replace
//!                                 writes, meta-keys entries, rmdir attempts on delete
//! exampledb-bench redis URL       the Redis backend; adds round trips per operation and
//!                                 the save rate with 32 operations in flight
//! exampledb-bench redis-floor PORT  redis-benchmark SADD, one connection, plain and -P 32
//! exampledb-bench github ZIP      the GitHub-artifact backend on a cached copy of ZIP:
//!                                 open (first fetch: open + index) and key fetches, with
//!                                 the keys of shared/bench/anchor_python_artifact.py
//! exampledb-bench github-floor ZIP  the zip crate alone on ZIP: parse the central
//!                                 directory, read each key's entries by precomputed index
//! exampledb-bench s3 ENDPOINT BUCKET PREFIX KEYS  the S3 backend on the first KEYS keys
//!                                 (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
//!                                 with requests per operation, client CPU per operation
//!                                 and the save rate with 32 operations in flight
//! exampledb-bench s3-floor ENDPOINT BUCKET PREFIX KEYS  the same requests with
//!                                 aws-sdk-s3 alone on precomputed names (no database)
//! exampledb-bench s3-bucket ENDPOINT BUCKET  creates BUCKET (one per run)
//! exampledb-bench dynamodb ENDPOINT TABLE KEYS  the DynamoDB backend on the first KEYS
//!                                 keys (credentials as for s3), with the same figures
//! exampledb-bench dynamodb-floor ENDPOINT TABLE KEYS  the requests of the boto3 peer
//!                                 (shared/bench/anchor_python_dynamodb.py) with
//!                                 aws-sdk-dynamodb alone on precomputed keys
//! exampledb-bench dynamodb-table ENDPOINT TABLE  creates TABLE as `ensure_table` does
//!                                 (one per run)
//! exampledb-bench cp-source DIR   the workload's 10,000 values saved into a new
//!                                 directory database at DIR (`cargo xtask bench cp`)
//! exampledb-bench cp-floor-s3 DIR ENDPOINT BUCKET PREFIX  every file under DIR put by
//!                                 aws-sdk-s3 alone, 64 at once
//! exampledb-bench cp-floor-redis DIR PORT  every value file under DIR added by SADD over
//!                                 one plain connection, 64 per pipelined batch
//! exampledb-bench proptest dir PATH | redis URL PREFIX | file PATH | floor-dir PATH | floor-redis URL PREFIX
//!                                 proptest's failure persistence per call (load, save,
//!                                 replay): exampledb-proptest, proptest's own files, and
//!                                 the databases awaited directly (see `proptest.rs`)
//! ```
//!
//! Every run of the workload also reports the process's CPU time per operation and phase
//! (`client_cpu_ms_per_op`, milliseconds, as `shared/bench/anchor_python_s3.py` prints it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cp;
mod proptest;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use exampledb_core::{
    hypothesis_hash, sub_key, DirectoryDatabase, ExampleDatabase, InMemoryDatabase,
};
use serde_json::{json, Map, Value};

const K: usize = 100;
const V: usize = 100;
const ROUNDS: usize = 10;

/// Seeded: every run writes the same data (K keys of 32 bytes, V values of 1..=1024).
fn workload() -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut bytes = |n: usize| (0..n).map(|_| next() as u8).collect::<Vec<u8>>();
    (0..K)
        .map(|_| {
            let key = bytes(32);
            let values = (0..V)
                .map(|_| {
                    let len =
                        1 + (u64::from_le_bytes(bytes(8).try_into().unwrap()) % 1024) as usize;
                    bytes(len)
                })
                .collect();
            (key, values)
        })
        .collect()
}

/// Operations per second since `started`: whole numbers from 100/s up, two decimals
/// below (S3 fetches run at a few keys per second).
fn rate(ops: usize, started: Instant) -> Value {
    let r = ops as f64 / started.elapsed().as_secs_f64();
    json!(if r >= 100.0 {
        r.round()
    } else {
        (r * 100.0).round() / 100.0
    })
}

/// This process's CPU time (user + system, every thread) in seconds: what Python's
/// `time.process_time()` reads, `CLOCK_PROCESS_CPUTIME_ID`.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> Option<f64> {
    use rustix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Some(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> Option<f64> {
    None
}

/// Requests sent so far, for backends that count them.
type RequestCount<'a> = Option<&'a dyn Fn() -> u64>;

/// One timed phase: its rate, and with it the client's CPU per operation (in
/// `client_cpu_ms_per_op`, milliseconds, as `anchor_python_s3.py` prints it) and, when
/// the backend counts them, requests per operation.
struct Phase<'a> {
    started: Instant,
    cpu: Option<f64>,
    requests: Option<(u64, &'a dyn Fn() -> u64)>,
}

impl<'a> Phase<'a> {
    fn start(requests: RequestCount<'a>) -> Self {
        Phase {
            requests: requests.map(|count| (count(), count)),
            cpu: cpu_seconds(),
            started: Instant::now(),
        }
    }

    /// Records `<name>_ops_s` (or `rate_key`), `requests_per_<name>` and the CPU time.
    fn end(self, out: &mut Map<String, Value>, name: &str, rate_key: &str, ops: usize) {
        let ops_s = rate(ops, self.started);
        let cpu = cpu_seconds().zip(self.cpu).map(|(now, then)| now - then);
        out.insert(rate_key.into(), ops_s);
        if let Some((before, count)) = self.requests {
            let per = (count() - before) as f64 / ops as f64;
            out.insert(
                format!("requests_per_{name}"),
                json!((per * 1000.0).round() / 1000.0),
            );
        }
        if let Some(cpu) = cpu {
            let ms = cpu * 1000.0 / ops as f64;
            let cpus = out
                .entry("client_cpu_ms_per_op")
                .or_insert_with(|| json!({}));
            if let Some(cpus) = cpus.as_object_mut() {
                cpus.insert(name.into(), json!((ms * 1000.0).round() / 1000.0));
            }
        }
    }
}

/// The standard workload on every key.
async fn run(db: &dyn ExampleDatabase) -> Map<String, Value> {
    run_keys(db, &workload(), None).await
}

/// The standard workload on the keys of `data` (the first few of [`workload`]'s, for
/// slow servers; the figures are per operation).
async fn run_keys(
    db: &dyn ExampleDatabase,
    data: &[(Vec<u8>, Vec<Vec<u8>>)],
    requests: RequestCount<'_>,
) -> Map<String, Value> {
    let keys = data.len();
    let mut out = Map::new();
    let p = Phase::start(requests);
    for (k, values) in data {
        for v in values {
            db.save(k, v).await.unwrap();
        }
    }
    p.end(&mut out, "save", "save_ops_s", keys * V);
    let p = Phase::start(requests);
    let t = p.started;
    let mut n = 0;
    for _ in 0..ROUNDS {
        for (k, _) in data {
            n += db.fetch(k).await.unwrap().len();
        }
    }
    assert_eq!(n, ROUNDS * keys * V);
    out.insert("fetch_values_s".into(), rate(n, t));
    p.end(&mut out, "fetch", "fetch_keys_s", ROUNDS * keys);
    let p = Phase::start(requests);
    for (k, values) in data {
        let secondary = sub_key(k, "secondary");
        for v in &values[..V / 2] {
            db.move_value(k, &secondary, v).await.unwrap();
        }
    }
    p.end(&mut out, "move", "move_ops_s", keys * V / 2);
    let p = Phase::start(requests);
    for (k, values) in data {
        let secondary = sub_key(k, "secondary");
        for v in &values[V / 2..] {
            db.delete(k, v).await.unwrap();
        }
        for v in &values[..V / 2] {
            db.delete(&secondary, v).await.unwrap();
        }
    }
    p.end(&mut out, "delete", "delete_ops_s", keys * V);
    for (k, _) in data {
        assert!(db.fetch(k).await.unwrap().is_empty());
        assert!(db.fetch(&sub_key(k, "secondary")).await.unwrap().is_empty());
    }
    out
}

/// The same work as raw system calls on precomputed paths: create+write+close per save,
/// readdir plus open+read+close per value (one read), rename per move, unlink per delete. Nothing a
/// database could skip, so no database can beat it by much.
fn floor(root: &Path) -> Map<String, Value> {
    let data = workload();
    let paths: Vec<_> = data
        .iter()
        .map(|(k, values)| {
            let dir = root.join(hypothesis_hash(k));
            let sec = root.join(hypothesis_hash(&sub_key(k, "secondary")));
            let names: Vec<String> = values.iter().map(|v| hypothesis_hash(v)).collect();
            (dir, sec, names)
        })
        .collect();
    let mut out = Map::new();
    let t = Instant::now();
    for ((dir, _, names), (_, values)) in paths.iter().zip(&data) {
        fs::create_dir_all(dir).unwrap();
        for (name, v) in names.iter().zip(values) {
            fs::File::create(dir.join(name))
                .unwrap()
                .write_all(v)
                .unwrap();
        }
    }
    out.insert("save_ops_s".into(), rate(K * V, t));
    floor_fetch(paths.iter().map(|(dir, _, _)| dir.as_path()), &mut out);
    let t = Instant::now();
    for (dir, sec, names) in &paths {
        fs::create_dir_all(sec).unwrap();
        for name in &names[..V / 2] {
            fs::rename(dir.join(name), sec.join(name)).unwrap();
        }
    }
    out.insert("move_ops_s".into(), rate(K * V / 2, t));
    let t = Instant::now();
    for (dir, sec, names) in &paths {
        for name in &names[V / 2..] {
            fs::remove_file(dir.join(name)).unwrap();
        }
        for name in &names[..V / 2] {
            fs::remove_file(sec.join(name)).unwrap();
        }
    }
    out.insert("delete_ops_s".into(), rate(K * V, t));
    out
}

/// The floors' fetch phase: [`ROUNDS`] times, every key directory listed and each file
/// opened and read once into a buffer larger than any value (no stat, no read for EOF).
fn floor_fetch<'a>(dirs: impl Iterator<Item = &'a Path> + Clone, out: &mut Map<String, Value>) {
    let t = Instant::now();
    let mut n = 0;
    let mut buf = vec![0; 16 * 1024];
    for _ in 0..ROUNDS {
        for dir in dirs.clone() {
            for entry in fs::read_dir(dir).unwrap() {
                let got = fs::File::open(entry.unwrap().path())
                    .unwrap()
                    .read(&mut buf)
                    .unwrap();
                assert!(got > 0 && got < buf.len());
                n += 1;
            }
        }
    }
    assert_eq!(n, ROUNDS * K * V);
    out.insert("fetch_keys_s".into(), rate(ROUNDS * K, t));
    out.insert("fetch_values_s".into(), rate(n, t));
}

/// The least a Hypothesis-compatible, atomic directory database must do, as bare system
/// calls on precomputed paths: save = the key's meta-keys entry once, then per value
/// open(O_TMPFILE) + write + linkat(AT_EMPTY_PATH) + close (no reader sees a partial
/// file, nothing is replaced); fetch as [`floor`]; move = rename (plus dest's directory
/// and meta-keys entry once per key); delete = unlink + rmdir attempt (Hypothesis removes
/// a key's directory when the delete empties it, then its meta-keys entry).
#[cfg(target_os = "linux")]
fn floor_atomic(root: &Path) -> Map<String, Value> {
    use rustix::fs::{linkat, openat, AtFlags, Mode, OFlags, CWD};
    let write_atomic = |dir: &Path, name: &str, content: &[u8]| {
        let fd = openat(
            CWD,
            dir,
            OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let mut file = fs::File::from(fd);
        file.write_all(content).unwrap();
        linkat(&file, "", CWD, dir.join(name), AtFlags::EMPTY_PATH).unwrap();
    };
    let data = workload();
    let meta = root.join(hypothesis_hash(b".hypothesis-keys"));
    let paths: Vec<_> = data
        .iter()
        .map(|(k, values)| {
            let sec_key = sub_key(k, "secondary");
            let names: Vec<String> = values.iter().map(|v| hypothesis_hash(v)).collect();
            (
                (root.join(hypothesis_hash(k)), hypothesis_hash(k)),
                (
                    root.join(hypothesis_hash(&sec_key)),
                    hypothesis_hash(&sec_key),
                ),
                (k.clone(), sec_key),
                names,
            )
        })
        .collect();
    let mut out = Map::new();
    let t = Instant::now();
    fs::create_dir_all(&meta).unwrap();
    for (((dir, dir_name), _, (k, _), names), (_, values)) in paths.iter().zip(&data) {
        write_atomic(&meta, dir_name, k);
        fs::create_dir(dir).unwrap();
        for (name, v) in names.iter().zip(values) {
            write_atomic(dir, name, v);
        }
    }
    out.insert("save_ops_s".into(), rate(K * V, t));
    floor_fetch(
        paths.iter().map(|((dir, _), _, _, _)| dir.as_path()),
        &mut out,
    );
    let t = Instant::now();
    for ((dir, _), (sec, sec_name), (_, sec_key), names) in &paths {
        write_atomic(&meta, sec_name, sec_key);
        fs::create_dir(sec).unwrap();
        for name in &names[..V / 2] {
            fs::rename(dir.join(name), sec.join(name)).unwrap();
        }
    }
    out.insert("move_ops_s".into(), rate(K * V / 2, t));
    let t = Instant::now();
    for ((dir, dir_name), (sec, sec_name), _, names) in &paths {
        for (d, d_name, part) in [
            (dir, dir_name, &names[V / 2..]),
            (sec, sec_name, &names[..V / 2]),
        ] {
            for name in part {
                fs::remove_file(d.join(name)).unwrap();
                if fs::remove_dir(d).is_ok() {
                    fs::remove_file(meta.join(d_name)).unwrap();
                }
            }
        }
    }
    out.insert("delete_ops_s".into(), rate(K * V, t));
    out
}

/// Requests sent per operation in each phase, counted by the database, and the save rate
/// with [`IN_FLIGHT`] saves in flight (a separate, labelled figure).
async fn redis_extras(url: &str, out: &mut Map<String, Value>) {
    use futures_util::stream::{self, StreamExt};
    let db = exampledb_redis::RedisDatabase::builder(url)
        .build()
        .unwrap();
    let data = workload();
    let (k, v) = (&data[0].0, &data[0].1);
    db.save(b"warm-up", b"x").await.unwrap(); // the script is loaded once per server
    let per = |before: u64, ops: usize| json!((db.round_trips() - before) as f64 / ops as f64);
    let b = db.round_trips();
    for value in v {
        db.save(k, value).await.unwrap();
    }
    out.insert("round_trips_per_save".into(), per(b, v.len()));
    let b = db.round_trips();
    for _ in 0..10 {
        db.fetch(k).await.unwrap();
    }
    out.insert("round_trips_per_fetch".into(), per(b, 10));
    let secondary = sub_key(k, "secondary");
    let b = db.round_trips();
    for value in v {
        db.move_value(k, &secondary, value).await.unwrap();
    }
    out.insert("round_trips_per_move".into(), per(b, v.len()));
    let b = db.round_trips();
    for value in v {
        db.delete(&secondary, value).await.unwrap();
    }
    out.insert("round_trips_per_delete".into(), per(b, v.len()));

    let pairs: Vec<(&Vec<u8>, &Vec<u8>)> = data
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v)))
        .collect();
    let t = Instant::now();
    stream::iter(&pairs)
        .for_each_concurrent(IN_FLIGHT, |(k, v)| {
            let db = &db;
            async move { db.save(k, v).await.unwrap() }
        })
        .await;
    out.insert(
        format!("save_{IN_FLIGHT}_in_flight_ops_s"),
        rate(pairs.len(), t),
    );
    for (k, vs) in &data {
        for v in vs {
            db.delete(k, v).await.unwrap();
        }
    }
}

/// `redis-benchmark` on one connection, unpipelined and 32 deep: SADD (what the server
/// and the loopback link can do with nothing else in the way) and our write script by
/// EVALSHA (the server-side work Hypothesis's format asks for, from the same C client).
fn redis_floor(port: &str) -> Map<String, Value> {
    // Requests per second from the last CSV line: `"name","rps","avg",...` (8 fields;
    // a command's name may itself hold commas).
    let measure = |args: &[&str]| -> f64 {
        let out = std::process::Command::new("redis-benchmark")
            .args(["-p", port, "-c", "1", "--csv"])
            .args(args)
            .output()
            .expect("redis-benchmark runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        let fields: Vec<&str> = line.split("\",\"").collect();
        fields
            .len()
            .checked_sub(7)
            .and_then(|i| fields[i].parse().ok())
            .unwrap_or_else(|| panic!("no rate in {text:?}"))
    };
    let sadd = |extra: &[&str]| -> f64 {
        let mut args = vec!["-t", "sadd"];
        args.extend_from_slice(extra);
        measure(&args)
    };
    // The same server-side work as an exampledb save, from the same C client: our write
    // script by EVALSHA with a 512-byte value and its JSON event payload (keys from a
    // space of a million, so nearly every call adds and publishes).
    let sha = std::process::Command::new("redis-cli")
        .args([
            "-p",
            port,
            "script",
            "load",
            exampledb_redis::write_script_source(),
        ])
        .output()
        .expect("redis-cli runs");
    let sha = String::from_utf8_lossy(&sha.stdout).trim().to_owned();
    let value: String = (0..512)
        .map(|i| char::from(b'A' + (i * 7 % 26) as u8))
        .collect();
    let value = format!("{value} __rand_int__");
    let payload = format!("[\"save\", [\"a2V5\", \"{value}{value}\"]]");
    let script = |extra: &[&str]| -> f64 {
        let mut args: Vec<&str> = vec!["-r", "1000000"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "evalsha",
            &sha,
            "1",
            "hypothesis-example:__rand_int__",
            &value,
            "691200",
            "hypothesis-changes",
            "save",
            "",
            &payload,
        ]);
        measure(&args)
    };
    let mut out = Map::new();
    out.insert(
        "script_ops_s".into(),
        json!(script(&["-n", "50000"]).round()),
    );
    out.insert(
        format!("script_pipelined_{IN_FLIGHT}_ops_s"),
        json!(script(&["-n", "300000", "-P", "32"]).round()),
    );
    out.insert("sadd_ops_s".into(), json!(sadd(&["-n", "100000"]).round()));
    out.insert(
        format!("sadd_pipelined_{IN_FLIGHT}_ops_s"),
        json!(sadd(&["-n", "1000000", "-P", "32"]).round()),
    );
    out
}

/// The artifact backend on a copy of `zip` in a fresh cache directory (named in the
/// future, so it is fresh and no network is touched): `open_ms` is the first fetch
/// (opening and indexing the archive plus one key), then every key is fetched once.
async fn github(zip: &Path) -> Map<String, Value> {
    let work = zip.with_extension("exampledb-cache");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    fs::copy(zip, work.join("2999-01-01T00_00_00+00_00.zip")).unwrap();
    let open = || {
        exampledb_github::GitHubArtifactDatabase::builder("o", "r")
            .cache_dir(&work)
            .api_url("http://127.0.0.1:9")
            .strict(true)
            .build()
            .unwrap()
    };
    // The keys, from the archive's meta-keys entries (untimed, by another instance).
    let mut keys = open().keys().await.unwrap();
    keys.sort();
    let db = open();
    let t = Instant::now();
    let first = db.fetch(&keys[0]).await.unwrap().len();
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let mut n = 0;
    for k in &keys {
        n += db.fetch(k).await.unwrap().len();
    }
    let mut out = Map::new();
    out.insert("entries".into(), json!(n));
    out.insert("open_ms".into(), json!((open_ms * 10.0).round() / 10.0));
    out.insert("fetch_keys_s".into(), rate(keys.len(), t));
    out.insert("fetch_values_s".into(), rate(n, t));
    assert!(first > 0 && n >= keys.len());
    let _ = fs::remove_dir_all(&work);
    out
}

/// The zip crate alone on the archive's bytes in memory: `open_ms` reads the file and
/// parses the central directory; then each key's entries (grouped untimed by directory
/// name, the meta-keys directory left out as the key fetches leave it out) are read by
/// index and decompressed. No hashing, no checks beyond the zip crate's own CRC check.
fn github_floor(zip: &Path) -> Map<String, Value> {
    let t = Instant::now();
    let bytes = fs::read(zip).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let meta = hypothesis_hash(b".hypothesis-keys");
    let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for i in 0..archive.len() {
        let name = archive.name_for_index(i).unwrap().unwrap().into_owned();
        if let Some((dir, file)) = name.split_once('/') {
            if !file.is_empty() && dir != meta {
                groups.entry(dir.to_owned()).or_default().push(i);
            }
        }
    }
    let t = Instant::now();
    let mut n = 0;
    let mut buf = Vec::new();
    for entries in groups.values() {
        for &i in entries {
            buf.clear();
            archive.by_index(i).unwrap().read_to_end(&mut buf).unwrap();
            n += 1;
        }
    }
    let mut out = Map::new();
    out.insert("entries".into(), json!(n));
    out.insert("open_ms".into(), json!((open_ms * 10.0).round() / 10.0));
    out.insert("fetch_keys_s".into(), rate(groups.len(), t));
    out.insert("fetch_values_s".into(), rate(n, t));
    out
}

/// The access key id and secret of `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`: the
/// peers (`anchor_python_s3.py`, `anchor_python_dynamodb.py`) take them from there too.
fn env_credentials() -> (String, String) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
}

/// The S3 database on `endpoint`'s `bucket` under `prefix`, with the credentials of
/// [`env_credentials`], region us-east-1.
fn s3_database(endpoint: &str, bucket: &str, prefix: &str) -> exampledb_s3::S3Database {
    let (id, secret) = env_credentials();
    exampledb_s3::S3Database::builder(bucket)
        .prefix(prefix)
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials(id, secret, None)
        .build()
        .unwrap()
}

/// A bare aws-sdk-s3 client of `endpoint`, set up as exampledb-s3 sets up its own
/// (path-style, checksums only where required, the same timeouts and retries), with
/// `counter` counting its requests.
fn sdk_client(
    endpoint: &str,
    counter: exampledb_aws::RequestCounter,
) -> exampledb_s3::aws_sdk_s3::Client {
    use exampledb_s3::aws_sdk_s3::config::{
        retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Credentials, Region,
        RequestChecksumCalculation, ResponseChecksumValidation,
    };
    let (id, secret) = env_credentials();
    let config = exampledb_s3::aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(id, secret, None, None, "exampledb-bench"))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .operation_timeout(std::time::Duration::from_secs(30))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .interceptor(counter)
        .build();
    exampledb_s3::aws_sdk_s3::Client::from_conf(config)
}

/// A new, empty bucket for one run.
async fn s3_bucket(endpoint: &str, bucket: &str) -> Map<String, Value> {
    sdk_client(endpoint, Default::default())
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {bucket}: {e:?}"));
    let mut out = Map::new();
    out.insert("created".into(), json!(bucket));
    out
}

/// The same requests as exampledb-s3 with aws-sdk-s3 alone, on names computed before the
/// timing: save = PutObject (unconditional, no meta-keys entry); fetch = ListObjectsV2 of
/// the key's directory + its GetObjects, [`IN_FLIGHT`] at once; move = CopyObject +
/// DeleteObject; delete = DeleteObject. What the SDK costs per request (time, and CPU in
/// this process) with nothing of the database's around it.
async fn s3_floor(endpoint: &str, bucket: &str, prefix: &str, keys: usize) -> Map<String, Value> {
    use exampledb_core::layout::{key_dir, value_path};
    use exampledb_s3::aws_sdk_s3::primitives::ByteStream;
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let data = workload();
    let data = &data[..keys.clamp(1, K)];
    let counter = exampledb_aws::RequestCounter::default();
    let client = sdk_client(endpoint, counter.clone());
    let names: Vec<_> = data
        .iter()
        .map(|(k, values)| {
            let sec = sub_key(k, "secondary");
            let dir = format!("{prefix}{}/", key_dir(k));
            let here: Vec<String> = values
                .iter()
                .map(|v| format!("{prefix}{}", value_path(k, v)))
                .collect();
            let there: Vec<String> = values
                .iter()
                .map(|v| format!("{prefix}{}", value_path(&sec, v)))
                .collect();
            (dir, here, there)
        })
        .collect();
    client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1)
        .send()
        .await
        .unwrap();
    let count = || counter.count();
    let mut out = Map::new();
    let p = Phase::start(Some(&count));
    for ((_, here, _), (_, values)) in names.iter().zip(data) {
        for (name, v) in here.iter().zip(values) {
            client
                .put_object()
                .bucket(bucket)
                .key(name)
                .body(ByteStream::from(v.clone()))
                .send()
                .await
                .unwrap();
        }
    }
    p.end(&mut out, "save", "save_ops_s", data.len() * V);
    let p = Phase::start(Some(&count));
    let t = p.started;
    let mut n = 0;
    for _ in 0..ROUNDS {
        for (dir, _, _) in &names {
            let page = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(dir)
                .send()
                .await
                .unwrap();
            let listed: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect();
            let client = &client;
            let got: Vec<_> = stream::iter(listed)
                .map(|name| async move {
                    let object = client.get_object().bucket(bucket).key(name).send().await?;
                    Ok::<_, Box<dyn std::error::Error>>(object.body.collect().await?.into_bytes())
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await
                .unwrap();
            n += got.len();
        }
    }
    assert_eq!(n, ROUNDS * data.len() * V);
    out.insert("fetch_values_s".into(), rate(n, t));
    p.end(&mut out, "fetch", "fetch_keys_s", ROUNDS * data.len());
    let p = Phase::start(Some(&count));
    for (_, here, there) in &names {
        for (src, dest) in here.iter().zip(there).take(V / 2) {
            client
                .copy_object()
                .bucket(bucket)
                .key(dest)
                .copy_source(format!("{bucket}/{src}"))
                .send()
                .await
                .unwrap();
            client
                .delete_object()
                .bucket(bucket)
                .key(src)
                .send()
                .await
                .unwrap();
        }
    }
    p.end(&mut out, "move", "move_ops_s", data.len() * V / 2);
    let p = Phase::start(Some(&count));
    for (_, here, there) in &names {
        for name in here[V / 2..].iter().chain(&there[..V / 2]) {
            client
                .delete_object()
                .bucket(bucket)
                .key(name)
                .send()
                .await
                .unwrap();
        }
    }
    p.end(&mut out, "delete", "delete_ops_s", data.len() * V);
    out.insert("keys".into(), json!(data.len()));
    out
}

/// The standard workload on the first `keys` keys (the peer's subset), each phase with
/// its requests per operation (counted by `S3Database::requests`) and client CPU per
/// operation; then, on a sibling prefix and a new database (so the meta-keys entries
/// are written again, as in the sequential phase), the same saves [`IN_FLIGHT`] at a
/// time. Before each timing, one ListObjectsV2 (`check`) makes the client and opens a
/// connection, untimed: the peer's boto3 client is made before its timing too.
async fn s3(endpoint: &str, bucket: &str, prefix: &str, keys: usize) -> Map<String, Value> {
    let data = workload();
    let data = &data[..keys.clamp(1, K)];
    let db = s3_database(endpoint, bucket, prefix);
    db.check().await.unwrap();
    let count = || db.requests();
    let mut out = run_keys(&db, data, Some(&count)).await;
    out.insert("keys".into(), json!(data.len()));

    let db = s3_database(
        endpoint,
        bucket,
        &format!("{}-{IN_FLIGHT}-in-flight/", prefix.trim_end_matches('/')),
    );
    db.check().await.unwrap();
    let count = || db.requests();
    saves_in_flight(&db, data, &count, &mut out).await;
    out
}

/// The saves of `data` [`IN_FLIGHT`] at a time on `db` (a database none of them is stored
/// in yet), recorded as `save_<IN_FLIGHT>_in_flight`, a separate figure; then checks that
/// every one is stored.
async fn saves_in_flight(
    db: &dyn ExampleDatabase,
    data: &[(Vec<u8>, Vec<Vec<u8>>)],
    count: &dyn Fn() -> u64,
    out: &mut Map<String, Value>,
) {
    use futures_util::stream::{self, StreamExt};
    let pairs: Vec<(&Vec<u8>, &Vec<u8>)> = data
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v)))
        .collect();
    let p = Phase::start(Some(count));
    stream::iter(&pairs)
        .for_each_concurrent(
            IN_FLIGHT,
            |(k, v)| async move { db.save(k, v).await.unwrap() },
        )
        .await;
    let name = format!("save_{IN_FLIGHT}_in_flight");
    p.end(out, &name, &format!("{name}_ops_s"), pairs.len());
    let mut n = 0;
    for (k, _) in data {
        n += db.fetch(k).await.unwrap().len();
    }
    assert_eq!(n, pairs.len(), "every concurrent save is stored");
}

/// The DynamoDB database on `endpoint`'s `table` (under `key_prefix`), with the
/// credentials of [`env_credentials`] (region us-east-1, the default with an endpoint)
/// and otherwise its defaults.
fn dynamodb_database(
    endpoint: &str,
    table: &str,
    key_prefix: &[u8],
) -> exampledb_dynamodb::DynamoDatabase {
    let (id, secret) = env_credentials();
    exampledb_dynamodb::DynamoDatabase::builder(table)
        .key_prefix(key_prefix)
        .endpoint(endpoint)
        .credentials(id, secret, None)
        .build()
        .unwrap()
}

/// A new table for one run, made as `DynamoDatabase::ensure_table` makes it (on-demand
/// billing, a stream with new and old images, time to live on `exp`). The peer, which
/// creates its table only when missing, runs on one made so too: every client's writes
/// cost the server the same stream records.
async fn dynamodb_table(endpoint: &str, table: &str) -> Map<String, Value> {
    dynamodb_database(endpoint, table, exampledb_dynamodb::DEFAULT_KEY_PREFIX)
        .ensure_table()
        .await
        .unwrap_or_else(|e| panic!("ensure_table {table}: {e}"));
    let mut out = Map::new();
    out.insert("created".into(), json!(table));
    out
}

/// The standard workload on the first `keys` keys (the peer's subset) with the DynamoDB
/// backend's defaults, each phase with its requests per operation (counted by
/// `DynamoDatabase::requests`) and client CPU per operation; then, under a second key
/// prefix and with a new database, the same saves [`IN_FLIGHT`] at a time. Before the
/// timing, one DescribeTable (`check`) makes the client, untimed: the peer's boto3 client
/// is made before its timing too.
async fn dynamodb(endpoint: &str, table: &str, keys: usize) -> Map<String, Value> {
    let data = workload();
    let data = &data[..keys.clamp(1, K)];
    let db = dynamodb_database(endpoint, table, exampledb_dynamodb::DEFAULT_KEY_PREFIX);
    db.check().await.unwrap();
    let count = || db.requests();
    let mut out = run_keys(&db, data, Some(&count)).await;
    out.insert("keys".into(), json!(data.len()));

    let db = dynamodb_database(
        endpoint,
        table,
        format!("hypothesis-example-{IN_FLIGHT}-in-flight:").as_bytes(),
    );
    db.check().await.unwrap();
    let count = || db.requests();
    saves_in_flight(&db, data, &count, &mut out).await;
    out
}

/// The requests of the peer, `anchor_python_dynamodb.py`, with aws-sdk-dynamodb alone,
/// configured as exampledb-dynamodb configures its client (`AwsSettings`: the same
/// timeouts and retries, a request counter), on partition and sort keys computed before
/// the timing: save = PutItem (unconditional, `k`, `h`, `v`: no expiry); fetch = Query of
/// the key's partition, every page; move = DeleteItem + PutItem (Hypothesis's default
/// move); delete = DeleteItem. What the SDK costs per request with nothing of a database
/// around it. One DescribeTable first makes the client, untimed.
async fn dynamodb_floor(endpoint: &str, table: &str, keys: usize) -> Map<String, Value> {
    use exampledb_dynamodb::aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};
    use sha2::{Digest, Sha384};
    use std::collections::HashMap;
    let data = workload();
    let data = &data[..keys.clamp(1, K)];
    let (id, secret) = env_credentials();
    let sdk = exampledb_aws::AwsSettings::new()
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials(id, secret, None)
        .load()
        .await;
    let counter = exampledb_aws::RequestCounter::default();
    let client = exampledb_dynamodb::aws_sdk_dynamodb::Client::from_conf(
        exampledb_dynamodb::aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let blob = |bytes: &[u8]| AttributeValue::B(Blob::new(bytes));
    let partition = |key: &[u8]| blob(&[exampledb_dynamodb::DEFAULT_KEY_PREFIX, key].concat());
    // Per key: its partition, its `.secondary`'s, and each value's sort key.
    let names: Vec<_> = data
        .iter()
        .map(|(k, values)| {
            let sorts: Vec<AttributeValue> =
                values.iter().map(|v| blob(&Sha384::digest(v))).collect();
            (partition(k), partition(&sub_key(k, "secondary")), sorts)
        })
        .collect();
    let item_key = |k: &AttributeValue, h: &AttributeValue| {
        HashMap::from([("k".to_owned(), k.clone()), ("h".to_owned(), h.clone())])
    };
    let put = |k: &AttributeValue, h: &AttributeValue, v: &[u8]| {
        let mut item = item_key(k, h);
        item.insert("v".to_owned(), blob(v));
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
    };
    let delete = |k: &AttributeValue, h: &AttributeValue| {
        client
            .delete_item()
            .table_name(table)
            .set_key(Some(item_key(k, h)))
            .send()
    };
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let count = || counter.count();
    let mut out = Map::new();
    let p = Phase::start(Some(&count));
    for ((k, _, sorts), (_, values)) in names.iter().zip(data) {
        for (h, v) in sorts.iter().zip(values) {
            put(k, h, v).await.unwrap();
        }
    }
    p.end(&mut out, "save", "save_ops_s", data.len() * V);
    let p = Phase::start(Some(&count));
    let t = p.started;
    let mut n = 0;
    for _ in 0..ROUNDS {
        for (k, _, _) in &names {
            let mut start = None;
            loop {
                let page = client
                    .query()
                    .table_name(table)
                    .key_condition_expression("k = :k")
                    .expression_attribute_values(":k", k.clone())
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .unwrap();
                let values: Vec<&Blob> = page
                    .items()
                    .iter()
                    .filter_map(|item| item.get("v")?.as_b().ok())
                    .collect();
                n += values.len();
                match page.last_evaluated_key() {
                    Some(last) if !last.is_empty() => start = Some(last.clone()),
                    _ => break,
                }
            }
        }
    }
    assert_eq!(n, ROUNDS * data.len() * V);
    out.insert("fetch_values_s".into(), rate(n, t));
    p.end(&mut out, "fetch", "fetch_keys_s", ROUNDS * data.len());
    let p = Phase::start(Some(&count));
    for ((k, sec, sorts), (_, values)) in names.iter().zip(data) {
        for (h, v) in sorts.iter().zip(values).take(V / 2) {
            delete(k, h).await.unwrap();
            put(sec, h, v).await.unwrap();
        }
    }
    p.end(&mut out, "move", "move_ops_s", data.len() * V / 2);
    let p = Phase::start(Some(&count));
    for (k, sec, sorts) in &names {
        for (key, h) in std::iter::repeat_n(k, V / 2)
            .zip(&sorts[V / 2..])
            .chain(std::iter::repeat_n(sec, V / 2).zip(&sorts[..V / 2]))
        {
            delete(key, h).await.unwrap();
        }
    }
    p.end(&mut out, "delete", "delete_ops_s", data.len() * V);
    out.insert("keys".into(), json!(data.len()));
    out
}

/// The Redis backend on `url`, its keys under `prefix`.
fn redis_under(url: &str, prefix: &str) -> exampledb_redis::RedisDatabase {
    exampledb_redis::RedisDatabase::builder(url)
        .key_prefix(prefix.as_bytes().to_vec())
        .build()
        .unwrap()
}

/// Operations in flight for the concurrent figure.
const IN_FLIGHT: usize = 32;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (label, mut result) = match args.as_slice() {
        ["memory"] => (
            "exampledb-memory".to_string(),
            run(&InMemoryDatabase::new()).await,
        ),
        ["floor", path] => ("floor-raw-syscalls".to_string(), floor(Path::new(path))),
        #[cfg(target_os = "linux")]
        ["floor-atomic", path] => (
            "floor-atomic-syscalls".to_string(),
            floor_atomic(Path::new(path)),
        ),
        ["github", zip] => ("exampledb-github".to_string(), github(Path::new(zip)).await),
        ["github-floor", zip] => ("floor-zip-crate".to_string(), github_floor(Path::new(zip))),
        ["redis-floor", port] => ("floor-redis-benchmark".to_string(), redis_floor(port)),
        ["s3", endpoint, bucket, prefix, keys] => {
            let keys = keys.parse().expect("KEYS is a number");
            (
                "exampledb-s3".to_string(),
                s3(endpoint, bucket, prefix, keys).await,
            )
        }
        ["s3-floor", endpoint, bucket, prefix, keys] => {
            let keys = keys.parse().expect("KEYS is a number");
            (
                "floor-aws-sdk".to_string(),
                s3_floor(endpoint, bucket, prefix, keys).await,
            )
        }
        ["s3-bucket", endpoint, bucket] => {
            ("s3-bucket".to_string(), s3_bucket(endpoint, bucket).await)
        }
        ["dynamodb", endpoint, table, keys] => {
            let keys = keys.parse().expect("KEYS is a number");
            (
                "exampledb-dynamodb".to_string(),
                dynamodb(endpoint, table, keys).await,
            )
        }
        ["dynamodb-floor", endpoint, table, keys] => {
            let keys = keys.parse().expect("KEYS is a number");
            (
                "floor-aws-sdk-dynamodb".to_string(),
                dynamodb_floor(endpoint, table, keys).await,
            )
        }
        ["dynamodb-table", endpoint, table] => (
            "dynamodb-table".to_string(),
            dynamodb_table(endpoint, table).await,
        ),
        ["cp-source", dir] => ("cp-source".to_string(), cp::source(Path::new(dir)).await),
        ["cp-floor-s3", dir, endpoint, bucket, prefix] => (
            "floor-aws-sdk-put".to_string(),
            cp::floor_s3(Path::new(dir), endpoint, bucket, prefix).await,
        ),
        ["cp-floor-redis", dir, port] => (
            "floor-sadd-pipelined".to_string(),
            cp::floor_redis(Path::new(dir), port),
        ),
        ["redis", url] => {
            let db = exampledb_redis::RedisDatabase::builder(url)
                .build()
                .unwrap();
            let mut out = run(&db).await;
            redis_extras(url, &mut out).await;
            ("exampledb-redis".to_string(), out)
        }
        ["proptest", "dir", path] => {
            let db = DirectoryDatabase::open(path).unwrap();
            let mut persistence = exampledb_proptest::DatabasePersistence::new(db);
            let out = proptest::through_trait(&mut persistence, Path::new(path));
            ("exampledb-proptest-dir".to_string(), out)
        }
        ["proptest", "redis", url, prefix] => {
            let db = redis_under(url, prefix);
            let mut persistence = exampledb_proptest::DatabasePersistence::new(db);
            let out = proptest::through_trait(&mut persistence, &std::env::temp_dir());
            ("exampledb-proptest-redis".to_string(), out)
        }
        ["proptest", "file", path] => {
            let mut peer =
                ::proptest::test_runner::FileFailurePersistence::WithSource("regressions");
            let out = proptest::through_trait(&mut peer, Path::new(path));
            ("proptest-file".to_string(), out)
        }
        ["proptest", "floor-dir", path] => {
            let db = DirectoryDatabase::open(path).unwrap();
            let out = proptest::floor(&db, Path::new(path)).await;
            ("floor-dir-direct".to_string(), out)
        }
        ["proptest", "floor-redis", url, prefix] => {
            let db = redis_under(url, prefix);
            let out = proptest::floor(&db, &std::env::temp_dir()).await;
            ("floor-redis-direct".to_string(), out)
        }
        ["dir", path, flags @ ..] => {
            let durable = flags.contains(&"--durable");
            let offload = flags.contains(&"--offload");
            let named = flags.contains(&"--named-temp");
            let db = DirectoryDatabase::builder(*path)
                .durable(durable)
                .offload_to_blocking_pool(offload)
                .unnamed_temp_files(!named)
                .build()
                .unwrap();
            let mut label = "exampledb-dir".to_string();
            if durable {
                label.push_str("-durable");
            }
            if offload {
                label.push_str("-offload");
            }
            if named {
                label.push_str("-named-temp");
            }
            (label, run(&db).await)
        }
        _ => {
            eprintln!("usage: exampledb-bench memory | dir PATH [--durable] [--offload] [--named-temp] | floor PATH | floor-atomic PATH | redis URL | redis-floor PORT | github ZIP | github-floor ZIP | s3 ENDPOINT BUCKET PREFIX KEYS | s3-floor ENDPOINT BUCKET PREFIX KEYS | s3-bucket ENDPOINT BUCKET | dynamodb ENDPOINT TABLE KEYS | dynamodb-floor ENDPOINT TABLE KEYS | dynamodb-table ENDPOINT TABLE | cp-source DIR | cp-floor-s3 DIR ENDPOINT BUCKET PREFIX | cp-floor-redis DIR PORT | proptest dir PATH | proptest redis URL PREFIX | proptest file PATH | proptest floor-dir PATH | proptest floor-redis URL PREFIX");
            std::process::exit(2);
        }
    };
    result.insert("backend".into(), json!(label));
    println!("{}", Value::Object(result));
}
