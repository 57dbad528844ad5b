//! `cargo xtask integration-test`: services up, every test against them, services down.

use std::process::{Command, Stdio};

use exampledb_testkit::python::{workspace_root, Python};
use exampledb_testkit::services::{
    MotoServer, RedisCluster, RedisServer, REDIS_CLUSTER_ENV, REDIS_URL_ENV, S3_ENDPOINT_ENV,
};
use exampledb_testkit::REQUIRE_SERVICES_ENV;

use crate::{cargo, run};

/// Ports docker-compose.yml publishes.
const COMPOSE_REDIS_URL: &str = "redis://127.0.0.1:16379";
const COMPOSE_CLUSTER_URLS: &str =
    "redis://127.0.0.1:17001,redis://127.0.0.1:17002,redis://127.0.0.1:17003";
const COMPOSE_S3_ENDPOINT: &str = "http://127.0.0.1:15000";

/// What is running for the tests; stopping it is dropping it.
enum Services {
    Compose,
    Native {
        _redis: RedisServer,
        _cluster: RedisCluster,
        _moto: MotoServer,
    },
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Services::Compose = self {
            let _ = crate::run(
                compose()
                    .args(["down", "--volumes", "--remove-orphans"])
                    .stdout(Stdio::null()),
            );
        }
    }
}

fn compose() -> Command {
    let mut c = Command::new("docker");
    c.arg("compose").current_dir(workspace_root());
    c
}

fn docker_engine_available() -> bool {
    if std::env::var_os("EXAMPLEDB_NO_DOCKER").is_some() {
        return false;
    }
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Environment variables that tell the tests where the services are.
type ServiceEnv = Vec<(&'static str, String)>;

fn start(python: &Python) -> Result<(Services, ServiceEnv), String> {
    if docker_engine_available() {
        eprintln!("xtask: Docker engine found; starting services with docker compose");
        run(compose().args([
            "up",
            "--detach",
            "--wait",
            "redis",
            "redis-cluster-1",
            "redis-cluster-2",
            "redis-cluster-3",
            "moto",
        ]))?;
        run(compose().args(["run", "--rm", "redis-cluster-init"]))?;
        return Ok((
            Services::Compose,
            vec![
                (REDIS_URL_ENV, COMPOSE_REDIS_URL.to_owned()),
                (REDIS_CLUSTER_ENV, COMPOSE_CLUSTER_URLS.to_owned()),
                (S3_ENDPOINT_ENV, COMPOSE_S3_ENDPOINT.to_owned()),
            ],
        ));
    }
    eprintln!(
        "xtask: no Docker engine; starting redis-server and moto_server processes on loopback ports"
    );
    let redis = RedisServer::start(&["--appendonly", "no"])?;
    let cluster = RedisCluster::start()?;
    let moto = MotoServer::start(python)?;
    let env = vec![
        (REDIS_URL_ENV, redis.url()),
        (REDIS_CLUSTER_ENV, cluster.urls().join(",")),
        (S3_ENDPOINT_ENV, moto.endpoint()),
    ];
    eprintln!(
        "xtask: Redis at {}, cluster at {}, S3 and DynamoDB (moto) at {}",
        env[0].1, env[1].1, env[2].1
    );
    Ok((
        Services::Native {
            _redis: redis,
            _cluster: cluster,
            _moto: moto,
        },
        env,
    ))
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn integration_test(extra: &[String]) -> Result<(), String> {
    let python = Python::ensure()?;
    eprintln!(
        "xtask: Python Hypothesis ready at {}",
        python.exe().display()
    );
    // Build first, so services do not sit idle through a long compile.
    // The Python package is built by maturin (below), not linked against libpython here.
    run(cargo().args([
        "build",
        "--workspace",
        "--exclude",
        "exampledb-python",
        "--all-features",
        "--tests",
        "--quiet",
    ]))?;
    let (services, env) = start(&python)?;
    let mut tests = cargo();
    if has_nextest() {
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--exclude",
            "exampledb-python",
            "--all-features",
            "--no-fail-fast",
        ]);
    } else {
        tests.args([
            "test",
            "--workspace",
            "--exclude",
            "exampledb-python",
            "--all-features",
            "--no-fail-fast",
        ]);
    }
    tests.args(extra).env(REQUIRE_SERVICES_ENV, "1");
    let mut doctests = cargo();
    doctests
        .args([
            "test",
            "--workspace",
            "--exclude",
            "exampledb-python",
            "--all-features",
            "--doc",
        ])
        .env(REQUIRE_SERVICES_ENV, "1");
    for (k, v) in &env {
        tests.env(k, v);
        doctests.env(k, v);
    }
    // The facade with the network backends' features off: their URLs must name the
    // feature to enable (an all-features build cannot show that).
    let mut without_features = cargo();
    without_features.args([
        "test",
        "--package",
        "exampledb",
        "--no-default-features",
        "--test",
        "without_features",
    ]);
    // The proptest crate's example, the CI-to-developer recipe the README points to,
    // against the Redis server (it asserts that CI's failure is replayed first).
    let redis_url = env
        .iter()
        .find(|(k, _)| *k == REDIS_URL_ENV)
        .map(|(_, v)| v.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let mut recipe_example = cargo();
    recipe_example.args([
        "run",
        "--quiet",
        "--package",
        "exampledb-proptest",
        "--all-features",
        "--example",
        "ci_recipe",
        "--",
        &format!(
            "{redis_url}?key_prefix=xtask-ci-recipe-{}:",
            std::process::id()
        ),
    ]);
    let result = run(&mut tests)
        .and_then(|()| run(&mut doctests))
        .and_then(|()| run(&mut without_features))
        .and_then(|()| run(&mut recipe_example))
        .and_then(|()| python_package_tests(&python, &env));
    drop(services);
    result
}

/// The Python package's directory.
const PYTHON_PACKAGE: &str = "crates/exampledb-python";

/// Builds the Python package into `venv` (`maturin develop`, an editable install).
pub(crate) fn maturin_develop(venv: &Python, release: bool) -> Result<(), String> {
    let bin = venv
        .exe()
        .parent()
        .map(std::path::Path::to_path_buf)
        .ok_or("the venv has no bin directory")?;
    let venv_dir = bin.parent().ok_or("the venv has no root")?;
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        ),
    )
    .map_err(|e| format!("PATH: {e}"))?;
    let mut develop = Command::new(bin.join("maturin"));
    develop
        .args(["develop", "--quiet"])
        .current_dir(workspace_root().join(PYTHON_PACKAGE))
        .env("VIRTUAL_ENV", venv_dir)
        .env("PATH", path);
    if release {
        develop.arg("--release");
    }
    run(&mut develop)
}

/// The Python package's pytest suite: built into the interop venv and into HypoFuzz's
/// (which needs an older Hypothesis), then run against the services.
fn python_package_tests(python: &Python, env: &ServiceEnv) -> Result<(), String> {
    let hypofuzz = Python::ensure_hypofuzz()?;
    maturin_develop(python, false)?;
    maturin_develop(&hypofuzz, false)?;
    let mut pytest = Command::new(python.exe());
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(workspace_root().join(PYTHON_PACKAGE))
        .env(REQUIRE_SERVICES_ENV, "1")
        .env("EXAMPLEDB_HYPOFUZZ_PYTHON", hypofuzz.exe());
    for (k, v) in env {
        pytest.env(k, v);
    }
    run(&mut pytest)
}
