//! The configuration convention: `github://` URLs and string options (each checked for
//! its effect against the testkit's GitHub API mock where it has one), malformed URLs,
//! tokens refused in URLs, and `check()`. The environment is in `env.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use exampledb_core::config::DatabaseBuilder;
use exampledb_core::{hypothesis_hash, Error, ErrorKind, ExampleDatabase};
use exampledb_github::{
    GitHubArtifactDatabase, GitHubArtifactDatabaseBuilder, Problem, Status, DEFAULT_API_URL,
};
use exampledb_testkit::conformance::{read_only_contents, read_only_model};
use exampledb_testkit::github::{
    model_zip, raw_zip, Endpoint, Fault, MockArtifact, MockGitHub, RawEntry, Unconnectable,
    MOCK_TOKEN,
};

const NAME: &str = "hypothesis-example-db";

fn small_model() -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut m = BTreeMap::new();
    m.insert(b"k1".to_vec(), vec![b"v1".to_vec(), b"v2".to_vec()]);
    m.insert(b"k2".to_vec(), vec![b"v3".to_vec()]);
    m
}

/// `text` as a query value (everything but unreserved characters, `/` and `:` escaped).
fn q(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `github://octo/repo{path}?api_url=<mock>&cache_dir=<cache>&{query}`.
fn url(mock: &MockGitHub, cache: &Path, path: &str, query: &str) -> String {
    let mut url = format!(
        "github://octo/repo{path}?api_url={}&cache_dir={}",
        q(&mock.api_url()),
        q(cache.to_str().unwrap())
    );
    if !query.is_empty() {
        url.push('&');
        url.push_str(query);
    }
    url
}

/// A database from `url`, with the mock's token set in code.
fn from_url(url: &str) -> GitHubArtifactDatabase {
    GitHubArtifactDatabaseBuilder::from_url(url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .token(MOCK_TOKEN)
        .build()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

async fn fetch_sorted(db: &dyn ExampleDatabase, key: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = db
        .fetch(key)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.to_vec())
        .collect();
    v.sort();
    v
}

fn problem_of(e: &Error) -> Problem {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<Problem>())
        .cloned()
        .unwrap_or_else(|| panic!("no Problem behind {e:?}"))
}

/// The problem `db` reports after opening; it is unavailable.
async fn unavailable(db: &GitHubArtifactDatabase) -> Problem {
    let err = db.check().await.unwrap_err();
    let problem = problem_of(&err);
    assert_eq!(
        db.status(),
        Status::Unavailable {
            problem: problem.clone()
        }
    );
    problem
}

fn put_cached(dir: &Path, age: chrono::Duration, zip: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    let name = (Utc::now() - age)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
        .replace(':', "_");
    std::fs::write(dir.join(format!("{name}.zip")), zip).unwrap();
}

fn refusal(result: exampledb_core::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(e @ Error::InvalidConfig { .. }) => e.to_string(),
        other => panic!("not refused as a configuration error: {other:?}"),
    }
}

/// The read-only conformance suite on a database configured entirely by a `github://`
/// URL (the token set in code, as URLs cannot carry one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_database_from_a_url() {
    let mock = MockGitHub::start().await;
    let model = read_only_model(11);
    mock.add(MockArtifact::new(
        3,
        "ci-db",
        "2026-11-20T10:00:00Z",
        model_zip(&model),
    ));
    let cache = tempfile::tempdir().unwrap();
    let db = from_url(&url(
        &mock,
        cache.path(),
        "/ci-db",
        "operation_timeout=5s&strict=true",
    ));
    let db: Arc<dyn ExampleDatabase> = Arc::new(db);
    read_only_contents(db, &model, true).await;
    assert_eq!(mock.count(Endpoint::Blob), 1);
}

