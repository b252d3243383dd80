//! Evaluation: how clips are split between training and testing, the audit that no speaker or
//! recording crosses that line, and the metrics every reported figure carries.

mod audit;
mod folds;
mod metrics;
mod split;

pub use audit::{
    Audit, AuditClip, Finding, Fingerprint, FingerprintOf, NEAR_DUPLICATE_CORRELATION, Severity,
    Sketch, audit,
};
pub use folds::{Folds, fold_split, loso_folds, speaker_folds};
pub use metrics::{Metrics, RocCurve, confusion, roc_curves};
pub use split::{
    Clip, LeakageError, LosoGroup, NormScope, Protocol, Split, SplitConfig, check_leakage,
    corpus_split, random_split, speaker_split,
};
