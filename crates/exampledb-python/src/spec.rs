//! What a Python database object stands for, kept so that each process can open its own
//! copy (a child made by `fork` must not use its parent's connections), compare two
//! objects by value and describe one without its secrets.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use exampledb::config::without_secrets;
use exampledb::{ExampleDatabase, Multiplexed, ReadOnly};
use pyo3::prelude::*;
use sha2::{Digest, Sha256};

use crate::database::Handle;

/// Options given as keyword arguments, as `with_option` takes them.
pub(crate) type Options = Vec<(String, String)>;

/// How to open a database.
#[derive(Debug)]
pub(crate) enum Spec {
    /// Anything [`exampledb::open_with`] takes. `instance` tells apart URLs that open a
    /// new store each time (`memory:`), so that two of them are not equal.
    Url {
        url: String,
        options: Options,
        instance: Option<u64>,
    },
    /// A directory database at an absolute path, taken literally (no URL parsing: a path
    /// may hold `;`, `?` or `:`).
    Directory { path: PathBuf, options: Options },
    /// The members, in fetch order: the very databases given (an in-memory member is
    /// shared, not opened again).
    Multiplexed(Vec<Arc<Handle>>),
    /// Writes are no-ops.
    ReadOnly(Arc<Handle>),
}

/// Numbers the specs whose every opening is a new store.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// Whether a URL member opens a new, private store (`memory:`).
fn is_private_store(member: &str) -> bool {
    let mut m = member.trim();
    while m.len() >= exampledb::READ_ONLY_PREFIX.len()
        && m[..exampledb::READ_ONLY_PREFIX.len()].eq_ignore_ascii_case(exampledb::READ_ONLY_PREFIX)
    {
        m = m[exampledb::READ_ONLY_PREFIX.len()..].trim();
    }
    m.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("memory:"))
}

/// Option names whose values are secrets: never shown.
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "password", "secret", "credential", "key_id"]
        .iter()
        .any(|s| name.contains(s))
}

impl Spec {
    /// A URL's spec.
    pub(crate) fn url(url: String, options: Options) -> Spec {
        let private = url.split(exampledb::MEMBER_SEPARATOR).any(is_private_store);
        let instance = private.then(|| INSTANCES.fetch_add(1, Ordering::Relaxed));
        Spec::Url {
            url,
            options,
            instance,
        }
    }

    /// Whether what one process opened can be used by its forked child as it is: a store
    /// of memory only, with no connection or thread (the child has a copy of it).
    pub(crate) fn survives_fork(&self) -> bool {
        matches!(self, Spec::Url { url, .. } if is_private_store(url) && !url.contains(exampledb::MEMBER_SEPARATOR))
    }

    /// Opens it (no I/O: databases connect on first use).
    pub(crate) fn open(&self) -> PyResult<Arc<dyn ExampleDatabase>> {
        let opened = match self {
            Spec::Url { url, options, .. } => {
                exampledb::open_with(url, options.clone()).map(Arc::from)
            }
            Spec::Directory { path, options } => (|| {
                let mut builder = exampledb::DirectoryDatabase::builder(path.clone());
                for (k, v) in options {
                    builder = builder.with_option(k, v)?;
                }
                builder.build()
            })()
            .map(|db| Arc::new(db) as Arc<dyn ExampleDatabase>),
            Spec::Multiplexed(members) => {
                let members = members
                    .iter()
                    .map(|m| m.db())
                    .collect::<PyResult<Vec<_>>>()?;
                return Ok(Arc::new(Multiplexed::new(members)));
            }
            Spec::ReadOnly(inner) => return Ok(Arc::new(ReadOnly::new(inner.db()?))),
        };
        opened.map_err(|e: exampledb::Error| Python::attach(|py| crate::errors::to_py(py, &e)))
    }

