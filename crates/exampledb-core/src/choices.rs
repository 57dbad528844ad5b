//! Hypothesis's choice-sequence value format (`choices_to_bytes` / `choices_from_bytes`).
//!
//! The values Hypothesis stores (since 6.124) are serialized *choice sequences*: the
//! booleans, integers, floats, byte strings and strings a test drew, concatenated with no
//! overall header. Each element is a header byte `(tag << 5) | size` (with `size == 31`
//! meaning an unsigned LEB128 size follows), then `size` payload bytes; booleans carry their
//! value in the header. This module reads and writes exactly those bytes:
//!
//! - integers are arbitrary precision ([`num_bigint::BigInt`]);
//! - floats are bit-exact (NaN payloads and `-0.0` survive), and [`Choice`]'s equality
//!   compares floats by bits;
//! - strings are [`ChoiceString`]s, which may hold lone surrogates as Python's
//!   `surrogatepass` codec writes them, losslessly.
//!
//! Decoding is exactly as lenient as Hypothesis: a truncated byte-string or integer
//! payload decodes to what is there, a LEB128 size that runs off the end is taken as read.
//! It fails (where Hypothesis returns `None`) on tags 5 to 7, a float whose size is not 8 or
//! whose payload is cut short, a size escape with nothing after it, and a string that is
//! not UTF-8 even with surrogates allowed.
//!
//! ```
//! use exampledb_core::choices::{decode, encode, Choice};
//! let choices = vec![Choice::from(true), Choice::from(-129), Choice::from("é")];
//! let bytes = encode(&choices);
//! assert_eq!(bytes, [0x01, 0x42, 0xff, 0x7f, 0x82, 0xc3, 0xa9]);
//! assert_eq!(decode(&bytes)?, choices);
//! # Ok::<(), exampledb_core::choices::DecodeError>(())
//! ```

use std::fmt;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

const TAG_BOOLEAN: u8 = 0;
const TAG_FLOAT: u8 = 1;
const TAG_INTEGER: u8 = 2;
const TAG_BYTES: u8 = 3;
const TAG_STRING: u8 = 4;
const SIZE_ESCAPE: u8 = 0x1f;

/// One choice in a sequence.
#[derive(Clone)]
pub enum Choice {
    /// A boolean (tag 0).
    Boolean(bool),
    /// A 64-bit float (tag 1), compared by bits.
    Float(f64),
    /// An integer of any size (tag 2).
    Integer(BigInt),
    /// A byte string (tag 3).
    Bytes(Vec<u8>),
    /// A string (tag 4), which may hold lone surrogates.
    String(ChoiceString),
}

impl PartialEq for Choice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Choice::Boolean(a), Choice::Boolean(b)) => a == b,
            (Choice::Float(a), Choice::Float(b)) => a.to_bits() == b.to_bits(),
            (Choice::Integer(a), Choice::Integer(b)) => a == b,
            (Choice::Bytes(a), Choice::Bytes(b)) => a == b,
            (Choice::String(a), Choice::String(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Choice {}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Float(x) => write!(f, "Float({x:?} = {:#018x})", x.to_bits()),
            _ => write!(f, "{self}"),
        }
    }
}

/// Formats a choice as Python would print it: `True`, `-3`, `1.5`, `nan`, `b'\x00a'`,
/// `'é'` (a lone surrogate as `\ud800`).
/// Python's `repr`, as Hypothesis users read their values, with two exceptions where
/// `repr` cannot serve: a NaN other than the canonical quiet one shows its sign or its
/// payload (`-nan`, `nan(0x7ff0000000000001)`; Python shows `nan` for every NaN), and an
/// integer of more
/// than 4,300 decimal digits (which Python refuses to convert to a string) is shown in
/// hexadecimal, `0x...`, in time linear in its size.
impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Boolean(true) => f.write_str("True"),
            Choice::Boolean(false) => f.write_str("False"),
            Choice::Integer(n) if n.bits() > MAX_DECIMAL_BITS => write!(f, "{n:#x}"),
            Choice::Integer(n) => write!(f, "{n}"),
            Choice::Float(x) => f.write_str(&float_repr(*x)),
            Choice::Bytes(b) => {
                let quote = repr_quote(b.contains(&b'\''), b.contains(&b'"'));
                write!(f, "b{quote}")?;
                for &byte in b {
                    match byte {
                        b'\\' => f.write_str("\\\\")?,
                        b'\n' => f.write_str("\\n")?,
                        b'\r' => f.write_str("\\r")?,
                        b'\t' => f.write_str("\\t")?,
                        _ if char::from(byte) == quote => write!(f, "\\{quote}")?,
                        0x20..=0x7e => write!(f, "{}", char::from(byte))?,
                        _ => write!(f, "\\x{byte:02x}")?,
                    }
                }
                write!(f, "{quote}")
            }
            Choice::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// Integers up to this many bits are shown in decimal: 4,300 decimal digits, Python's
