//! The database key a test file's seeds live under.

use std::fmt;

/// What every key this crate writes starts with. Hypothesis's keys are 48-byte SHA-384
/// digests (with `.secondary`-style suffixes) and HypoFuzz's global keys start with
/// `hypofuzz.`, so a key that starts with `proptest:` is never one of theirs.
pub const KEY_PREFIX: &str = "proptest:";

/// How a source file (proptest's `file!()`) becomes a database key:
/// `proptest:[CRATE][@BRANCH]:PATH`.
///
/// - `PATH` is the source file with `\` written `/`, so Windows and Unix machines share
///   keys, and a leading `./` dropped. Cargo compiles a workspace member's files with paths
///   relative to the workspace root (`crates/foo/tests/props.rs`), the same on every
///   machine.
/// - `CRATE` and `BRANCH` are empty unless set; set them when one store holds the seeds of
///   several repositories, or when each branch should keep its own. Bytes other than
///   ASCII letters, digits and `-_./+` are percent-encoded in them, so two settings never
///   give one key.
///
/// ```
/// use exampledb_proptest::KeyScheme;
/// let scheme = KeyScheme::default();
/// assert_eq!(scheme.key("tests\\props.rs"), b"proptest::tests/props.rs");
/// let scheme = KeyScheme::default().crate_name("my-crate").branch("feature/x");
/// assert_eq!(scheme.key("tests/props.rs"), b"proptest:my-crate@feature/x:tests/props.rs");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyScheme {
    crate_name: String,
    branch: String,
}

impl fmt::Debug for KeyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyScheme({:?})", self.scope())
    }
}

impl KeyScheme {
    /// Keys under the crate name `name` (for example `env!("CARGO_PKG_NAME")`); an empty
    /// name means none.
    pub fn crate_name(mut self, name: &str) -> Self {
        self.crate_name = encode(name);
        self
    }

    /// Keys under the branch `name` (for example CI's `GITHUB_REF_NAME`); an empty name
    /// means none.
    pub fn branch(mut self, name: &str) -> Self {
        self.branch = encode(name);
        self
    }

    /// The key of the source file `source_file`.
    pub fn key(&self, source_file: &str) -> Vec<u8> {
        let path = source_file.replace('\\', "/");
        let path = path.trim_start_matches("./");
        format!("{KEY_PREFIX}{}:{path}", self.scope()).into_bytes()
    }

    /// `CRATE[@BRANCH]`, encoded.
    fn scope(&self) -> String {
        if self.branch.is_empty() {
            self.crate_name.clone()
        } else {
            format!("{}@{}", self.crate_name, self.branch)
        }
    }
}

/// `name` with every byte outside `A-Za-z0-9-_./+` written `%XX`: no `:` or `@` is left to
/// be taken for a separator, and no control character reaches a key.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_./+".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_in_names_are_encoded_so_settings_never_share_a_key() {
        let a = KeyScheme::default().crate_name("a:b");
        let b = KeyScheme::default().crate_name("a");
        assert_ne!(a.key("c"), b.key("b:c"));
        assert_eq!(a.key("c"), b"proptest:a%3Ab:c");
        let at = KeyScheme::default().crate_name("x@y");
        let branch = KeyScheme::default().crate_name("x").branch("y");
        assert_ne!(at.key("f"), branch.key("f"));
        assert_eq!(
            KeyScheme::default().branch("a\nb%").key("f"),
            b"proptest:@a%0Ab%25:f"
        );
    }

    #[test]
    fn windows_and_unix_paths_give_one_key() {
        let s = KeyScheme::default();
        assert_eq!(
            s.key("crates\\a\\tests\\t.rs"),
            s.key("crates/a/tests/t.rs")
        );
        assert_eq!(s.key("./tests/t.rs"), s.key("tests/t.rs"));
    }
}
