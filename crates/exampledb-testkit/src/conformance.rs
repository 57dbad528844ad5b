//! The conformance suite: behaviour every [`ExampleDatabase`] must have, checked against
//! an in-memory model of sets.
//!
//! Each check is a plain `async fn` taking the database under test, and runs under fresh
//! random keys ([`crate::unique_prefix`]), so checks can share a store (a directory, a
//! server) and run in parallel. [`run_all`] runs every check that the [`Capabilities`]
//! allow.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use exampledb_core::bytes::Bytes;
use exampledb_core::{ChangeEvent, ChangeStream, Error, ExampleDatabase};
use futures_util::StreamExt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::unique_prefix;

/// What a backend supports; the suite chooses its checks from it rather than skipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `keys()` lists keys (else it must return `NotSupported`).
    pub keys: bool,
    /// `subscribe()` reports this database's own changes.
    pub events: bool,
    /// Events arrive asynchronously (file watching, pub/sub): the listener check waits for
    /// them instead of expecting them before the write returns.
    pub async_events: bool,
    /// The longest key the store accepts (DynamoDB: its partition key less the prefix):
    /// the edge cases use it, and check that a longer key is `Error::TooLarge`.
    pub max_key: Option<usize>,
    /// A value size the store accepts (1 MiB is used without a limit); a value an eighth
    /// larger must be `Error::TooLarge` (servers count item sizes slightly differently).
    pub max_value: Option<usize>,
}

impl Capabilities {
    /// Everything, events delivered before the write returns (the in-memory database).
    pub const ALL: Self = Self {
        keys: true,
        events: true,
        async_events: false,
        max_key: None,
        max_value: None,
    };
}

/// How long to wait for asynchronous events before declaring them missing.
const EVENT_DEADLINE: Duration = Duration::from_secs(10);
/// How long to keep listening for unexpected extra events.
const EVENT_QUIET: Duration = Duration::from_millis(400);

type Model = BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>;

fn key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    [prefix, suffix].concat()
}

async fn fetch_set(db: &dyn ExampleDatabase, k: &[u8]) -> BTreeSet<Vec<u8>> {
    let values = db
        .fetch(k)
        .await
        .unwrap_or_else(|e| panic!("fetch({k:?}) failed: {e}"));
    let set: BTreeSet<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
    assert_eq!(
        set.len(),
        values.len(),
        "fetch({k:?}) returned a value twice"
    );
    set
}

/// Runs every check the capabilities allow.
pub async fn run_all(db: Arc<dyn ExampleDatabase>, caps: Capabilities) {
    basic_semantics(&*db).await;
    edge_cases(&*db, caps).await;
    model_based(&*db, caps, 64).await;
    concurrent_writers(Arc::clone(&db)).await;
    keys_listing(&*db, caps).await;
    if caps.events {
        listener(&*db, caps).await;
    }
}

/// Set semantics: idempotent save and delete, unknown keys, move to a key the value was
/// never under, move onto itself.
pub async fn basic_semantics(db: &dyn ExampleDatabase) {
    let p = unique_prefix();
    let (a, b) = (key(&p, b"a"), key(&p, b"b"));
    assert!(
        fetch_set(db, &a).await.is_empty(),
        "unknown key must fetch empty"
    );
    db.delete(&a, b"nothing")
        .await
        .expect("deleting from an unknown key");

    db.save(&a, b"v1").await.expect("save");
    db.save(&a, b"v1").await.expect("save again");
    db.save(&a, b"v2").await.expect("save");
    assert_eq!(fetch_set(db, &a).await, set(&[b"v1", b"v2"]));

    db.delete(&a, b"v1").await.expect("delete");
    db.delete(&a, b"v1").await.expect("delete again");
    assert_eq!(fetch_set(db, &a).await, set(&[b"v2"]));

    db.move_value(&a, &b, b"v2").await.expect("move");
    assert!(fetch_set(db, &a).await.is_empty());
    assert_eq!(fetch_set(db, &b).await, set(&[b"v2"]));

    // The value lands in dest even though src never had it.
    db.move_value(&a, &b, b"v3")
        .await
        .expect("move of an absent value");
    assert_eq!(fetch_set(db, &b).await, set(&[b"v2", b"v3"]));
    // Onto itself: a save.
    db.move_value(&a, &a, b"v4")
        .await
        .expect("move onto itself");
    assert_eq!(fetch_set(db, &a).await, set(&[b"v4"]));
    // Into a key that already holds it: src loses it, dest keeps one copy.
    db.save(&a, b"v2").await.expect("save");
    db.move_value(&a, &b, b"v2")
        .await
        .expect("move onto a present value");
    assert_eq!(fetch_set(db, &a).await, set(&[b"v4"]));
    assert_eq!(fetch_set(db, &b).await, set(&[b"v2", b"v3"]));

    for (k, v) in [(&a, &b"v4"[..]), (&b, b"v2"), (&b, b"v3")] {
        db.delete(k, v).await.expect("cleanup");
    }
    assert!(fetch_set(db, &a).await.is_empty() && fetch_set(db, &b).await.is_empty());
}

