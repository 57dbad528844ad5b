//! Hypothesis's directory layout and its rules, in one place for every backend that
//! stores it: the [`DirectoryDatabase`](crate::DirectoryDatabase) (files), the GitHub
//! artifact (a zip of that directory) and S3 (object names under a prefix).
//!
//! ```text
//! <h(key)>/<h(value)>              the raw value bytes
//! 04e6b3400353b141/<h(key)>        the raw key: the meta-keys entry (04e6… = h(".hypothesis-keys"))
//! ```
//!
//! where `h` is [`hypothesis_hash`]. The rules every reader applies:
//!
//! 1. **What is a value.** A file whose name is a hash name (16 lowercase hex digits,
//!    [`is_hash_name`]) inside a directory whose name is a hash name. Anything else (hidden
//!    or temporary files, stray names, deeper paths, and for file systems anything that is
//!    not a regular file) is ignored. Names are not checked against content, as in
//!    Hypothesis.
//! 2. **What is a meta-keys entry.** A value of the special key [`METAKEYS_KEY`], that is a
//!    file in the directory [`METAKEYS_DIR`]; its content is a key.
//! 3. **What is a key.** A key is listed only while it holds a value: the content of a
//!    meta-keys entry whose directory `h(key)` holds at least one value. Meta-keys entries
//!    can outlive their key (Hypothesis's move keeps the source's entry, a process can die
//!    between the two removals), and keys without an entry cannot be named at all.
//!    [`listed_keys`] applies this rule.
//!
//! ```
//! use exampledb_core::layout::{self, Entry};
//! assert_eq!(layout::value_path(b"k1", b"v1"), "04a6304fb6fbd10a/a49554886eaec884");
//! assert_eq!(layout::metakey_path(b"k1"), "04e6b3400353b141/04a6304fb6fbd10a");
//! assert_eq!(
//!     layout::classify_path("04a6304fb6fbd10a/a49554886eaec884"),
//!     Entry::Value { key_dir: "04a6304fb6fbd10a", value_file: "a49554886eaec884" }
//! );
//! assert_eq!(
//!     layout::classify_path("04e6b3400353b141/04a6304fb6fbd10a"),
//!     Entry::MetaKey { key_dir: "04a6304fb6fbd10a" }
//! );
//! assert_eq!(layout::classify_path("04a6304fb6fbd10a/.tmp-1"), Entry::Other);
//! ```

use std::collections::HashSet;

use bytes::Bytes;
use sha2::{Digest, Sha384};

/// The special key under which Hypothesis's directory database records every key it has
/// stored, so that hashed directory names can be mapped back to keys.
pub const METAKEYS_KEY: &[u8] = b".hypothesis-keys";

/// The directory of the meta-keys entries: [`hypothesis_hash`] of [`METAKEYS_KEY`].
pub const METAKEYS_DIR: &str = "04e6b3400353b141";

/// Length of a [`hypothesis_hash`] name.
pub const HASH_NAME_LEN: usize = 16;

/// Lowercase hex of the first 8 bytes of SHA-384: the 16-character name Hypothesis gives
/// a key's directory and a value's file.
///
/// ```
/// use exampledb_core::hypothesis_hash;
/// assert_eq!(hypothesis_hash(b"foo"), "98c11ffdfdd54067");
/// ```
pub fn hypothesis_hash(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    let mut out = String::with_capacity(HASH_NAME_LEN);
    for b in &digest[..8] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `name` has the shape of a [`hypothesis_hash`]: 16 lowercase hex digits.
pub fn is_hash_name(name: &str) -> bool {
    is_hash_name_bytes(name.as_bytes())
}

/// [`is_hash_name`] on raw bytes (zip entry names, object keys).
pub fn is_hash_name_bytes(name: &[u8]) -> bool {
    name.len() == HASH_NAME_LEN && name.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The directory holding `key`'s values: `h(key)`.
pub fn key_dir(key: &[u8]) -> String {
    hypothesis_hash(key)
}

/// The file name of `value` inside its key's directory: `h(value)`.
pub fn value_file(value: &[u8]) -> String {
    hypothesis_hash(value)
}

/// `<h(key)>/<h(value)>`, relative to the root.
pub fn value_path(key: &[u8], value: &[u8]) -> String {
    format!("{}/{}", key_dir(key), value_file(value))
}

/// `04e6b3400353b141/<h(key)>`, relative to the root: `key`'s meta-keys entry.
pub fn metakey_path(key: &[u8]) -> String {
    format!("{METAKEYS_DIR}/{}", key_dir(key))
}

/// What a file at `<dir>/<file>` (relative to the root) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A value of the key whose directory is `key_dir`.
    Value {
        /// The key's directory name, `h(key)`.
        key_dir: &'a str,
        /// The value's file name, `h(value)` when written by Hypothesis or exampledb.
        value_file: &'a str,
    },
    /// The meta-keys entry of the key whose directory is `key_dir`; its content is the key.
    MetaKey {
        /// The key's directory name, `h(key)`.
        key_dir: &'a str,
    },
    /// Not part of the database: every reader ignores it.
    Other,
}

/// Classifies the file `file` in the root's directory `dir`.
pub fn classify<'a>(dir: &'a str, file: &'a str) -> Entry<'a> {
    if !is_hash_name(dir) || !is_hash_name(file) {
        Entry::Other
    } else if dir == METAKEYS_DIR {
        Entry::MetaKey { key_dir: file }
    } else {
        Entry::Value {
            key_dir: dir,
            value_file: file,
        }
    }
}

/// Classifies a path relative to the root, `<dir>/<file>` with exactly one `/`; anything
/// else (deeper or shallower paths, `\`, `..`, absolute paths) is [`Entry::Other`].
pub fn classify_path(path: &str) -> Entry<'_> {
    match path.split_once('/') {
        Some((dir, file)) => classify(dir, file),
        None => Entry::Other,
    }
}

