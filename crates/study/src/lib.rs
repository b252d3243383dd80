//! Studies for ser: an experiment under its evaluation protocol, and sweeps of experiments.
//!
//! [`train`], [`run_or_resume`] and [`resume`] run an experiment file under its protocol:
//! holdout and random splits train one model (`ser-train`), `speaker_kfold` / `loso` one per
//! fold ([`CrossValidation`]), `cross_corpus` / `leave_one_corpus_out` one per corpus set
//! (the [`CrossCorpus`] matrix), each model in an ordinary run folder, and the study adds
//! its plan, results and report. [`run_shard`] spreads a study's models over the tasks of an
//! array job. [`run_sweep`] runs an experiment at every point of a grid.

mod corpus;
mod cv;
mod protocol;
mod shard;
mod sweep;

pub use protocol::{resume, run_or_resume, run_shard, train};
pub use ser_train::{
    Cell, CrossCorpus, CrossValidation, FoldResult, MeanStd, Observer, Quiet, RunOptions,
    RunSummary, TrainSet, dataset_reads,
};
pub use shard::{Models, StudyOutcome};
pub use sweep::{
    Distribution, Point, PointResult, PointStatus, RandomSearch, Sweep, SweepReport, run_sweep,
};
