//! On-the-fly features (`[data] on_the_fly = true`): the training clips' cleaned audio is held
//! in memory (or, beyond `data.memory_gb`, in a spill file read per batch), and each training
//! batch is augmented as audio (speed, gain, additive noise at a random SNR, a random window
//! as time shift) and turned into features by the same pipeline that built the cache: the
//! CubeCL kernels on a GPU device (`ser-kernels`), the CPU reference extractor otherwise.
//! Evaluation reads the cache, which holds the same features of the unaugmented audio.

use std::borrow::Cow;
use std::path::Path;

use burn::tensor::Device;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use ser_features::{ClipFeatures, Extractor, FeatureBackend, FeatureConfig};
use ser_kernels::GpuExtractor;

use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::experiment::{AugmentConfig, SegmentPolicy};
use crate::store::{ClipStore, Spill};

/// The feature pipeline of a cache's config, giving the frame arrays a network reads (in the
/// experiment's order, concatenated per frame): on the CubeCL kernels when `device` runs
/// them, else the CPU reference. Training on the fly and prediction both use it.
pub struct FramePipeline {
    backend: Box<dyn FeatureBackend + Send>,
    /// Index in the extractor's frame layout of each array the network reads, in order.
    picks: Vec<usize>,
    /// Hop and FFT size, to turn a segment's frames into samples.
    pub(crate) hop: usize,
    pub(crate) n_fft: usize,
    /// Where the features are computed, for messages.
    pub describe: String,
}

impl FramePipeline {
    /// The pipeline of the feature config `config_toml` for the arrays `frames`.
    pub fn new(config_toml: &str, frames: &[String], device: &Device) -> Result<Self, TrainError> {
        let mut cfg = FeatureConfig::from_toml(config_toml)
            .map_err(|e| TrainError::Data(format!("feature config: {e}")))?;
        cfg.functionals.enabled = false; // networks read frames only
        let reference = Extractor::new(cfg.clone())
            .map_err(|e| TrainError::Data(format!("feature config: {e}")))?;
        let picks = picks(&reference, frames)?;
        let p = cfg.stft.params().map_err(TrainError::Data)?;
        let (hop, n_fft) = (p.hop_length, p.n_fft);
        let gpu = ser_kernels::runs_kernels(device)
            .then(|| GpuExtractor::new(cfg, device.clone()).ok())
            .flatten();
        let backend: Box<dyn FeatureBackend + Send> = match gpu {
            Some(g) => Box::new(g),
            None => Box::new(reference),
        };
        let describe = backend.describe();
        Ok(Self {
            backend,
            picks,
            hop,
            n_fft,
            describe,
        })
    }

    /// The layout of the feature config `config_toml` for the arrays `frames`, without the
    /// means to compute them: for exporting a network whose input comes from elsewhere (an
    /// `[ssl]` cache's encoder states). [`FramePipeline::features`] panics on it.
    pub fn layout_only(config_toml: &str, frames: &[String]) -> Result<Self, TrainError> {
        let mut cfg = FeatureConfig::from_toml(config_toml)
            .map_err(|e| TrainError::Data(format!("feature config: {e}")))?;
        cfg.functionals.enabled = false;
        let reference = if cfg.ssl.is_some() {
            Extractor::for_ssl(cfg)
        } else {
            Extractor::new(cfg)
        }
        .map_err(|e| TrainError::Data(format!("feature config: {e}")))?;
        let picks = picks(&reference, frames)?;
        Ok(Self {
            backend: Box::new(LayoutOnly(reference)),
            picks,
            hop: 1,
            n_fft: 1,
            describe: "no features computed (layout only)".into(),
        })
    }

    /// Width of a frame: the picked arrays' widths summed.
    pub fn dim(&self) -> usize {
        let layout = self.reference().frame_layout();
        self.picks.iter().map(|&k| layout[k].1).sum()
    }

    /// The CPU extractor of the config (its audio cleaner turns decoded audio into what the
    /// features are computed from).
    pub fn reference(&self) -> &Extractor {
        self.backend.reference()
    }

    /// Features of the cleaned signals, as `[n_frames * dim]` rows of the arrays the network
    /// reads.
    pub fn features(&self, signals: &[Vec<f32>]) -> Vec<Vec<f32>> {
        self.backend
            .compute_batch(signals)
            .into_iter()
            .map(|f| {
                let dims: Vec<usize> = self
                    .picks
                    .iter()
                    .map(|&k| f.frames[k].len() / f.n_frames.max(1))
                    .collect();
                let mut out = Vec::with_capacity(f.n_frames * dims.iter().sum::<usize>());
                for t in 0..f.n_frames {
                    for (&k, &d) in self.picks.iter().zip(&dims) {
                        out.extend_from_slice(&f.frames[k][t * d..(t + 1) * d]);
                    }
                }
                out
            })
            .collect()
    }
}