/// [`classify_path`] on raw bytes (a zip entry name, an object key after its prefix).
pub fn classify_path_bytes(path: &[u8]) -> Entry<'_> {
    std::str::from_utf8(path).map_or(Entry::Other, classify_path)
}

/// The keys to list, by the directory rule: from the contents of the meta-keys entries,
/// each key (once) whose directory holds at least one value, as `holds_value(key_dir)`
/// says. [`METAKEYS_KEY`] itself is never listed.
///
/// ```
/// use exampledb_core::bytes::Bytes;
/// use exampledb_core::layout::{key_dir, listed_keys};
/// let entries = [Bytes::from("a"), Bytes::from("gone"), Bytes::from("a")];
/// let holding = [key_dir(b"a")];
/// let keys = listed_keys(entries, |dir| holding.iter().any(|d| d == dir));
/// assert_eq!(keys, vec![Bytes::from("a")]);
/// ```
pub fn listed_keys<I>(metakey_contents: I, mut holds_value: impl FnMut(&str) -> bool) -> Vec<Bytes>
where
    I: IntoIterator<Item = Bytes>,
{
    let mut seen = HashSet::new();
    metakey_contents
        .into_iter()
        .filter(|key| {
            key.as_ref() != METAKEYS_KEY && seen.insert(key.clone()) && holds_value(&key_dir(key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_vectors() {
        assert_eq!(hypothesis_hash(b""), "38b060a751ac9638");
        assert_eq!(hypothesis_hash(b"foo"), "98c11ffdfdd54067");
        assert_eq!(hypothesis_hash(b"k1"), "04a6304fb6fbd10a");
        assert_eq!(hypothesis_hash(b"v1"), "a49554886eaec884");
        assert_eq!(hypothesis_hash(METAKEYS_KEY), METAKEYS_DIR);
    }

    #[test]
    fn hash_names() {
        assert!(is_hash_name("04e6b3400353b141"));
        assert!(!is_hash_name("04E6B3400353B141"));
        assert!(!is_hash_name(".tmp-04e6b34003"));
        assert!(!is_hash_name("04e6b3400353b14"));
        assert!(!is_hash_name("04e6b3400353b1411"));
    }

    #[test]
    fn classification() {
        let v = "a49554886eaec884";
        let k = "04a6304fb6fbd10a";
        assert_eq!(
            classify(k, v),
            Entry::Value {
                key_dir: k,
                value_file: v
            }
        );
        assert_eq!(classify(METAKEYS_DIR, k), Entry::MetaKey { key_dir: k });
        for other in [
            "04a6304fb6fbd10a/a49554886eaec88",
            "04a6304fb6fbd10a/.tmp-exampledb-1-2",
            "04a6304fb6fbd10a/a49554886eaec884/x",
            "../04a6304fb6fbd1/a49554886eaec884",
            "/04a6304fb6fbd10/a49554886eaec884",
            "04A6304FB6FBD10A/a49554886eaec884",
            "04a6304fb6fbd10a\\a49554886eaec884",
            "04a6304fb6fbd10a/..",
            "04a6304fb6fbd10a/",
            "04a6304fb6fbd10a",
            ".exampledb-tmp/a49554886eaec884",
            "",
        ] {
            assert_eq!(classify_path(other), Entry::Other, "{other}");
        }
        assert_eq!(classify_path_bytes(b"04a6304fb6fbd10a/\xff"), Entry::Other);
    }

    #[test]
    fn keys_rule() {
        let keys = listed_keys(
            [
                Bytes::from_static(METAKEYS_KEY),
                Bytes::from("x"),
                Bytes::from("y"),
                Bytes::from("x"),
            ],
            |dir| dir != key_dir(b"y"),
        );
        assert_eq!(keys, vec![Bytes::from("x")]);
    }
}