fn set(values: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    values.iter().map(|v| v.to_vec()).collect()
}

/// Keys and values a naive backend mishandles: empty, NUL, path syntax, non-UTF-8, long,
/// and a 1 MiB value.
pub async fn edge_cases(db: &dyn ExampleDatabase, caps: Capabilities) {
    let p = unique_prefix();
    let big_len = caps.max_value.map_or(1024 * 1024, |m| m.min(1024 * 1024));
    let patterned = |len: usize| -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    };
    let big = patterned(big_len);
    let long_key = caps.max_key.map_or(4096, |m| m.min(4096)) - p.len();
    let keys: Vec<Vec<u8>> = vec![
        p.clone(), // the bare prefix: as close to the empty key as a shared store allows
        key(&p, b"/"),
        key(&p, b".."),
        key(&p, b"../../etc/passwd"),
        key(&p, b"\0"),
        key(&p, b"a\0b"),
        key(&p, &[0xff, 0xfe, 0x80]),
        key(&p, &vec![b'k'; long_key]),
    ];
    // Over a store's limits: refused (before anything is stored, for sizes the backend
    // can tell).
    if let Some(max) = caps.max_value {
        let err = db
            .save(&key(&p, b"v"), &patterned(max + max / 8 + 1))
            .await
            .expect_err("a value over the limit");
        assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    }
    if let Some(max) = caps.max_key {
        let err = db
            .save(&vec![b'k'; max + 1], b"v")
            .await
            .expect_err("a key over the limit");
        assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    }
    let values: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"/".to_vec(),
        b"..".to_vec(),
        vec![0xff, 0xc0, 0x80],
        b"\0\0\0".to_vec(),
        big,
    ];
    for k in &keys {
        for v in &values {
            db.save(k, v)
                .await
                .unwrap_or_else(|e| panic!("save({k:?}, {} bytes): {e}", v.len()));
        }
    }
    for k in &keys {
        assert_eq!(
            fetch_set(db, k).await,
            values.iter().cloned().collect(),
            "key {k:?}"
        );
    }
    for k in &keys {
        for v in &values {
            db.delete(k, v)
                .await
                .unwrap_or_else(|e| panic!("delete({k:?}): {e}"));
        }
        assert!(fetch_set(db, k).await.is_empty(), "key {k:?} not emptied");
    }
    // The truly empty key, on its own: it is one key for every run, so it is only
    // checked for round trips of a value no other run writes.
    let marker = unique_prefix();
    db.save(b"", &marker)
        .await
        .expect("save under the empty key");
    assert!(
        fetch_set(db, b"").await.contains(&marker),
        "empty key round trip"
    );
    db.delete(b"", &marker)
        .await
        .expect("delete under the empty key");
    assert!(!fetch_set(db, b"").await.contains(&marker));
}