/// limit for converting an integer to a string, is just over 14,284 bits.
const MAX_DECIMAL_BITS: u64 = 14_280;

/// The quote Python's `repr` puts around a string or bytes: `'`, unless the text holds a
/// `'` and no `"`.
fn repr_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double {
        '"'
    } else {
        '\''
    }
}

/// Python's `repr(float)`: the shortest digits that read back as `x`, positional when the
/// decimal exponent is from -4 to 15 (`0.0001`, `1000000000000000.0`), else scientific
/// with a signed exponent of at least two digits (`1e-05`, `1e+16`).
fn float_repr(x: f64) -> String {
    if x.is_nan() {
        let bits = x.to_bits();
        return match bits {
            0x7ff8_0000_0000_0000 => "nan".to_owned(),
            0xfff8_0000_0000_0000 => "-nan".to_owned(),
            _ => format!("nan(0x{bits:016x})"),
        };
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-trip digits: `1.5e16`, `1e-5`, `0e0`.
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // The value is 0.DIGITS x 10^point.
    let point = exponent + 1;
    if !(-3..=16).contains(&point) {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs());
    }
    let len = digits.len() as i64;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        format!("{sign}0.{zeros}{digits}")
    } else if point >= len {
        let zeros = "0".repeat((point - len) as usize);
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{sign}{whole}.{fraction}")
    }
}

/// Whether Python's `str.isprintable` is false for `cp` (so `repr` escapes it), for the
/// categories that matter on a terminal: controls (Cc), format characters (Cf: bidi
/// overrides, zero-width characters, the BOM), line and paragraph separators (Zl, Zp),
/// spaces other than U+0020 (Zs), surrogates (Cs), private use (Co) and noncharacters.
/// Unassigned code points (Cn) are not known here and are printed as they are.
///
/// Any text shown on a terminal that came from a store or a server can be passed through
/// this, so that it cannot move the cursor, reorder what follows or hide characters:
///
/// ```
/// use exampledb_core::choices::is_unprintable;
/// assert!(is_unprintable('\u{202e}' as u32)); // right-to-left override
/// assert!(is_unprintable(0x1b)); // ESC
/// assert!(!is_unprintable('é' as u32));
/// ```
pub fn is_unprintable(cp: u32) -> bool {
    matches!(
        cp,
        0x00..=0x1f
            | 0x7f..=0xa0
            | 0xad
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x1680
            | 0x180e
            | 0x2000..=0x200f
            | 0x2028..=0x202f
            | 0x205f..=0x2064
            | 0x2066..=0x206f
            | 0x3000
            | 0xd800..=0xdfff
            | 0xe000..=0xf8ff
            | 0xfdd0..=0xfdef
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
            | 0xf0000..=0x10ffff
    ) || (cp & 0xfffe) == 0xfffe
}

impl From<bool> for Choice {
    fn from(b: bool) -> Self {
        Choice::Boolean(b)
    }
}
impl From<f64> for Choice {
    fn from(x: f64) -> Self {
        Choice::Float(x)
    }
}
impl From<BigInt> for Choice {
    fn from(n: BigInt) -> Self {
        Choice::Integer(n)
    }
}
impl From<i64> for Choice {
    fn from(n: i64) -> Self {
        Choice::Integer(n.into())
    }
}
impl From<i32> for Choice {
    fn from(n: i32) -> Self {
        Choice::Integer(n.into())
    }
}
impl From<Vec<u8>> for Choice {
    fn from(b: Vec<u8>) -> Self {
        Choice::Bytes(b)
    }
}
impl From<&[u8]> for Choice {
    fn from(b: &[u8]) -> Self {
        Choice::Bytes(b.to_vec())
    }
}
impl From<&str> for Choice {
    fn from(s: &str) -> Self {
        Choice::String(s.into())
    }
}
impl From<ChoiceString> for Choice {
    fn from(s: ChoiceString) -> Self {
        Choice::String(s)
    }
}

