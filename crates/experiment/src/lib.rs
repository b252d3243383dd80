//! An experiment and the data it reads: the experiment file ([`Experiment`]), the clips of a
//! feature cache in memory ([`Dataset`], [`Normalizer`]), and the batches a network sees
//! ([`BatchSource`], [`Loader`]: segments, augmentation in the units it is defined in, then
//! standardization), from the cache or computed from audio on the fly ([`Waveforms`]).
//!
//! Training (`ser-train`), studies (`ser-study`) and scoring (`ser-infer`) all start here;
//! this crate knows nothing of optimizers, reports or plots. [`folder`] names the files of a
//! run folder and writes them crash-safely.

mod baselines;
mod dataset;
mod error;
mod experiment;
pub mod folder;
mod loader;
mod store;
mod waveform;

pub use baselines::{ForestConfig, SvmConfig};
pub use dataset::{ClipInfo, Dataset, Normalizer, column_mean_std};
pub use error::TrainError;
pub use experiment::{
    AugmentConfig, Balance, CachePaths, DataConfig, Experiment, ModelConfig, ModelKind,
    OptimizerKind, Schedule, SegmentConfig, SegmentPolicy, SynthPreset, Target, TrainConfig,
};
pub use loader::{Batch, BatchSource, Loader, centre_segment, epoch_order, epoch_rng, mix};
pub use ser_eval::{NormScope, Protocol, SplitConfig};
pub use store::{ClipStore, Spill, default_memory_bytes};
pub use waveform::{FramePipeline, Waveforms, augment_audio, resample_linear};
