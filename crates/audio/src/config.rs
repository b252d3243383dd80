//! `[audio]` section of a feature config: how a file becomes the signal features see.
//!
//! Defaults reproduce `librosa.load(path)` (mono, resampled to 22 050 Hz, nothing else);
//! each cleaning step is opt-in. All validation happens in [`AudioConfig::validate`].

use serde::{Deserialize, Serialize};

/// How audio is decoded and cleaned before feature extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// Rate in Hz every clip is resampled to (default 22050, `librosa.load`'s).
    /// Multi-channel files are always averaged to mono first, as `librosa.to_mono` does.
    pub sample_rate: u32,
    /// Butterworth band-pass / low-pass / high-pass (default off).
    pub bandpass: BandpassConfig,
    /// Pre-emphasis coefficient `y[n] = x[n] - coef * x[n-1]` (default 0.0 = off; 0.97 is usual).
    pub preemphasis: f32,
    /// Spectral-gating noise reduction (default off).
    pub denoise: DenoiseConfig,
    /// Leading/trailing silence trimming, as `librosa.effects.trim` (default off).
    pub trim: TrimConfig,
    /// Loudness normalisation (default none).
    pub normalize: NormalizeConfig,
    /// Clips shorter than this many seconds after cleaning are skipped (default 0.0).
    pub min_duration_s: f64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            sample_rate: 22_050,
            bandpass: BandpassConfig::default(),
            preemphasis: 0.0,
            denoise: DenoiseConfig::default(),
            trim: TrimConfig::default(),
            normalize: NormalizeConfig::default(),
            min_duration_s: 0.0,
        }
    }
}

/// Butterworth filter applied with `sosfilt` semantics (as `scipy.signal.butter(order,
/// ..., output="sos")`). Give `low_hz` alone for a high-pass, `high_hz` alone for a
/// low-pass, both for a band-pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandpassConfig {
    /// Apply the filter (default false).
    pub enabled: bool,
    /// Lower cutoff in Hz (default 60.0).
    pub low_hz: Option<f64>,
    /// Upper cutoff in Hz (default 7600.0, below Nyquist at 16 kHz).
    pub high_hz: Option<f64>,
    /// Filter order (default 4; a band-pass has twice as many poles).
    pub order: usize,
}

impl Default for BandpassConfig {
    fn default() -> Self {
        BandpassConfig {
            enabled: false,
            low_hz: Some(60.0),
            high_hz: Some(7600.0),
            order: 4,
        }
    }
}

/// Stationary spectral gating in the manner of the `noisereduce` package: a per-frequency
/// noise threshold (mean + `n_std_thresh` standard deviations of the dB magnitude over the
/// quietest frames) builds a smoothed mask that attenuates everything below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenoiseConfig {
    /// Apply noise reduction (default false).
    pub enabled: bool,
    /// Threshold above the noise mean, in noise standard deviations (default 1.5).
    pub n_std_thresh: f64,
    /// Share of the noise removed, 0..=1 (default 1.0).
    pub prop_decrease: f64,
    /// Percent of the quietest frames used to estimate the noise (default 20.0).
    pub noise_percentile: f64,
    /// STFT size in samples (default 1024), hop is a quarter of it.
    pub n_fft: usize,
    /// Mask smoothing across frequency in Hz (default 100.0).
    pub freq_smooth_hz: f64,
    /// Mask smoothing across time in milliseconds (default 30.0).
    pub time_smooth_ms: f64,
}

impl Default for DenoiseConfig {
    fn default() -> Self {
        DenoiseConfig {
            enabled: false,
            n_std_thresh: 1.5,
            prop_decrease: 1.0,
            noise_percentile: 20.0,
            n_fft: 1024,
            freq_smooth_hz: 100.0,
            time_smooth_ms: 30.0,
        }
    }
}

/// Energy-based trimming with `librosa.effects.trim` semantics: frames whose RMS is more than
/// `top_db` below the loudest frame are silence; the clip keeps the span from the first to
/// the last non-silent frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrimConfig {
    /// Trim leading and trailing silence (default false).
    pub enabled: bool,
    /// Threshold below the peak frame, in dB (default 60.0).
    pub top_db: f64,
    /// RMS frame length in samples at the target rate (default 2048).
    pub frame_length: usize,
    /// RMS hop in samples (default 512).
    pub hop_length: usize,
}

impl Default for TrimConfig {
    fn default() -> Self {
        TrimConfig {
            enabled: false,
            top_db: 60.0,
            frame_length: 2048,
            hop_length: 512,
        }
    }
}

/// Which loudness measure is brought to `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeMode {
    /// Leave the level as recorded (default).
    #[default]
    None,
    /// Peak amplitude in dBFS (default target -1.0).
    Peak,
    /// RMS level in dBFS (default target -20.0).
    Rms,
    /// ITU-R BS.1770 integrated loudness in LUFS, K-weighted and gated (default target -23.0).
    Lufs,
}

/// Loudness normalisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Measure to normalise (default `none`).
    pub mode: NormalizeMode,
    /// Target level; when absent, the mode's usual target (see [`NormalizeMode`]).
    pub target: Option<f64>,
}

