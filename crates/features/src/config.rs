//! [`FeatureConfig`]: the one description of a feature pipeline, from audio cleaning to the
//! arrays stored in the cache. Field names and defaults are librosa's; every difference is
//! stated on the field. Validation happens in one place, [`FeatureConfig::validate`].

use ser_audio::AudioConfig;
use ser_dsp::{PadMode, StftParams, Window};
use serde::{Deserialize, Serialize};

/// The full feature pipeline. A TOML file holds `[audio]`, `[stft]`, `[mel]`, `[db]`,
/// `[mfcc]`, `[deltas]`, `[functionals]` sections and the top-level `frames` list; missing
/// keys take librosa's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Frame-level features to compute and store, in this order (default `["logmel"]`).
    /// Choices: `spectrogram` (|STFT|^mel.power), `mel` (mel power), `logmel`
    /// (`power_to_db` of mel), `mfcc`.
    pub frames: Vec<FrameFeature>,
    /// Arithmetic precision of the pipeline (default `f32`; `f64` reproduces librosa's
    /// float64 path to ~1e-9 dB at about half the speed).
    pub precision: Precision,
    /// Decoding and cleaning (default: `librosa.load`, mono at 22 050 Hz).
    pub audio: AudioConfig,
    /// Short-time Fourier transform.
    pub stft: StftConfig,
    /// Mel filterbank.
    pub mel: MelConfig,
    /// Power to decibel conversion for `logmel` and `mfcc`.
    pub db: DbConfig,
    /// MFCC settings (used when `frames` contains `mfcc`).
    pub mfcc: MfccConfig,
    /// Time derivatives of `logmel` and `mfcc`.
    pub deltas: DeltaConfig,
    /// Per-utterance statistics for classical models.
    pub functionals: FunctionalsConfig,
    /// A self-supervised encoder's hidden states as the frame features (absent by default):
    /// with it, `frames` is `[]` and the cache holds one `ssl` array.
    pub ssl: Option<SslConfig>,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            frames: vec![FrameFeature::Logmel],
            precision: Precision::F32,
            audio: AudioConfig::default(),
            stft: StftConfig::default(),
            mel: MelConfig::default(),
            db: DbConfig::default(),
            mfcc: MfccConfig::default(),
            deltas: DeltaConfig::default(),
            functionals: FunctionalsConfig::default(),
            ssl: None,
        }
    }
}

/// `[ssl]`: hidden states of a wav2vec 2.0 / HuBERT / WavLM checkpoint (crates/ssl), stored
/// per 20 ms frame as one `ssl` array of `states x hidden` values (state-major).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SslConfig {
    /// Hugging Face folder holding `config.json` and `model.safetensors` (or
    /// `pytorch_model.bin`). Required.
    pub model: String,
    /// Hidden states kept, by index (0 = the first layer's input, L = the last layer's
    /// output); empty (default) keeps all `L + 1`.
    pub layers: Vec<usize>,
    /// `frames` (default): every frame; `mean`: one row per clip, the mean over its frames
    /// (for corpora whose frames would not fit on disk; the size is printed before extracting).
    pub store: SslStore,
    /// Clips longer than this many seconds are encoded in windows of this length (default
    /// 20), as attention over minutes of audio costs memory quadratic in length.
    pub window_s: f64,
    /// Overlap of consecutive windows in seconds (default 2); each frame is taken from the
    /// window in which it lies farthest from an edge.
    pub overlap_s: f64,
    /// Zero-mean unit-variance normalization of each window, as transformers'
    /// `Wav2Vec2FeatureExtractor(do_normalize)`; default: the checkpoint's
    /// `preprocessor_config.json`, false without one.
    pub normalize: Option<bool>,
    /// Filled in by `ser extract` from the checkpoint, so that the cache states (and its
    /// config hash covers) exactly what was computed.
    pub resolved: Option<SslResolved>,
}

impl Default for SslConfig {
    fn default() -> Self {
        SslConfig {
            model: String::new(),
            layers: Vec::new(),
            store: SslStore::Frames,
            window_s: 20.0,
            overlap_s: 2.0,
            normalize: None,
            resolved: None,
        }
    }
}

/// What `[ssl]` stores per clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslStore {
    /// Every frame.
    Frames,
    /// The mean over the clip's frames (one row).
    Mean,
}

