//! The configuration convention every backend follows, and the helpers that implement its
//! shared parts. Whoever adds a backend: follow this, so that every crate reads the same
//! way and `exampledb::open(url)` can configure it from one string.
//!
//! # The convention
//!
//! For a backend `X` with a database type `XDatabase` and a builder `XDatabaseBuilder`:
//!
//! | call | what it does |
//! |---|---|
//! | `XDatabase::builder(required...)` | a builder with every default; reads **no** environment variable |
//! | `XDatabaseBuilder::from_env(...)` | the same, then the backend's documented environment variables applied (the only place they are read) |
//! | `XDatabaseBuilder::from_url(url)` | the backend's URL form; its query parameters are options, applied with `with_option` |
//! | `builder.with_option(key, value)` | one option by its string name ([`DatabaseBuilder`]); an unknown key or a bad value is [`Error::InvalidConfig`] naming it |
//! | `builder.some_setting(value)` | the typed setter of each option, named as its key |
//! | `builder.build()` | checks everything and returns the database; connects to nothing |
//! | `db.check().await` | [`ExampleDatabase::check`]: talks to the store now and reports what is wrong, instead of at first use |
//!
//! Option keys are `snake_case` and identical to the typed setters' names, so URL query
//! parameters map one to one onto setters. Shared names mean the same everywhere:
//!
//! | key | meaning | value syntax |
//! |---|---|---|
//! | `connect_timeout` | the longest wait to establish a connection | [`parse_duration`] |
//! | `operation_timeout` | the longest an operation (one request) may take, connecting included | [`parse_duration`] |
//! | `key_prefix` | bytes put in front of every key in a shared store | text |
//! | `max_value_size` | the largest value read or written | [`parse_size`] |
//!
//! Booleans are [`parse_bool`]; sizes [`parse_size`]. Secrets (passwords, tokens) never
//! appear in `Debug` output or messages. Errors callers act on are told apart by
//! [`Error::kind`](crate::Error::kind), never by downcasting.
//!
//! ```
//! use exampledb_core::config::{parse_duration, parse_size, QueryUrl};
//! use std::time::Duration;
//! let url = QueryUrl::parse("redis", "redis://127.0.0.1:6379/0?key_prefix=ci%3A&operation_timeout=2s")?;
//! assert_eq!(url.scheme(), "redis");
//! assert_eq!(url.base(), "redis://127.0.0.1:6379/0");
//! assert_eq!(url.options(), &[
//!     ("key_prefix".to_owned(), "ci:".to_owned()),
//!     ("operation_timeout".to_owned(), "2s".to_owned()),
//! ]);
//! assert_eq!(parse_duration("redis", "operation_timeout", "2s")?, Duration::from_secs(2));
//! assert_eq!(parse_size("directory", "max_value_size", "8MiB")?, 8 << 20);
//! # Ok::<(), exampledb_core::Error>(())
//! ```

use std::time::Duration;

use crate::{Error, ExampleDatabase, Result};

/// A builder that follows the [convention](self): options by string name, then `build`.
pub trait DatabaseBuilder: Sized {
    /// The database it builds.
    type Database: ExampleDatabase + 'static;

    /// The option keys `with_option` accepts.
    const OPTIONS: &'static [&'static str];

    /// Sets the option `key` from its string form; [`Error::InvalidConfig`] naming the key
    /// when it is unknown or the value does not parse.
    fn with_option(self, key: &str, value: &str) -> Result<Self>;

    /// Checks the settings and returns the database. Connects to nothing.
    fn build(self) -> Result<Self::Database>;

    /// Sets every option of `options`, in order.
    fn with_options<I, K, V>(self, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        options
            .into_iter()
            .try_fold(self, |b, (k, v)| b.with_option(k.as_ref(), v.as_ref()))
    }
}

/// The [`Error::InvalidConfig`] for `backend` with `message`.
pub fn invalid(backend: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        backend,
        message: message.into(),
    }
}

