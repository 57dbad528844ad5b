//! Seeds saved by one process and replayed first by the next, through real stores: the
//! child processes run a real `proptest!` property whose persistence comes from
//! `from_env` or the recipe, and log every case they run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::FetchOnly;
use exampledb::ExampleDatabase;
use exampledb_proptest::{DatabasePersistence, DatabasePersistenceBuilder, CI_ENVS};
use exampledb_testkit::process::{child_role, child_test};
use exampledb_testkit::services::{free_port, redis_url};
use proptest::prelude::*;

/// The crate name the child puts in its keys: each test's own, so tests sharing a server
/// never see each other's seeds.
const NAMESPACE_ENV: &str = "TEST_PROPTEST_NAMESPACE";
/// When set, the child uses the recipe with this shared URL instead of `from_env`.
const SHARED_ENV: &str = "TEST_PROPTEST_SHARED";
/// The file the child appends every case it runs to, one number a line.
const CASES_ENV: &str = "TEST_PROPTEST_CASES";

/// What the warnings say, whatever the store.
const WARNING: &str = "exampledb-proptest: ";

/// The persistence's operation timeout, in milliseconds (default 5000).
const WAIT_ENV: &str = "TEST_PROPTEST_WAIT_MS";

fn persistence() -> DatabasePersistence {
    let builder = match std::env::var(SHARED_ENV) {
        Ok(shared) => DatabasePersistenceBuilder::recipe(&shared),
        Err(_) => DatabasePersistenceBuilder::from_env(),
    };
    let wait = std::env::var(WAIT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    builder
        .crate_name(&std::env::var(NAMESPACE_ENV).unwrap_or_default())
        .operation_timeout(Duration::from_millis(wait))
        .build()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        ..ProptestConfig::with_failure_persistence(persistence())
    }
}

/// proptest's fork mode (a timeout sets it): every case in a child process. Outside a
/// child role, a trivial run with no persistence (the fork tests are real `#[test]`s, as
/// proptest's fork mode needs, and run for nothing in the parent's test run).
fn fork_config() -> ProptestConfig {
    let timeout = match child_role().as_deref() {
        Some("fork-planted") => 10_000,
        Some("fork-passing") => 3_000,
        Some("fork-shifting") => {
            let counter = std::env::var(COUNTER_ENV).expect("the fetch counter's path");
            return ProptestConfig {
                cases: 5,
                timeout: 10_000,
                ..ProptestConfig::with_failure_persistence(DatabasePersistence::new(shifting(
                    counter.into(),
                )))
            };
        }
        _ => {
            return ProptestConfig {
                cases: 1,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }
    };
    ProptestConfig {
        cases: 200,
        timeout,
        ..config()
    }
}

/// The file where [`shifting`] counts fetches, across processes.
const COUNTER_ENV: &str = "TEST_PROPTEST_COUNTER";

/// A store whose contents change under the run: its first fetch (in any process) finds
/// no seed, every later one finds one. In proptest's fork mode the first fetch is the
/// child's and a later one the parent's, unless they share one list.
fn shifting(counter: PathBuf) -> impl ExampleDatabase {
    FetchOnly(move |_: &[u8]| {
        let seen = std::fs::read_to_string(&counter).unwrap_or_default();
        std::fs::write(&counter, format!("{seen}x")).expect("count a fetch");
        if seen.is_empty() {
            Vec::new()
        } else {
            vec![exampledb::bytes::Bytes::from_static(
                b"cc 0000000000000000000000000000000000000000000000000000000000000003",
            )]
        }
    })
}

fn log_case(n: u64) {
    use std::io::Write;
    if let Ok(path) = std::env::var(CASES_ENV) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the cases log");
        writeln!(file, "{n}").expect("a line in the cases log");
    }
}

/// The planted bug: about one case in five fails.
fn is_bug(n: u64) -> bool {
    n % 5 == 3
}

proptest! {
    #![proptest_config(config())]

    fn planted(n in any::<u64>()) {
        log_case(n);
        prop_assert!(!is_bug(n), "planted bug at {}", n);
    }

    fn passing_one(n in any::<u64>()) {
        prop_assert_eq!(n.to_string().parse::<u64>().ok(), Some(n));
    }

    fn passing_two(s in "[a-z]{0,8}") {
        prop_assert!(s.len() <= 8);
    }
}