/// The artifact name (in the path or as `artifact_name`, percent-decoded), `api_url`
/// (GitHub Enterprise Server's `/api/v3`), `cache_dir`, `cache_timeout` and `token` (in
/// code) all reach the requests and the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_options_reach_the_requests_and_the_cache() {
    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(
        1,
        "ci db",
        "2026-11-21T00:00:00Z",
        model_zip(&small_model()),
    ));
    for (path, extra) in [("/ci%20db", ""), ("", "artifact_name=ci%20db")] {
        mock.clear_seen();
        let cache = tempfile::tempdir().unwrap();
        let ghe = q(&format!("{}/api/v3", mock.api_url()));
        let url = format!(
            "github://octo/repo{path}?api_url={ghe}&cache_dir={}&{extra}",
            q(cache.path().to_str().unwrap())
        );
        let db = GitHubArtifactDatabaseBuilder::from_url(&url)
            .unwrap()
            .with_option("token", MOCK_TOKEN)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(db.cache_dir(), cache.path());
        assert_eq!(
            fetch_sorted(&db, b"k2").await,
            vec![b"v3".to_vec()],
            "{url}"
        );
        let list = mock
            .seen()
            .into_iter()
            .find(|s| s.endpoint == Endpoint::List)
            .unwrap();
        assert!(
            list.uri
                .starts_with("/api/v3/repos/octo/repo/actions/artifacts?name=ci%20db"),
            "{url}: {list:?}"
        );
        assert_eq!(
            list.authorization.as_deref(),
            Some(format!("Bearer {MOCK_TOKEN}").as_str())
        );
        let Status::Downloaded { archive, .. } = db.status() else {
            panic!("{:?}", db.status());
        };
        assert_eq!(archive.parent(), Some(cache.path()));
    }

    // cache_timeout: a zip two hours old is fresh under 3h and stale under 1h.
    let cache = tempfile::tempdir().unwrap();
    put_cached(
        cache.path(),
        chrono::Duration::hours(2),
        &model_zip(&small_model()),
    );
    mock.clear_seen();
    let db = from_url(&url(&mock, cache.path(), "/ci%20db", "cache_timeout=3h"));
    db.check().await.unwrap();
    assert!(
        matches!(db.status(), Status::Cached { .. }),
        "{:?}",
        db.status()
    );
    assert!(mock.seen().is_empty());
    let db = from_url(&url(&mock, cache.path(), "/ci%20db", "cache_timeout=1h"));
    db.check().await.unwrap();
    assert!(
        matches!(db.status(), Status::Downloaded { .. }),
        "{:?}",
        db.status()
    );
}