/// Index in `reference`'s frame layout of each array named in `frames`.
fn picks(reference: &Extractor, frames: &[String]) -> Result<Vec<usize>, TrainError> {
    frames
        .iter()
        .map(|name| {
            reference
                .frame_layout()
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| {
                    TrainError::Data(format!(
                        "data.frames names {name:?}, which the feature config does not compute"
                    ))
                })
        })
        .collect()
}

/// A feature config's layout, computing nothing ([`FramePipeline::layout_only`]).
struct LayoutOnly(Extractor);

impl FeatureBackend for LayoutOnly {
    fn reference(&self) -> &Extractor {
        &self.0
    }

    fn compute_batch(&self, _clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        panic!("a layout-only feature pipeline (export) computes no features")
    }

    fn describe(&self) -> String {
        "layout only".into()
    }
}

/// Cleaned audio of the clips a run trains on, and the feature pipeline to apply to it.
pub struct Waveforms {
    /// Per dataset clip: its cleaned samples (empty for clips that are not trained on).
    clips: ClipStore,
    pipeline: FramePipeline,
    /// Where the features are computed, for messages.
    pub describe: String,
}

impl Waveforms {
    /// Reads and cleans the audio of `clips` of `ds` (made from `cache`), checking that each
    /// file is still the one the cache was built from, and holds it in RAM while it takes at
    /// most `memory` bytes, else in a spill file (`data.memory_gb`). Features go to `device`
    /// when the kernels support it there, else to the CPU reference.
    pub fn load(
        cache: &Path,
        ds: &Dataset,
        clips: &[usize],
        frames: &[String],
        device: &Device,
        memory: u64,
    ) -> Result<Self, TrainError> {
        let pipeline = FramePipeline::new(&ds.feature_config, frames, device)
            .map_err(|e| TrainError::Data(format!("{}: {e}", cache.display())))?;
        let mut wanted = vec![false; ds.meta.len()];
        clips.iter().for_each(|&i| wanted[i] = true);
        let reference = pipeline.reference();
        let (mut held, mut bytes, mut spill): (Vec<Vec<f32>>, u64, Option<Spill>) =
            (Vec::new(), 0, None);
        // Blocks of clips cleaned in parallel, so that a spilled run never holds more than
        // one block.
        let all: Vec<usize> = (0..ds.meta.len()).collect();
        for block in all.chunks(256) {
            let cleaned: Vec<Vec<f32>> = (block.par_iter())
                .map(|&i| match wanted[i] {
                    true => clean_audio(&ds.meta[i].path, &ds.meta[i].content_hash, reference),
                    false => Ok(Vec::new()),
                })
                .collect::<Result<_, _>>()?;
            bytes += cleaned.iter().map(|c| c.len() as u64 * 4).sum::<u64>();
            if spill.is_none() && bytes > memory {
                let mut s = Spill::new()?;
                for c in held.drain(..) {
                    s.push(&c)?;
                }
                spill = Some(s);
            }
            match &mut spill {
                Some(s) => cleaned.iter().try_for_each(|c| s.push(c))?,
                None => held.extend(cleaned),
            }
        }
        let clips = match spill {
            Some(s) => s.finish()?,
            None => ClipStore::in_ram(held),
        };
        let describe = pipeline.describe.clone();
        Ok(Self {
            clips,
            pipeline,
            describe,
        })
    }

    /// Whether the audio is held in RAM (else read from the spill file per batch).
    pub fn is_in_ram(&self) -> bool {
        self.clips.is_in_ram()
    }

    /// Cleaned audio of dataset clip `i` (empty when it is not a training clip).
    pub fn audio(&self, i: usize) -> Cow<'_, [f32]> {
        self.clips.get(i)
    }

    /// The audio a training segment of `frames` frames of clip `i` is computed from:
    /// speed-perturbed, cut to the segment (a random window; shorter clips tiled, followed by
    /// silence, or left short, by `policy`), then gain and noise.
    pub fn segment_audio(
        &self,
        i: usize,
        frames: usize,
        policy: SegmentPolicy,
        augment: &AugmentConfig,
        r: &mut ChaCha8Rng,
    ) -> Vec<f32> {
        let y = self.clips.get(i);
        let y = match augment.speed.as_slice() {
            [lo, hi] => resample_linear(&y, r.random_range(*lo..=*hi)),
            _ => y.into_owned(),
        };
        let want = (frames.saturating_sub(1)) * self.pipeline.hop + self.pipeline.n_fft;
        let mut seg = if y.len() >= want {
            let s = r.random_range(0..=y.len() - want);
            y[s..s + want].to_vec()
        } else if y.is_empty() {
            vec![0.0; want]
        } else {
            match policy {
                SegmentPolicy::Tile => y.iter().copied().cycle().take(want).collect(),
                SegmentPolicy::Crop => {
                    let mut v = y.clone();
                    v.resize(want, 0.0);
                    v
                }
                SegmentPolicy::Pad => y,
            }
        };
        augment_audio(&mut seg, augment, r);
        seg
    }

    /// Features of the signals, as `[n_frames * dim]` rows of the arrays the network reads.
    pub fn features(&self, signals: &[Vec<f32>]) -> Vec<Vec<f32>> {
        self.pipeline.features(signals)
    }
}

