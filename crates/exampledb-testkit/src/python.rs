//! Real Python Hypothesis for interop tests: a venv created on first use.
//!
//! The venv lives at `<cargo target dir>/py-venv` (or `$EXAMPLEDB_PYTHON_VENV`), created
//! with `python3 -m venv` (or `$EXAMPLEDB_PYTHON -m venv`) and filled from this crate's
//! `python-requirements.txt`; it is rebuilt when that file changes. Creation takes a file
//! lock, so parallel test processes wait for one another instead of racing.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The pinned Python requirements (Hypothesis and watchdog).
pub const REQUIREMENTS: &str = include_str!("../python-requirements.txt");

/// The pinned requirements of HypoFuzz's venv (HypoFuzz and the Hypothesis it works with).
pub const HYPOFUZZ_REQUIREMENTS: &str = include_str!("../hypofuzz-requirements.txt");

/// A Python interpreter inside a venv that has [`REQUIREMENTS`] installed.
#[derive(Debug, Clone)]
pub struct Python {
    venv: PathBuf,
}

/// The cargo target directory of this workspace (`$CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Python {
    /// The venv, created and filled if missing or stale. `Err` says why it could not be
    /// (no `python3`, no network for pip, ...).
    pub fn ensure() -> Result<Self, String> {
        let venv = std::env::var_os("EXAMPLEDB_PYTHON_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("py-venv"));
        Self::ensure_at(venv, REQUIREMENTS)
    }

    /// HypoFuzz's venv, `<cargo target dir>/py-venv-hypofuzz`, filled from
    /// [`HYPOFUZZ_REQUIREMENTS`]: HypoFuzz needs an older Hypothesis than the interop
    /// tests pin, so it lives apart.
    pub fn ensure_hypofuzz() -> Result<Self, String> {
        Self::ensure_at(target_dir().join("py-venv-hypofuzz"), HYPOFUZZ_REQUIREMENTS)
    }

    /// The venv at `venv`, created and filled from `requirements` (pip's format) if
    /// missing or stale.
    pub fn ensure_at(venv: PathBuf, requirements: &str) -> Result<Self, String> {
        let python = Self { venv };
        let stamp = python.venv.join(".exampledb-requirements");
        if fs::read_to_string(&stamp).is_ok_and(|s| s == requirements) && python.exe().exists() {
            return Ok(python);
        }
        fs::create_dir_all(python.venv.parent().unwrap_or(Path::new(".")))
            .map_err(|e| format!("cannot create {}: {e}", python.venv.display()))?;
        let lock_path = python.venv.with_extension("lock");
        let lock = fs::File::create(&lock_path)
            .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        // Another process may have finished while we waited.
        if fs::read_to_string(&stamp).is_ok_and(|s| s == requirements) && python.exe().exists() {
            return Ok(python);
        }
        let base = std::env::var("EXAMPLEDB_PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!("creating Python venv at {} ...", python.venv.display());
        run_quiet(
            Command::new(&base)
                .arg("-m")
                .arg("venv")
                .arg("--clear")
                .arg(&python.venv),
        )
        .map_err(|e| format!("`{base} -m venv` failed: {e}"))?;
        let req = python.venv.join("requirements.txt");
        fs::write(&req, requirements)
            .map_err(|e| format!("cannot write {}: {e}", req.display()))?;
        run_quiet(
            Command::new(python.exe())
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&req),
        )
        .map_err(|e| format!("pip install of {} failed: {e}", req.display()))?;
        fs::write(&stamp, requirements)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
        Ok(python)
    }

    /// [`Python::ensure`], or `None` after [`crate::skip_or_fail`] when it cannot be had.
    pub fn for_test(test: &str) -> Option<Self> {
        match Self::ensure() {
            Ok(p) => Some(p),
            Err(why) => {
                crate::skip_or_fail(test, &format!("Python Hypothesis is unavailable: {why}"));
                None
            }
        }
    }

    /// The venv's interpreter.
    pub fn exe(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// A command running `script` (Python source) with `args`.
    pub fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.exe());
        cmd.arg("-c").arg(script).args(args);
        cmd
    }

    /// Runs `script` with `args`, feeding `stdin`; panics with its stderr if it fails.
    /// Returns its stdout.
    pub fn run(&self, script: &str, args: &[&str], stdin: &str) -> String {
        let mut child = self
            .command(script, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write to python");
        let out = child.wait_with_output().expect("wait for python");
        assert!(
            out.status.success(),
            "python failed ({}):\n{}\n--- script ---\n{script}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("python printed UTF-8")
    }
}

fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let Output { status, stderr, .. } = cmd.output().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&stderr);
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        Err(format!(
            "{status}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}