/// `strict`: a failure is an error from every call, or an empty database.
#[tokio::test]
async fn strict_from_a_url() {
    let mock = MockGitHub::start().await;
    mock.set_list_fault(Some(Fault::Status(404)));
    let cache = tempfile::tempdir().unwrap();
    let strict = from_url(&url(&mock, cache.path(), "", "strict=true"));
    let err = strict.fetch(b"k1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("octo/repo"), "{err}");
    let lenient = from_url(&url(&mock, cache.path(), "", "strict=off"));
    assert!(lenient.fetch(b"k1").await.unwrap().is_empty());
}

/// The three time limits, each named by the problem when it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_from_a_url() {
    let limit = Duration::from_millis(400);
    let is_timeout =
        |p: &Problem, want: Duration| matches!(p, Problem::Timeout { after, .. } if *after == want);

    // operation_timeout: the listing never answers.
    let mock = MockGitHub::start().await;
    mock.set_list_fault(Some(Fault::Hang));
    let cache = tempfile::tempdir().unwrap();
    let db = from_url(&url(&mock, cache.path(), "", "operation_timeout=400ms"));
    let started = Instant::now();
    let problem = unavailable(&db).await;
    assert!(is_timeout(&problem, limit), "{problem:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // connect_timeout: the API host never completes the connection; the operation
    // timeout is far longer, so the connect timeout is what stops it.
    let hole = Unconnectable::start().await;
    let db = GitHubArtifactDatabaseBuilder::from_url(&format!(
        "github://octo/repo?api_url={}&cache_dir={}&connect_timeout=400ms&operation_timeout=20s",
        q(&hole.url()),
        q(cache.path().to_str().unwrap())
    ))
    .unwrap()
    .build()
    .unwrap();
    let started = Instant::now();
    let problem = unavailable(&db).await;
    assert!(is_timeout(&problem, limit), "{problem:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(problem.to_string().contains("400ms"), "{problem}");
    assert_eq!(problem.kind(), ErrorKind::Timeout);

    // download_timeout: the blob host trickles one byte every 50 ms.
    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(
        1,
        NAME,
        "2026-11-21T00:00:00Z",
        model_zip(&small_model()),
    ));
    mock.set_blob_fault(Some(Fault::Trickle(Duration::from_millis(50))));
    let db = from_url(&url(
        &mock,
        cache.path(),
        "",
        "download_timeout=1s&operation_timeout=5s",
    ));
    let problem = unavailable(&db).await;
    assert!(is_timeout(&problem, Duration::from_secs(1)), "{problem:?}");

    // Zero is refused, for each.
    for key in ["connect_timeout", "operation_timeout", "download_timeout"] {
        let text = refusal(
            GitHubArtifactDatabaseBuilder::from_url(&format!("github://o/r?{key}=0s"))
                .unwrap()
                .build(),
        );
        assert!(text.contains(key), "{text}");
    }
}

/// The four archive limits, from query parameters.
#[tokio::test]
async fn limits_from_a_url() {
    let k = hypothesis_hash(b"k");
    let big = vec![7u8; 2048];
    let values: Vec<RawEntry> = (0..4u8)
        .map(|i| {
            let value = vec![i; 600];
            RawEntry::file(format!("{k}/{}", hypothesis_hash(&value)), value)
        })
        .collect();
    type Check = fn(&Problem) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("max_entries=3", model_zip(&small_model()), |p| {
            matches!(
                p,
                Problem::ArchiveLimit {
                    what: "entry count",
                    limit: 3,
                    actual: 5,
                    ..
                }
            )
        }),
        (
            "max_entry_size=1KiB",
            raw_zip(&[RawEntry::file(
                format!("{k}/{}", hypothesis_hash(&big)),
                big.clone(),
            )]),
            |p| {
                matches!(
                    p,
                    Problem::ArchiveLimit {
                        what: "entry size",
                        limit: 1024,
                        actual: 2048,
                        ..
                    }
                )
            },
        ),
        ("max_total_size=2KiB", raw_zip(&values), |p| {
            matches!(
                p,
                Problem::ArchiveLimit {
                    what: "total size",
                    limit: 2048,
                    ..
                }
            )
        }),
        ("max_download_size=100", model_zip(&small_model()), |p| {
            matches!(p, Problem::DownloadTooLarge { limit: 100, .. })
        }),
    ];
    for (query, zip, check) in cases {
        let mock = MockGitHub::start().await;
        mock.add(MockArtifact::new(1, NAME, "2026-11-21T00:00:00Z", zip));
        let cache = tempfile::tempdir().unwrap();
        let db = from_url(&url(&mock, cache.path(), "", query));
        let problem = unavailable(&db).await;
        assert!(check(&problem), "{query}: {problem:?}");
    }
    // Within the limits, the same archives open.
    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(
        1,
        NAME,
        "2026-11-21T00:00:00Z",
        model_zip(&small_model()),
    ));
    let cache = tempfile::tempdir().unwrap();
    let db = from_url(&url(
        &mock,
        cache.path(),
        "",
        "max_entries=5&max_entry_size=2&max_total_size=16&max_download_size=1MiB",
    ));
    db.check().await.unwrap();
}