/// The checkpoint facts an `[ssl]` extraction used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SslResolved {
    /// `model_type` (wav2vec2, hubert, wavlm).
    pub model_type: String,
    /// Hidden states stored per frame.
    pub states: usize,
    /// Width of each.
    pub hidden: usize,
    /// Whether windows were normalized.
    pub normalize: bool,
    /// BLAKE3 of the weights file (128 bits in hex, as ser's content hashes).
    pub weights_blake3: String,
}

impl SslConfig {
    /// Values per stored frame, once resolved.
    pub fn dim(&self) -> Option<usize> {
        self.resolved.as_ref().map(|r| r.states * r.hidden)
    }

    fn validate(&self, cfg: &FeatureConfig) -> Result<(), ConfigError> {
        let e = |m: String| Err(ConfigError(m));
        if self.model.is_empty() {
            return e(
                "ssl.model: name the Hugging Face folder (config.json + model.safetensors)".into(),
            );
        }
        if !cfg.frames.is_empty() || cfg.functionals.enabled {
            return e(
                "with [ssl], the encoder's states are the features: set `frames = []` and \
                      leave functionals off (extract spectral features into another cache)"
                    .into(),
            );
        }
        if cfg.audio.sample_rate != 16_000 {
            return e(format!(
                "[ssl] encoders take 16 kHz audio: set audio.sample_rate = 16000 (it is {})",
                cfg.audio.sample_rate
            ));
        }
        if !(self.window_s >= 1.0)
            || !(self.overlap_s >= 0.0)
            || self.overlap_s * 2.0 >= self.window_s
        {
            return e(format!(
                "ssl.window_s = {} must be >= 1 and ssl.overlap_s = {} in [0, window_s / 2)",
                self.window_s, self.overlap_s
            ));
        }
        Ok(())
    }
}

/// A frame-level feature stored per clip as a `[n_frames, dim]` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum FrameFeature {
    /// `|STFT|^power`, `n_fft / 2 + 1` bins.
    Spectrogram,
    /// Mel-filtered spectrogram, `n_mels` bands.
    Mel,
    /// `power_to_db(mel)`, `n_mels` bands.
    Logmel,
    /// DCT-II (ortho) of `logmel`, `n_mfcc` coefficients.
    Mfcc,
}

impl FrameFeature {
    /// Name used for the cache dataset (`frames/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            FrameFeature::Spectrogram => "spectrogram",
            FrameFeature::Mel => "mel",
            FrameFeature::Logmel => "logmel",
            FrameFeature::Mfcc => "mfcc",
        }
    }
}

/// Arithmetic precision of the CPU pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Single precision (default, fastest).
    #[default]
    F32,
    /// Double precision, for reference-grade agreement with librosa.
    F64,
}

/// STFT parameters (`librosa.stft`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StftConfig {
    /// FFT size in samples (default 2048).
    pub n_fft: usize,
    /// Window length in samples (default: `n_fft`).
    pub win_length: Option<usize>,
    /// Hop in samples (default: `win_length / 4`).
    pub hop_length: Option<usize>,
    /// `hann` (default, periodic), `hamming`, `povey` (Kaldi) or `rectangular`.
    pub window: String,
    /// Centre frames by padding `n_fft / 2` on both sides (default true).
    pub center: bool,
    /// Padding when centred: `constant` (zeros, librosa >= 0.10 default), `reflect`, `edge`.
    pub pad_mode: String,
}

impl Default for StftConfig {
    fn default() -> Self {
        StftConfig {
            n_fft: 2048,
            win_length: None,
            hop_length: None,
            window: "hann".into(),
            center: true,
            pad_mode: "constant".into(),
        }
    }
}

impl StftConfig {
    /// Resolved window length.
    pub fn win_length(&self) -> usize {
        self.win_length.unwrap_or(self.n_fft)
    }

    /// Resolved hop length.
    pub fn hop_length(&self) -> usize {
        self.hop_length.unwrap_or(self.win_length() / 4)
    }

    /// The DSP-level parameters, parsing names.
    pub fn params(&self) -> Result<StftParams, String> {
        Ok(StftParams {
            n_fft: self.n_fft,
            win_length: self.win_length(),
            hop_length: self.hop_length(),
            window: Window::from_name(&self.window).map_err(|e| format!("stft.{e}"))?,
            center: self.center,
            pad_mode: PadMode::from_name(&self.pad_mode).map_err(|e| format!("stft.{e}"))?,
        })
    }
}

