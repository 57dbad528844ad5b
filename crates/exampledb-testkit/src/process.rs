//! Helpers for process-level tests: child processes that run one test function of the
//! current test binary (so a test can race, kill and restart real processes), and values
//! that show when they were read partially.

use std::process::Command;

/// The environment variable that tells a test function it runs as a child process; its
/// value is the role the parent gave it.
pub const CHILD_ROLE_ENV: &str = "EXAMPLEDB_TEST_CHILD_ROLE";

/// A command running the test function `entry` of the current test binary, alone, as a
/// child process with the role `role` (see [`child_role`]).
pub fn child_test(entry: &str, role: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE_ENV, role);
    cmd
}

/// The role this process was started with by [`child_test`], or `None` in the parent (the
/// entry function then returns at once: it is not a test of its own).
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE_ENV).ok()
}

/// A value of 64 to 256 KiB that says how long it is and what it holds, so a partial
/// read shows: 8 bytes of little-endian length, then `(i * 31 + seed) mod 256`.
pub fn patterned(seed: u32) -> Vec<u8> {
    let len = 64 * 1024 + (seed as usize * 7919) % (192 * 1024);
    let mut v = Vec::with_capacity(len + 8);
    v.extend_from_slice(&(len as u64).to_le_bytes());
    v.extend((0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed) as u8));
    v
}

/// Whether `v` is a whole [`patterned`] value.
pub fn check_patterned(v: &[u8]) -> bool {
    if v.len() < 9 {
        return false;
    }
    let mut len = [0; 8];
    len.copy_from_slice(&v[..8]);
    let len = u64::from_le_bytes(len) as usize;
    // The first payload byte is the seed's low byte; the rest follow from it.
    v.len() == len + 8
        && v[8..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i as u32).wrapping_mul(31).wrapping_add(u32::from(v[8])) as u8)
}

/// Python source defining `check_patterned(v: bytes) -> bool`, the same check as
/// [`check_patterned`], fast enough for a reader loop.
pub const PY_CHECK_PATTERNED: &str = r#"
_PATTERN = [bytes(((i * 31) + s) & 0xFF for i in range(256)) for s in range(256)]
def check_patterned(v):
    if len(v) < 9:
        return False
    n = int.from_bytes(v[:8], "little")
    if len(v) != n + 8:
        return False
    return v[8:] == (_PATTERN[v[8]] * (n // 256 + 1))[:n]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterned_values_show_truncation() {
        let v = patterned(12345);
        assert!(check_patterned(&v));
        assert!(!check_patterned(&v[..v.len() - 1]));
        assert!(!check_patterned(&v[..4096]));
        let mut flipped = v.clone();
        flipped[5000] ^= 1;
        assert!(!check_patterned(&flipped));
    }
}
