//! `exampledb::open(url)`: every URL form, options, errors, the recipe, and the
//! conformance suite on databases opened by URL. Needs the facade's features (`cargo
//! xtask integration-test` builds with all of them; `without_features.rs` covers the
//! messages when they are off).
#![cfg(all(
    feature = "redis",
    feature = "github",
    feature = "s3",
    feature = "dynamodb"
))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use exampledb::bytes::Bytes;
use exampledb::{open, open_with, Error, ErrorKind, ExampleDatabase};
use exampledb_testkit::conformance::{self, read_only_model, Capabilities};
use exampledb_testkit::github::{model_zip, MockArtifact, MockGitHub};
use exampledb_testkit::services::redis_url;
use exampledb_testkit::{hex, unique_prefix};

const DIRECTORY: Capabilities = Capabilities {
    keys: true,
    events: true,
    async_events: true,
    max_key: None,
    max_value: None,
};

fn arc(db: Box<dyn ExampleDatabase>) -> Arc<dyn ExampleDatabase> {
    Arc::from(db)
}

/// The configuration error `url` gives, with its message.
fn config_error(url: &str) -> String {
    match open(url) {
        Err(e @ Error::InvalidConfig { .. }) => {
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            e.to_string()
        }
        Err(other) => panic!("{url}: not a configuration error: {other:?}"),
        Ok(db) => panic!("{url}: opened {db:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_path_and_file_urls_open_the_directory_database() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("examples");
    let forms = [
        root.display().to_string(),
        format!("file:{}", root.display()),
        format!("file://{}", root.display()),
        format!("file://localhost{}", root.display()),
        format!(
            "file:{}?durable=true&unnamed_temp_files=false",
            root.display()
        ),
    ];
    for (i, url) in forms.iter().enumerate() {
        let db = open(url).unwrap();
        let value = format!("v{i}");
        db.save(b"k", value.as_bytes()).await.unwrap();
        // Hypothesis's layout, under the path the URL names.
        let file = root
            .join(exampledb::layout::key_dir(b"k"))
            .join(exampledb::layout::value_file(value.as_bytes()));
        assert!(file.is_file(), "{url}: {}", file.display());
    }
    // Options from code, after the URL's.
    let db = open_with(
        &format!("file:{}", root.display()),
        [("max_value_size", "4")],
    )
    .unwrap();
    let err = db.save(b"k", b"12345").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    // A percent-encoded path, and a plain path that keeps its '?'.
    let odd = tmp.path().join("a b?c");
    let db = open(
        &format!("file:{}", odd.display())
            .replace(' ', "%20")
            .replace('?', "%3F"),
    )
    .unwrap();
    db.save(b"k", b"v").await.unwrap();
    assert!(odd.is_dir());
    let db = open(&odd.display().to_string()).unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap(), vec![Bytes::from("v")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_databases_opened_by_url() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!(
        "file:{}?durable=true",
        tmp.path().join("examples").display()
    );
    conformance::run_all(arc(open(&url).unwrap()), DIRECTORY).await;
    conformance::run_all(arc(open("memory:").unwrap()), Capabilities::ALL).await;
    let Some(server) = redis_url("conformance_on_databases_opened_by_url") else {
        return;
    };
    let prefix = hex(&unique_prefix());
    let url =
        format!("{server}?key_prefix=t{prefix}%3A&listener_channel=c{prefix}&operation_timeout=5s");
    conformance::run_all(
        arc(open(&url).unwrap()),
        Capabilities {
            keys: true,
            events: true,
            async_events: true,
            max_key: None,
            max_value: None,
        },
    )
    .await;
}

#[test]
fn bad_urls_give_errors_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    for (url, expect) in [
        ("", "empty"),
        ("ftp://example.com/db", "unknown scheme \"ftp\""),
        ("file:", "no path"),
        ("file://example.com/x", "host"),
        (&format!("file:{dir}?durable=maybe") as &str, "durable"),
        (
            &format!("file:{dir}?fsync=true"),
            "unknown option \"fsync\"",
        ),
        (&format!("file:{dir}?durable"), "no value"),
        (&format!("file:{dir}?durable=true&durable=false"), "twice"),
        (&format!("file:{dir}?max_value_size=lots"), "max_value_size"),
        ("memory:?x=1", "unknown option \"x\""),
        ("memory:somewhere", "takes no path"),
        ("readonly:", "empty"),
        (&format!("{dir};"), "empty"),
        ("s3://Bad_Bucket/prefix", "bucket"),
        ("s3://bucket/prefix?colour=red", "unknown option \"colour\""),
        ("dynamodb://Bad/Table", "table"),
        ("dynamodb://table?colour=red", "unknown option \"colour\""),
        (
            "redis://127.0.0.1:6379?expire_after=forever",
            "expire_after",
        ),
        ("redis://127.0.0.1:6379?ttl=5", "unknown option \"ttl\""),
        ("redis://127.0.0.1:6379?pool_size=0", "pool_size"),
        ("redis://:s3cret@127.0.0.1:6379?colour=blue", "colour"),
        ("github://onlyowner", "repo"),
        ("github://o/r/a/extra", "github"),
        ("github://o/r?strict=perhaps", "strict"),
        ("github://o/r?token=ghp_SECRETSECRET", "token"),
    ] {
        let message = config_error(url);
        assert!(
            message.contains(expect),
            "{url:?}: {message:?} does not mention {expect:?}"
        );
        assert!(
            !message.contains("s3cret") && !message.contains("SECRETSECRET"),
            "{message}"
        );
    }
    // Options apply to one database; a recipe takes them in each member's query.
    let err = open_with(&format!("{dir};memory:"), [("durable", "true")]).unwrap_err();
    assert!(err.to_string().contains("each member"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recipe_writes_locally_and_reads_ci_s_artifact() {
    let mock = MockGitHub::start().await;
    // A public repository: no token needed (whatever GITHUB_TOKEN holds here).
    mock.set_token(None);
    let model = read_only_model(3);
    mock.add(MockArtifact::new(
        7,
        exampledb::github::DEFAULT_ARTIFACT_NAME,
        "2026-11-30T10:00:00Z",
        model_zip(&model),
    ));
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("examples");
    let cache = tmp.path().join("cache");
    let url = format!(
        "{};readonly:github://my-org/my-repo?api_url={}&cache_dir={}&strict=true",
        local.display(),
        mock.api_url(),
        cache.display()
    );
    let db = arc(open(&url).unwrap());
    db.check().await.unwrap();
    // Reads see CI's values.
    for (key, values) in &model {
        let mut got: Vec<Vec<u8>> = db
            .fetch(key)
            .await
            .unwrap()
            .iter()
            .map(|v| v.to_vec())
            .collect();
        got.sort();
        let mut want = values.clone();
        want.sort();
        assert_eq!(got, want, "fetch({key:?})");
    }
    // Writes reach the local directory only.
    let (key, values) = model.iter().next().unwrap();
    db.save(key, b"found locally").await.unwrap();
    let fetched = db.fetch(key).await.unwrap();
    assert_eq!(fetched.len(), values.len() + 1);
    let local_only = open(&local.display().to_string()).unwrap();
    assert_eq!(
        local_only.fetch(key).await.unwrap(),
        vec![Bytes::from("found locally")]
    );
    // A delete of CI's value is a no-op on the artifact, as ReadOnly promises.
    db.delete(key, &values[0]).await.unwrap();
    assert!(db
        .fetch(key)
        .await
        .unwrap()
        .contains(&Bytes::from(values[0].clone())));
}

#[tokio::test]
async fn redis_urls_carry_their_options() {
    let Some(server) = redis_url("redis_urls_carry_their_options") else {
        return;
    };
    let with_prefix = |p: &str| open(&format!("{server}?key_prefix={p}&expire_after=1h")).unwrap();
    let (a, b) = (hex(&unique_prefix()), hex(&unique_prefix()));
    with_prefix(&a).save(b"k", b"v").await.unwrap();
    assert_eq!(
        with_prefix(&a).fetch(b"k").await.unwrap(),
        vec![Bytes::from("v")]
    );
    assert!(
        with_prefix(&b).fetch(b"k").await.unwrap().is_empty(),
        "another key_prefix is another database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_through_open_reports_unusable_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mock = MockGitHub::start().await;
    mock.set_token(None);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    for (url, kind) in [
        (file.join("examples").display().to_string(), ErrorKind::Io),
        (
            format!("redis://127.0.0.1:{closed_port}?connect_timeout=2s&operation_timeout=3s"),
            ErrorKind::Unavailable,
        ),
        (
            format!(
                "github://o/r/no-such-artifact?api_url={}&cache_dir={}",
                mock.api_url(),
                tmp.path().join("cache").display()
            ),
            ErrorKind::NotFound,
        ),
    ] {
        let db = open(&url).unwrap();
        let err = db.check().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{url}: {err}");
        // And through the wrappers of the recipe.
        let recipe = open(&format!("memory:;readonly:{url}")).unwrap();
        assert!(recipe.check().await.is_err(), "{url}");
    }
}

#[tokio::test]
async fn urls_are_read_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    // Scheme and prefix case do not matter; a path keeps its '+'.
    let root = tmp.path().join("c++db");
    let db = open(&format!("FILE:{}?durable=true", root.display())).unwrap();
    db.save(b"k", b"v").await.unwrap();
    assert!(root.join(exampledb::layout::key_dir(b"k")).is_dir());
    let db = open(&format!("READONLY:file:{}", root.display())).unwrap();
    db.save(b"k", b"ignored").await.unwrap();
    assert_eq!(db.fetch(b"k").await.unwrap(), vec![Bytes::from("v")]);
    // Surrounding spaces, and many read-only prefixes (one wrapper, no deep recursion).
    assert!(open("  memory:  ").is_ok());
    let deep = format!("{}memory:", "readonly:".repeat(100_000));
    let db = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || open(&deep).map(|db| format!("{db:?}")))
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(db.matches("ReadOnly").count(), 1, "{db}");
}

#[test]
fn a_semicolon_inside_a_url_is_refused_not_split() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd_before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for (url, expect) in [
        ("redis://u:1234;hunter2@127.0.0.1:1", "%3B"),
        (
            &format!("file:{}?max_value_size=1MiB;b", tmp.path().display()) as &str,
            "%3B",
        ),
        (
            "memory:;readonly:user:hunter2@host",
            "unknown scheme \"user\"",
        ),
    ] {
        let message = config_error(url);
        assert!(message.contains(expect), "{url}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    let cwd_after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(cwd_before, cwd_after, "nothing was created");
    assert_eq!(
        exampledb::config::without_secrets("file:///db;readonly:redis://u:p/w@h:1/0?x=1"),
        "file:///db;readonly:redis://h:1/0"
    );
}

#[tokio::test]
async fn checking_a_read_only_directory_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("typo/deep/dir");
    let db = open(&format!("memory:;readonly:{}", missing.display())).unwrap();
    db.check().await.unwrap();
    assert!(
        !tmp.path().join("typo").exists(),
        "check created the directory"
    );
    // A writable member is still made usable (created) by check.
    let local = tmp.path().join("local");
    open(&local.display().to_string())
        .unwrap()
        .check()
        .await
        .unwrap();
    assert!(local.is_dir());
}

#[test]
fn a_default_database_variable_that_is_not_utf8_is_an_error() {
    use std::os::unix::ffi::OsStringExt;
    // nextest runs each test in its own process: the variable is this test's alone.
    std::env::set_var(
        exampledb::DATABASE_ENV,
        std::ffi::OsString::from_vec(b"/tmp/x\xffy".to_vec()),
    );
    let err = exampledb::open_default().unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    std::env::remove_var(exampledb::DATABASE_ENV);
}

/// `split_members` gives a recipe's members apart, `readonly:` kept, for `open` one by
/// one, with the same checks on the split as `open`.
#[tokio::test]
async fn split_members_gives_the_recipes_members_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local").display().to_string();
    let url = format!("{local} ; readonly:memory:");
    let members = exampledb::split_members(&url).unwrap();
    assert_eq!(members, [local.as_str(), "readonly:memory:"]);
    let shared = open(members[1]).unwrap();
    assert!(format!("{shared:?}").contains("ReadOnly"), "{shared:?}");
    shared.save(b"k", b"v").await.unwrap();
    assert!(
        shared.fetch(b"k").await.unwrap().is_empty(),
        "read-only kept nothing"
    );
    assert_eq!(exampledb::split_members("memory:").unwrap(), ["memory:"]);
    let url = "redis://u:1234;hunter2@127.0.0.1:1";
    let from_split = exampledb::split_members(url).unwrap_err().to_string();
    assert_eq!(from_split, config_error(url));
    assert!(!from_split.contains("hunter2"));
}