/// Mel filterbank parameters (`librosa.filters.mel` + `melspectrogram`'s `power`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MelConfig {
    /// Number of mel bands (default 128).
    pub n_mels: usize,
    /// Lowest band edge in Hz (default 0.0).
    pub fmin: f64,
    /// Highest band edge in Hz (default: Nyquist).
    pub fmax: Option<f64>,
    /// Use the HTK mel formula instead of Slaney's (default false).
    pub htk: bool,
    /// `slaney` (default: each filter has unit area in Hz) or `none` (peak 1).
    pub norm: String,
    /// Exponent of the magnitude spectrogram (default 2.0 = power).
    pub power: f64,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            htk: false,
            norm: "slaney".into(),
            power: 2.0,
        }
    }
}

/// Reference of the dB scale: a fixed value or the clip's maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DbRef {
    /// `ref = 1.0` (librosa's default).
    Value(f64),
    /// `ref = "max"` (librosa's `ref=np.max`): 0 dB at the clip's loudest bin.
    Named(String),
}

/// `librosa.power_to_db` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// Reference power (default 1.0), or `"max"`.
    #[serde(rename = "ref")]
    pub reference: DbRef,
    /// Floor applied before the log (default 1e-10).
    pub amin: f64,
    /// Dynamic range kept below the clip's maximum, in dB (default 80.0; `inf` keeps all).
    pub top_db: f64,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            reference: DbRef::Value(1.0),
            amin: 1e-10,
            top_db: 80.0,
        }
    }
}

impl DbConfig {
    /// `Some(value)` for a fixed reference, `None` for the clip maximum.
    pub fn fixed_reference(&self) -> Option<f64> {
        match &self.reference {
            DbRef::Value(v) => Some(*v),
            DbRef::Named(_) => None,
        }
    }
}

/// `librosa.feature.mfcc` parameters (DCT type II, orthonormal, as librosa's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfccConfig {
    /// Number of coefficients kept (default 20).
    pub n_mfcc: usize,
    /// Sinusoidal liftering `1 + lifter/2 sin(pi (k+1) / lifter)` (default 0 = off).
    pub lifter: f64,
}

impl Default for MfccConfig {
    fn default() -> Self {
        MfccConfig {
            n_mfcc: 20,
            lifter: 0.0,
        }
    }
}

/// `librosa.feature.delta` (Savitzky-Golay derivative, `mode="interp"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeltaConfig {
    /// Highest derivative stored (default 0 = none; 1 adds `<name>_delta`, 2 also `<name>_delta2`).
    pub order: usize,
    /// Window in frames, odd and >= 3 (default 9). Clips with fewer frames use the largest
    /// odd width that fits (librosa raises an error instead).
    pub width: usize,
}

impl Default for DeltaConfig {
    fn default() -> Self {
        DeltaConfig { order: 0, width: 9 }
    }
}

/// Per-utterance statistics (for SVM / random-forest baselines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionalsConfig {
    /// Compute and store the functionals vector (default false).
    pub enabled: bool,
    /// Percentiles reported for every descriptor, besides mean and std (default [10, 50, 90]).
    pub percentiles: Vec<f64>,
    /// Lowest F0 searched by YIN in Hz (default 60.0, below typical male speech).
    pub f0_min: f64,
    /// Highest F0 searched by YIN in Hz (default 500.0, above typical female speech).
    pub f0_max: f64,
    /// YIN frame length in samples (default 1024; librosa's 2048 assumes 22 050 Hz music).
    pub yin_frame_length: usize,
    /// YIN hop in samples (default: `yin_frame_length / 4`, librosa's).
    pub yin_hop_length: Option<usize>,
    /// YIN trough threshold (default 0.1); frames without a trough below it count unvoiced.
    pub yin_threshold: f64,
    /// Spectral roll-off energy share (default 0.85).
    pub rolloff_percent: f64,
    /// Spectral contrast octave bands (default 6, giving 7 values).
    pub contrast_bands: usize,
    /// Lower edge of the first contrast band in Hz (default 200.0).
    pub contrast_fmin: f64,
    /// Share of each band taken as peak / valley (default 0.02).
    pub contrast_quantile: f64,
}

