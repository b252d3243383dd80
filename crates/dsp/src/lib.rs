//! Signal-processing primitives shared by ser's audio cleaning and feature extraction.
//!
//! Everything here follows the conventions of librosa / NumPy / SciPy (periodic windows,
//! `np.pad` modes, centred framing, `scipy.signal.butter` + `sosfilt`), so that features
//! computed by ser can be compared number for number with the Python tools users know.
//! The FFTs come from `realfft`; the code in this crate is the glue librosa adds around them.

mod frame;
mod iir;
mod stft;
mod window;

pub use frame::{PadMode, frame_count, frame_rms, pad_signal};
pub use iir::{Band, Biquad, Sos, butter};
pub use realfft::num_complex::Complex;
pub use stft::{Istft, Stft, StftParams, StftScratch};
pub use window::{Window, window, window_padded};

/// Floating-point sample type the DSP code is generic over (`f32` for speed, `f64` for
/// reference-grade agreement with librosa's float64 path).
pub trait Real:
    realfft::FftNum
    + num_traits::Float
    + num_traits::FloatConst
    + Default
    + std::iter::Sum
    + std::fmt::Display
    + 'static
{
    /// Lossy conversion from `f64` (constants, filterbank weights).
    fn lit(v: f64) -> Self;
    /// Lossless widening to `f64` (accumulators, reporting).
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    fn lit(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn lit(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
}

/// Errors from invalid DSP parameters; each message names the parameter and the valid range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DspError {
    /// A parameter is outside its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// Parameter name as it appears in configs (e.g. `hop_length`).
        name: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> DspError {
    DspError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}
