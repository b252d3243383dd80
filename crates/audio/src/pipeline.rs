//! The cleaning pipeline: one validated [`AudioConfig`] applied to decoded audio.

use ser_dsp::{Band, Sos, butter};

use crate::{
    AudioConfig, AudioError, Decoded, NormalizeMode, loudness, resample, spectral_gate, trim,
};

/// Averages interleaved channels to mono (`librosa.to_mono`).
pub fn to_mono(samples: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return samples.to_vec();
    }
    let inv = 1.0 / channels as f32;
    samples
        .chunks_exact(channels)
        .map(|f| f.iter().sum::<f32>() * inv)
        .collect()
}

/// Pre-emphasis `y[n] = x[n] - coef * x[n-1]`, with `x[-1]` linearly extrapolated as
/// `2 x[0] - x[1]` (librosa's intent; librosa itself adds that state with the wrong sign).
pub fn preemphasis(y: &mut [f32], coef: f32) {
    if y.is_empty() || coef == 0.0 {
        return;
    }
    let mut prev = if y.len() > 1 { 2.0 * y[0] - y[1] } else { y[0] };
    for v in y.iter_mut() {
        let x = *v;
        *v = x - coef * prev;
        prev = x;
    }
}

/// A validated cleaning pipeline; filters are designed once and reused for every clip.
#[derive(Debug, Clone)]
pub struct Cleaner {
    cfg: AudioConfig,
    filter: Option<Sos>,
}

impl Cleaner {
    /// Validates `cfg` and prepares the filters; the error names the offending key.
    pub fn new(cfg: AudioConfig) -> Result<Self, String> {
        cfg.validate()?;
        let b = &cfg.bandpass;
        let filter = if b.enabled {
            let band = match (b.low_hz, b.high_hz) {
                (Some(lo), Some(hi)) => Band::Bandpass(lo, hi),
                (Some(lo), None) => Band::Highpass(lo),
                (None, Some(hi)) => Band::Lowpass(hi),
                (None, None) => unreachable!("validated"),
            };
            Some(
                butter(b.order, band, cfg.sample_rate as f64)
                    .map_err(|e| format!("audio.bandpass: {e}"))?,
            )
        } else {
            None
        };
        Ok(Cleaner { cfg, filter })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AudioConfig {
        &self.cfg
    }

    /// Turns decoded audio into the mono signal at `sample_rate` that features are computed on.
    pub fn clean(&self, audio: &Decoded) -> Result<Vec<f32>, AudioError> {
        let cfg = &self.cfg;
        let mono = to_mono(&audio.samples, audio.channels);
        if mono.iter().all(|v| *v == 0.0) {
            return Err(AudioError::Silent(format!(
                "all {} samples are zero",
                mono.len()
            )));
        }
        let mut y = resample(&mono, audio.sample_rate, cfg.sample_rate)?;
        if let Some(f) = &self.filter {
            f.filter(&mut y);
        }
        preemphasis(&mut y, cfg.preemphasis);
        if cfg.denoise.enabled {
            y = spectral_gate(&y, cfg.sample_rate, &cfg.denoise)?;
        }
        if cfg.trim.enabled {
            y = trim::trim_silence(&y, &cfg.trim);
            if y.is_empty() {
                return Err(AudioError::Silent(format!(
                    "no frame is within {} dB of the loudest one",
                    cfg.trim.top_db
                )));
            }
        }
        let target = cfg.normalize.target_level();
        let level = match cfg.normalize.mode {
            NormalizeMode::None => None,
            NormalizeMode::Peak => Some(loudness::peak_dbfs(&y)),
            NormalizeMode::Rms => Some(loudness::rms_dbfs(&y)),
            NormalizeMode::Lufs => Some(
                loudness::integrated_loudness(&y, cfg.sample_rate).ok_or_else(|| {
                    AudioError::Silent("loudness below the -70 LUFS gate everywhere".into())
                })?,
            ),
        };
        if let Some(level) = level {
            if !level.is_finite() {
                return Err(AudioError::Silent("level is -inf after cleaning".into()));
            }
            let gain = 10f64.powf((target - level) / 20.0) as f32;
            y.iter_mut().for_each(|v| *v *= gain);
        }
        let duration = y.len() as f64 / cfg.sample_rate as f64;
        if duration < cfg.min_duration_s {
            return Err(AudioError::TooShort(format!(
                "{duration:.3} s after cleaning, audio.min_duration_s is {}",
                cfg.min_duration_s
            )));
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NormalizeConfig, TrimConfig};

    fn stereo_tone(rate: u32, secs: f64) -> Decoded {
        let n = (rate as f64 * secs) as usize;
        let mut samples = Vec::with_capacity(2 * n);
        for i in 0..n {
            let v =
                0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / rate as f64).sin() as f32;
            let gate = if i > n / 4 && i < 3 * n / 4 { 1.0 } else { 0.0 };
            samples.push(v * gate);
            samples.push(v * gate * 0.5);
        }
        Decoded {
            samples,
            channels: 2,
            sample_rate: rate,
        }
    }

    #[test]
    fn mono_resample_trim_normalise() {
        let cfg = AudioConfig {
            sample_rate: 16_000,
            trim: TrimConfig {
                enabled: true,
                ..Default::default()
            },
            normalize: NormalizeConfig {
                mode: NormalizeMode::Peak,
                target: Some(-3.0),
            },
            ..Default::default()
        };
        let y = Cleaner::new(cfg)
            .unwrap()
            .clean(&stereo_tone(48_000, 2.0))
            .unwrap();
        // 1 s of tone survives, plus at most a couple of trim frames.
        assert!(
            y.len() >= 16_000 && y.len() < 16_000 + 4 * 2048,
            "{}",
            y.len()
        );
        assert!((loudness::peak_dbfs(&y) + 3.0).abs() < 1e-3);
    }

    #[test]
    fn silence_is_reported_not_returned() {
        let d = Decoded {
            samples: vec![0.0; 16_000],
            channels: 1,
            sample_rate: 16_000,
        };
        let err = Cleaner::new(AudioConfig::default())
            .unwrap()
            .clean(&d)
            .unwrap_err();
        assert!(matches!(err, AudioError::Silent(_)), "{err}");
    }

    #[test]
    fn preemphasis_removes_dc() {
        let mut y = vec![1.0f32; 100];
        preemphasis(&mut y, 0.97);
        assert!((y[50] - 0.03).abs() < 1e-6);
        assert!((y[0] - 0.03).abs() < 1e-6);
    }

    #[test]
    fn too_short_clips_are_rejected() {
        let cfg = AudioConfig {
            sample_rate: 16_000,
            min_duration_s: 5.0,
            ..Default::default()
        };
        let err = Cleaner::new(cfg)
            .unwrap()
            .clean(&stereo_tone(16_000, 1.0))
            .unwrap_err();
        assert!(matches!(err, AudioError::TooShort(_)));
    }
}
