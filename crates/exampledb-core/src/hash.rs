//! The file and directory names Hypothesis derives from keys and values.

use sha2::{Digest, Sha384};

/// The special key under which Hypothesis's directory database records every key it has
/// stored, so that hashed directory names can be mapped back to keys.
pub const METAKEYS_KEY: &[u8] = b".hypothesis-keys";

/// Lowercase hex of the first 8 bytes of SHA-384: the 16-character name Hypothesis gives
/// a key's directory and a value's file.
///
/// ```
/// use exampledb_core::hypothesis_hash;
/// assert_eq!(hypothesis_hash(b"foo"), "98c11ffdfdd54067");
/// ```
pub fn hypothesis_hash(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    let mut out = String::with_capacity(16);
    for b in &digest[..8] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `name` has the shape of a [`hypothesis_hash`]: 16 lowercase hex digits.
pub fn is_hash_name(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
        assert_eq!(hypothesis_hash(METAKEYS_KEY), "04e6b3400353b141");
    }

    #[test]
    fn hash_names() {
        assert!(is_hash_name("04e6b3400353b141"));
        assert!(!is_hash_name("04E6B3400353B141"));
        assert!(!is_hash_name(".tmp-04e6b34003"));
        assert!(!is_hash_name("04e6b3400353b14"));
    }
}
