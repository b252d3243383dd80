//! CPU reference features for ser, computed the way librosa computes them.
//!
//! [`FeatureConfig`] describes the whole pipeline (audio cleaning included) with librosa's
//! parameter names and defaults; [`Extractor`] plans it once and runs it over clips in
//! parallel. The stage functions ([`MelFilterbank`], [`power_to_db`], [`dct_matrix`],
//! [`delta`], [`yin`], ...) are public so that they can be checked one by one against
//! librosa's golden outputs and reused by the GPU kernels' tests.

mod config;
mod db;
mod delta;
mod extractor;
mod mel;
mod mfcc;
mod spectral;
mod stats;
mod yin;

pub use config::{
    ConfigError, DbConfig, DbRef, DeltaConfig, FeatureConfig, FrameFeature, FunctionalsConfig,
    MelConfig, MfccConfig, Precision, SslConfig, SslResolved, SslStore, StftConfig,
};
pub use db::power_to_db;
pub use delta::{delta, savgol_coefficients};
pub use extractor::{ClipFeatures, Extractor, FeatureBackend};
pub use mel::{MelFilterbank, hz_to_mel, mel_to_hz};
pub use mfcc::{dct_matrix, project};
pub use spectral::{ContrastBands, centroid, contrast_db, rolloff, zero_crossing_rate};
pub use stats::{percentile_sorted, summarize};
pub use yin::{YinParams, yin};