/// `allow_insecure_http`: a token bound for plain http off loopback is refused unless the
/// URL opts in.
#[test]
fn allow_insecure_http_from_a_url() {
    let base = "github://octo/repo?api_url=http://ghe.example.com/api/v3";
    let text = refusal(
        GitHubArtifactDatabaseBuilder::from_url(base)
            .unwrap()
            .token("ghp_CLEARsecret")
            .build(),
    );
    assert!(
        text.contains("cleartext") && !text.contains("CLEARsecret"),
        "{text}"
    );
    GitHubArtifactDatabaseBuilder::from_url(&format!("{base}&allow_insecure_http=true"))
        .unwrap()
        .token("ghp_CLEARsecret")
        .build()
        .unwrap();
    // No token, nothing to leak.
    GitHubArtifactDatabaseBuilder::from_url(base)
        .unwrap()
        .build()
        .unwrap();
}

#[test]
fn malformed_urls_say_what_is_wrong() {
    for (url, says) in [
        ("github://", "no owner"),
        ("github:///repo", "no owner"),
        ("github://octo", "no repository"),
        ("github://octo/", "no repository"),
        ("github://octo//name", "no repository"),
        ("github://octo/repo/", "empty artifact name"),
        (
            "github://octo/repo/name/extra",
            "1 path segment(s) after the artifact name",
        ),
        (
            "github://octo/repo/a/b/c",
            "2 path segment(s) after the artifact name",
        ),
        (
            "github://octo/repo/a%2Fb",
            "not a valid GitHub artifact name",
        ),
        ("github://octo/repo/..", "not a valid GitHub artifact name"),
        (
            "github://octo/repo/a%3Ab",
            "not a valid GitHub artifact name",
        ),
        ("github://octo/repo/a%zz", "bad percent-encoding"),
        (
            "github://oc%20to/repo",
            "owner \"oc to\" is not a GitHub owner name",
        ),
        ("github://octo:443/repo", "owner \"octo:443\""),
        (
            "github://octo/..",
            "repository \"..\" is not a GitHub repository name",
        ),
        ("github://octo/re$po", "repository \"re$po\""),
        (
            "github:octo/repo",
            "is not of the form github://OWNER/REPO[/ARTIFACT]",
        ),
        (
            "https://github.com/octo/repo",
            "a https: URL is not a GitHub artifact URL",
        ),
        ("octo/repo", "no scheme"),
        ("", "no scheme"),
    ] {
        let text = refusal(GitHubArtifactDatabaseBuilder::from_url(url));
        assert!(text.contains(says), "{url:?}: {text}");
        assert!(text.contains("github-artifact"), "{url:?}: {text}");
    }
    // What is well formed: the three forms, any scheme case, a fragment.
    for (url, artifact) in [
        ("github://octo/repo", NAME),
        ("github://octo/repo/ci-db", "ci-db"),
        ("GitHub://octo/repo/ci-db#ignored", "ci-db"),
        ("github://octo/repo.js/db+fuzz", "db+fuzz"),
    ] {
        let db = GitHubArtifactDatabaseBuilder::from_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .build()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(db.cache_dir().ends_with(artifact), "{url}: {db:?}");
    }
}

/// A token in the query is refused, saying where tokens go, and its value is never
/// repeated; `token` is an option from code.
#[test]
fn a_token_in_a_url_is_refused_without_repeating_it() {
    let secret = "ghp_URLsecret0123";
    let urls = [
        format!("token={secret}"),
        format!("strict=true&token={secret}"),
        format!("TOKEN={secret}"),
        format!("tok%65n={secret}"),
        format!("github_token={secret}"),
        format!("token={secret}%zz"),
        format!("token={secret}&token={secret}"),
        format!("token={secret}&colour=blue"),
    ]
    .into_iter()
    .map(|query| format!("github://octo/repo?{query}"))
    .chain([
        // As user information, the way git URLs carry one.
        format!("github://{secret}@octo/repo"),
        format!("github://x-access-token:{secret}@octo/repo/ci-db?strict=true"),
    ]);
    for url in urls {
        let err = GitHubArtifactDatabaseBuilder::from_url(&url).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{url}: {text}");
        assert!(!text.contains("URLsecret"), "{url}: token repeated: {text}");
        assert!(
            text.contains("does not belong in a URL")
                && text.contains("GITHUB_TOKEN")
                && text.contains("token()"),
            "{url}: {text}"
        );
        // The same through with_url on a builder from code.
        let err = GitHubArtifactDatabase::builder("o", "r")
            .with_url(&url)
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("URLsecret"));
    }
    let db = GitHubArtifactDatabaseBuilder::from_url("github://octo/repo")
        .unwrap()
        .with_option("token", secret)
        .unwrap()
        .build()
        .unwrap();
    assert!(!format!("{db:?}").contains("URLsecret"));
}

