//! What `cargo xtask bench cp` needs besides the commands it times: the source directory
//! (the standard workload's 10,000 values in Hypothesis's directory layout) and the two
//! floors, the least work a copy of that directory into S3 or Redis can do.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use exampledb_core::{DirectoryDatabase, ExampleDatabase};
use serde_json::{json, Map, Value};

/// Writes in flight in the floors: as many as `exampledb cp` keeps (its `WRITES_IN_FLIGHT`).
const FLOOR_IN_FLIGHT: usize = 64;

/// The workload's 100 keys x 100 values saved into a new directory database at `root`,
/// as Hypothesis lays it out (meta-keys entries included).
pub(crate) async fn source(root: &Path) -> Map<String, Value> {
    let db = DirectoryDatabase::builder(root).build().unwrap();
    let mut n = 0;
    for (key, values) in crate::workload() {
        for v in &values {
            db.save(&key, v).await.unwrap();
            n += 1;
        }
    }
    let mut out = Map::new();
    out.insert("values".into(), json!(n));
    out
}

/// Every file under `root`'s key directories, as (`key directory/file name`, path): what a
/// file-by-file copy (`aws s3 sync`) sends, meta-keys entries included.
fn files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for dir in fs::read_dir(root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                found.push((format!("{dir_name}/{name}"), path));
            }
        }
    }
    found.sort();
    found
}

/// The S3 floor: every file under `root` read and sent by aws-sdk-s3 alone as one
/// PutObject under `prefix` with the same name, [`FLOOR_IN_FLIGHT`] at once: an
/// `aws s3 sync` with nothing around the requests (no listing, no database).
pub(crate) async fn floor_s3(
    root: &Path,
    endpoint: &str,
    bucket: &str,
    prefix: &str,
) -> Map<String, Value> {
    use exampledb_s3::aws_sdk_s3::primitives::ByteStream;
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let client = crate::sdk_client(endpoint, Default::default());
    let files = files(root);
    let n = files.len();
    stream::iter(files)
        .map(|(name, path)| {
            let client = &client;
            async move {
                let body = tokio::fs::read(&path).await.unwrap();
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{name}"))
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(FLOOR_IN_FLIGHT)
        .try_collect::<()>()
        .await
        .unwrap();
    let mut out = Map::new();
    out.insert("objects".into(), json!(n));
    out
}

/// One RESP command.
fn resp(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// The Redis floor: every value file under `root` read and added by SADD to a set named
/// after its key directory, over one plain connection, [`FLOOR_IN_FLIGHT`] commands per
/// pipelined batch: the least a copy into Redis sets does (no TTL, no change event, no
/// client library).
pub(crate) fn floor_redis(root: &Path, port: &str) -> Map<String, Value> {
    let files: Vec<_> = files(root)
        .into_iter()
        .filter(|(name, _)| !name.starts_with(exampledb_core::layout::METAKEYS_DIR))
        .collect();
    let stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for batch in files.chunks(FLOOR_IN_FLIGHT) {
        let mut buf = Vec::new();
        for (name, path) in batch {
            let value = fs::read(path).unwrap();
            let (dir, _) = name.split_once('/').unwrap();
            let set = format!("exampledb-cp-floor:{dir}");
            resp(&mut buf, &[b"SADD", set.as_bytes(), &value]);
        }
        writer.write_all(&buf).unwrap();
        for _ in batch {
            line.clear();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(':'), "SADD answered {line:?}");
        }
    }
    let mut out = Map::new();
    out.insert("values".into(), json!(files.len()));
    out
}
