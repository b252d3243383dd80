//! Audio ingest for ser: from a file on disk to a clean mono signal at the configured rate.
//!
//! The pipeline is decode → downmix → resample → band-pass → pre-emphasis → denoise → trim →
//! loudness normalisation. Only the first three always run (as `librosa.load` does); every
//! cleaning step is a switch in [`AudioConfig`] with a documented default, off unless set.

mod config;
mod decode;
mod denoise;
mod loudness;
mod pipeline;
mod resample;
mod trim;
mod wav;

pub use config::{
    AudioConfig, BandpassConfig, DenoiseConfig, NormalizeConfig, NormalizeMode, TrimConfig,
};
pub use decode::{Decoded, decode_bytes, decode_file};
pub use denoise::spectral_gate;
pub use loudness::{integrated_loudness, peak_dbfs, rms_dbfs};
pub use pipeline::{Cleaner, preemphasis, to_mono};
pub use resample::resample;
pub use trim::{trim_bounds, trim_silence};
pub use wav::{write_wav_f32, write_wav_i16};

/// Why a file could not be turned into usable audio. Messages are written for the person
/// running `ser`: what is wrong, and (through [`AudioError::hint`]) what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// Zero-byte file.
    #[error("empty file (0 bytes)")]
    Empty,
    /// Not a format any decoder recognises (e.g. a text file named `.wav`).
    #[error("not a recognised audio format (WAV, FLAC, MP3, OGG)")]
    NotAudio,
    /// The data ends before the header says it should.
    #[error("truncated audio: {0}")]
    Truncated(String),
    /// The container or stream is damaged.
    #[error("corrupt audio: {0}")]
    Corrupt(String),
    /// A valid format ser cannot decode.
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The header is fine but there are no samples.
    #[error("the file holds no audio samples")]
    NoSamples,
    /// NaN or infinite samples.
    #[error("{count} of {total} samples are NaN or infinite")]
    NonFinite {
        /// Number of bad samples.
        count: usize,
        /// Number of samples in the file.
        total: usize,
    },
    /// Nothing but (digital) silence, before or after trimming.
    #[error("silent audio: {0}")]
    Silent(String),
    /// Shorter than `audio.min_duration_s` after cleaning.
    #[error("too short: {0}")]
    TooShort(String),
    /// Reading the file failed.
    #[error("cannot read file: {0}")]
    Io(String),
    /// A processing step failed (bad parameter for this file's rate, resampler error).
    #[error("processing failed: {0}")]
    Processing(String),
}

impl AudioError {
    /// One line on how to fix the file or the config.
    pub fn hint(&self) -> &'static str {
        match self {
            AudioError::Empty | AudioError::NoSamples => "re-export or re-download the file",
            AudioError::NotAudio => "remove the file or give it its real extension",
            AudioError::Truncated(_) => "the copy is incomplete: re-download or re-extract it",
            AudioError::Corrupt(_) => "re-encode it, e.g. `ffmpeg -i in -ar 16000 out.wav`",
            AudioError::Unsupported(_) => "convert it to 16-bit PCM WAV or FLAC with ffmpeg/sox",
            AudioError::NonFinite { .. } => "the producer wrote NaN/Inf: regenerate the file",
            AudioError::Silent(_) => {
                "check the recording; lower [audio.trim] top_db if speech is very quiet"
            }
            AudioError::TooShort(_) => "lower audio.min_duration_s or drop the clip",
            AudioError::Io(_) => "check the path and permissions",
            AudioError::Processing(_) => {
                "check the [audio] settings against the file's sample rate"
            }
        }
    }

    /// Short machine-friendly category (used in skip reports and CSV).
    pub fn kind(&self) -> &'static str {
        match self {
            AudioError::Empty => "empty",
            AudioError::NotAudio => "not_audio",
            AudioError::Truncated(_) => "truncated",
            AudioError::Corrupt(_) => "corrupt",
            AudioError::Unsupported(_) => "unsupported",
            AudioError::NoSamples => "no_samples",
            AudioError::NonFinite { .. } => "non_finite",
            AudioError::Silent(_) => "silent",
            AudioError::TooShort(_) => "too_short",
            AudioError::Io(_) => "io",
            AudioError::Processing(_) => "processing",
        }
    }
}
