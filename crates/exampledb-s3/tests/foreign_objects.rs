//! A prefix holding objects that are not part of the layout (other names, deeper paths,
//! temporary files, names that are not hashes, directory markers) and layout-shaped
//! objects outside the prefix: fetch, keys, the listener and sync ignore them, and no
//! operation ever deletes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use exampledb_core::bytes::Bytes;
use exampledb_core::layout::{
    classify_path, key_dir, metakey_path, value_file, value_path, Entry, METAKEYS_DIR,
};
use exampledb_core::{ChangeEvent, ExampleDatabase};
use exampledb_testkit::conformance::{assert_same_events, collect_events};

/// Every object under the bucket with its content, through the raw client.
async fn contents(endpoint: &str, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let client = common::raw_client(endpoint);
    let mut out = BTreeMap::new();
    for name in common::object_names(endpoint, bucket, "").await {
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&name)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec();
        out.insert(name, body);
    }
    out
}

fn set(items: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    items.iter().map(|v| v.to_vec()).collect()
}

async fn fetch_set(db: &dyn ExampleDatabase, key: &[u8]) -> BTreeSet<Vec<u8>> {
    db.fetch(key)
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_vec())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_objects_are_ignored_and_never_deleted() {
    let Some(endpoint) = exampledb_testkit::services::s3_endpoint("foreign_objects") else {
        return;
    };
    let bucket = common::fresh_bucket(&endpoint).await;
    let (hk, hk2) = (key_dir(b"k"), key_dir(b"k2"));
    let hv = value_file(b"v1");
    // Foreign objects: in the prefix, not of the layout...
    let mut foreign: Vec<String> = [
        "README.md".to_owned(),
        format!("{hk}/notes.txt"),
        format!("{hk}/{hv}/deeper"),
        format!("{hk}/.tmp-exampledb-1-2"),
        format!("{hk}/ABCDEF0123456789"),
        format!("{hk}/0123456789abcde"),
        format!("{hk}/"),
        hk.clone(),
        format!("{METAKEYS_DIR}/not-a-key"),
        format!("{METAKEYS_DIR}/{hk2}/deeper"),
        format!("sub/dir/{}", value_path(b"k", b"x")),
        format!(".hypothesis/{}", value_path(b"k", b"x")),
    ]
    .iter()
    .map(|n| format!("shared/{n}"))
    .collect();
    // ...and layout-shaped objects outside it (the bucket's root, a sibling prefix).
    foreign.extend([
        value_path(b"k", b"outside"),
        metakey_path(b"k"),
        format!("shared-other/{}", value_path(b"k", b"sibling")),
        format!("shared-other/{}", metakey_path(b"k")),
    ]);
    for name in &foreign {
        common::put_raw(
            &endpoint,
            &bucket,
            name,
            format!("foreign {name}").as_bytes(),
        )
        .await;
    }
    let before = contents(&endpoint, &bucket).await;
    // A value object larger than the database reads (a valid name, so not foreign):
    // fetch skips it.
    let big = vec![9u8; 4096];
    let big_name = format!("shared/{}", value_path(b"k", &big));
    common::put_raw(&endpoint, &bucket, &big_name, &big).await;

    let db = common::builder(&endpoint, &bucket, "shared")
        .max_value_size(1024)
        .poll_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let other = common::builder(&endpoint, &bucket, "shared")
        .build()
        .unwrap();
    assert!(
        fetch_set(&db, b"k").await.is_empty(),
        "foreign objects and a value over the limit"
    );
    assert!(
        db.keys().await.unwrap().is_empty(),
        "no key has a meta-keys entry in the prefix"
    );

    let mut stream = db.subscribe().unwrap();
    common::wait_for_poller(&other, &mut stream).await;
    db.save(b"k", b"v1").await.unwrap();
    db.save(b"k2", b"v2").await.unwrap();
    assert_eq!(fetch_set(&db, b"k").await, set(&[b"v1"]));
    let keys: BTreeSet<Vec<u8>> = db
        .keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys, set(&[b"k", b"k2"]));

    // Foreign objects appearing while someone listens, then a real change: only that is
    // heard.
    for name in [
        format!("shared/{hk}/.tmp-late"),
        format!("shared/{hk2}/{}/deeper", value_file(b"late")),
        format!("shared/late/{}", value_path(b"k", b"late")),
        format!("shared-other/{}", value_path(b"k2", b"late")),
    ] {
        common::put_raw(&endpoint, &bucket, &name, b"late").await;
        foreign.push(name);
    }
    other.save(b"k3", b"v3").await.unwrap();
    let saved = |k: &str, v: &str| ChangeEvent::Saved {
        key: Bytes::copy_from_slice(k.as_bytes()),
        value: Bytes::copy_from_slice(v.as_bytes()),
    };
    let got = collect_events(&mut stream, b"", 3, Duration::from_secs(5)).await;
    assert_same_events(
        &got,
        &[saved("k", "v1"), saved("k2", "v2"), saved("k3", "v3")],
        "foreign objects make no events",
    );

    // Every operation, then everything the database holds deleted.
    db.move_value(b"k2", b"k", b"v2").await.unwrap();
    db.move_value(b"k", b"k4", b"v1").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copied = db.sync_to_directory(tmp.path()).await.unwrap();
    assert_eq!(copied, 3, "k: v2, k3: v3, k4: v1");
    db.sync_from_directory(tmp.path()).await.unwrap();
    for (k, v) in [(&b"k"[..], &b"v2"[..]), (b"k3", b"v3"), (b"k4", b"v1")] {
        db.delete(k, v).await.unwrap();
    }
    // The value over the limit still counts for keys() (the directory rule looks at
    // names), and deleting it needs no reading.
    assert_eq!(db.keys().await.unwrap(), vec![Bytes::from("k")]);
    db.delete(b"k", &big).await.unwrap();
    assert!(db.keys().await.unwrap().is_empty());
    for k in [&b"k"[..], b"k2", b"k3", b"k4"] {
        assert!(fetch_set(&db, k).await.is_empty());
    }
    drop(stream);

    // Every foreign object is still there, unchanged.
    let after = contents(&endpoint, &bucket).await;
    for (name, body) in &before {
        assert_eq!(after.get(name), Some(body), "{name} was deleted or changed");
    }
    for name in &foreign {
        assert!(after.contains_key(name), "{name} was deleted");
    }
    // What is left of the database's own: the meta-keys entries (never deleted, as in
    // Hypothesis) and the big value it cannot read.
    let own: BTreeSet<&String> = after.keys().filter(|n| !before.contains_key(*n)).collect();
    let mut left: Vec<String> = own
        .iter()
        .filter(|n| !foreign.contains(n))
        .map(|n| n.to_string())
        .collect();
    left.sort();
    let mut want: Vec<String> = [&b"k"[..], b"k2", b"k3", b"k4", b"probe"]
        .iter()
        .map(|k| format!("shared/{}", metakey_path(k)))
        .collect();
    want.sort();
    assert_eq!(left, want, "the database's own objects left");
    // The directory sync wrote only the layout.
    let mut files = Vec::new();
    for dir in std::fs::read_dir(tmp.path()).unwrap() {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            files.push(format!(
                "{}/{}",
                dir.file_name().unwrap().to_str().unwrap(),
                f.unwrap().file_name().to_str().unwrap()
            ));
        }
    }
    assert!(
        files.iter().all(|f| classify_path(f) != Entry::Other),
        "{files:?}"
    );
}
