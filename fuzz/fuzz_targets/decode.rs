#![no_main]
//! The choice-sequence decoder never panics, and whatever it accepts re-encodes to bytes
//! that decode to the same choices.
use exampledb_core::choices::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(choices) = decode(data) {
        let again = encode(&choices);
        assert_eq!(decode(&again).ok(), Some(choices));
    }
});