#[test]
fn unknown_repeated_and_bad_parameters_are_errors_naming_them() {
    for (query, says) in [
        ("colour=blue", "unknown option \"colour\""),
        ("network_timeout=5s", "unknown option \"network_timeout\""),
        ("Strict=true", "unknown option \"Strict\""),
        ("strict=true&strict=false", "\"strict\" is given twice"),
        (
            "cache_timeout=1h&cache_timeout=1h",
            "\"cache_timeout\" is given twice",
        ),
        ("strict", "a query parameter has no value"),
        ("strict=maybe", "option strict: \"maybe\" is not a boolean"),
        ("allow_insecure_http=2", "option allow_insecure_http"),
        ("connect_timeout=soon", "option connect_timeout"),
        ("operation_timeout=-1s", "option operation_timeout"),
        ("download_timeout=1y", "option download_timeout"),
        ("cache_timeout=", "option cache_timeout"),
        ("max_entries=-1", "option max_entries"),
        ("max_entries=1e6", "option max_entries"),
        ("max_entry_size=lots", "option max_entry_size"),
        ("max_total_size=1.5MiB", "option max_total_size"),
        ("max_download_size=1TiB", "option max_download_size"),
    ] {
        let text = refusal(GitHubArtifactDatabaseBuilder::from_url(&format!(
            "github://octo/repo?{query}"
        )));
        assert!(text.contains(says), "{query}: {text}");
        if says.starts_with("unknown") {
            assert!(
                text.contains("operation_timeout, download_timeout"),
                "{text}"
            );
            assert!(!text.contains("token"), "a URL takes no token: {text}");
        }
    }
    let text = refusal(GitHubArtifactDatabaseBuilder::from_url(
        "github://octo/repo/ci-db?artifact_name=other",
    ));
    assert!(text.contains("artifact name twice"), "{text}");
    // Invalid values that parse are refused by build, naming the setting.
    for (query, says) in [
        ("api_url=ftp://example.com", "API URL"),
        ("api_url=https://example.com/api%3Fx%3D1", "API URL"),
        ("artifact_name=a/b", "artifact name"),
    ] {
        let text = refusal(
            GitHubArtifactDatabaseBuilder::from_url(&format!("github://octo/repo?{query}"))
                .unwrap()
                .build(),
        );
        assert!(text.contains(says), "{query}: {text}");
    }
    // with_option, from code: unknown keys list every option, token included.
    let err = code_builder().with_option("colour", "blue").unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
}

/// A builder from code, with every default.
fn code_builder() -> GitHubArtifactDatabaseBuilder {
    GitHubArtifactDatabase::builder("octo", "repo")
}