/// One step of the model-based test.
#[derive(Debug, Clone)]
pub enum Op {
    /// `save(key, value)`.
    Save(u8, Vec<u8>),
    /// `delete(key, value)`.
    Delete(u8, Vec<u8>),
    /// `move_value(src, dest, value)`.
    Move(u8, u8, Vec<u8>),
    /// `fetch(key)`, compared with the model.
    Fetch(u8),
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Mostly a small pool, so that saves, deletes and moves collide; sometimes anything.
    prop_oneof![
        4 => (0u8..6).prop_map(|i| vec![b'v', i]),
        1 => proptest::collection::vec(any::<u8>(), 0..48),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let k = 0u8..4;
    prop_oneof![
        4 => (k.clone(), value_strategy()).prop_map(|(k, v)| Op::Save(k, v)),
        2 => (k.clone(), value_strategy()).prop_map(|(k, v)| Op::Delete(k, v)),
        2 => (k.clone(), k.clone(), value_strategy()).prop_map(|(a, b, v)| Op::Move(a, b, v)),
        1 => k.prop_map(Op::Fetch),
    ]
}

/// Runs `ops` under a fresh prefix; `Err` describes the first divergence from the model.
async fn check_ops(db: &dyn ExampleDatabase, caps: Capabilities, ops: &[Op]) -> Result<(), String> {
    let p = unique_prefix();
    let k = |i: u8| key(&p, &[i]);
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        let touched: Vec<u8> = match op {
            Op::Save(a, v) => {
                db.save(&k(*a), v)
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                model.entry(k(*a)).or_default().insert(v.clone());
                vec![*a]
            }
            Op::Delete(a, v) => {
                db.delete(&k(*a), v)
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                model.entry(k(*a)).or_default().remove(v);
                vec![*a]
            }
            Op::Move(a, b, v) => {
                db.move_value(&k(*a), &k(*b), v)
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                model.entry(k(*a)).or_default().remove(v);
                model.entry(k(*b)).or_default().insert(v.clone());
                vec![*a, *b]
            }
            Op::Fetch(a) => vec![*a],
        };
        for a in touched {
            let got = db
                .fetch(&k(a))
                .await
                .map_err(|e| format!("step {step}: fetch: {e}"))?;
            let got_set: BTreeSet<Vec<u8>> = got.iter().map(|v| v.to_vec()).collect();
            let want = model.get(&k(a)).cloned().unwrap_or_default();
            if got_set != want || got_set.len() != got.len() {
                return Err(format!(
                    "after step {step} ({op:?}): key {a} holds {got:?}, model says {want:?}"
                ));
            }
        }
    }
    if caps.keys {
        let listed: BTreeSet<Vec<u8>> = db
            .keys()
            .await
            .map_err(|e| format!("keys: {e}"))?
            .into_iter()
            .filter(|key| key.starts_with(&p))
            .map(|key| key.to_vec())
            .collect();
        let want: BTreeSet<Vec<u8>> = model
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        if listed != want {
            return Err(format!("keys() lists {listed:?}, model says {want:?}"));
        }
    }
    for (key, values) in &model {
        for v in values {
            db.delete(key, v)
                .await
                .map_err(|e| format!("cleanup: {e}"))?;
        }
    }
    Ok(())
}

