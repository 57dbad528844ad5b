//! The pub/sub payloads of Hypothesis's `RedisExampleDatabase`:
//! `["save", ["<b64 key>", "<b64 value>"]]` (or `"delete"`), standard base64 with padding,
//! the key without the prefix, separators exactly as Python's `json.dumps` writes them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use exampledb_core::ChangeEvent;

/// The payload Hypothesis publishes for a save of `value` under `key`.
pub(crate) fn save(key: &[u8], value: &[u8]) -> String {
    encode("save", key, value)
}

/// The payload Hypothesis publishes for a delete of `value` from `key`.
pub(crate) fn delete(key: &[u8], value: &[u8]) -> String {
    encode("delete", key, value)
}

fn encode(kind: &str, key: &[u8], value: &[u8]) -> String {
    // Base64 never needs JSON escaping, so the text can be assembled directly.
    let mut out = String::with_capacity(24 + (key.len() + value.len()) * 4 / 3);
    out.push_str("[\"");
    out.push_str(kind);
    out.push_str("\", [\"");
    STANDARD.encode_string(key, &mut out);
    out.push_str("\", \"");
    STANDARD.encode_string(value, &mut out);
    out.push_str("\"]]");
    out
}

/// Why a message on the channel is not a change event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PayloadError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not [\"save\"|\"delete\", [key, value]] with base64 strings")]
    Shape,
    #[error("bad base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Decodes a payload published by Hypothesis or by exampledb. Any JSON spacing is
/// accepted; base64 must be standard (Python's `b64decode` default is lenient about
/// missing padding only in newer versions, and Hypothesis always pads).
pub(crate) fn decode(payload: &[u8]) -> Result<ChangeEvent, PayloadError> {
    let json: serde_json::Value = serde_json::from_slice(payload)?;
    let (kind, pair) = match json.as_array().map(Vec::as_slice) {
        Some([kind, pair]) => (kind.as_str(), pair.as_array().map(Vec::as_slice)),
        _ => return Err(PayloadError::Shape),
    };
    let (key, value) = match pair {
        Some([key, value]) => (key.as_str(), value.as_str()),
        _ => return Err(PayloadError::Shape),
    };
    let (Some(key), Some(value)) = (key, value) else {
        return Err(PayloadError::Shape);
    };
    let key = Bytes::from(STANDARD.decode(key)?);
    let value = Bytes::from(STANDARD.decode(value)?);
    match kind {
        Some("save") => Ok(ChangeEvent::Saved { key, value }),
        Some("delete") => Ok(ChangeEvent::Deleted {
            key,
            value: Some(value),
        }),
        _ => Err(PayloadError::Shape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_formats_md_example() {
        assert_eq!(save(b"k", b"v"), r#"["save", ["aw==", "dg=="]]"#);
        assert_eq!(delete(b"k", b""), r#"["delete", ["aw==", ""]]"#);
    }

    #[test]
    fn round_trips_and_accepts_compact_json() {
        let key = b"\x00\xffkey".as_slice();
        let value = b"va\"lue\n".as_slice();
        let event = decode(save(key, value).as_bytes()).unwrap();
        assert_eq!(
            event,
            ChangeEvent::Saved {
                key: Bytes::from_static(b"\x00\xffkey"),
                value: Bytes::from_static(b"va\"lue\n"),
            }
        );
        let compact = br#"["delete",["aw==","dg=="]]"#;
        assert_eq!(
            decode(compact).unwrap(),
            ChangeEvent::Deleted {
                key: Bytes::from_static(b"k"),
                value: Some(Bytes::from_static(b"v")),
            }
        );
    }

    #[test]
    fn rejects_malformed_payloads_with_a_reason() {
        for bad in [
            &b"not json"[..],
            br#"["save"]"#,
            br#"["move", ["aw==", "dg=="]]"#,
            br#"["save", ["aw==", 3]]"#,
            br#"["save", ["a!==", "dg=="]]"#,
            br#"{"save": 1}"#,
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
