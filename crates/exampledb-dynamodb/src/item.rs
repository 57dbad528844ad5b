//! One item per value: its attributes, and the limits checked before any request.

use sha2::{Digest, Sha384};

/// The partition key attribute: key prefix + key.
pub(crate) const PARTITION: &str = "k";
/// The sort key attribute: SHA-384 of the value (48 bytes).
pub(crate) const SORT: &str = "h";
/// The value.
pub(crate) const VALUE: &str = "v";
/// The time to live: epoch seconds (DynamoDB's TTL attribute).
pub(crate) const EXPIRES: &str = "exp";

/// DynamoDB's largest partition key, in bytes.
pub(crate) const MAX_PARTITION_KEY: usize = 2048;
/// DynamoDB's largest item (attribute names and values together), in bytes.
pub(crate) const MAX_ITEM: usize = 400 * 1024;
/// The most a number attribute takes (DynamoDB stores up to 38 digits in 21 bytes).
const MAX_NUMBER: usize = 21;

/// When an item whose `exp` attribute is `number` expires, in epoch seconds: never
/// (`u64::MAX`) when it has no `exp` number, as DynamoDB's TTL ignores such items (the
/// boto3 database a Hypothesis user writes by hand sets none).
pub(crate) fn expiry(number: Option<&str>) -> u64 {
    let Some(text) = number else {
        return u64::MAX;
    };
    match text.parse::<u64>() {
        Ok(n) => n,
        // A fractional or negative number: TTL compares it as a number.
        Err(_) => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => f.max(0.0) as u64,
            _ => u64::MAX,
        },
    }
}

/// The sort key of `value`.
pub(crate) fn value_hash(value: &[u8]) -> Vec<u8> {
    Sha384::digest(value).to_vec()
}

/// The partition key of `key` under `prefix`.
pub(crate) fn partition_key(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(key);
    k
}

/// The size DynamoDB counts for the item of a value of `value_len` bytes under a partition
/// key of `partition_len` bytes (an upper bound: the number is counted at its largest).
pub(crate) fn item_size(partition_len: usize, value_len: usize) -> usize {
    PARTITION.len()
        + partition_len
        + SORT.len()
        + 48
        + VALUE.len()
        + value_len
        + EXPIRES.len()
        + MAX_NUMBER
}

/// What does not fit: `(what, size, limit)`.
pub(crate) fn too_large(
    partition_len: usize,
    value_len: Option<usize>,
) -> Option<(&'static str, u64, u64)> {
    if partition_len > MAX_PARTITION_KEY {
        return Some((
            "partition key (key prefix + key)",
            partition_len as u64,
            MAX_PARTITION_KEY as u64,
        ));
    }
    let size = item_size(partition_len, value_len?);
    (size > MAX_ITEM).then_some((
        "item (key, value and attribute names)",
        size as u64,
        MAX_ITEM as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(too_large(2048, Some(0)).is_none());
        assert_eq!(
            too_large(2049, None).map(|t| t.0),
            Some("partition key (key prefix + key)")
        );
        assert!(too_large(20, Some(400 * 1024)).is_some());
        assert!(too_large(20, Some(399 * 1024)).is_none());
        assert_eq!(value_hash(b"").len(), 48);
        assert_eq!(expiry(None), u64::MAX);
        assert_eq!(expiry(Some("12")), 12);
        assert_eq!(expiry(Some("12.9")), 12);
        assert_eq!(expiry(Some("-3")), 0);
        assert_eq!(expiry(Some("1e3")), 1000);
    }
}