/// The error for an option key `backend` does not know, listing the ones it does.
pub fn unknown_option(backend: &'static str, key: &str, known: &[&str]) -> Error {
    invalid(
        backend,
        format!(
            "unknown option {key:?}; the {backend} database takes {}",
            known.join(", ")
        ),
    )
}

fn bad_value(backend: &'static str, key: &str, value: &str, expected: &str) -> Error {
    invalid(
        backend,
        format!("option {key}: {value:?} is not {expected}"),
    )
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
pub fn parse_bool(backend: &'static str, key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad_value(backend, key, value, "a boolean (true or false)")),
    }
}

/// A duration: a number with a unit `ms`, `s`, `m`, `h` or `d` (`500ms`, `30s`, `8d`),
/// or a bare number of seconds. Fractions are allowed (`1.5s`).
pub fn parse_duration(backend: &'static str, key: &str, value: &str) -> Result<Duration> {
    let expected = "a duration such as 500ms, 30s, 5m, 1h or 8d";
    let text = value.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(bad_value(backend, key, value, expected)),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| bad_value(backend, key, value, expected))?;
    Duration::try_from_secs_f64(number * scale)
        .map_err(|_| bad_value(backend, key, value, expected))
}

/// A size in bytes: a number, optionally with a unit `B`, `KiB`, `MiB`, `GiB` (powers of
/// 1024; `K`, `M`, `G`, `kb`, `mb`, `gb` mean the same, as in Redis's configuration).
pub fn parse_size(backend: &'static str, key: &str, value: &str) -> Result<u64> {
    let expected = "a size such as 1048576, 512KiB, 8MiB or 1GiB";
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad_value(backend, key, value, expected)),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| bad_value(backend, key, value, expected))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| bad_value(backend, key, value, expected))
}

/// A non-negative whole number.
pub fn parse_count(backend: &'static str, key: &str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse()
        .map_err(|_| bad_value(backend, key, value, "a whole number"))
}

/// A URL split the way every backend reads its own: the scheme, the URL without its
/// query (`base`), and the query's `key=value` pairs (percent-decoded, in order), which
/// are the options. The one place URL queries are parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryUrl {
    scheme: String,
    base: String,
    options: Vec<(String, String)>,
}

impl QueryUrl {
    /// Splits `url`; `backend` names the backend in errors. A query parameter without
    /// `=`, an empty key, a repeated key or bad percent-encoding is an error.
    pub fn parse(backend: &'static str, url: &str) -> Result<Self> {
        let (scheme, _) = url
            .split_once(':')
            .filter(|(s, _)| is_scheme(s))
            .ok_or_else(|| invalid(backend, "not a URL: it has no scheme"))?;
        // The fragment ends the URL: never part of a path or a query value.
        let url = url.split_once('#').map_or(url, |(u, _)| u);
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut options: Vec<(String, String)> = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            // Not echoed: a stray secret pasted into a URL stays out of messages.
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                invalid(
                    backend,
                    "a query parameter has no value (expected key=value; write a literal & or = as %26 or %3D)",
                )
            })?;
            let key = percent_decode(backend, key)?;
            let value = percent_decode(backend, value)?;
            if key.is_empty() {
                return Err(invalid(backend, "a query parameter has an empty name"));
            }
            if options.iter().any(|(k, _)| *k == key) {
                return Err(invalid(
                    backend,
                    format!("query parameter {key:?} is given twice"),
                ));
            }
            options.push((key, value));
        }
        Ok(QueryUrl {
            scheme: scheme.to_ascii_lowercase(),
            base: base.to_owned(),
            options,
        })
    }

    /// The scheme, lowercase.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The URL without its query and fragment.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The part after `scheme:` (and after `//` when present) of [`base`](Self::base).
    pub fn rest(&self) -> &str {
        let rest = &self.base[self.scheme.len() + 1..];
        rest.strip_prefix("//").unwrap_or(rest)
    }

    /// The query's options, in order.
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }
}