/// A Python `str`: a sequence of Unicode code points, lone surrogates (U+D800..U+DFFF)
/// included, held as the bytes Python's `encode("utf-8", "surrogatepass")` gives, so that
/// every string Hypothesis writes survives a round trip byte for byte.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChoiceString {
    bytes: Vec<u8>,
}

/// Bytes that are not UTF-8 even with surrogates allowed, or a code point past U+10FFFF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not UTF-8 with surrogates allowed: invalid sequence at byte {offset}")]
pub struct InvalidString {
    /// Where the first invalid sequence starts.
    pub offset: usize,
}

impl ChoiceString {
    /// Takes bytes as Python's `surrogatepass` UTF-8 codec writes them.
    pub fn from_surrogatepass_bytes(bytes: Vec<u8>) -> Result<Self, InvalidString> {
        validate_surrogatepass(&bytes).map_err(|offset| InvalidString { offset })?;
        Ok(Self { bytes })
    }

    /// Builds a string from code points; surrogates are allowed, values past U+10FFFF are
    /// not.
    pub fn from_code_points(points: impl IntoIterator<Item = u32>) -> Result<Self, InvalidString> {
        let mut bytes = Vec::new();
        for (i, cp) in points.into_iter().enumerate() {
            if cp > 0x10_ffff {
                return Err(InvalidString { offset: i });
            }
            push_code_point(&mut bytes, cp);
        }
        Ok(Self { bytes })
    }

    /// The `surrogatepass` UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The string as `&str`, when it holds no surrogate.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// The string with each surrogate replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        self.code_points()
            .map(|cp| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }

    /// The code points, surrogates included.
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            let b = &self.bytes;
            let lead = *b.get(i)?;
            let (len, init) = match lead {
                0x00..=0x7f => (1, u32::from(lead)),
                0xc0..=0xdf => (2, u32::from(lead & 0x1f)),
                0xe0..=0xef => (3, u32::from(lead & 0x0f)),
                _ => (4, u32::from(lead & 0x07)),
            };
            let cp = b[i + 1..i + len]
                .iter()
                .fold(init, |acc, c| (acc << 6) | u32::from(c & 0x3f));
            i += len;
            Some(cp)
        })
    }

    /// Number of code points (Python's `len`).
    pub fn len(&self) -> usize {
        self.bytes.iter().filter(|&&b| (b & 0xc0) != 0x80).count()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl From<&str> for ChoiceString {
    fn from(s: &str) -> Self {
        Self {
            bytes: s.as_bytes().to_vec(),
        }
    }
}

impl From<String> for ChoiceString {
    fn from(s: String) -> Self {
        Self {
            bytes: s.into_bytes(),
        }
    }
}

/// Python-style quoting, lone surrogates as `\udXXX`.
/// Python's `repr` of the string: the quote it would choose; a backslash, the quote, tab,
/// newline and carriage return escaped (`\t`, `\n`, `\r`); and every character
/// `str.isprintable` rejects (controls, bidi overrides, zero-width characters, lone
/// surrogates, ...) as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`, so that a terminal shows what
/// is there rather than obeying it.
impl fmt::Debug for ChoiceString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = repr_quote(
            self.code_points().any(|cp| cp == u32::from('\'')),
            self.code_points().any(|cp| cp == u32::from('"')),
        );
        write!(f, "{quote}")?;
        for cp in self.code_points() {
            match char::from_u32(cp) {
                Some('\\') => f.write_str("\\\\")?,
                Some('\t') => f.write_str("\\t")?,
                Some('\n') => f.write_str("\\n")?,
                Some('\r') => f.write_str("\\r")?,
                Some(c) if c == quote => write!(f, "\\{quote}")?,
                Some(c) if !is_unprintable(cp) => write!(f, "{c}")?,
                _ if cp <= 0xff => write!(f, "\\x{cp:02x}")?,
                _ if cp <= 0xffff => write!(f, "\\u{cp:04x}")?,
                _ => write!(f, "\\U{cp:08x}")?,
            }
        }
        write!(f, "{quote}")
    }
}

fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    // Truncating casts are intended: each keeps the bits of one UTF-8 byte.
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
    }
}

