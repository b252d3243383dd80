//! What the export tests share: a seeded generator, small network sections, and the
//! onnxruntime check of written cases (`tests/onnx/check_onnx.py`).

use std::path::PathBuf;
use std::process::Command;

use ser_models::{Activation, CnnConfig, HeadConfig, LstmConfig};

#[path = "../../../../tests/support/paths.rs"]
mod paths;
#[path = "../../../../tests/support/python.rs"]
mod python;

/// A value in [-1, 1) from a linear congruential generator.
pub fn rnd(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Network sections small enough to train a few steps in a test: two conv blocks, a
/// two-layer BiLSTM, one hidden head layer.
pub fn small_sections() -> (CnnConfig, LstmConfig, HeadConfig) {
    (
        CnnConfig {
            channels: vec![4, 6],
            ..CnnConfig::default()
        },
        LstmConfig {
            hidden: 5,
            layers: 2,
            ..LstmConfig::default()
        },
        HeadConfig {
            hidden: vec![7],
            dropout: 0.1,
            activation: Activation::Gelu,
        },
    )
}

/// Runs `tests/onnx/check_onnx.py` on the case folders `dirs` (onnx.checker full check, then
/// onnxruntime against ser's outputs) and asserts that every case passed. Without a Python
/// that has onnx + onnxruntime (outside CI) it returns after a notice.
pub fn check_in_onnxruntime(dirs: &[PathBuf]) {
    let repo = paths::manifest_dir().join("../..");
    let Some(py) = python::python_with(&repo, "onnx, onnxruntime, numpy") else {
        return;
    };
    let out = Command::new(py)
        .arg(repo.join("tests/onnx/check_onnx.py"))
        .args(dirs)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("\"ok\": true").count(), dirs.len(), "{text}");
}