proptest! {
    #![proptest_config(fork_config())]

    #[test]
    fn fork_planted(n in any::<u64>()) {
        if child_role().is_none() {
            return Ok(());
        }
        log_case(n);
        prop_assert!(!is_bug(n), "planted bug at {}", n);
    }

    #[test]
    fn fork_passing(n in any::<u64>()) {
        prop_assert_eq!(n.to_string().parse::<u64>().ok(), Some(n));
    }

    #[test]
    fn fork_shifting(n in any::<u64>()) {
        prop_assert_eq!(n.to_string().parse::<u64>().ok(), Some(n));
    }
}

/// The child processes' entry: runs the properties its role names.
#[test]
fn child() {
    let Some(role) = child_role() else { return };
    match role.as_str() {
        "planted" => planted(),
        "passing" => {
            passing_one();
            passing_two();
            passing_one();
        }
        other => panic!("unknown role {other}"),
    }
}

struct Run {
    output: Output,
    cases: Vec<u64>,
    /// The child's process id (a fork parent's, in fork mode).
    pid: u32,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn warnings(&self) -> usize {
        self.stderr().matches(WARNING).count()
    }

    /// The first case that hit the bug: where a first run found it, before shrinking.
    fn first_failure(&self) -> u64 {
        *self
            .cases
            .iter()
            .find(|&&n| is_bug(n))
            .expect("a case that hit the bug")
    }
}

/// Runs the child `role` with `env` (and nothing inherited that would change where seeds
/// go), and reads its cases log.
fn run(dir: &Path, role: &str, namespace: &str, env: &[(&str, &str)]) -> Run {
    let entry = match role {
        "fork-planted" => "fork_planted",
        "fork-passing" => "fork_passing",
        "fork-shifting" => "fork_shifting",
        _ => "child",
    };
    let log = dir.join(format!("cases-{}", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut cmd = child_test(entry, role);
    let inherited = [
        exampledb::DATABASE_ENV,
        SHARED_ENV,
        WAIT_ENV,
        "HYPOTHESIS_STORAGE_DIRECTORY",
    ];
    for var in inherited.iter().chain(CI_ENVS.iter().map(|(name, _)| name)) {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("PROPTEST_") {
            cmd.env_remove(var);
        }
    }
    cmd.env(NAMESPACE_ENV, namespace).env(CASES_ENV, &log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the child test process");
    let pid = child.id();
    let output = child.wait_with_output().expect("the child test's output");
    let cases = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().expect("a case number"))
        .collect();
    Run { output, cases, pid }
}

/// A crate name no other test or run uses.
fn namespace(test: &str) -> String {
    format!(
        "{test}-{}",
        exampledb_testkit::hex(&exampledb_testkit::unique_prefix()[15..])
    )
}

fn assert_failed_on_the_bug(run: &Run) {
    assert!(
        !run.output.status.success(),
        "the property should have failed:\n{}",
        run.stderr()
    );
    // In fork mode the parent reports "failed in other process" for the child's failure.
    assert!(
        run.stderr().contains("planted bug at") || run.stderr().contains("failed in other process"),
        "the property's own failure should be reported:\n{}",
        run.stderr()
    );
}

/// The key the child's persistence uses for this file.
fn key(namespace: &str) -> Vec<u8> {
    DatabasePersistence::builder()
        .crate_name(namespace)
        .build()
        .key(file!())
}

async fn stored(db: &dyn ExampleDatabase, namespace: &str) -> Vec<String> {
    let mut values: Vec<String> = db
        .fetch(&key(namespace))
        .await
        .expect("fetch the stored seeds")
        .iter()
        .map(|v| String::from_utf8(v.to_vec()).expect("a seed is text"))
        .collect();
    values.sort();
    values
}

fn assert_one_seed(values: &[String]) {
    assert_eq!(values.len(), 1, "one seed stored: {values:?}");
    let hex = values[0]
        .strip_prefix("cc ")
        .expect("proptest's text form, cc <hex>");
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{values:?}"
    );
}

/// The whole cycle through `EXAMPLEDB_DATABASE=url`: a first process fails and saves its
/// seed, a second one's first case is the first process's failing case.
async fn saved_then_replayed_first(url: &str, test: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ns = namespace(test);
    let env = [(exampledb::DATABASE_ENV, url)];

    let first = run(dir.path(), "planted", &ns, &env);
    assert_failed_on_the_bug(&first);
    let failing = first.first_failure();
    assert_eq!(first.warnings(), 0, "{}", first.stderr());

    let db = exampledb::open(url).expect("open the store");
    assert_one_seed(&stored(&*db, &ns).await);

    let second = run(dir.path(), "planted", &ns, &env);
    assert_failed_on_the_bug(&second);
    assert_eq!(
        second.cases.first(),
        Some(&failing),
        "the second process must replay the saved seed first"
    );
    assert_one_seed(&stored(&*db, &ns).await);
}

#[tokio::test]
async fn through_redis_a_failure_saved_by_one_process_is_replayed_first_by_the_next() {
    let test = "through_redis_a_failure_saved_by_one_process_is_replayed_first_by_the_next";
    let Some(url) = redis_url(test) else { return };
    saved_then_replayed_first(&url, test).await;
}

#[tokio::test]
async fn through_a_directory_a_failure_saved_by_one_process_is_replayed_first_by_the_next() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let url = root.path().join("examples").display().to_string();
    saved_then_replayed_first(&url, "directory").await;
    // Hypothesis's layout: the key's directory and the meta-keys entry, readable by its tools.
    let examples = root.path().join("examples");
    assert!(examples
        .join(exampledb::hypothesis_hash(b".hypothesis-keys"))
        .is_dir());
}