/// Strict UTF-8, except that the three-byte encodings of U+D800..U+DFFF are accepted, as
/// Python's `surrogatepass` error handler does. Returns the offset of the first bad byte.
fn validate_surrogatepass(b: &[u8]) -> Result<(), usize> {
    let cont = |i: usize| b.get(i).is_some_and(|c| (0x80..=0xbf).contains(c));
    let in_range = |i: usize, lo: u8, hi: u8| b.get(i).is_some_and(|c| (lo..=hi).contains(c));
    let mut i = 0;
    while i < b.len() {
        let len = match b[i] {
            0x00..=0x7f => 1,
            0xc2..=0xdf if cont(i + 1) => 2,
            0xe0 if in_range(i + 1, 0xa0, 0xbf) && cont(i + 2) => 3,
            // 0xed would be limited to 0x80..=0x9f in strict UTF-8; surrogatepass admits
            // the surrogate range 0xa0..=0xbf too.
            0xe1..=0xef if cont(i + 1) && cont(i + 2) => 3,
            0xf0 if in_range(i + 1, 0x90, 0xbf) && cont(i + 2) && cont(i + 3) => 4,
            0xf1..=0xf3 if cont(i + 1) && cont(i + 2) && cont(i + 3) => 4,
            0xf4 if in_range(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) => 4,
            _ => return Err(i),
        };
        i += len;
    }
    Ok(())
}

/// Why bytes are not a choice sequence: the cases where Hypothesis's
/// `choices_from_bytes` returns `None`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a choice sequence: {kind} (element starting at byte {offset})")]
pub struct DecodeError {
    /// Offset of the header byte of the element that failed.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Tags 5, 6 and 7 are not defined.
    #[error("invalid tag {0}")]
    InvalidTag(u8),
    /// A size escape (`0x1f`) with no LEB128 size after it.
    #[error("size escape with no size after it")]
    MissingSize,
    /// A float whose declared size is not 8.
    #[error("float of size {0}, expected 8")]
    FloatSize(u64),
    /// A float whose 8-byte payload is cut short.
    #[error("float payload truncated to {0} bytes")]
    TruncatedFloat(usize),
    /// A string payload that is not UTF-8 even with surrogates allowed.
    #[error("string payload is not UTF-8 (invalid at payload byte {0})")]
    InvalidString(usize),
}

/// Serializes choices as Hypothesis's `choices_to_bytes` does.
pub fn encode(choices: &[Choice]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(choices, &mut out);
    out
}

/// Appends the serialization of `choices` to `out`.
pub fn encode_into(choices: &[Choice], out: &mut Vec<u8>) {
    for choice in choices {
        match choice {
            Choice::Boolean(b) => out.push(u8::from(*b)),
            Choice::Float(x) => push_element(out, TAG_FLOAT, &x.to_bits().to_be_bytes()),
            Choice::Integer(n) => push_element(out, TAG_INTEGER, &integer_bytes(n)),
            Choice::Bytes(b) => push_element(out, TAG_BYTES, b),
            Choice::String(s) => push_element(out, TAG_STRING, s.as_bytes()),
        }
    }
}

