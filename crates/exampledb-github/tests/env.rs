//! `from_env()` reads `GITHUB_REPOSITORY`, `GITHUB_TOKEN`, `GITHUB_API_URL` and
//! `HYPOTHESIS_STORAGE_DIRECTORY`; `builder()` and `from_url()` read none of them.
//!
//! These tests set environment variables. cargo-nextest runs every test in its own
//! process, so that is safe there; under plain `cargo test` the tests of this file share
//! one process, so each holds [`ENV`] for its whole run and starts from a clean slate.
//! No other test binary of the crate sets variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The environment lock is held across awaits on purpose: each test runs on its own
// runtime, and the lock only orders the tests of this file.
#![allow(clippy::await_holding_lock)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use exampledb_core::{Error, ExampleDatabase};
use exampledb_github::{
    GitHubArtifactDatabase, GitHubArtifactDatabaseBuilder, Problem, Status, API_URL_ENV,
    REPOSITORY_ENV, TOKEN_ENV,
};
use exampledb_testkit::github::{model_zip, Endpoint, MockArtifact, MockGitHub, MOCK_TOKEN};

const STORAGE_ENV: &str = exampledb_core::directory::STORAGE_DIRECTORY_ENV;

/// Held by every test of this file (see the module documentation).
static ENV: Mutex<()> = Mutex::new(());

/// Takes [`ENV`] and sets exactly `vars` among the four variables (the others removed).
fn environment(vars: &[(&str, &str)]) -> MutexGuard<'static, ()> {
    let guard = ENV.lock().unwrap_or_else(PoisonError::into_inner);
    for name in [REPOSITORY_ENV, TOKEN_ENV, API_URL_ENV, STORAGE_ENV] {
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
    guard
}

fn one_value() -> Vec<u8> {
    let mut model = BTreeMap::new();
    model.insert(b"k1".to_vec(), vec![b"v1".to_vec()]);
    model_zip(&model)
}

async fn serve(mock: &MockGitHub) {
    mock.add(MockArtifact::new(
        1,
        "hypothesis-example-db",
        "2026-11-21T00:00:00Z",
        one_value(),
    ));
}

fn refusal<T: std::fmt::Debug>(result: exampledb_core::Result<T>) -> String {
    match result {
        Err(e @ Error::InvalidConfig { .. }) => e.to_string(),
        other => panic!("not refused as a configuration error: {other:?}"),
    }
}

fn problem(db: &GitHubArtifactDatabase) -> Problem {
    db.status().problem().cloned().unwrap()
}

/// In GitHub Actions: the repository, the token and the API from the environment, and
/// the cache in Hypothesis's storage directory.
#[tokio::test]
async fn from_env_reads_the_repository_token_api_and_storage_directory() {
    let mock = MockGitHub::start().await;
    serve(&mock).await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("storage");
    let api = mock.api_url();
    let _env = environment(&[
        (REPOSITORY_ENV, "octo/repo"),
        (TOKEN_ENV, MOCK_TOKEN),
        (API_URL_ENV, &api),
        (STORAGE_ENV, home.to_str().unwrap()),
    ]);
    let db = GitHubArtifactDatabaseBuilder::from_env().build().unwrap();
    assert_eq!(
        db.cache_dir(),
        home.join("github-artifacts/hypothesis-example-db")
    );
    db.check().await.unwrap();
    assert_eq!(db.fetch(b"k1").await.unwrap().len(), 1);
    let list = mock
        .seen()
        .into_iter()
        .find(|s| s.endpoint == Endpoint::List)
        .unwrap();
    assert!(list.uri.starts_with("/repos/octo/repo/"), "{list:?}");
    assert_eq!(
        list.authorization.as_deref(),
        Some(format!("Bearer {MOCK_TOKEN}").as_str())
    );
    assert!(
        home.join(".gitignore").is_file(),
        "Hypothesis's storage directory is created as Hypothesis creates it"
    );

    // A URL on top: its repository and options win, the token stays.
    mock.add(MockArtifact::new(
        2,
        "other-db",
        "2026-11-21T00:00:00Z",
        one_value(),
    ));
    let db = GitHubArtifactDatabaseBuilder::from_env()
        .with_url("github://elsewhere/project/other-db?strict=true")
        .unwrap()
        .build()
        .unwrap();
    db.check().await.unwrap();
    assert!(mock.seen().iter().any(|s| s
        .uri
        .starts_with("/repos/elsewhere/project/actions/artifacts?name=other-db")));
    assert!(format!("{db:?}").contains("elsewhere/project"));
}