/// Whether `s` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`; at least
/// two characters, so that a Windows drive letter (`C:`) is not taken for one.
pub fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Decodes `%XX` escapes (RFC 3986: `+` stays `+`). A `%` not followed by two hex digits,
/// or bytes that are not UTF-8 once decoded, are an error (the text is not echoed).
pub fn percent_decode(backend: &'static str, text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digit = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
            match (digit(bytes.get(i + 1)), digit(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => {
                    return Err(invalid(
                        backend,
                        "bad percent-encoding (% must be followed by two hex digits)",
                    ))
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| invalid(backend, "percent-encoding that does not decode to UTF-8"))
}

/// `url` without anything that may be a credential (user info, query, fragment): what
/// may appear in messages and logs. Each member of a multiplexed `A;B` string is treated
/// alike, and a password holding `/` loses everything up to its last `@`.
///
/// ```
/// use exampledb_core::config::without_secrets;
/// assert_eq!(without_secrets("redis://user:pw@host:6379/0?x=1"), "redis://host:6379/0");
/// assert_eq!(without_secrets("redis://u:p/w@host"), "redis://host");
/// assert_eq!(
///     without_secrets("file:///db;readonly:redis://:pw@h:1"),
///     "file:///db;readonly:redis://h:1"
/// );
/// assert_eq!(without_secrets(".hypothesis/examples"), ".hypothesis/examples");
/// ```
pub fn without_secrets(url: &str) -> String {
    url.split(';')
        .map(member_without_secrets)
        .collect::<Vec<_>>()
        .join(";")
}

fn member_without_secrets(member: &str) -> String {
    let base = member.split(['?', '#']).next().unwrap_or("");
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
            format!("{scheme}://{rest}")
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("30", Duration::from_secs(30)),
            ("1.5s", Duration::from_millis(1500)),
            ("5m", Duration::from_secs(300)),
            ("8d", Duration::from_secs(691_200)),
        ] {
            assert_eq!(parse_duration("t", "k", text).unwrap(), want, "{text}");
        }
        for bad in ["", "s", "5x", "-1s", "1e400s", "five"] {
            let err = parse_duration("t", "timeout", bad).unwrap_err();
            assert!(err.to_string().contains("timeout"), "{err}");
        }
    }

    #[test]
    fn sizes_and_bools() {
        assert_eq!(parse_size("t", "k", "1024").unwrap(), 1024);
        assert_eq!(parse_size("t", "k", "1mb").unwrap(), 1 << 20);
        assert_eq!(parse_size("t", "k", "64KiB").unwrap(), 64 << 10);
        assert!(parse_size("t", "k", "1.5MiB").is_err());
        assert!(parse_size("t", "k", "99999999999999GiB").is_err());
        assert!(parse_bool("t", "k", "Yes").unwrap());
        assert!(!parse_bool("t", "k", "off").unwrap());
        assert!(parse_bool("t", "k", "maybe").is_err());
    }

    #[test]
    fn urls() {
        let u =
            QueryUrl::parse("t", "github://o/r/name?strict=true&cache_timeout=1h#frag").unwrap();
        assert_eq!(u.scheme(), "github");
        assert_eq!(u.rest(), "o/r/name");
        assert_eq!(u.options().len(), 2);
        assert_eq!(
            u.options()[1],
            ("cache_timeout".to_owned(), "1h".to_owned())
        );
        assert!(QueryUrl::parse("t", "no scheme here").is_err());
        assert!(QueryUrl::parse("t", "C:/windows/path").is_err());
        assert_eq!(percent_decode("t", "c++%2Fdb").unwrap(), "c++/db");
        assert!(percent_decode("t", "%+5").is_err());
        let err = QueryUrl::parse("t", "x://h?ghp_SECRET").unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        for bad in ["x://h?flag", "x://h?a=1&a=2", "x://h?=1", "x://h?a=%zz"] {
            assert!(QueryUrl::parse("t", bad).is_err(), "{bad}");
        }
        let u = QueryUrl::parse("t", "memory:").unwrap();
        assert_eq!((u.scheme(), u.rest()), ("memory", ""));
    }
}
