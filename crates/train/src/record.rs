//! One line of `metrics.jsonl` per finished epoch, and reading them back.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (on augmented segments).
    pub train_wa: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_wa: f64,
    /// Validation unweighted accuracy.
    pub val_ua: f64,
    /// Validation macro-F1.
    pub val_macro_f1: f64,
    /// Validation recall per class.
    pub val_recall: Vec<f64>,
    /// Training samples per second (whole epoch, loader included).
    pub train_samples_per_s: f64,
    /// Share of training time spent waiting for the loader.
    pub loader_wait_share: f64,
}

/// The epochs a run has finished (`metrics.jsonl`).
pub fn read_epochs(dir: &Path) -> Vec<EpochRecord> {
    fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