/// Random sequences of save, delete, move and fetch, checked against an in-memory model
/// after every step (and `keys()` at the end, where supported). A failing sequence is
/// shrunk with proptest's shrinker before it is reported.
pub async fn model_based(db: &dyn ExampleDatabase, caps: Capabilities, cases: u32) {
    let strategy = proptest::collection::vec(op_strategy(), 1..32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    for _ in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).expect("generate a case");
        let Err(first) = check_ops(db, caps, &tree.current()).await else {
            continue;
        };
        let mut minimal = (tree.current(), first);
        if tree.simplify() {
            for _ in 0..2048 {
                let candidate = tree.current();
                match check_ops(db, caps, &candidate).await {
                    Err(message) => {
                        minimal = (candidate, message);
                        if !tree.simplify() {
                            break;
                        }
                    }
                    Ok(()) => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        panic!(
            "model-based test failed against {db:?}\n{}\nminimal sequence ({} steps):\n{:#?}",
            minimal.1,
            minimal.0.len(),
            minimal.0
        );
    }
}

/// Many tasks writing at once: to one shared key (the same values from every task) and
/// to their own keys; nothing is lost, nothing is doubled, and no call fails.
pub async fn concurrent_writers(db: Arc<dyn ExampleDatabase>) {
    const TASKS: u8 = 16;
    const VALUES: u8 = 24;
    let p = unique_prefix();
    let shared = key(&p, b"shared");
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (db, p, shared) = (Arc::clone(&db), p.clone(), shared.clone());
        handles.push(tokio::spawn(async move {
            let own = key(&p, &[b'o', t]);
            for i in 0..VALUES {
                db.save(&shared, &[b's', i])
                    .await
                    .expect("concurrent save to a shared key");
                db.save(&own, &[b'v', i]).await.expect("concurrent save");
                if i % 3 == 0 {
                    db.move_value(&own, &shared, &[b'v', i])
                        .await
                        .expect("concurrent move");
                }
                if i % 4 == 0 {
                    db.delete(&own, &[b'v', i])
                        .await
                        .expect("concurrent delete");
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("writer task panicked");
    }
    let mut want_shared: BTreeSet<Vec<u8>> = (0..VALUES).map(|i| vec![b's', i]).collect();
    want_shared.extend((0..VALUES).filter(|i| i % 3 == 0).map(|i| vec![b'v', i]));
    assert_eq!(
        fetch_set(&*db, &shared).await,
        want_shared,
        "shared key after concurrent writers"
    );
    for t in 0..TASKS {
        let own = key(&p, &[b'o', t]);
        let want: BTreeSet<Vec<u8>> = (0..VALUES)
            .filter(|i| i % 3 != 0 && i % 4 != 0)
            .map(|i| vec![b'v', i])
            .collect();
        let got = fetch_set(&*db, &own).await;
        assert_eq!(got, want, "task {t}'s key after concurrent writers");
        for v in got {
            db.delete(&own, &v).await.expect("cleanup");
        }
    }
    for v in want_shared {
        db.delete(&shared, &v).await.expect("cleanup");
    }
}

/// `keys()` lists exactly the keys holding values, or is `NotSupported`.
pub async fn keys_listing(db: &dyn ExampleDatabase, caps: Capabilities) {
    let p = unique_prefix();
    let mine = |keys: Vec<Bytes>| -> BTreeSet<Vec<u8>> {
        keys.into_iter()
            .filter(|k| k.starts_with(&p))
            .map(|k| k.to_vec())
            .collect()
    };
    if !caps.keys {
        assert!(
            matches!(db.keys().await, Err(Error::NotSupported { .. })),
            "a backend without key listing must say NotSupported"
        );
        return;
    }
    let (a, b) = (key(&p, b"a"), key(&p, &[0xff, 0]));
    db.save(&a, b"1").await.expect("save");
    db.save(&b, b"1").await.expect("save");
    db.save(&b, b"2").await.expect("save");
    assert_eq!(
        mine(db.keys().await.expect("keys")),
        [a.clone(), b.clone()].into()
    );
    db.delete(&b, b"1").await.expect("delete");
    assert_eq!(
        mine(db.keys().await.expect("keys")),
        [a.clone(), b.clone()].into()
    );
    db.move_value(&b, &a, b"2").await.expect("move");
    assert_eq!(
        mine(db.keys().await.expect("keys")),
        [a.clone()].into(),
        "an emptied key is not listed"
    );
    for v in [b"1", b"2"] {
        db.delete(&a, v).await.expect("cleanup");
    }
    assert!(mine(db.keys().await.expect("keys")).is_empty());
}

/// Collects events about keys under `prefix` until `want` are all seen (or the deadline
/// passes), then listens a little longer for extras.
pub async fn collect_events(
    stream: &mut ChangeStream,
    prefix: &[u8],
    want: usize,
    deadline: Duration,
) -> Vec<ChangeEvent> {
    let mut got = Vec::new();
    let start = tokio::time::Instant::now();
    while got.len() < want {
        let left = deadline.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(ev)) if ev.key().starts_with(prefix) => got.push(ev),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return got,
        }
    }
    while let Ok(Some(ev)) = tokio::time::timeout(EVENT_QUIET, stream.next()).await {
        if ev.key().starts_with(prefix) {
            got.push(ev);
        }
    }
    got
}

/// For backends whose listener starts asynchronously (pub/sub): saves probe values under a
/// key of its own until the stream reports one, so that the changes made next are heard.
/// The probe values are deleted again.
pub async fn wait_until_listening(db: &dyn ExampleDatabase, stream: &mut ChangeStream) {
    let probe = key(&unique_prefix(), b"listening-probe");
    let start = tokio::time::Instant::now();
    let mut saved = Vec::new();
    let mut heard = false;
    while !heard && start.elapsed() < EVENT_DEADLINE {
        let value = saved.len().to_string().into_bytes();
        db.save(&probe, &value).await.expect("save probe");
        saved.push(value);
        let until = tokio::time::Instant::now() + Duration::from_millis(200);
        while let Ok(Some(ev)) = tokio::time::timeout_at(until, stream.next()).await {
            if ev.key()[..] == probe[..] {
                heard = true;
            }
        }
    }
    assert!(
        heard,
        "{db:?}: no event heard within {EVENT_DEADLINE:?} of subscribing"
    );
    for value in &saved {
        db.delete(&probe, value).await.expect("delete probe");
    }
    // Drain the probe's delete events.
    let until = tokio::time::Instant::now() + EVENT_QUIET;
    while let Ok(Some(_)) = tokio::time::timeout_at(until, stream.next()).await {}
}

/// Compares events as multisets, with readable output on failure.
pub fn assert_same_events(got: &[ChangeEvent], want: &[ChangeEvent], context: &str) {
    let count = |evs: &[ChangeEvent]| {
        let mut m: HashMap<ChangeEvent, usize> = HashMap::new();
        for e in evs {
            *m.entry(e.clone()).or_default() += 1;
        }
        m
    };
    assert_eq!(
        count(got),
        count(want),
        "{context}: events differ\n got: {got:#?}\nwant: {want:#?}"
    );
}

/// Listener conformance: the multiset of events equals the changes actually made (no
/// event for a save or delete that changed nothing; a move is a delete then a save), and
/// listening can stop and start again; after `subscribe_ready` returns, no change is
/// missed.
pub async fn listener(db: &dyn ExampleDatabase, caps: Capabilities) {
    let p = unique_prefix();
    let (a, b) = (key(&p, b"a"), key(&p, b"b"));
    let saved = |k: &[u8], v: &[u8]| ChangeEvent::Saved {
        key: Bytes::copy_from_slice(k),
        value: Bytes::copy_from_slice(v),
    };
    let deleted = |k: &[u8], v: &[u8]| ChangeEvent::Deleted {
        key: Bytes::copy_from_slice(k),
        value: Some(Bytes::copy_from_slice(v)),
    };

    for round in 0..2 {
        // Round 0 subscribes and probes until events flow; round 1 relies on
        // `subscribe_ready` alone, so a change made at once after it is heard.
        let mut stream = if round == 0 {
            let mut stream = db.subscribe().expect("subscribe");
            if caps.async_events {
                wait_until_listening(db, &mut stream).await;
            }
            stream
        } else {
            db.subscribe_ready(EVENT_DEADLINE)
                .await
                .expect("subscribe_ready")
        };
        db.save(&a, b"v1").await.expect("save");
        db.save(&a, b"v1").await.expect("save again (no event)");
        db.save(&a, b"v2").await.expect("save");
        db.delete(&a, b"v1").await.expect("delete");
        db.delete(&a, b"v1").await.expect("delete again (no event)");
        db.move_value(&a, &b, b"v2").await.expect("move");
        db.move_value(&a, &b, b"v3")
            .await
            .expect("move of an absent value");
        db.delete(&b, b"absent")
            .await
            .expect("delete of an absent value (no event)");
        db.delete(&b, b"v2").await.expect("delete");
        db.delete(&b, b"v3").await.expect("delete");
        let want = vec![
            saved(&a, b"v1"),
            saved(&a, b"v2"),
            deleted(&a, b"v1"),
            deleted(&a, b"v2"),
            saved(&b, b"v2"),
            saved(&b, b"v3"),
            deleted(&b, b"v2"),
            deleted(&b, b"v3"),
        ];
        let deadline = if caps.async_events {
            EVENT_DEADLINE
        } else {
            Duration::ZERO
        };
        let got = collect_events(&mut stream, &p, want.len(), deadline).await;
        assert_same_events(&got, &want, &format!("listener round {round} on {db:?}"));
        if !caps.async_events {
            // Synchronous backends: a move is a delete then a save, in that order.
            let pos = |e: &ChangeEvent| got.iter().position(|g| g == e);
            assert!(
                pos(&deleted(&a, b"v2")) < pos(&saved(&b, b"v2")),
                "move: delete before save"
            );
        }
        drop(stream);
    }
}

/// A model for read-only stores built from known contents (an artifact archive): random
/// keys and values plus the edge cases (empty key and value, a 1 MiB value, non-UTF-8
/// bytes, keys holding `/`, `..` and NUL), from `seed`.
pub fn read_only_model(seed: u64) -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut model: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for _ in 0..40 {
        let key: Vec<u8> = (0..32).map(|_| next() as u8).collect();
        let mut values: BTreeSet<Vec<u8>> = BTreeSet::new();
        for _ in 0..(1 + next() % 12) {
            let len = (next() % 300) as usize;
            values.insert((0..len).map(|_| next() as u8).collect());
        }
        model.insert(key, values.into_iter().collect());
    }
    let big: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for key in [
        &b""[..],
        b"/",
        b"..",
        b"../../etc/passwd",
        b"a\0b",
        &[0xff, 0xfe, 0x80],
    ] {
        model.insert(
            key.to_vec(),
            vec![vec![], vec![0], b"..".to_vec(), vec![0xff, 0xc0, 0x80]],
        );
    }
    model.insert(b"big".to_vec(), vec![big]);
    model
}

/// Read-side conformance for a read-only store whose contents are `model` (each key's
/// values as a set): every key fetches exactly its set, unknown keys fetch nothing,
/// `keys()` lists exactly the model's keys (when `lists_keys`), fetches from many tasks
/// at once agree, and writes are refused with [`Error::ReadOnly`] (no-ops through
/// [`ReadOnly`](exampledb_core::ReadOnly)) without changing anything.
pub async fn read_only_contents(
    db: Arc<dyn ExampleDatabase>,
    model: &BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    lists_keys: bool,
) {
    let want = |k: &[u8]| -> BTreeSet<Vec<u8>> {
        model
            .get(k)
            .map(|vs| vs.iter().cloned().collect())
            .unwrap_or_default()
    };
    for k in model.keys() {
        assert_eq!(fetch_set(&*db, k).await, want(k), "fetch({k:?})");
    }
    for unknown in [unique_prefix(), b"big.secondary".to_vec()] {
        assert!(
            fetch_set(&*db, &unknown).await.is_empty(),
            "fetch of unknown key {unknown:?}"
        );
    }
    if lists_keys {
        let listed: BTreeSet<Vec<u8>> = db
            .keys()
            .await
            .unwrap_or_else(|e| panic!("keys(): {e}"))
            .iter()
            .map(|k| k.to_vec())
            .collect();
        let expected: BTreeSet<Vec<u8>> = model
            .iter()
            .filter(|(_, vs)| !vs.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(listed, expected, "keys()");
    }
    let Some((k, vs)) = model.iter().find(|(_, vs)| !vs.is_empty()) else {
        return;
    };
    let v = &vs[0];
    for (what, result) in [
        ("save", db.save(k, b"new value").await),
        ("delete", db.delete(k, v).await),
        ("move", db.move_value(k, b"elsewhere", v).await),
    ] {
        assert!(
            matches!(result, Err(Error::ReadOnly { .. })),
            "{what} on a read-only store: {result:?}"
        );
    }
    let wrapped = exampledb_core::ReadOnly::new(Arc::clone(&db));
    wrapped
        .save(k, b"new value")
        .await
        .expect("ReadOnly save is a no-op");
    wrapped
        .delete(k, v)
        .await
        .expect("ReadOnly delete is a no-op");
    wrapped
        .move_value(k, b"elsewhere", v)
        .await
        .expect("ReadOnly move is a no-op");
    assert_eq!(
        fetch_set(&wrapped, k).await,
        want(k),
        "after refused writes"
    );
    assert!(fetch_set(&*db, b"elsewhere").await.is_empty());
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    let keys = Arc::new(keys);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let db = Arc::clone(&db);
        let keys = Arc::clone(&keys);
        tasks.push(tokio::spawn(async move {
            let mut sizes = Vec::new();
            for k in keys.iter().cycle().skip(t).take(keys.len()) {
                sizes.push((
                    k.clone(),
                    db.fetch(k).await.expect("concurrent fetch").len(),
                ));
            }
            sizes
        }));
    }
    for task in tasks {
        for (k, n) in task.await.expect("fetch task") {
            assert_eq!(n, want(&k).len(), "concurrent fetch({k:?})");
        }
    }
}
