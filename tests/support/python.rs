//! The Python the tests compare against: `$SER_PYTHON`, the repo's `.venv` (made by
//! `scripts/setup.sh`), or `python3`, whichever imports the modules asked for. Missing in CI
//! (`CI` set) is a failure; elsewhere the caller skips its Python part with a notice.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python that imports `modules` (e.g. `"onnx, onnxruntime, numpy"`); `repo` is the
/// workspace root.
pub fn python_with(repo: &Path, modules: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SER_PYTHON").map(PathBuf::from),
        Some(repo.join(".venv/bin/python")),
        Some("python3".into()),
    ];
    for p in candidates.into_iter().flatten() {
        let ok = Command::new(&p)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: no python with {modules} found (run scripts/setup.sh, or set SER_PYTHON)"
    );
    eprintln!("notice: no python with {modules}; skipping that check (run scripts/setup.sh)");
    None
}
