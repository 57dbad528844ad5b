//! Output and the forms keys and values take on the command line: stdout for data, one
//! line per error on stderr, a closed pipe ending the command quietly.

use std::io::Write;

/// Why a command stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// An error, to report on stderr as one line.
    Failed(String),
    /// stdout was closed by its reader (`exampledb ls | head -1`): nothing more to say.
    ClosedPipe,
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Failed(message)
    }
}

impl From<exampledb::Error> for Stop {
    fn from(e: exampledb::Error) -> Self {
        Stop::Failed(e.to_string())
    }
}

/// Writes one line to stdout; a closed pipe stops the command quietly.
pub(crate) fn out(line: std::fmt::Arguments<'_>) -> Result<(), Stop> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Stop::ClosedPipe),
        Err(e) => Err(Stop::Failed(format!("cannot write to stdout: {e}"))),
    }
}

/// A note for the user on stderr (not data): `exampledb: TEXT`, made safe for a terminal.
pub(crate) fn note(text: &str) {
    eprintln!("exampledb: {}", crate::log::one_line(text));
}

/// `b` in lowercase hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The length of Hypothesis's test digests (SHA-384), which its keys begin with.
const DIGEST: usize = 48;

/// What the keys of exampledb-proptest (proptest's seeds) start with.
pub(crate) const PROPTEST_PREFIX: &str = "proptest:";

/// A key as Hypothesis users know it: the hex of its 48-byte digest, then its readable
/// suffix (`.secondary`, `.pareto`, `.hypofuzz.corpus`, ...) as text; a proptest key
/// (`proptest:...`, printable ASCII without white space) as text; any other key in hex.
/// [`parse_key`] reads every form back.
pub(crate) fn show_key(key: &[u8]) -> String {
    if let Some(text) = proptest_key(key) {
        return text.to_owned();
    }
    match suffix_of(key) {
        Some(suffix) => format!("{}{suffix}", hex(&key[..DIGEST])),
        None => hex(key),
    }
}

/// `key` as text when it is a proptest key shown as text.
pub(crate) fn proptest_key(key: &[u8]) -> Option<&str> {
    let text = key.starts_with(PROPTEST_PREFIX.as_bytes()) && key.iter().all(u8::is_ascii_graphic);
    text.then(|| std::str::from_utf8(key).ok()).flatten()
}

/// The readable suffix of a Hypothesis key: after the digest, `.` then printable ASCII
/// without white space.
pub(crate) fn suffix_of(key: &[u8]) -> Option<&str> {
    let rest = key.get(DIGEST..)?;
    let readable =
        rest.first() == Some(&b'.') && rest.len() > 1 && rest.iter().all(|b| b.is_ascii_graphic());
    readable.then(|| std::str::from_utf8(rest).ok()).flatten()
}

/// A key given on the command line: hex digits, optionally followed by a `.suffix`, or a
/// proptest key as text (the forms [`show_key`] prints).
pub(crate) fn parse_key(s: &str) -> Result<Vec<u8>, String> {
    if s.starts_with(PROPTEST_PREFIX) {
        return Ok(s.as_bytes().to_vec());
    }
    let (digits, suffix) = match s.find('.') {
        Some(dot) => s.split_at(dot),
        None => (s, ""),
    };
    let mut key = unhex(digits).ok_or_else(|| {
        format!(
            "not a key: {s:?} (an even number of hex digits 0-9, a-f, then optionally a .suffix)"
        )
    })?;
    if !suffix.is_empty() && !suffix.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "not a key: {s:?} (its suffix is not printable ASCII)"
        ));
    }
    key.extend_from_slice(suffix.as_bytes());
    Ok(key)
}

/// `s` as bytes: an even number of hex digits and nothing else (`u8::from_str_radix`
/// alone would take a leading `+`).
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_both_forms() {
        let mut secondary = vec![0xab; DIGEST];
        secondary.extend_from_slice(b".secondary");
        let shown = show_key(&secondary);
        assert_eq!(shown, format!("{}.secondary", "ab".repeat(DIGEST)));
        for key in [secondary, b"k1".to_vec(), vec![], vec![0xab; DIGEST]] {
            assert_eq!(parse_key(&show_key(&key)).unwrap(), key);
        }
        for bad in ["+1+2", "0x12", "abc", "ab.\u{202e}x", "ab. x", "-1"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }
}