/// The recipe: CI (`TF_BUILD` set, as on Azure Pipelines) saves into the shared Redis store; a developer, with an
/// empty local directory, replays CI's seed first; the developer's own new failure stays
/// in their directory and never reaches the shared store.
#[tokio::test]
async fn through_the_recipe_ci_failures_replay_first_on_a_developers_machine() {
    let test = "through_the_recipe_ci_failures_replay_first_on_a_developers_machine";
    let Some(server) = redis_url(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ns = namespace("recipe");
    let shared = format!("{}?key_prefix={}", server.trim_end_matches('/'), ns);
    let ci_home = dir.path().join("ci");
    let dev_home = dir.path().join("dev");
    let ci_storage = ci_home.display().to_string();
    let dev_storage = dev_home.display().to_string();

    let ci = run(
        dir.path(),
        "planted",
        &ns,
        &[
            (SHARED_ENV, &shared),
            // Azure Pipelines' variable: any of Hypothesis's CI variables makes a CI run.
            ("TF_BUILD", "true"),
            ("HYPOTHESIS_STORAGE_DIRECTORY", &ci_storage),
        ],
    );
    assert_failed_on_the_bug(&ci);
    let shared_db = exampledb::open(&shared).expect("open the shared store");
    assert_one_seed(&stored(&*shared_db, &ns).await);

    let dev = run(
        dir.path(),
        "planted",
        &ns,
        &[
            (SHARED_ENV, &shared),
            ("HYPOTHESIS_STORAGE_DIRECTORY", &dev_storage),
        ],
    );
    assert_failed_on_the_bug(&dev);
    assert_eq!(
        dev.cases.first(),
        Some(&ci.first_failure()),
        "CI's seed first"
    );
    assert_eq!(dev.warnings(), 0, "{}", dev.stderr());

    // The developer's own new failure (another crate name: no seed to replay) is saved
    // locally only.
    let own = namespace("recipe-dev");
    let dev_new = run(
        dir.path(),
        "planted",
        &own,
        &[
            (SHARED_ENV, &shared),
            ("HYPOTHESIS_STORAGE_DIRECTORY", &dev_storage),
        ],
    );
    assert_failed_on_the_bug(&dev_new);
    let local = exampledb::open(&dev_home.join("examples").display().to_string())
        .expect("open the developer's directory");
    assert_one_seed(&stored(&*local, &own).await);
    assert!(
        stored(&*shared_db, &own).await.is_empty(),
        "a developer's seed reached CI's store"
    );
    assert_one_seed(&stored(&*shared_db, &ns).await);
}

/// A server on a loopback port that takes connections, holds them open and never
/// answers, counting them, for the rest of the test process.
fn silent_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().expect("its address").port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            open.push(conn);
        }
    });
    (port, accepted)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    free_port().expect("a free port")
}

#[test]
fn a_store_that_is_down_leaves_the_tests_passing_and_says_so_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let run = run(
        dir.path(),
        "passing",
        &namespace("down"),
        &[(exampledb::DATABASE_ENV, &url)],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(
        run.warnings(),
        1,
        "one warning for three properties:\n{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("RedisDatabase"),
        "the warning names the store:\n{}",
        run.stderr()
    );
}