/// Decoded and cleaned audio of one file, refusing a file changed since the cache was made.
fn clean_audio(path: &str, hash: &str, ex: &Extractor) -> Result<Vec<f32>, TrainError> {
    let fix = "on-the-fly features read the audio the cache was built from; re-run `ser extract` (or restore the file)";
    let bytes = std::fs::read(path)
        .map_err(|e| TrainError::Data(format!("{path}: cannot read the audio: {e}; {fix}")))?;
    if !hash.is_empty() && ser_data::content_hash(&bytes) != hash {
        return Err(TrainError::Data(format!(
            "{path}: the file changed since the cache was built; {fix}"
        )));
    }
    let ext = Path::new(path).extension().and_then(|e| e.to_str());
    let decoded = ser_audio::decode_bytes(&bytes, ext)
        .map_err(|e| TrainError::Data(format!("{path}: {e}; {fix}")))?;
    ex.cleaner()
        .clean(&decoded)
        .map_err(|e| TrainError::Data(format!("{path}: {e}; {fix}")))
}

/// Speed perturbation: the signal played `factor` times faster (pitch and tempo together, as
/// Kaldi's speed perturbation), by linear interpolation: the frame-domain speed augmentation
/// with one value per frame.
pub fn resample_linear(y: &[f32], factor: f64) -> Vec<f32> {
    stretch(y, 1, factor)
}

/// Linear resampling of the time axis by `factor` (> 1: faster, fewer frames).
pub(crate) fn stretch(src: &[f32], d: usize, factor: f64) -> Vec<f32> {
    let n = src.len() / d.max(1);
    if n < 2 || (factor - 1.0).abs() < 1e-9 {
        return src.to_vec();
    }
    let m = ((n as f64 / factor).round() as usize).max(1);
    let mut out = Vec::with_capacity(m * d);
    for k in 0..m {
        let pos = (k as f64 * factor).min((n - 1) as f64);
        let (i, f) = (pos.floor() as usize, (pos - pos.floor()) as f32);
        let j = (i + 1).min(n - 1);
        for c in 0..d {
            out.push(src[i * d + c] * (1.0 - f) + src[j * d + c] * f);
        }
    }
    out
}

/// Gain (dB) and white Gaussian noise at a random SNR relative to the segment's mean power.
pub fn augment_audio(y: &mut [f32], a: &AugmentConfig, r: &mut ChaCha8Rng) {
    if let [lo, hi] = a.gain_db.as_slice() {
        let g = 10f64.powf(r.random_range(*lo..=*hi) / 20.0) as f32;
        y.iter_mut().for_each(|v| *v *= g);
    }
    if let [lo, hi] = a.noise_snr_db.as_slice()
        && r.random::<f64>() < a.noise_prob
    {
        let power = y.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / y.len().max(1) as f64;
        let snr = r.random_range(*lo..=*hi);
        let sigma = (power / 10f64.powf(snr / 10.0)).sqrt();
        if sigma > 0.0 {
            let n = Normal::new(0.0, sigma).expect("finite sigma");
            y.iter_mut().for_each(|v| *v += n.sample(&mut *r) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.05).sin() * 0.3).collect()
    }

    fn power(y: &[f32]) -> f64 {
        y.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / y.len() as f64
    }

    #[test]
    fn gain_scales_power_and_noise_lands_at_the_drawn_snr() {
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let clean = tone(64_000);
        let mut y = clean.clone();
        let gain = AugmentConfig {
            gain_db: vec![6.0, 6.0],
            ..Default::default()
        };
        augment_audio(&mut y, &gain, &mut r);
        let db = 10.0 * (power(&y) / power(&clean)).log10();
        assert!((db - 6.0).abs() < 1e-3, "{db}");

        let mut y = clean.clone();
        let noise = AugmentConfig {
            noise_snr_db: vec![10.0, 10.0],
            noise_prob: 1.0,
            ..Default::default()
        };
        augment_audio(&mut y, &noise, &mut r);
        let n: Vec<f32> = y.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let snr = 10.0 * (power(&clean) / power(&n)).log10();
        assert!((snr - 10.0).abs() < 0.2, "{snr}");
    }

    #[test]
    fn speed_changes_duration_and_keeps_the_waveform_shape() {
        let y = tone(16_000);
        let fast = resample_linear(&y, 1.25);
        assert_eq!(fast.len(), 12_800);
        // Sample k of the faster signal is sample 1.25 k of the original.
        for k in [0usize, 100, 4000, 12_000] {
            let t = k as f32 * 1.25 * 0.05;
            assert!((fast[k] - t.sin() * 0.3).abs() < 1e-3, "{k}");
        }
        assert_eq!(resample_linear(&y, 1.0), y);
    }
}
