//! The GitHub artifact backend against the testkit's local mock of the GitHub REST API
//! (a second local server plays the pre-signed blob host), serving real zips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use exampledb_core::{hypothesis_hash, Error, ExampleDatabase};
use exampledb_github::{
    ArchiveLimits, GitHubArtifactDatabase, GitHubArtifactDatabaseBuilder, Problem, Status,
};
use exampledb_testkit::conformance::{read_only_contents, read_only_model};
use exampledb_testkit::github::{
    model_entries, model_zip, raw_zip, raw_zip64, zip64_declaring, Endpoint, Fault, MockArtifact,
    MockGitHub, RawEntry, BLOB_SIGNATURE, MOCK_TOKEN,
};

const NAME: &str = "hypothesis-example-db";

fn small_model() -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut m = BTreeMap::new();
    m.insert(b"k1".to_vec(), vec![b"v1".to_vec(), b"v2".to_vec()]);
    m.insert(b"k2".to_vec(), vec![b"v3".to_vec()]);
    m
}

/// Lists and serves an artifact holding [`small_model`].
fn serve_small(mock: &MockGitHub, id: u64, created_at: &str) {
    mock.add(MockArtifact::new(
        id,
        NAME,
        created_at,
        model_zip(&small_model()),
    ));
}

fn other_model() -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut m = BTreeMap::new();
    m.insert(b"k1".to_vec(), vec![b"old".to_vec()]);
    m
}

fn builder(mock: &MockGitHub, cache: &Path) -> GitHubArtifactDatabaseBuilder {
    GitHubArtifactDatabase::builder("octo", "repo")
        .api_url(mock.api_url())
        .token(MOCK_TOKEN)
        .cache_dir(cache)
        .operation_timeout(Duration::from_secs(5))
}

/// The cache directory's file names, sorted.
fn cache_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn zips(dir: &Path) -> Vec<String> {
    cache_files(dir)
        .into_iter()
        .filter(|n| n.ends_with(".zip"))
        .collect()
}