#[test]
fn a_failing_property_on_a_store_that_is_down_reports_its_own_failure() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let run = run(
        dir.path(),
        "planted",
        &namespace("down-fail"),
        &[(exampledb::DATABASE_ENV, &url)],
    );
    assert_failed_on_the_bug(&run);
    assert_eq!(run.warnings(), 1, "{}", run.stderr());
    assert!(
        !run.stderr()
            .contains("panicked at crates/exampledb-proptest/src"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_malformed_url_leaves_the_tests_passing_and_says_so_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = run(
        dir.path(),
        "passing",
        &namespace("bad-url"),
        &[(exampledb::DATABASE_ENV, "ftp://user:hunter2@example.com/db")],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(run.warnings(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("unknown scheme"), "{}", run.stderr());
    assert!(
        !run.stderr().contains("hunter2"),
        "a secret in a message:\n{}",
        run.stderr()
    );
}

/// A server that takes connections and never answers: one wait of the operation timeout,
/// one warning, and the store is not asked again.
#[test]
fn a_store_that_never_answers_costs_one_timeout_and_one_warning() {
    let (port, accepted) = silent_server();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("redis://127.0.0.1:{port}");
    let run = run(
        dir.path(),
        "passing",
        &namespace("silent"),
        &[(exampledb::DATABASE_ENV, &url)],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(run.warnings(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("not used again"), "{}", run.stderr());
    // Three properties, one attempt: the store was given up after the first.
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// The recipe with its shared store down still replays the seeds in the local directory.
#[test]
fn a_shared_store_that_is_down_leaves_the_local_seeds_replayed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage: PathBuf = dir.path().join("dev");
    let local = storage.join("examples").display().to_string();
    let ns = namespace("local-only");
    let first = run(
        dir.path(),
        "planted",
        &ns,
        &[(exampledb::DATABASE_ENV, &local)],
    );
    assert_failed_on_the_bug(&first);

    let shared = format!("redis://127.0.0.1:{}", closed_port());
    let storage = storage.display().to_string();
    let second = run(
        dir.path(),
        "planted",
        &ns,
        &[
            (SHARED_ENV, &shared),
            ("HYPOTHESIS_STORAGE_DIRECTORY", &storage),
        ],
    );
    assert_failed_on_the_bug(&second);
    assert_eq!(second.cases.first(), Some(&first.first_failure()));
    assert_eq!(second.warnings(), 1, "{}", second.stderr());
}

/// proptest's fork mode, where every case runs in a child process: the seed saved by one
/// run is still the next run's first case.
#[test]
fn in_proptests_fork_mode_a_saved_failure_is_replayed_first() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("examples").display().to_string();
    let ns = namespace("fork");
    let env = [(exampledb::DATABASE_ENV, root.as_str())];
    let first = run(dir.path(), "fork-planted", &ns, &env);
    assert_failed_on_the_bug(&first);
    let second = run(dir.path(), "fork-planted", &ns, &env);
    assert_failed_on_the_bug(&second);
    assert_eq!(
        second.cases.first(),
        Some(&first.first_failure()),
        "{}",
        second.stderr()
    );
    // The children's list reached the parent, which removed it.
    for run in [&first, &second] {
        assert_eq!(snapshots_of(run.pid), Vec::<String>::new());
    }
}

/// The fork snapshots a process (a fork parent) left in this user's directory.
fn snapshots_of(pid: u32) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().expect("a file");
    let uid = probe.as_file().metadata().expect("its metadata").uid();
    let dir = std::env::temp_dir().join(format!("exampledb-proptest-{uid}"));
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&format!("{pid}-")))
                .collect()
        })
        .unwrap_or_default()
}

/// In fork mode a child that waited for a silent store past proptest's timeout (3 s here)
/// before its first case would fail the test: the child waits at most a second.
#[test]
fn in_proptests_fork_mode_a_silent_store_does_not_fail_the_test() {
    let (port, _) = silent_server();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("redis://127.0.0.1:{port}/0?connect_timeout=60s&operation_timeout=60s");
    let run = run(
        dir.path(),
        "fork-passing",
        &namespace("fork-silent"),
        &[(exampledb::DATABASE_ENV, &url), (WAIT_ENV, "30000")],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
}

/// In fork mode the child and the parent see one list of seeds even when the store
/// changes between their loads: the store is asked once, by the first child, and the
/// parent replays the children's results against that same list (proptest pairs them up
/// in order).
#[test]
fn in_proptests_fork_mode_a_store_that_changes_meanwhile_does_not_misalign_the_replay() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let counter = dir.path().join("fetches").display().to_string();
    let run = run(
        dir.path(),
        "fork-shifting",
        &namespace("shifting"),
        &[(COUNTER_ENV, &counter)],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let fetches = std::fs::read_to_string(&counter).expect("the fetch counter");
    assert_eq!(fetches, "x", "one load from the store, by the first child");
}