/// The builder through the convention's trait, as the facade uses it.
#[test]
fn the_database_builder_trait() {
    let keys = <GitHubArtifactDatabaseBuilder as DatabaseBuilder>::OPTIONS;
    for key in [
        "artifact_name",
        "cache_dir",
        "cache_timeout",
        "token",
        "api_url",
        "strict",
        "allow_insecure_http",
        "connect_timeout",
        "operation_timeout",
        "download_timeout",
        "max_entries",
        "max_entry_size",
        "max_total_size",
        "max_download_size",
    ] {
        assert!(keys.contains(&key), "{key}");
    }
    assert_eq!(keys.len(), 14);
    let db = DatabaseBuilder::with_options(
        code_builder(),
        [("artifact_name", "ci-db"), ("cache_timeout", "1h")],
    )
    .unwrap();
    let db = DatabaseBuilder::build(db).unwrap();
    assert!(db.cache_dir().ends_with("ci-db"));
    // The pure defaults.
    let text = format!("{:?}", code_builder());
    assert!(
        text.contains(DEFAULT_API_URL) && text.contains("token: None"),
        "{text}"
    );
}

/// `check()`: Ok when an archive is in use (downloaded, cached, or the expired cache as
/// a fallback); an error with the problem's kind when nothing is, in lenient mode too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_availability_with_the_kind() {
    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(
        1,
        NAME,
        "2026-11-21T00:00:00Z",
        model_zip(&small_model()),
    ));
    let cache = tempfile::tempdir().unwrap();
    let db = from_url(&url(&mock, cache.path(), "", ""));
    assert_eq!(db.status(), Status::NotOpened);
    db.check().await.unwrap();
    assert!(matches!(
        db.status(),
        Status::Downloaded { artifact_id: 1, .. }
    ));
    assert_eq!(mock.count(Endpoint::Blob), 1);
    // Opened once: nothing more is asked of GitHub.
    db.check().await.unwrap();
    assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
    assert_eq!(mock.count(Endpoint::List), 1);
    // The cache it left, without the network.
    mock.clear_seen();
    let cached = from_url(&url(&mock, cache.path(), "", ""));
    cached.check().await.unwrap();
    assert!(matches!(cached.status(), Status::Cached { .. }));
    assert!(mock.seen().is_empty());

    type Inject = fn(&MockGitHub);
    let cases: [(Inject, ErrorKind); 6] = [
        (
            |m| m.set_token(Some("another token")),
            ErrorKind::Unauthenticated,
        ),
        (
            |m| m.set_list_fault(Some(Fault::Status(403))),
            ErrorKind::PermissionDenied,
        ),
        (
            |m| m.set_list_fault(Some(Fault::RateLimited)),
            ErrorKind::RateLimited,
        ),
        (
            |m| m.set_list_fault(Some(Fault::Status(404))),
            ErrorKind::NotFound,
        ),
        (
            |m| m.set_list_fault(Some(Fault::Status(503))),
            ErrorKind::Unavailable,
        ),
        (
            |m| m.set_list_fault(Some(Fault::MalformedJson)),
            ErrorKind::Protocol,
        ),
    ];
    for (inject, kind) in cases {
        let mock = MockGitHub::start().await;
        inject(&mock);
        let empty = tempfile::tempdir().unwrap();
        let db = from_url(&url(&mock, empty.path(), "", "strict=false"));
        let err = db.check().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.backend(), "github-artifact");
        assert!(err.to_string().contains("octo/repo"), "{err}");
        let Status::Unavailable { problem } = db.status() else {
            panic!("{:?}", db.status());
        };
        assert_eq!(problem_of(&err), problem);
        // Lenient all the same: reads give an empty database.
        assert!(db.fetch(b"k1").await.unwrap().is_empty());
        // Again: the same answer, without asking GitHub again.
        let requests = mock.seen().len();
        assert_eq!(db.check().await.unwrap_err().kind(), kind);
        assert_eq!(mock.seen().len(), requests);

        // An expired cache to fall back on: Ok, and the status says why.
        let stale = tempfile::tempdir().unwrap();
        put_cached(
            stale.path(),
            chrono::Duration::days(3),
            &model_zip(&small_model()),
        );
        let db = from_url(&url(&mock, stale.path(), "", ""));
        db.check().await.unwrap();
        let Status::ExpiredFallback { problem, .. } = db.status() else {
            panic!("{:?}", db.status());
        };
        assert_eq!(problem.kind(), kind);
    }
}