impl NormalizeConfig {
    /// The effective target level for the chosen mode.
    pub fn target_level(&self) -> f64 {
        self.target.unwrap_or(match self.mode {
            NormalizeMode::None => 0.0,
            NormalizeMode::Peak => -1.0,
            NormalizeMode::Rms => -20.0,
            NormalizeMode::Lufs => -23.0,
        })
    }
}

impl AudioConfig {
    /// This cleaning without trimming or a minimum duration: for windows of long recordings
    /// and streams, whose times must stay those of the file.
    pub fn untrimmed(&self) -> AudioConfig {
        let mut a = self.clone();
        a.trim.enabled = false;
        a.min_duration_s = 0.0;
        a
    }

    /// Checks every setting; the error names the key (as written in TOML) and the valid range.
    pub fn validate(&self) -> Result<(), String> {
        let sr = self.sample_rate as f64;
        if !(1000..=384_000).contains(&self.sample_rate) {
            return Err(format!(
                "audio.sample_rate = {} is out of range: use 1000..=384000 Hz (16000 is usual for speech)",
                self.sample_rate
            ));
        }
        let b = &self.bandpass;
        if b.enabled {
            if b.low_hz.is_none() && b.high_hz.is_none() {
                return Err("audio.bandpass is enabled but has neither low_hz nor high_hz".into());
            }
            for (key, v) in [("low_hz", b.low_hz), ("high_hz", b.high_hz)] {
                if let Some(v) = v
                    && !(v > 0.0 && v < sr / 2.0)
                {
                    return Err(format!(
                        "audio.bandpass.{key} = {v} must lie between 0 and Nyquist ({} Hz) at audio.sample_rate = {}",
                        sr / 2.0,
                        self.sample_rate
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (b.low_hz, b.high_hz)
                && lo >= hi
            {
                return Err(format!(
                    "audio.bandpass.low_hz ({lo}) must be below high_hz ({hi})"
                ));
            }
            if !(1..=12).contains(&b.order) {
                return Err(format!("audio.bandpass.order = {} must be 1..=12", b.order));
            }
        }
        if !(0.0..1.0).contains(&self.preemphasis) {
            return Err(format!(
                "audio.preemphasis = {} must be in [0, 1) (0 = off, 0.97 is usual)",
                self.preemphasis
            ));
        }
        let d = &self.denoise;
        if d.enabled {
            if !(d.n_fft >= 16 && d.n_fft.is_power_of_two()) {
                return Err(format!(
                    "audio.denoise.n_fft = {} must be a power of two >= 16",
                    d.n_fft
                ));
            }
            if !(0.0..=1.0).contains(&d.prop_decrease) {
                return Err(format!(
                    "audio.denoise.prop_decrease = {} must be in [0, 1]",
                    d.prop_decrease
                ));
            }
            if !(d.noise_percentile > 0.0 && d.noise_percentile <= 100.0) {
                return Err(format!(
                    "audio.denoise.noise_percentile = {} must be in (0, 100]",
                    d.noise_percentile
                ));
            }
            if d.freq_smooth_hz < 0.0 || d.time_smooth_ms < 0.0 || d.n_std_thresh.is_nan() {
                return Err("audio.denoise smoothing widths must be >= 0".into());
            }
        }
        let t = &self.trim;
        if t.enabled {
            if !(t.top_db > 0.0) {
                return Err(format!("audio.trim.top_db = {} must be > 0", t.top_db));
            }
            if t.frame_length == 0 || t.hop_length == 0 {
                return Err("audio.trim.frame_length and hop_length must be >= 1".into());
            }
        }
        if let Some(target) = self.normalize.target
            && (!target.is_finite() || target > 0.0)
        {
            return Err(format!(
                "audio.normalize.target = {target} must be a finite level <= 0"
            ));
        }
        if !(self.min_duration_s >= 0.0) {
            return Err(format!(
                "audio.min_duration_s = {} must be >= 0",
                self.min_duration_s
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_librosa_load() {
        let c = AudioConfig::default();
        assert_eq!(c.sample_rate, 22_050);
        assert!(!c.trim.enabled && !c.bandpass.enabled && !c.denoise.enabled);
        assert_eq!(c.normalize.mode, NormalizeMode::None);
        c.validate().unwrap();
    }

    #[test]
    fn partial_toml_fills_defaults_and_unknown_keys_are_rejected() {
        let c: AudioConfig = toml::from_str(
            "sample_rate = 16000\n[trim]\nenabled = true\n[normalize]\nmode = \"lufs\"\n",
        )
        .unwrap();
        assert_eq!(c.sample_rate, 16_000);
        assert!(c.trim.enabled);
        assert_eq!(c.trim.top_db, 60.0);
        assert_eq!(c.normalize.target_level(), -23.0);
        let err = toml::from_str::<AudioConfig>("sample_rat = 16000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sample_rat"), "{err}");
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = AudioConfig {
            sample_rate: 16_000,
            ..Default::default()
        };
        c.bandpass.enabled = true;
        c.bandpass.high_hz = Some(9000.0);
        assert!(c.validate().unwrap_err().contains("audio.bandpass.high_hz"));
        let c = AudioConfig {
            preemphasis: 1.5,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("audio.preemphasis"));
    }
}