impl Default for FunctionalsConfig {
    fn default() -> Self {
        FunctionalsConfig {
            enabled: false,
            percentiles: vec![10.0, 50.0, 90.0],
            f0_min: 60.0,
            f0_max: 500.0,
            yin_frame_length: 1024,
            yin_hop_length: None,
            yin_threshold: 0.1,
            rolloff_percent: 0.85,
            contrast_bands: 6,
            contrast_fmin: 200.0,
            contrast_quantile: 0.02,
        }
    }
}

/// A config that failed validation; the message names the TOML key and the valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid feature config: {0}")]
pub struct ConfigError(pub String);

impl FeatureConfig {
    /// Parses TOML text; unknown keys are errors (a typo never silently falls back to a default).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: FeatureConfig = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Canonical TOML of every resolved setting (what the cache stores and hashes).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// Hex BLAKE3 of [`FeatureConfig::to_toml`]: equal configs, equal hashes.
    pub fn hash(&self) -> String {
        blake3::hash(self.to_toml().as_bytes()).to_hex()[..16].to_string()
    }

    /// Resolved `fmax`.
    pub fn fmax(&self) -> f64 {
        self.mel.fmax.unwrap_or(self.audio.sample_rate as f64 / 2.0)
    }

    /// Checks every setting once, so extraction never fails half-way on a config problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let e = |m: String| Err(ConfigError(m));
        self.audio.validate().map_err(ConfigError)?;
        let sr = self.audio.sample_rate as f64;
        if let Some(ssl) = &self.ssl {
            ssl.validate(self)?;
        }
        if self.frames.is_empty() && !self.functionals.enabled && self.ssl.is_none() {
            return e(
                "nothing to compute: `frames` is empty and functionals.enabled is false".into(),
            );
        }
        let mut seen = self.frames.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.frames.len() {
            return e(format!("`frames` lists a feature twice: {:?}", self.frames));
        }
        let p = self.stft.params().map_err(ConfigError)?;
        p.validate()
            .map_err(|err| ConfigError(format!("stft.{err}")))?;
        let m = &self.mel;
        if m.n_mels == 0 {
            return e("mel.n_mels must be >= 1".into());
        }
        let fmax = self.fmax();
        if !(m.fmin >= 0.0 && m.fmin < fmax && fmax <= sr / 2.0) {
            return e(format!(
                "mel.fmin ({}) and mel.fmax ({fmax}) must satisfy 0 <= fmin < fmax <= Nyquist ({})",
                m.fmin,
                sr / 2.0
            ));
        }
        if !matches!(m.norm.as_str(), "slaney" | "none") {
            return e(format!(
                "mel.norm = '{}': use \"slaney\" or \"none\"",
                m.norm
            ));
        }
        if !(m.power > 0.0) {
            return e(format!(
                "mel.power = {} must be > 0 (2.0 = power, 1.0 = magnitude)",
                m.power
            ));
        }
        if let DbRef::Named(name) = &self.db.reference
            && name != "max"
        {
            return e(format!("db.ref = '{name}': use a number or \"max\""));
        }
        if let Some(r) = self.db.fixed_reference()
            && !(r > 0.0)
        {
            return e(format!("db.ref = {r} must be > 0"));
        }
        if !(self.db.amin > 0.0) {
            return e(format!("db.amin = {} must be > 0", self.db.amin));
        }
        if !(self.db.top_db >= 0.0) {
            return e(format!(
                "db.top_db = {} must be >= 0 (inf keeps everything)",
                self.db.top_db
            ));
        }
        let needs_mfcc = self.frames.contains(&FrameFeature::Mfcc) || self.functionals.enabled;
        if needs_mfcc && !(1..=self.mel.n_mels).contains(&self.mfcc.n_mfcc) {
            return e(format!(
                "mfcc.n_mfcc = {} must be between 1 and mel.n_mels ({})",
                self.mfcc.n_mfcc, self.mel.n_mels
            ));
        }
        if self.mfcc.lifter < 0.0 {
            return e(format!("mfcc.lifter = {} must be >= 0", self.mfcc.lifter));
        }
        let d = &self.deltas;
        if d.order > 2 {
            return e(format!("deltas.order = {} must be 0, 1 or 2", d.order));
        }
        if d.order > 0 && (d.width < 3 || d.width.is_multiple_of(2)) {
            return e(format!("deltas.width = {} must be odd and >= 3", d.width));
        }
        if d.order > 0
            && !self
                .frames
                .iter()
                .any(|f| matches!(f, FrameFeature::Logmel | FrameFeature::Mfcc))
        {
            return e("deltas.order > 0 needs `logmel` or `mfcc` in `frames`".into());
        }
        let f = &self.functionals;
        if f.enabled {
            if f.percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
                return e(format!(
                    "functionals.percentiles {:?} must lie in [0, 100]",
                    f.percentiles
                ));
            }
            if !(f.f0_min > 0.0 && f.f0_min < f.f0_max && f.f0_max <= sr / 2.0) {
                return e(format!(
                    "functionals.f0_min ({}) / f0_max ({}) must satisfy 0 < f0_min < f0_max <= Nyquist",
                    f.f0_min, f.f0_max
                ));
            }
            let max_period = (sr / f.f0_min).ceil() as usize;
            if f.yin_frame_length < 2 || max_period + 1 >= f.yin_frame_length {
                return e(format!(
                    "functionals.yin_frame_length = {} must exceed the longest period ({} samples at f0_min)",
                    f.yin_frame_length, max_period
                ));
            }
            if f.yin_hop_length == Some(0) {
                return e("functionals.yin_hop_length must be >= 1".into());
            }
            if !(f.rolloff_percent > 0.0 && f.rolloff_percent < 1.0) {
                return e(format!(
                    "functionals.rolloff_percent = {} must be in (0, 1)",
                    f.rolloff_percent
                ));
            }
            if !(f.contrast_quantile > 0.0 && f.contrast_quantile < 1.0) {
                return e(format!(
                    "functionals.contrast_quantile = {} must be in (0, 1)",
                    f.contrast_quantile
                ));
            }
            if f.contrast_bands == 0
                || f.contrast_fmin <= 0.0
                || f.contrast_fmin * 2f64.powi(f.contrast_bands as i32 - 1) >= sr / 2.0
            {
                return e(format!(
                    "functionals.contrast_fmin ({}) * 2^(contrast_bands - 1) ({}) must stay below Nyquist ({})",
                    f.contrast_fmin,
                    f.contrast_bands,
                    sr / 2.0
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_librosas() {
        let c = FeatureConfig::default();
        assert_eq!(c.stft.n_fft, 2048);
        assert_eq!(c.stft.hop_length(), 512);
        assert_eq!(c.mel.n_mels, 128);
        assert_eq!(c.fmax(), 11_025.0);
        assert_eq!(c.db.top_db, 80.0);
        assert_eq!(c.mfcc.n_mfcc, 20);
        c.validate().unwrap();
    }

    #[test]
    fn toml_round_trip_keeps_the_hash() {
        let c = FeatureConfig::from_toml(
            "frames = [\"logmel\", \"mfcc\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n[db]\nref = \"max\"\ntop_db = inf\n",
        )
        .unwrap();
        assert_eq!(c.fmax(), 8000.0);
        assert!(c.db.fixed_reference().is_none());
        let back = FeatureConfig::from_toml(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.hash(), c.hash());
        let other = FeatureConfig {
            precision: Precision::F64,
            ..c.clone()
        };
        assert_ne!(other.hash(), c.hash());
    }

    #[test]
    fn errors_name_the_key() {
        let bad = |t: &str| FeatureConfig::from_toml(t).unwrap_err().to_string();
        assert!(bad("[mel]\nn_mel = 64").contains("n_mel"));
        assert!(bad("[stft]\nn_fft = 512\nwin_length = 1024").contains("win_length"));
        assert!(bad("[mel]\nfmax = 30000.0").contains("mel.fmin"));
        assert!(bad("[db]\nref = \"loudest\"").contains("db.ref"));
        assert!(bad("frames = [\"mfcc\"]\n[mfcc]\nn_mfcc = 500").contains("mfcc.n_mfcc"));
        assert!(bad("[deltas]\norder = 1\nwidth = 4").contains("deltas.width"));
        assert!(bad("[stft]\nwindow = \"kaiser\"").contains("window"));
    }
}
