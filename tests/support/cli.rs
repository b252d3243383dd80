//! Shared by the end-to-end test binaries through `#[path]`: running the `ser` binary as a user
//! does, and the inputs most tests start from.
#![allow(dead_code)] // each test file uses its own share of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::paths::manifest_dir;

/// The `ser` binary under test.
pub fn ser() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ser"))
}

/// The workspace root.
pub fn repo() -> PathBuf {
    manifest_dir().join("../..").canonicalize().unwrap()
}

/// Runs `cmd` to the end (its output is echoed with `SER_TEST_VERBOSE` set).
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("ser runs");
    if std::env::var_os("SER_TEST_VERBOSE").is_some() {
        eprintln!("{}", text(&out));
    }
    out
}

/// Standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The tiny synthetic corpora (`ser synth --tiny --seed 3`) under `dir`.
pub fn synth_tiny(dir: &Path) {
    let o = run(ser()
        .args(["synth", "--tiny", "--seed", "3", "--out"])
        .arg(dir));
    assert!(o.status.success(), "{}", text(&o));
}

/// `ser extract` of both synthetic corpora under `synth` into `out`, with `global` options
/// before the subcommand and `extra` after it.
pub fn extract_synth(synth: &Path, out: &Path, global: &[&str], extra: &[&str]) -> Command {
    let mut c = ser();
    c.args(global)
        .arg("extract")
        .args(extra)
        .arg("--corpus")
        .arg(synth.join("ravdess"));
    c.arg("--corpus")
        .arg(synth.join("cremad"))
        .arg("--features")
        .arg(features())
        .arg("--out")
        .arg(out);
    c
}

/// The shipped 16 kHz log-mel feature config.
pub fn features() -> PathBuf {
    repo().join("experiments/features/logmel_16k.toml")
}

/// The rows of a CSV file (header left out).
pub fn read_csv(p: &Path) -> Vec<Vec<String>> {
    csv::Reader::from_path(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}