fn push_element(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    let size = payload.len();
    match u8::try_from(size) {
        Ok(small) if small < SIZE_ESCAPE => out.push((tag << 5) | small),
        _ => {
            out.push((tag << 5) | SIZE_ESCAPE);
            let mut rest = size;
            loop {
                // Low seven bits; the cast keeps exactly them.
                let byte = (rest & 0x7f) as u8;
                rest >>= 7;
                if rest == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
    }
    out.extend_from_slice(payload);
}

/// Big-endian two's complement in `1 + bit_length(abs(n)) // 8` bytes, as Python's
/// `n.to_bytes(1 + n.bit_length() // 8, "big", signed=True)`.
fn integer_bytes(n: &BigInt) -> Vec<u8> {
    let len = 1 + usize::try_from(n.abs().bits() / 8).unwrap_or(usize::MAX);
    let minimal = n.to_signed_bytes_be();
    // The minimal encoding is never longer; sign-extend it (Python writes -128 as ff80).
    let fill = if n.is_negative() { 0xff } else { 0x00 };
    let mut out = vec![fill; len.saturating_sub(minimal.len())];
    out.extend_from_slice(&minimal);
    if n.is_zero() {
        out.truncate(1);
    }
    out
}

/// Reads a LEB128 size as Python's `_unpack_uleb128`: stops after the first byte without
/// the continuation bit or at the end of input. Returns (bytes read, value), the value
/// saturating at `u64::MAX` (any size that large runs past the end of the input).
fn read_uleb128(buf: &[u8]) -> Option<(usize, u64)> {
    if buf.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    let mut read = 0;
    for (i, &byte) in buf.iter().enumerate() {
        read = i + 1;
        let bits = u64::from(byte & 0x7f);
        let shift = u32::try_from(i * 7).unwrap_or(u32::MAX);
        if bits != 0 {
            value = match bits.checked_shl(shift) {
                Some(shifted) if shift < 64 && shifted >> shift == bits => value | shifted,
                _ => u64::MAX,
            };
        }
        if byte & 0x80 == 0 {
            break;
        }
    }
    Some((read, value))
}

/// Deserializes a choice sequence as Hypothesis's `choices_from_bytes` does; an error
/// wherever Hypothesis returns `None`.
pub fn decode(buf: &[u8]) -> Result<Vec<Choice>, DecodeError> {
    let mut out = Vec::new();
    let mut idx = 0;
    while idx < buf.len() {
        let start = idx;
        let fail = |kind| DecodeError {
            offset: start,
            kind,
        };
        let header = buf[idx];
        let tag = header >> 5;
        let mut size = u64::from(header & SIZE_ESCAPE);
        idx += 1;
        if tag == TAG_BOOLEAN {
            out.push(Choice::Boolean(size != 0));
            continue;
        }
        if size == u64::from(SIZE_ESCAPE) {
            let (read, value) =
                read_uleb128(&buf[idx..]).ok_or_else(|| fail(DecodeErrorKind::MissingSize))?;
            idx += read;
            size = value;
        }
        let available = buf.len() - idx;
        let take = usize::try_from(size).map_or(available, |s| s.min(available));
        let chunk = &buf[idx..idx + take];
        idx += take;
        out.push(match tag {
            TAG_FLOAT => {
                if size != 8 {
                    return Err(fail(DecodeErrorKind::FloatSize(size)));
                }
                let bits: [u8; 8] = chunk
                    .try_into()
                    .map_err(|_| fail(DecodeErrorKind::TruncatedFloat(chunk.len())))?;
                Choice::Float(f64::from_bits(u64::from_be_bytes(bits)))
            }
            TAG_INTEGER => Choice::Integer(BigInt::from_signed_bytes_be(chunk)),
            TAG_BYTES => Choice::Bytes(chunk.to_vec()),
            TAG_STRING => Choice::String(
                ChoiceString::from_surrogatepass_bytes(chunk.to_vec())
                    .map_err(|e| fail(DecodeErrorKind::InvalidString(e.offset)))?,
            ),
            _ => return Err(fail(DecodeErrorKind::InvalidTag(tag))),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn check(choice: Choice, expected_hex: &str) {
        let bytes = encode(std::slice::from_ref(&choice));
        assert_eq!(hex(&bytes), expected_hex, "encoding {choice:?}");
        assert_eq!(decode(&bytes).unwrap(), vec![choice]);
    }

    #[test]
    fn formats_md_vectors() {
        check(true.into(), "01");
        check(0.into(), "4100");
        check((-1).into(), "41ff");
        check(128.into(), "420080");
        check((-129).into(), "42ff7f");
        check(i64::MAX.into(), "487fffffffffffffff");
        check(i64::MIN.into(), "49ff8000000000000000");
        check(
            Choice::Integer(BigInt::from(1) << 70),
            "49400000000000000000",
        );
        check(0.0.into(), "280000000000000000");
        check((-0.0).into(), "288000000000000000");
        check(1.5.into(), "283ff8000000000000");
        check(f64::NAN.into(), "287ff8000000000000");
        check(Choice::Bytes(vec![]), "60");
        check(Choice::Bytes(b"a".to_vec()), "6161");
        check(
            Choice::Bytes(vec![b'a'; 31]),
            &format!("7f1f{}", "61".repeat(31)),
        );
        check(
            Choice::Bytes(vec![b'a'; 200]),
            &format!("7fc801{}", "61".repeat(200)),
        );
        check("".into(), "80");
        check("é".into(), "82c3a9");
        check(
            ChoiceString::from_code_points([0xd800]).unwrap().into(),
            "83eda080",
        );
    }

    #[test]
    fn integer_lengths_follow_bit_length() {
        check((-128).into(), "42ff80");
        check(127.into(), "417f");
        check((-256).into(), "42ff00");
        check((-32768).into(), "43ff8000");
        check(255.into(), "4200ff");
    }

    #[test]
    fn false_and_sequence() {
        let seq = vec![false.into(), 1.into(), Choice::Bytes(vec![0, 0xff])];
        let bytes = encode(&seq);
        assert_eq!(hex(&bytes), "00410162".to_string() + "00ff");
        assert_eq!(decode(&bytes).unwrap(), seq);
        assert_eq!(decode(&[]).unwrap(), vec![]);
    }

    #[test]
    fn lenient_where_hypothesis_is() {
        // Any low bits in a tag-0 header are True.
        assert_eq!(decode(&[0x02]).unwrap(), vec![Choice::Boolean(true)]);
        assert_eq!(decode(&[0x1f]).unwrap(), vec![Choice::Boolean(true)]);
        // Truncated bytes / integer payloads decode to what is there.
        assert_eq!(
            decode(&unhex("6561")).unwrap(),
            vec![Choice::Bytes(b"a".to_vec())]
        );
        assert_eq!(decode(&unhex("44")).unwrap(), vec![Choice::from(0)]);
        assert_eq!(decode(&unhex("4301")).unwrap(), vec![Choice::from(1)]);
        // Non-minimal integer encodings are accepted.
        assert_eq!(decode(&unhex("43000005")).unwrap(), vec![Choice::from(5)]);
        // A LEB128 size that never terminates is taken as read.
        assert_eq!(decode(&unhex("7f80")).unwrap(), vec![Choice::Bytes(vec![])]);
        // A float with an escaped size of 8 is fine.
        assert_eq!(
            decode(&unhex("3f083ff8000000000000")).unwrap(),
            vec![Choice::Float(1.5)]
        );
        // A huge size is clamped to what is there.
        assert_eq!(
            decode(&unhex("7fffffffffffffffffffff7f61")).unwrap(),
            vec![Choice::Bytes(b"a".to_vec())]
        );
    }

    #[test]
    fn invalid_where_hypothesis_returns_none() {
        let kind = |h: &str| decode(&unhex(h)).unwrap_err().kind;
        assert_eq!(kind("a0"), DecodeErrorKind::InvalidTag(5));
        assert_eq!(kind("c0"), DecodeErrorKind::InvalidTag(6));
        assert_eq!(kind("e0"), DecodeErrorKind::InvalidTag(7));
        assert_eq!(kind("7f"), DecodeErrorKind::MissingSize);
        assert_eq!(kind("2700"), DecodeErrorKind::FloatSize(7));
        assert_eq!(kind("283ff8"), DecodeErrorKind::TruncatedFloat(2));
        assert_eq!(kind("81ff"), DecodeErrorKind::InvalidString(0));
        assert_eq!(kind("82c3"), DecodeErrorKind::InvalidString(0));
        // The offset names the failing element, not the first.
        let err = decode(&unhex("0101a0")).unwrap_err();
        assert_eq!(err.offset, 2);
        assert!(err.to_string().contains("byte 2"), "{err}");
    }

    #[test]
    fn strings_keep_surrogates_losslessly() {
        // A surrogate *pair* written as two separate 3-byte sequences stays two code
        // points, as in Python.
        let pair = ChoiceString::from_code_points([0xd83d, 0xde00]).unwrap();
        assert_eq!(hex(pair.as_bytes()), "eda0bdedb880");
        assert_eq!(pair.len(), 2);
        assert_eq!(pair.as_str(), None);
        assert_eq!(pair.to_string_lossy(), "\u{fffd}\u{fffd}");
        assert_eq!(format!("{pair:?}"), "'\\ud83d\\ude00'");
        let smile = ChoiceString::from("😀");
        assert_eq!(smile.code_points().collect::<Vec<_>>(), vec![0x1f600]);
        assert_eq!(smile.as_str(), Some("😀"));
        assert!(ChoiceString::from_code_points([0x110000]).is_err());
        // Overlong and out-of-range sequences are rejected as Python rejects them.
        for bad in ["c080", "e08080", "f0808080", "f4908080", "f5", "80", "edbf"] {
            assert!(
                ChoiceString::from_surrogatepass_bytes(unhex(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_is_python_like() {
        let shown: Vec<String> = [
            Choice::from(true),
            Choice::from(-3),
            Choice::from(1.5),
            Choice::from(f64::NAN),
            Choice::Bytes(b"\x00a'".to_vec()),
            Choice::from("é"),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(shown, ["True", "-3", "1.5", "nan", "b\"\\x00a'\"", "'é'"]);
    }
}
