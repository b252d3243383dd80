//! Evaluation: how clips are split between training and testing, the check that no speaker or
//! recording crosses that line, and the metrics every reported figure carries.

mod folds;
mod metrics;
mod split;

pub use folds::{Folds, fold_split, loso_folds, speaker_folds};
pub use metrics::{Metrics, confusion};
pub use split::{Clip, LeakageError, Protocol, Split, SplitConfig, check_leakage, speaker_split};
