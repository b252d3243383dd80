//! Training for ser: an experiment file in, a run folder out.
//!
//! [`Experiment`] is the TOML users copy from `experiments/`; [`train`] runs it (networks
//! on any burn device with autodiff, or the SVM / random-forest baselines) under its
//! evaluation protocol (holdout, speaker folds, random, cross-corpus), [`resume`] continues
//! a killed run from its last finished epoch, and [`run_sweep`] runs a grid of experiments. Runs are reproducible on the same
//! backend: weights, epoch order, augmentation and dropout all derive from `train.seed` and
//! the epoch number, never from a stream that a restart would reset.

mod baseline;
mod classical;
mod corpus;
mod cv;
mod dataset;
mod experiment;
mod learning;
mod loader;
mod plot;
mod predict;
mod report;
mod run;
mod sweep;
mod waveform;

pub use baseline::{ForestConfig, SvmConfig};
pub use corpus::{Cell, CrossCorpus, TrainSet};
pub use cv::{CrossValidation, FoldResult, MeanStd};
pub use dataset::{ClipInfo, Dataset, Normalizer};
pub use experiment::{
    AugmentConfig, Balance, DataConfig, Experiment, ModelConfig, ModelKind, OptimizerKind,
    Schedule, SegmentConfig, SegmentPolicy, SynthPreset, TrainConfig,
};
pub use learning::{LOSS_SHARE, LearningCheck};
pub use loader::centre_segment;
pub use plot::{Lines, confusion_png, render};
pub use predict::{Prediction, Predictor, Scorer, TimelineConfig, TimelineSummary, Window, rms_db};
pub use run::{
    EpochRecord, Observer, Quiet, RunOptions, RunSummary, learning_rate, resume, run_or_resume,
    train,
};
pub use ser_eval::{NormScope, Protocol, SplitConfig};
pub use sweep::{
    Distribution, Point, PointResult, PointStatus, RandomSearch, Sweep, SweepReport, run_sweep,
};
pub use waveform::{FramePipeline, Waveforms, augment_audio, resample_linear};

/// Why a run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The experiment file.
    #[error("experiment: {0}")]
    Config(String),
    /// The feature cache or the split.
    #[error("data: {0}")]
    Data(String),
    /// Reading or writing the run folder.
    #[error("run folder: {0}")]
    Io(String),
    /// A baseline could not be fitted.
    #[error("model: {0}")]
    Model(String),
    /// The loss became NaN or infinite; the run folder keeps the last good epoch.
    #[error("training stopped: {0}")]
    NonFinite(String),
    /// Another process holds the run folder (or sweep point); nothing was changed.
    #[error("busy: {0}")]
    Busy(String),
    /// Stopped on request after this many finished epochs (resumable).
    #[error("stopped after epoch {0} as asked; resume to continue")]
    Interrupted(usize),
}
