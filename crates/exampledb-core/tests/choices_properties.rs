//! Property tests of the choice codec (the stable twin of fuzz/fuzz_targets/decode.rs).
#![allow(clippy::unwrap_used)]

use exampledb_core::choices::{decode, encode, Choice, ChoiceString};
use num_bigint::BigInt;
use proptest::prelude::*;

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        any::<bool>().prop_map(Choice::Boolean),
        any::<u64>().prop_map(|bits| Choice::Float(f64::from_bits(bits))),
        any::<i64>().prop_map(Choice::from),
        (any::<bool>(), prop::collection::vec(any::<u32>(), 0..6)).prop_map(|(neg, digits)| {
            let n = BigInt::new(
                if neg {
                    num_bigint::Sign::Minus
                } else {
                    num_bigint::Sign::Plus
                },
                digits,
            );
            Choice::Integer(n)
        }),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Choice::Bytes),
        prop::collection::vec(
            prop_oneof![
                0u32..0x80,
                0x80u32..0x800,
                0xd800u32..0xe000,
                0x800u32..0x11_0000
            ],
            0..40
        )
        .prop_map(|cps| Choice::String(ChoiceString::from_code_points(cps).unwrap())),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(choices in prop::collection::vec(choice(), 0..20)) {
        prop_assert_eq!(decode(&encode(&choices)).unwrap(), choices);
    }

    #[test]
    fn decode_never_panics_and_reencoding_is_stable(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(choices) = decode(&bytes) {
            let again = encode(&choices);
            prop_assert_eq!(decode(&again).unwrap(), choices);
        }
    }
}
