//! Seeds as stored values: proptest's own text form (`cc <hex>`, `xs a b c d`, ...), the
//! bytes of [`PersistedSeed`]'s `Display`, read back with its `FromStr`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::test_runner::PersistedSeed;

/// The stored value of `seed`: its text form, as UTF-8.
pub(crate) fn encode(seed: &PersistedSeed) -> Vec<u8> {
    seed.to_string().into_bytes()
}

/// The seed a stored value holds, or `None` when it holds none: not UTF-8, or text
/// proptest does not take. A parser that panicked on hostile text counts as none.
pub(crate) fn decode(value: &[u8]) -> Option<PersistedSeed> {
    let text = std::str::from_utf8(value).ok()?;
    catch_unwind(AssertUnwindSafe(|| text.parse::<PersistedSeed>().ok())).ok()?
}

/// A short printable form of a stored value for messages: at most 80 characters, escaped.
pub(crate) fn preview(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(&value[..value.len().min(80)]);
    let mut out: String = text.escape_debug().collect();
    if value.len() > 80 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a store hands back, decoding neither panics nor loses a real seed.
        #[test]
        fn decoding_any_bytes_never_panics(value in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&value);
        }

        #[test]
        fn decoding_text_made_of_seed_words_never_panics(
            words in proptest::collection::vec(
                prop_oneof![Just("cc".to_owned()), Just("xs".to_owned()), Just("pt".to_owned()),
                            Just("rc".to_owned()), "[0-9a-fA-F+-]{0,70}", "\\PC{0,4}"],
                0..6)
        ) {
            let _ = decode(words.join(" ").as_bytes());
        }

        #[test]
        fn a_chacha_seed_round_trips_as_cc_hex(bytes in any::<[u8; 32]>()) {
            let text = format!("cc {}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            let seed = decode(text.as_bytes()).expect("a cc seed");
            prop_assert_eq!(encode(&seed), text.into_bytes());
        }
    }

    #[test]
    fn xorshift_and_passthrough_seeds_round_trip() {
        for text in [
            "xs 1 2 3 4",
            "pt 00ff10",
            "rc 0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let seed = decode(text.as_bytes()).expect(text);
            assert_eq!(encode(&seed), text.as_bytes());
        }
        assert!(decode(b"").is_none());
        assert!(decode(b"cc 12").is_none());
        assert!(decode(b"\xff\xfe").is_none());
        assert!(decode("cc é".as_bytes()).is_none());
    }

    #[test]
    fn previews_are_short_and_printable() {
        assert_eq!(preview(b"cc\n1"), "cc\\n1");
        let long = vec![b'a'; 200];
        assert_eq!(preview(&long).len(), 83);
    }
}