    /// A canonical description holding everything that makes two databases the same,
    /// secrets included, so only its digest ([`Spec::identity`]) leaves this module.
    fn canonical(&self, out: &mut Vec<u8>) {
        match self {
            Spec::Url {
                url,
                options,
                instance,
            } => {
                field(out, b"url");
                field(out, url.trim().as_bytes());
                sorted_options(out, options);
                if let Some(n) = instance {
                    field(out, &n.to_be_bytes());
                }
            }
            Spec::Directory { path, options } => {
                field(out, b"directory");
                field(out, path.as_os_str().as_encoded_bytes());
                sorted_options(out, options);
            }
            Spec::Multiplexed(members) => {
                field(out, b"multiplexed");
                field(out, &(members.len() as u64).to_be_bytes());
                for m in members {
                    m.spec().canonical(out);
                }
            }
            Spec::ReadOnly(inner) => {
                field(out, b"readonly");
                inner.spec().canonical(out);
            }
        }
    }

    /// A digest equal for equal settings: what `==` and `hash()` compare.
    pub(crate) fn identity(&self) -> [u8; 32] {
        let mut canonical = Vec::new();
        self.canonical(&mut canonical);
        Sha256::digest(&canonical).into()
    }

    /// The arguments that would make this database again, as Python source, without
    /// secrets: for `repr`.
    pub(crate) fn describe(&self) -> String {
        fn options_text(options: &Options) -> String {
            options
                .iter()
                .map(|(k, v)| {
                    if is_secret(k) {
                        format!(", {k}='***'")
                    } else if v.contains("://") {
                        // An endpoint or API URL: without user info or query.
                        format!(", {k}={}", quote(&without_secrets(v)))
                    } else {
                        format!(", {k}={}", quote(v))
                    }
                })
                .collect()
        }
        match self {
            Spec::Url { url, options, .. } => {
                let shown = if url.contains(':') {
                    without_secrets(url.trim())
                } else {
                    url.clone()
                };
                format!("{}{}", quote(&shown), options_text(options))
            }
            Spec::Directory { path, options } => {
                format!(
                    "{}{}",
                    quote(&path.to_string_lossy()),
                    options_text(options)
                )
            }
            Spec::Multiplexed(members) => members
                .iter()
                .map(|m| m.spec().describe_wrapped())
                .collect::<Vec<_>>()
                .join(", "),
            Spec::ReadOnly(inner) => inner.spec().describe_wrapped(),
        }
    }

    /// [`describe`](Self::describe) with the Python class around it.
    pub(crate) fn describe_wrapped(&self) -> String {
        format!("{}({})", self.class_name(), self.describe())
    }

    /// The Python class (of `exampledb`) that stands for this database.
    pub(crate) fn class_name(&self) -> &'static str {
        match self {
            Spec::Directory { .. } => "DirectoryDatabase",
            Spec::Multiplexed(_) => "MultiplexedDatabase",
            Spec::ReadOnly(_) => "ReadOnlyDatabase",
            Spec::Url { url, .. } => class_of_url(url),
        }
    }
}

/// Appends `bytes`, length first, so that no two sequences of fields run together alike.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Appends the options in name order (their order does not change the database).
fn sorted_options(out: &mut Vec<u8>, options: &Options) {
    let mut sorted: Vec<&(String, String)> = options.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        field(out, k.as_bytes());
        field(out, v.as_bytes());
    }
}

/// The class `exampledb.open(url)` returns, from the URL's form (the facade decides what
/// the URL opens; this only names it).
fn class_of_url(url: &str) -> &'static str {
    let url = url.trim();
    if url.contains(exampledb::MEMBER_SEPARATOR) {
        return "MultiplexedDatabase";
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with(exampledb::READ_ONLY_PREFIX) {
        return "ReadOnlyDatabase";
    }
    match lower.split_once(':').map(|(scheme, _)| scheme) {
        Some("redis" | "rediss") => "RedisDatabase",
        Some("s3") => "S3Database",
        Some("dynamodb") => "DynamoDBDatabase",
        Some("github") => "GitHubArtifactDatabase",
        Some("memory") => "InMemoryDatabase",
        _ => "DirectoryDatabase",
    }
}

/// `text` as a Python string literal (single quotes, backslash escapes for quotes,
/// backslashes and anything unprintable).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if exampledb::choices::is_unprintable(u32::from(c)) => {
                out.push_str(&format!("\\U{:08x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
