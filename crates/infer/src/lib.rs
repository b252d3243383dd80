//! Scoring with a trained model: a run folder's network ([`Predictor`]) or an exported ONNX
//! file ([`OnnxScorer`]) behind one [`Scorer`] trait, so that clips, manifests, timelines of
//! long recordings and live streams are cut, cleaned and reported the same way whatever the
//! model. [`evaluate`] is the one forward pass over a set of clips that training uses too.
//!
//! Nothing here trains, plots or fits a baseline: `ser predict` and `ser stream` need only
//! this crate and [`ser_experiment`].

mod onnx;
mod predict;
mod score;

pub use onnx::{OnnxError, OnnxScorer};
pub use predict::{Prediction, Predictor, Scorer, TimelineConfig, TimelineSummary, Window, rms_db};
pub use score::{DeviceBatch, argmax_first, count_read, device_reads, evaluate, to_tensors};