/// `builder()` and `from_url()` are pure: with every variable set, they send no token
/// (the mock answers 401), use api.github.com unless told otherwise, and put the cache
/// under `.hypothesis`.
#[tokio::test]
async fn builder_and_from_url_ignore_the_environment() {
    let mock = MockGitHub::start().await;
    serve(&mock).await;
    let api = mock.api_url();
    let home = tempfile::tempdir().unwrap();
    let _env = environment(&[
        (REPOSITORY_ENV, "octo/repo"),
        (TOKEN_ENV, MOCK_TOKEN),
        (API_URL_ENV, &api),
        (STORAGE_ENV, home.path().to_str().unwrap()),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let pure = [
        GitHubArtifactDatabase::builder("octo", "repo"),
        GitHubArtifactDatabaseBuilder::from_url("github://octo/repo").unwrap(),
    ];
    for builder in pure {
        let text = format!("{builder:?}");
        assert!(
            text.contains("https://api.github.com") && text.contains("token: None"),
            "{text}"
        );
        let db = builder.clone().build().unwrap();
        assert_eq!(
            db.cache_dir(),
            Path::new(".hypothesis/github-artifacts/hypothesis-example-db")
        );
        let db = builder
            .api_url(&api)
            .cache_dir(cache.path())
            .build()
            .unwrap();
        assert!(db.fetch(b"k1").await.unwrap().is_empty());
        assert!(
            matches!(problem(&db), Problem::Unauthorized { .. }),
            "{:?}",
            db.status()
        );
    }
    assert!(mock.seen().iter().all(|s| s.authorization.is_none()));
    // from_url names its own repository, whatever GITHUB_REPOSITORY says.
    let db = GitHubArtifactDatabaseBuilder::from_url("github://x/y")
        .unwrap()
        .build()
        .unwrap();
    assert!(format!("{db:?}").contains("x/y"));
}

/// Outside GitHub Actions there is no repository until one is named.
#[test]
fn from_env_without_a_repository() {
    let _env = environment(&[(TOKEN_ENV, "ghp_ENVsecret")]);
    let text = refusal(GitHubArtifactDatabaseBuilder::from_env().build());
    assert!(
        text.contains("no repository")
            && text.contains("GITHUB_REPOSITORY")
            && text.contains("repository(owner, repo)"),
        "{text}"
    );
    assert!(!text.contains("ENVsecret"), "{text}");
    let db = GitHubArtifactDatabaseBuilder::from_env()
        .repository("octo", "repo")
        .build()
        .unwrap();
    assert!(format!("{db:?}").contains("octo/repo"));
    assert!(!format!("{db:?}").contains("ENVsecret"));
    // Without HYPOTHESIS_STORAGE_DIRECTORY, Hypothesis's default place.
    assert_eq!(
        db.cache_dir(),
        Path::new(".hypothesis/github-artifacts/hypothesis-example-db")
    );
}

#[test]
fn a_malformed_github_repository_is_reported_by_build() {
    for value in ["octo", "octo/repo/extra", "/repo", "octo/"] {
        let _env = environment(&[(REPOSITORY_ENV, value)]);
        let text = refusal(GitHubArtifactDatabaseBuilder::from_env().build());
        assert!(
            text.contains(&format!("GITHUB_REPOSITORY {value:?} is not OWNER/REPO")),
            "{value}: {text}"
        );
        // Naming the repository replaces it.
        GitHubArtifactDatabaseBuilder::from_env()
            .repository("octo", "repo")
            .build()
            .unwrap();
    }
}

/// Empty variables count as unset; GITHUB_API_URL over plain http off loopback is
/// refused with a token, naming the variable.
#[test]
fn empty_variables_and_a_cleartext_api_url() {
    {
        let _env = environment(&[(REPOSITORY_ENV, ""), (TOKEN_ENV, ""), (API_URL_ENV, "")]);
        let builder = GitHubArtifactDatabaseBuilder::from_env();
        let text = format!("{builder:?}");
        assert!(
            text.contains("token: None") && text.contains("https://api.github.com"),
            "{text}"
        );
        assert!(refusal(builder.build()).contains("no repository"));
    }
    let _env = environment(&[
        (REPOSITORY_ENV, "octo/repo"),
        (TOKEN_ENV, "ghp_ENVsecret"),
        (API_URL_ENV, "http://ghe.example.com/api/v3"),
    ]);
    let text = refusal(GitHubArtifactDatabaseBuilder::from_env().build());
    assert!(
        text.contains("cleartext") && text.contains("GITHUB_API_URL"),
        "{text}"
    );
    assert!(!text.contains("ENVsecret"), "{text}");
    GitHubArtifactDatabaseBuilder::from_env()
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert!(matches!(
        GitHubArtifactDatabaseBuilder::from_env()
            .api_url("https://ghe.example.com/api/v3")
            .build(),
        Ok(db) if db.status() == Status::NotOpened
    ));
}

#[test]
fn variables_that_are_not_utf8_are_reported_not_ignored() {
    use std::os::unix::ffi::OsStringExt;
    let _env = environment(&[(REPOSITORY_ENV, "o/r")]);
    std::env::set_var(
        TOKEN_ENV,
        std::ffi::OsString::from_vec(b"ghp_\xffSECRET".to_vec()),
    );
    let message = refusal(GitHubArtifactDatabaseBuilder::from_env().build());
    assert!(
        message.contains(TOKEN_ENV) && message.contains("UTF-8"),
        "{message}"
    );
    assert!(!message.contains("SECRET"), "{message}");
    std::env::remove_var(TOKEN_ENV);
}

#[test]
fn debug_hides_credentials_in_the_api_url() {
    let _env = environment(&[]);
    let builder = GitHubArtifactDatabase::builder("o", "r")
        .api_url("https://x-access-token:ghp_SECRET2@ghe.example/api/v3");
    let shown = format!("{builder:?} {:?}", builder.clone().build().unwrap());
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("ghe.example/api/v3"), "{shown}");
}