/// A cached zip named as Hypothesis names it, made `age` ago.
fn put_cached(dir: &Path, age: chrono::Duration, zip: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let at = Utc::now() - age;
    let name = at
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
        .replace(':', "_");
    let path = dir.join(format!("{name}.zip"));
    std::fs::write(&path, zip).unwrap();
    path
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

/// Whether a problem is the one a case expects.
type Check = fn(&Problem) -> bool;

fn problem_of(e: &Error) -> Problem {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<Problem>())
        .cloned()
        .unwrap_or_else(|| panic!("no Problem behind {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_downloaded_model_archive() {
    let mock = MockGitHub::start().await;
    let model = read_only_model(7);
    mock.add(MockArtifact::new(
        11,
        NAME,
        "2026-11-20T10:00:00Z",
        model_zip(&model),
    ));
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(db.status(), Status::NotOpened);
    let db: Arc<dyn ExampleDatabase> = Arc::new(db);
    read_only_contents(Arc::clone(&db), &model, true).await;

    let files = cache_files(cache.path());
    let zips: Vec<_> = files.iter().filter(|n| n.ends_with(".zip")).collect();
    assert_eq!(zips.len(), 1, "{files:?}");
    assert!(
        files.iter().all(|n| !n.ends_with(".partial")),
        "no temporary file left: {files:?}"
    );
    assert_eq!(mock.count(Endpoint::List), 1);
    assert_eq!(mock.count(Endpoint::Download), 1);
    assert_eq!(mock.count(Endpoint::Blob), 1);
}

#[tokio::test]
async fn token_goes_to_the_api_only_and_never_into_logs() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = Arc::clone(&logs);
        move || LogWriter(Arc::clone(&logs))
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = MockGitHub::start().await;
    serve_small(&mock, 1, "2026-11-20T10:00:00Z");
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(
        fetch_sorted(&db, b"k1").await,
        vec![b"v1".to_vec(), b"v2".to_vec()]
    );
    let seen = mock.seen();
    for s in &seen {
        match s.endpoint {
            Endpoint::Blob => assert_eq!(s.authorization, None, "token sent to the blob host"),
            _ => assert_eq!(
                s.authorization.as_deref(),
                Some(format!("Bearer {MOCK_TOKEN}").as_str())
            ),
        }
    }
    assert!(seen.iter().any(|s| s.endpoint == Endpoint::Blob));

    // A failing run, so that warnings with URLs are logged too.
    let failing = tempfile::tempdir().unwrap();
    mock.set_blob_fault(Some(Fault::Status(500)));
    let db = builder(&mock, failing.path()).build().unwrap();
    let unavailable = db.check().await.unwrap_err();
    assert_eq!(unavailable.kind(), exampledb_core::ErrorKind::Unavailable);
    let problem = db.status().problem().cloned().expect("a problem");
    assert!(
        matches!(problem, Problem::Status { status: 500, .. }),
        "{problem:?}"
    );
    let strict = builder(&mock, failing.path()).strict(true).build().unwrap();
    let err = strict.fetch(b"k1").await.unwrap_err();

    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "warnings were captured: {text}");
    for shown in [
        text.clone(),
        format!("{problem} {problem:?}"),
        format!("{err} {err:?}"),
        format!("{db:?} {strict:?}"),
    ] {
        assert!(!shown.contains(MOCK_TOKEN), "token leaked: {shown}");
        assert!(
            !shown.contains("PRESIGNED"),
            "blob signature leaked: {shown}"
        );
    }
    assert!(!BLOB_SIGNATURE.is_empty());
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn newest_unexpired_artifact_across_pages() {
    for honor_filter in [true, false] {
        let mock = MockGitHub::start().await;
        mock.set_page_cap(2);
        mock.set_honor_name_filter(honor_filter);
        let old = model_zip(&other_model());
        let new = model_zip(&small_model());
        // Newest first in the listing: an expired newest one, other names, and the right
        // one on a later page.
        mock.add(MockArtifact::new(9, NAME, "2026-11-22T00:00:00Z", old.clone()).expired());
        for i in 0..4 {
            mock.add(MockArtifact::new(
                20 + i,
                "coverage-report",
                "2026-11-21T12:00:00Z",
                old.clone(),
            ));
        }
        mock.add(MockArtifact::new(5, NAME, "2026-11-21T00:00:00Z", new));
        mock.add(MockArtifact::new(
            4,
            NAME,
            "2026-11-20T00:00:00Z",
            old.clone(),
        ));
        mock.add(MockArtifact::new(3, NAME, "2026-11-19T00:00:00Z", old));
        let cache = tempfile::tempdir().unwrap();
        let db = builder(&mock, cache.path()).build().unwrap();
        db.check().await.unwrap();
        let status = db.status();
        assert!(
            matches!(status, Status::Downloaded { artifact_id: 5, .. }),
            "filter honored: {honor_filter}: {status:?}"
        );
        assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
        let lists: Vec<String> = mock
            .seen()
            .into_iter()
            .filter(|s| s.endpoint == Endpoint::List)
            .map(|s| s.uri)
            .collect();
        assert!(lists[0].contains("name=hypothesis-example-db"), "{lists:?}");
        let pages = if honor_filter { 2 } else { 4 };
        assert_eq!(lists.len(), pages, "every page followed: {lists:?}");
    }
}

/// Every kind of failure: empty database (and the reason in the status), the expired
/// cache as fallback, and the error itself in strict mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_fall_back_report_and_are_errors_in_strict_mode() {
    let good = model_zip(&small_model());
    let mut truncated_zip = good.clone();
    truncated_zip.truncate(good.len() - 30);
    type Inject = Box<dyn Fn(&MockGitHub)>;
    let cases: Vec<(&str, Inject, Check)> = vec![
        (
            "401",
            Box::new(|m: &MockGitHub| m.set_token(Some("another token"))),
            |p| matches!(p, Problem::Unauthorized { .. }),
        ),
        (
            "rate limit",
            Box::new(|m: &MockGitHub| m.set_list_fault(Some(Fault::RateLimited))),
            |p| {
                matches!(
                    p,
                    Problem::RateLimited {
                        reset_at: Some(1_893_456_000),
                        ..
                    }
                )
            },
        ),
        (
            "403",
            Box::new(|m: &MockGitHub| m.set_list_fault(Some(Fault::Status(403)))),
            |p| matches!(p, Problem::Forbidden { .. }),
        ),
        (
            "404",
            Box::new(|m: &MockGitHub| m.set_list_fault(Some(Fault::Status(404)))),
            |p| matches!(p, Problem::NotFound { .. }),
        ),
        (
            "410",
            Box::new(|m: &MockGitHub| m.set_download_fault(Some(Fault::Status(410)))),
            |p| matches!(p, Problem::Gone { .. }),
        ),
        (
            "500",
            Box::new(|m: &MockGitHub| m.set_list_fault(Some(Fault::Status(500)))),
            |p| matches!(p, Problem::Status { status: 500, .. }) && p.is_temporary(),
        ),
        (
            "502 from the blob host",
            Box::new(|m: &MockGitHub| m.set_blob_fault(Some(Fault::Status(502)))),
            |p| matches!(p, Problem::Status { status: 502, .. }),
        ),
        (
            "malformed JSON",
            Box::new(|m: &MockGitHub| m.set_list_fault(Some(Fault::MalformedJson))),
            |p| matches!(p, Problem::MalformedResponse { .. }),
        ),
        (
            "download cut short",
            Box::new(|m: &MockGitHub| m.set_blob_fault(Some(Fault::Truncated))),
            |p| matches!(p, Problem::Network { .. } | Problem::Truncated { .. }),
        ),
        (
            "no answer",
            Box::new(|m: &MockGitHub| m.set_blob_fault(Some(Fault::Hang))),
            |p| matches!(p, Problem::Timeout { .. }),
        ),
        (
            "no artifact with the name",
            Box::new(|_: &MockGitHub| {}),
            |p| matches!(p, Problem::NoArtifact { .. }),
        ),
        (
            "corrupt zip",
            Box::new(|m: &MockGitHub| {
                m.add(MockArtifact::new(
                    2,
                    NAME,
                    "2026-11-21T00:00:00Z",
                    b"PK\x03\x04 not really a zip".to_vec(),
                ))
            }),
            |p| matches!(p, Problem::CorruptArchive { .. }),
        ),
        (
            "truncated zip",
            Box::new(move |m: &MockGitHub| {
                m.add(MockArtifact::new(
                    2,
                    NAME,
                    "2026-11-21T00:00:00Z",
                    truncated_zip.clone(),
                ))
            }),
            |p| matches!(p, Problem::CorruptArchive { .. }),
        ),
    ];
    for (what, inject, check) in &cases {
        let mock = MockGitHub::start().await;
        if *what != "no artifact with the name" && !what.contains("zip") {
            mock.add(MockArtifact::new(
                2,
                NAME,
                "2026-11-21T00:00:00Z",
                good.clone(),
            ));
        }
        inject(&mock);
        let build = |cache: &Path| {
            builder(&mock, cache)
                .operation_timeout(Duration::from_millis(700))
                .build()
                .unwrap()
        };

        // No cache: an empty database, and the reason.
        let empty = tempfile::tempdir().unwrap();
        let db = build(empty.path());
        assert!(db.fetch(b"k1").await.unwrap().is_empty(), "{what}");
        assert!(db.keys().await.unwrap().is_empty(), "{what}");
        let status = db.status();
        let Status::Unavailable { problem } = &status else {
            panic!("{what}: {status:?}");
        };
        assert!(check(problem), "{what}: {problem:?}");
        // check() reports it as an error, with its kind, although not strict.
        let err = db.check().await.unwrap_err();
        assert_eq!(err.kind(), problem.kind(), "{what}: {err}");
        assert_eq!(&problem_of(&err), problem, "{what}");
        assert!(
            cache_files(empty.path())
                .iter()
                .all(|n| n.starts_with(".exampledb")),
            "{what}: nothing but the lock file left: {:?}",
            cache_files(empty.path())
        );

        // An expired cache: used, kept, and the reason reported.
        let stale = tempfile::tempdir().unwrap();
        let old = put_cached(
            stale.path(),
            chrono::Duration::days(3),
            &model_zip(&other_model()),
        );
        let db = build(stale.path());
        assert_eq!(
            fetch_sorted(&db, b"k1").await,
            vec![b"old".to_vec()],
            "{what}"
        );
        match db.status() {
            Status::ExpiredFallback { archive, problem } => {
                assert_eq!(archive, old, "{what}");
                assert!(check(&problem), "{what}: {problem:?}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(old.exists(), "{what}: the expired zip is kept");
        db.check()
            .await
            .unwrap_or_else(|e| panic!("{what}: a fallback is Ok: {e}"));

        // Strict: the error, naming the repository, with the problem as its source.
        let strict = builder(&mock, stale.path())
            .operation_timeout(Duration::from_millis(700))
            .strict(true)
            .build()
            .unwrap();
        let err = strict.fetch(b"k1").await.unwrap_err();
        assert!(err.to_string().contains("octo/repo"), "{what}: {err}");
        assert!(check(&problem_of(&err)), "{what}: {err:?}");
        let again = strict.check().await.unwrap_err();
        assert!(check(&problem_of(&again)), "{what}: {again:?}");
    }
}

#[tokio::test]
async fn unreachable_api_is_a_network_problem() {
    let port = exampledb_testkit::services::free_port().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let db = GitHubArtifactDatabase::builder("octo", "repo")
        .api_url(format!("http://127.0.0.1:{port}"))
        .cache_dir(cache.path())
        .operation_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(db.fetch(b"k1").await.unwrap().is_empty());
    let problem = db.status().problem().cloned().unwrap();
    assert!(matches!(problem, Problem::Network { .. }), "{problem:?}");
    assert!(problem.is_temporary());
}

#[tokio::test]
async fn fresh_cache_is_used_without_the_network_and_old_zips_are_evicted() {
    let mock = MockGitHub::start().await;
    let cache = tempfile::tempdir().unwrap();
    let older = put_cached(
        cache.path(),
        chrono::Duration::hours(30),
        &model_zip(&other_model()),
    );
    let fresh = put_cached(
        cache.path(),
        chrono::Duration::hours(2),
        &model_zip(&small_model()),
    );
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
    assert_eq!(
        db.status(),
        Status::Cached {
            archive: fresh.clone()
        }
    );
    assert!(!older.exists(), "all but the newest zip are deleted");
    assert!(mock.seen().is_empty(), "no request: {:?}", mock.seen());

    // A shorter timeout makes the same zip expired: a new one is downloaded and the old
    // one removed.
    mock.add(MockArtifact::new(
        8,
        NAME,
        "2026-11-23T00:00:00Z",
        model_zip(&other_model()),
    ));
    let db = builder(&mock, cache.path())
        .cache_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(fetch_sorted(&db, b"k1").await, vec![b"old".to_vec()]);
    let Status::Downloaded {
        archive,
        artifact_id: 8,
    } = db.status()
    else {
        panic!("{:?}", db.status());
    };
    assert!(!fresh.exists());
    assert_eq!(
        zips(cache.path()),
        vec![archive.file_name().unwrap().to_str().unwrap().to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_one_cache_download_once() {
    let mock = MockGitHub::start().await;
    serve_small(&mock, 3, "2026-11-21T00:00:00Z");
    let cache = tempfile::tempdir().unwrap();
    let dbs: Vec<GitHubArtifactDatabase> = (0..4)
        .map(|_| builder(&mock, cache.path()).build().unwrap())
        .collect();
    let opened = futures_util::future::join_all(dbs.iter().map(|db| db.fetch(b"k1"))).await;
    for values in opened {
        assert_eq!(values.unwrap().len(), 2);
    }
    assert_eq!(mock.count(Endpoint::Blob), 1, "{:?}", mock.seen());
    assert_eq!(zips(cache.path()).len(), 1);
    let downloaded = dbs
        .iter()
        .filter(|db| matches!(db.status(), Status::Downloaded { .. }))
        .count();
    assert_eq!(downloaded, 1);
}

#[tokio::test]
async fn hostile_entries_are_ignored_and_nothing_is_extracted() {
    let mock = MockGitHub::start().await;
    let mut entries = model_entries(&small_model());
    let k1 = hypothesis_hash(b"k1");
    let evil = hypothesis_hash(b"evil");
    let mut link = RawEntry::file(format!("{k1}/{evil}"), b"/etc/passwd".to_vec());
    link.unix_mode = 0o120_777;
    entries.extend([
        RawEntry::file(format!("../{k1}/{evil}"), b"traversal".to_vec()),
        RawEntry::file(format!("/{k1}/{evil}"), b"absolute".to_vec()),
        RawEntry::file(format!("{k1}/../../{evil}"), b"dots".to_vec()),
        RawEntry::file(format!("{k1}\\{evil}"), b"backslash".to_vec()),
        RawEntry::file(format!("x/{k1}/{evil}"), b"nested".to_vec()),
        RawEntry::file(format!("{k1}/"), Vec::new()),
        link,
    ]);
    mock.add(MockArtifact::new(
        1,
        NAME,
        "2026-11-21T00:00:00Z",
        raw_zip(&entries),
    ));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let db = builder(&mock, &cache).build().unwrap();
    assert_eq!(
        fetch_sorted(&db, b"k1").await,
        vec![b"v1".to_vec(), b"v2".to_vec()]
    );
    assert_eq!(
        cache_files(work.path()),
        vec!["cache".to_owned()],
        "nothing written beside the cache"
    );
    assert!(cache_files(&cache)
        .iter()
        .all(|n| n.ends_with(".zip") || n.starts_with(".exampledb")));
    assert_eq!(
        exampledb_testkit::interop::key_set(&db).await,
        [b"k1".to_vec(), b"k2".to_vec()].into()
    );
}

#[tokio::test]
async fn zip_bombs_and_limits_stop_with_a_clear_problem() {
    let zeros = vec![0u8; 8 << 20];
    let k = hypothesis_hash(b"k");
    let bomb = raw_zip(&[RawEntry::file(
        format!("{k}/{}", hypothesis_hash(&zeros)),
        zeros.clone(),
    )]);
    assert!(bomb.len() < 64 << 10, "a real bomb: {} bytes", bomb.len());
    let mut liar = RawEntry::file(format!("{k}/{}", hypothesis_hash(b"x")), zeros.clone());
    liar.declared_size = Some(100);
    let liar = raw_zip(&[liar]);
    let mut bad_crc = RawEntry::file(format!("{k}/{}", hypothesis_hash(b"v")), b"value".to_vec());
    bad_crc.crc = Some(0xdead_beef);
    let bad_crc = raw_zip(&[bad_crc]);
    let many = model_zip(
        &(0..20u8)
            .map(|i| (vec![i], vec![vec![i]]))
            .collect::<BTreeMap<_, _>>(),
    );
    let limits = ArchiveLimits::default()
        .max_entry_size(1 << 20)
        .max_entries(30)
        .max_total_size(4 << 20);
    let cases: Vec<(&str, Vec<u8>, ArchiveLimits, Check)> = vec![
        ("entry too large", bomb.clone(), limits, |p| {
            matches!(
                p,
                Problem::ArchiveLimit {
                    what: "entry size",
                    limit: 1_048_576,
                    actual: 8_388_608,
                    ..
                }
            )
        }),
        (
            "total too large",
            bomb.clone(),
            ArchiveLimits::default().max_total_size(1 << 20),
            |p| {
                matches!(
                    p,
                    Problem::ArchiveLimit {
                        what: "total size",
                        ..
                    }
                )
            },
        ),
        ("lying size", liar, limits, |p| {
            matches!(p, Problem::CorruptArchive { .. })
        }),
        (
            "CRC mismatch",
            bad_crc,
            limits,
            |p| matches!(p, Problem::CorruptArchive { message, .. } if message.to_lowercase().contains("checksum") || message.contains("CRC")),
        ),
        ("too many entries", many, limits, |p| {
            matches!(
                p,
                Problem::ArchiveLimit {
                    what: "entry count",
                    limit: 30,
                    actual: 40,
                    ..
                }
            )
        }),
        (
            "download too large",
            bomb,
            ArchiveLimits::default().max_download_size(1024),
            |p| matches!(p, Problem::DownloadTooLarge { limit: 1024, .. }),
        ),
    ];
    for (what, zip, limits, check) in cases {
        let mock = MockGitHub::start().await;
        mock.add(MockArtifact::new(1, NAME, "2026-11-21T00:00:00Z", zip));
        let cache = tempfile::tempdir().unwrap();
        let db = builder(&mock, cache.path()).limits(limits).build().unwrap();
        assert!(db.fetch(b"k").await.unwrap().is_empty(), "{what}");
        let problem = db
            .status()
            .problem()
            .cloned()
            .unwrap_or_else(|| panic!("{what}: {:?}", db.status()));
        assert!(check(&problem), "{what}: {problem:?}");
        let text = problem.to_string();
        assert!(
            text.contains("artifact") || text.contains("download"),
            "{what}: {text}"
        );
        assert!(
            zips(cache.path()).is_empty(),
            "{what}: a rejected download is not cached"
        );
    }
}

#[tokio::test]
async fn damaged_entry_in_a_cached_zip_is_skipped_or_an_error_in_strict_mode() {
    let mut entries = model_entries(&small_model());
    for e in &mut entries {
        if e.data == b"v2" {
            e.crc = Some(1);
        }
    }
    let mock = MockGitHub::start().await;
    let cache = tempfile::tempdir().unwrap();
    put_cached(
        cache.path(),
        chrono::Duration::minutes(5),
        &raw_zip(&entries),
    );
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(fetch_sorted(&db, b"k1").await, vec![b"v1".to_vec()]);
    assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
    let strict = builder(&mock, cache.path()).strict(true).build().unwrap();
    let err = strict.fetch(b"k1").await.unwrap_err();
    assert!(
        matches!(problem_of(&err), Problem::CorruptArchive { .. }),
        "{err:?}"
    );
    assert_eq!(strict.fetch(b"k2").await.unwrap().len(), 1);
    assert!(mock.seen().is_empty());
}

#[tokio::test]
async fn keys_need_the_meta_keys_entry() {
    let entries: Vec<RawEntry> = model_entries(&small_model())
        .into_iter()
        .filter(|e| {
            !e.name
                .starts_with(hypothesis_hash(b".hypothesis-keys").as_bytes())
        })
        .collect();
    let mock = MockGitHub::start().await;
    let cache = tempfile::tempdir().unwrap();
    put_cached(
        cache.path(),
        chrono::Duration::minutes(5),
        &raw_zip(&entries),
    );
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(db.fetch(b"k1").await.unwrap().len(), 2);
    assert!(matches!(db.keys().await, Err(Error::NotSupported { .. })));
}

#[tokio::test]
async fn enterprise_server_api_url_with_a_path() {
    let mock = MockGitHub::start().await;
    serve_small(&mock, 6, "2026-11-21T00:00:00Z");
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path())
        .api_url(format!("{}/api/v3/", mock.api_url()))
        .build()
        .unwrap();
    assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
    let list = mock
        .seen()
        .into_iter()
        .find(|s| s.endpoint == Endpoint::List)
        .unwrap();
    assert!(
        list.uri
            .starts_with("/api/v3/repos/octo/repo/actions/artifacts?"),
        "{list:?}"
    );
}

/// The intended use: a developer's local directory plus CI's artifact, read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_with_a_local_directory_replays_ci_failures() {
    let mock = MockGitHub::start().await;
    serve_small(&mock, 1, "2026-11-21T00:00:00Z");
    let work = tempfile::tempdir().unwrap();
    let local = exampledb_core::DirectoryDatabase::open(work.path().join("examples")).unwrap();
    local.save(b"k1", b"local").await.unwrap();
    let ci = builder(&mock, &work.path().join("cache")).build().unwrap();
    let db = exampledb_core::Multiplexed::new([
        Arc::new(local.clone()) as Arc<dyn ExampleDatabase>,
        Arc::new(exampledb_core::ReadOnly::new(ci)),
    ]);
    assert_eq!(
        fetch_sorted(&db, b"k1").await,
        vec![b"local".to_vec(), b"v1".to_vec(), b"v2".to_vec()]
    );
    // Hypothesis deletes a replayed example that no longer fails, and saves new ones:
    // both reach the local directory only, and nothing fails.
    db.delete(b"k1", b"v1").await.unwrap();
    db.save(b"k3", b"new").await.unwrap();
    assert_eq!(fetch_sorted(&local, b"k3").await, vec![b"new".to_vec()]);
    assert_eq!(
        fetch_sorted(&db, b"k1").await,
        vec![b"local".to_vec(), b"v1".to_vec(), b"v2".to_vec()],
        "CI's artifact is not changed"
    );
}

/// The status's problem after opening an artifact served as `zip` with `limits`; the
/// database is empty and nothing is cached.
async fn refusal(zip: Vec<u8>, limits: ArchiveLimits) -> Problem {
    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(1, NAME, "2026-11-21T00:00:00Z", zip));
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path()).limits(limits).build().unwrap();
    assert!(db.fetch(b"k").await.unwrap().is_empty());
    assert!(
        zips(cache.path()).is_empty(),
        "a refused archive is not cached"
    );
    db.status()
        .problem()
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", db.status()))
}

#[test]
fn default_limits_suit_example_databases() {
    let limits = ArchiveLimits::default();
    assert_eq!(limits.max_entries, 100_000);
    assert_eq!(limits.max_entry_size, 8 << 20);
    assert_eq!(limits.max_total_size, 256 << 20);
    assert_eq!(limits.max_download_size, 256 << 20);
}

/// Item 8: the entry count comes from the end record and is checked before the central
/// directory is parsed: 2,000,000 entries declared in front of a few bytes of garbage
/// is an entry-count refusal, not a corrupt archive (the zip crate would have refused it
/// as corrupt, or, with a real central directory, parsed all of it first).
#[tokio::test]
async fn a_declared_entry_count_over_the_limit_is_refused_before_parsing() {
    let bomb = zip64_declaring(2_000_000, b"tiny garbage, not a central directory");
    let problem = refusal(bomb.clone(), ArchiveLimits::default()).await;
    assert!(
        matches!(
            problem,
            Problem::ArchiveLimit {
                what: "entry count",
                limit: 100_000,
                actual: 2_000_000,
                ..
            }
        ),
        "{problem:?}"
    );
    // Under a limit it allows, the same bytes are what they are: corrupt.
    let problem = refusal(bomb, ArchiveLimits::default().max_entries(3_000_000)).await;
    assert!(
        matches!(problem, Problem::CorruptArchive { .. }),
        "{problem:?}"
    );
}

/// Item 8: a central directory far larger than its entries need (here 3 entries in
/// 80 KB: two entries with 40,000-byte names) is refused before the zip crate reads it
/// into memory; a ZIP64 archive within the limits still opens.
#[tokio::test]
async fn central_directory_size_is_bounded_by_the_entry_count() {
    let mut entries = model_entries(&small_model());
    for c in [b'a', b'b'] {
        entries.push(RawEntry::file(vec![c; 40_000], b"x".to_vec()));
    }
    let n = entries.len() as u64;
    let problem = refusal(raw_zip(&entries), ArchiveLimits::default()).await;
    match problem {
        Problem::ArchiveLimit {
            what: "central directory size",
            limit,
            actual,
            ..
        } => {
            assert_eq!(limit, n * 512 + 65_536);
            assert!(actual > 80_000, "{actual}");
        }
        other => panic!("{other:?}"),
    }

    let mock = MockGitHub::start().await;
    mock.add(MockArtifact::new(
        1,
        NAME,
        "2026-11-21T00:00:00Z",
        raw_zip64(&model_entries(&small_model())),
    ));
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(
        fetch_sorted(&db, b"k1").await,
        vec![b"v1".to_vec(), b"v2".to_vec()]
    );
    assert!(matches!(db.status(), Status::Downloaded { .. }));
}

/// Item 8: a bomb the old defaults (64 MiB per entry) let one fetch decompress into
/// memory, 9 MiB of zeros in a few kilobytes, is refused by the default limits.
#[tokio::test]
async fn a_bomb_under_the_old_defaults_is_refused_by_the_new_ones() {
    let zeros = vec![0u8; 9 << 20];
    let bomb = raw_zip(&[RawEntry::file(
        format!("{}/{}", hypothesis_hash(b"k"), hypothesis_hash(&zeros)),
        zeros,
    )]);
    assert!(bomb.len() < 64 << 10, "a real bomb: {} bytes", bomb.len());
    let problem = refusal(bomb, ArchiveLimits::default()).await;
    assert!(
        matches!(
            problem,
            Problem::ArchiveLimit {
                what: "entry size",
                limit: 8_388_608,
                actual: 9_437_184,
                ..
            }
        ),
        "{problem:?}"
    );
}

/// Item 9: a blob host that sends one byte every 50 ms never pauses long enough for the
/// network timeout; the overall deadline stops it, within about the deadline, and the
/// database falls back (empty; the expired cache; the error in strict mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_download_stops_at_the_overall_deadline() {
    let mock = MockGitHub::start().await;
    serve_small(&mock, 1, "2026-11-21T00:00:00Z");
    let zip_len = model_zip(&small_model()).len();
    assert!(zip_len > 200, "the trickle would take {zip_len} x 50 ms");
    mock.set_blob_fault(Some(Fault::Trickle(Duration::from_millis(50))));
    let deadline = Duration::from_millis(1500);
    let build = |cache: &Path, strict: bool| {
        builder(&mock, cache)
            .operation_timeout(Duration::from_secs(5))
            .download_timeout(deadline)
            .strict(strict)
            .build()
            .unwrap()
    };
    let is_deadline =
        |p: &Problem| matches!(p, Problem::Timeout { after, .. } if *after == deadline);

    let empty = tempfile::tempdir().unwrap();
    let db = build(empty.path(), false);
    let started = std::time::Instant::now();
    assert!(db.fetch(b"k1").await.unwrap().is_empty());
    let took = started.elapsed();
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(2),
        "stopped after {took:?}"
    );
    let Status::Unavailable { problem } = db.status() else {
        panic!("{:?}", db.status());
    };
    assert!(is_deadline(&problem), "{problem:?}");
    assert!(problem.is_temporary());
    assert!(problem.to_string().contains("/blob/1"), "{problem}");
    assert!(!problem.to_string().contains("PRESIGNED"), "{problem}");

    let stale = tempfile::tempdir().unwrap();
    let old = put_cached(
        stale.path(),
        chrono::Duration::days(3),
        &model_zip(&other_model()),
    );
    let db = build(stale.path(), false);
    assert_eq!(fetch_sorted(&db, b"k1").await, vec![b"old".to_vec()]);
    match db.status() {
        Status::ExpiredFallback { archive, problem } => {
            assert_eq!(archive, old);
            assert!(is_deadline(&problem), "{problem:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        cache_files(stale.path())
            .iter()
            .all(|n| !n.ends_with(".partial")),
        "the partial download is removed: {:?}",
        cache_files(stale.path())
    );

    let err = build(stale.path(), true).fetch(b"k1").await.unwrap_err();
    assert!(is_deadline(&problem_of(&err)), "{err:?}");
    assert_eq!(err.kind(), exampledb_core::ErrorKind::Timeout);

    let zero = builder(&mock, empty.path())
        .download_timeout(Duration::ZERO)
        .build();
    assert!(matches!(zero, Err(Error::InvalidConfig { .. })));
}

/// Item 10: a token is not sent over plain http off loopback unless that is asked for
/// explicitly; the refusal says why and how to opt in, and never shows the token.
#[test]
fn the_token_is_not_sent_over_plain_http_off_loopback() {
    let secret = "ghp_CLEARTEXTsecret0123";
    let cache = tempfile::tempdir().unwrap();
    let build = |api: &str, token: Option<&str>, allow: bool| {
        let b = GitHubArtifactDatabase::builder("octo", "repo")
            .cache_dir(cache.path())
            .api_url(api)
            .allow_insecure_http(allow);
        match token {
            Some(t) => b.token(t),
            None => b,
        }
        .build()
    };
    for api in [
        "http://ghe.example.com/api/v3",
        "http://10.1.2.3:8080",
        "HTTP://GHE.EXAMPLE.COM",
        "http://user:pw@ghe.example.com",
        "http://[2001:db8::1]/api/v3",
    ] {
        let err = build(api, Some(secret), false).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{api}: {err:?}");
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("cleartext") && text.contains("allow_insecure_http(true)"),
            "{api}: {text}"
        );
        assert!(
            !text.contains(secret) && !text.contains("pw@"),
            "{api}: {text}"
        );
        assert!(build(api, Some(secret), true).is_ok(), "{api}: opted in");
        assert!(build(api, None, false).is_ok(), "{api}: no token to leak");
    }
    for api in [
        "http://127.0.0.1:8080",
        "http://127.200.0.1",
        "http://localhost:3000/api/v3",
        "http://[::1]:8080",
        "https://ghe.example.com/api/v3",
        "https://api.github.com",
    ] {
        assert!(build(api, Some(secret), false).is_ok(), "{api}");
    }
}

/// Item 11: a redirect to `ftp:` or `file:` is named for what it is, not "a relative
/// Location"; relative redirects still work.
#[tokio::test]
async fn redirects_to_other_schemes_are_named_and_relative_ones_followed() {
    for (location, scheme) in [
        ("ftp://files.example.com/a.zip", "ftp:"),
        ("file:///etc/passwd", "file:"),
    ] {
        let mock = MockGitHub::start().await;
        serve_small(&mock, 1, "2026-11-21T00:00:00Z");
        mock.set_download_location(Some(location));
        let cache = tempfile::tempdir().unwrap();
        let db = builder(&mock, cache.path()).build().unwrap();
        assert!(db.fetch(b"k1").await.unwrap().is_empty());
        let problem = db.status().problem().cloned().unwrap();
        let Problem::MalformedResponse { message, .. } = &problem else {
            panic!("{location}: {problem:?}");
        };
        assert!(
            message.contains(&format!("unsupported scheme {scheme}")),
            "{location}: {message}"
        );
        assert!(!message.contains("relative"), "{location}: {message}");
        assert_eq!(mock.count(Endpoint::Blob), 0);
    }

    let mock = MockGitHub::start().await;
    serve_small(&mock, 1, "2026-11-21T00:00:00Z");
    mock.set_download_location(Some(&format!("/blob/1?{BLOB_SIGNATURE}")));
    let cache = tempfile::tempdir().unwrap();
    let db = builder(&mock, cache.path()).build().unwrap();
    assert_eq!(fetch_sorted(&db, b"k2").await, vec![b"v3".to_vec()]);
    let blob = mock
        .seen()
        .into_iter()
        .find(|s| s.endpoint == Endpoint::Blob)
        .unwrap();
    assert_eq!(blob.authorization, None, "no token on the redirect");
}
