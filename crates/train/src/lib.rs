//! Training for ser: one model in its run folder.
//!
//! [`run_one`] prepares a model's data ([`prepare`]: split, leakage audit, statistics) and
//! either trains a network on any burn device with autodiff ([`net`]: epochs, checkpoints,
//! resume, TensorBoard) or fits an SVM / random-forest baseline, then writes the run's
//! outputs ([`report`]: predictions, plots, report.md, results.json) and judges whether the
//! model learned ([`LearningCheck`]). Runs are reproducible on the same backend: weights,
//! epoch order, augmentation and dropout all derive from `train.seed` and the epoch number,
//! never from a stream that a restart would reset. Protocols that train several models
//! (folds, cross-corpus studies, sweeps) live in `ser-study`.

mod baseline;
mod classical;
mod learning;
mod net;
mod prepare;
mod record;
pub mod report;
mod run;
mod step;
mod summary;
mod tally;

pub use learning::{LOSS_SHARE, LearningCheck};
pub use net::learning_rate;
pub use prepare::{Part, Prepared, dataset_reads, load_dataset};
pub use record::{EpochRecord, read_epochs};
pub use run::{claim, run_one, sub_run};
pub use ser_experiment::{
    AugmentConfig, Balance, ClipInfo, DataConfig, Dataset, Experiment, ModelConfig, ModelKind,
    NormScope, Normalizer, OptimizerKind, Protocol, Schedule, SegmentConfig, SegmentPolicy,
    SplitConfig, SynthPreset, TrainConfig, TrainError,
};
pub use ser_experiment::{ForestConfig, SvmConfig};
pub use ser_infer::device_reads;
pub use summary::{
    Cell, CrossCorpus, CrossValidation, FoldResult, MeanStd, Observer, Quiet, RunOptions,
    RunSummary, TrainSet, read_summary,
};
