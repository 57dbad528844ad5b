//! `exampledb keys|show github://OWNER/REPO` against the testkit's GitHub API mock.
#![cfg(feature = "github")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use exampledb_testkit::github::{model_zip, MockArtifact, MockGitHub, MOCK_TOKEN};
use exampledb_testkit::hex;

async fn exampledb(args: &[&str], mock: &MockGitHub, home: &std::path::Path) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_exampledb"))
        .args(args)
        .env("GITHUB_API_URL", mock.api_url())
        .env("GITHUB_TOKEN", MOCK_TOKEN)
        .env("HYPOTHESIS_STORAGE_DIRECTORY", home)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_show_read_ci_s_database() {
    let mock = MockGitHub::start().await;
    let mut model = BTreeMap::new();
    // The choice sequence [True, 5, False] and a value that is not one.
    model.insert(
        b"test-key".to_vec(),
        vec![vec![0x01, 0x41, 0x05, 0x00], vec![0xe0]],
    );
    mock.add(MockArtifact::new(
        1,
        "hypothesis-example-db",
        "2026-11-21T00:00:00Z",
        model_zip(&model),
    ));
    let home = tempfile::tempdir().unwrap();
    let (ok, text) = exampledb(&["keys", "github://octo/repo"], &mock, home.path()).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("{}  2 value(s)", hex(b"test-key"))),
        "{text}"
    );
    assert!(text.contains("1 key(s) in github://octo/repo"), "{text}");
    assert!(home
        .path()
        .join("github-artifacts/hypothesis-example-db")
        .is_dir());

    let (ok, text) = exampledb(
        &["show", &hex(b"test-key"), "github://octo/repo"],
        &mock,
        home.path(),
    )
    .await;
    assert!(ok, "{text}");
    assert!(text.contains("(True, 5, False)"), "{text}");
    assert!(text.contains("not a choice sequence"), "{text}");

    // A failure is reported, not shown as an empty database.
    let (ok, text) = exampledb(
        &["keys", "github://octo/repo/other-name"],
        &mock,
        home.path(),
    )
    .await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("no unexpired artifact named \"other-name\""),
        "{text}"
    );
}
