//! The CPU feature extractor: one validated [`FeatureConfig`], planned once (FFT, mel
//! weights, DCT, contrast bands), applied to any number of clips in parallel with rayon.
//!
//! One STFT pass per clip feeds everything: the power spectrum of each frame is projected on
//! the mel filterbank and, when functionals are on, reduced to centroid / roll-off /
//! contrast on the spot, so no full spectrogram is kept unless `spectrogram` is requested.

use rayon::prelude::*;
use ser_audio::Cleaner;
use ser_dsp::{Real, Stft, StftParams, frame_rms};

use crate::config::{ConfigError, FeatureConfig, FrameFeature, Precision};
use crate::db::power_to_db;
use crate::delta::delta;
use crate::mel::MelFilterbank;
use crate::mfcc::{dct_matrix, project};
use crate::spectral::{ContrastBands, centroid, contrast_db, rolloff, zero_crossing_rate};
use crate::stats::summarize;
use crate::yin::{YinParams, yin};

/// Features of one clip: frame-level arrays in [`Extractor::frame_layout`] order, each
/// frame-major `[n_frames, dim]`, and the functionals vector (empty when disabled).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFeatures<T = f32> {
    /// Number of frames shared by every frame-level array.
    pub n_frames: usize,
    /// One array per entry of the frame layout.
    pub frames: Vec<Vec<T>>,
    /// Per-utterance statistics, named by [`Extractor::functional_names`].
    pub functionals: Vec<T>,
}

impl<T: Real> ClipFeatures<T> {
    fn to_f32(&self) -> ClipFeatures<f32> {
        let cast = |v: &[T]| v.iter().map(|x| x.as_f64() as f32).collect::<Vec<f32>>();
        ClipFeatures {
            n_frames: self.n_frames,
            frames: self.frames.iter().map(|f| cast(f)).collect(),
            functionals: cast(&self.functionals),
        }
    }
}

struct Plan<T: Real> {
    stft: Stft<T>,
    mel: Vec<(usize, Vec<T>)>,
    dct: Vec<T>,
    freqs: Vec<T>,
}

impl<T: Real> Plan<T> {
    fn new(params: StftParams, mel: &MelFilterbank, dct: &[f64], freqs: &[f64]) -> Self {
        Plan {
            stft: Stft::new(params).expect("validated"),
            mel: mel.weights(),
            dct: dct.iter().map(|v| T::lit(*v)).collect(),
            freqs: freqs.iter().map(|v| T::lit(*v)).collect(),
        }
    }
}

/// A planned feature pipeline; cheap to share across threads.
pub struct Extractor {
    cfg: FeatureConfig,
    cleaner: Cleaner,
    plan32: Plan<f32>,
    plan64: Plan<f64>,
    contrast: ContrastBands,
    layout: Vec<(String, usize)>,
    functional_names: Vec<String>,
}

impl Extractor {
    /// Validates `cfg` and plans every stage. An `[ssl]` config is refused: its features
    /// come from its encoder (`ser_ssl::SslExtractor`), which this path does not run.
    pub fn new(cfg: FeatureConfig) -> Result<Self, ConfigError> {
        if cfg.ssl.is_some() {
            return Err(ConfigError(
                "an [ssl] feature config's frames come from its encoder, which runs only in \
                 `ser extract` for now: not on the fly, nor in `ser predict`, `ser stream` or \
                 `ser export`"
                    .into(),
            ));
        }
        Self::plan(cfg)
    }

    /// The reference of a resolved `[ssl]` config: its audio cleaner and its one `ssl` frame
    /// array. Its spectral `compute` is not to be used: the encoder computes the frames.
    pub fn for_ssl(cfg: FeatureConfig) -> Result<Self, ConfigError> {
        let dim = cfg.ssl.as_ref().and_then(|s| s.dim()).ok_or_else(|| {
            ConfigError("[ssl] is resolved from its checkpoint by `ser extract` first".into())
        })?;
        let mut ex = Self::plan(cfg)?;
        ex.layout = vec![("ssl".to_string(), dim)];
        Ok(ex)
    }

    fn plan(cfg: FeatureConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let cleaner = Cleaner::new(cfg.audio.clone()).map_err(ConfigError)?;
        let sr = cfg.audio.sample_rate as f64;
        let params = cfg.stft.params().map_err(ConfigError)?;
        let mel = MelFilterbank::new(
            sr,
            params.n_fft,
            cfg.mel.n_mels,
            cfg.mel.fmin,
            cfg.fmax(),
            cfg.mel.htk,
            cfg.mel.norm == "slaney",
        );
        let dct = dct_matrix(cfg.mfcc.n_mfcc, cfg.mel.n_mels, cfg.mfcc.lifter);
        let freqs: Vec<f64> = (0..params.n_fft / 2 + 1)
            .map(|k| k as f64 * sr / params.n_fft as f64)
            .collect();
        let f = &cfg.functionals;
        let contrast = ContrastBands::new(
            &freqs,
            f.contrast_fmin,
            f.contrast_bands,
            f.contrast_quantile,
        );
        let plan32 = Plan::new(params, &mel, &dct, &freqs);
        let plan64 = Plan::new(params, &mel, &dct, &freqs);
        let mut layout = Vec::new();
        for feat in &cfg.frames {
            let dim = match feat {
                FrameFeature::Spectrogram => params.n_fft / 2 + 1,
                FrameFeature::Mel | FrameFeature::Logmel => cfg.mel.n_mels,
                FrameFeature::Mfcc => cfg.mfcc.n_mfcc,
            };
            layout.push((feat.name().to_string(), dim));
            if matches!(feat, FrameFeature::Logmel | FrameFeature::Mfcc) {
                for order in 1..=cfg.deltas.order {
                    let suffix = if order == 1 { "delta" } else { "delta2" };
                    layout.push((format!("{}_{suffix}", feat.name()), dim));
                }
            }
        }
        let functional_names = if f.enabled {
            functional_names(&cfg, contrast.len())
        } else {
            vec![]
        };
        Ok(Extractor {
            cfg,
            cleaner,
            plan32,
            plan64,
            contrast,
            layout,
            functional_names,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// The audio cleaning pipeline of this config (decode output in, feature input out).
    pub fn cleaner(&self) -> &Cleaner {
        &self.cleaner
    }

    /// Names and widths of the frame-level arrays, in output order.
    pub fn frame_layout(&self) -> &[(String, usize)] {
        &self.layout
    }

    /// Names of the functionals, e.g. `mfcc1_mean`, `f0_p50`, `voiced_fraction`.
    pub fn functional_names(&self) -> &[String] {
        &self.functional_names
    }

    /// Number of frames a cleaned signal of `len` samples yields.
    pub fn n_frames(&self, len: usize) -> usize {
        self.plan32.stft.n_frames(len)
    }

    /// Features of one cleaned signal (mono, at `audio.sample_rate`), computed in the
    /// configured precision and returned as f32 (the cache's storage type).
    pub fn compute(&self, y: &[f32]) -> ClipFeatures {
        match self.cfg.precision {
            Precision::F32 => run_f32(self, y),
            Precision::F64 => {
                let y64: Vec<f64> = y.iter().map(|v| *v as f64).collect();
                self.run(&self.plan64, &y64).to_f32()
            }
        }
    }

    /// Features computed and returned in f64 whatever `precision` says (reference checks).
    pub fn compute_f64(&self, y: &[f64]) -> ClipFeatures<f64> {
        self.run(&self.plan64, y)
    }

    /// Features of many signals, in parallel on rayon's pool, in input order.
    pub fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        clips.par_iter().map(|y| self.compute(y)).collect()
    }

    #[inline(always)]
    fn run<T: Real>(&self, plan: &Plan<T>, y: &[T]) -> ClipFeatures<T> {
        let cfg = &self.cfg;
        let n_bins = plan.stft.n_bins();
        let n_mels = cfg.mel.n_mels;
        let n_frames = plan.stft.n_frames(y.len());
        let want = |f: FrameFeature| cfg.frames.contains(&f);
        let want_spec = want(FrameFeature::Spectrogram);
        let func = cfg.functionals.enabled;
        let need_mel = func
            || want(FrameFeature::Mel)
            || want(FrameFeature::Logmel)
            || want(FrameFeature::Mfcc);
        let power = cfg.mel.power;
        let power_t = T::lit(power);
        let n_con = self.contrast.len();

        let mut spec_out: Vec<T> = Vec::with_capacity(if want(FrameFeature::Spectrogram) {
            n_frames * n_bins
        } else {
            0
        });
        let mut mel = vec![T::zero(); if need_mel { n_frames * n_mels } else { 0 }];
        let mut row = vec![T::zero(); n_bins];
        // Frames wait in blocks of MEL_BLOCK, transposed ([bin][frame]), so that the mel
        // projection runs across frames in vector lanes instead of along short bands.
        let mut block = MelBlock::new(n_bins);
        let mut mag = vec![T::zero(); if func { n_bins } else { 0 }];
        let (mut cent, mut roll) = (Vec::new(), Vec::new());
        let mut peaks = vec![T::zero(); if func { n_frames * n_con } else { 0 }];
        let mut valleys = peaks.clone();
        let mut sort_buf = Vec::new();
        let mut scratch = plan.stft.scratch();
        let rolloff_pct = cfg.functionals.rolloff_percent;
        plan.stft.for_each_power(
            y,
            &mut scratch,
            #[inline(always)]
            |t, p2| {
                // One loop per exponent, so the common power-2 case vectorises.
                if power == 2.0 {
                    row.copy_from_slice(p2);
                } else if power == 1.0 {
                    for (r, v) in row.iter_mut().zip(p2) {
                        *r = v.sqrt();
                    }
                } else {
                    for (r, v) in row.iter_mut().zip(p2) {
                        *r = v.sqrt().powf(power_t);
                    }
                }
                if want_spec {
                    spec_out.extend_from_slice(&row);
                }
                if need_mel {
                    block.push(t, &row, &plan.mel, n_mels, &mut mel);
                }
                if func {
                    for (m, v) in mag.iter_mut().zip(p2) {
                        *m = v.sqrt();
                    }
                    cent.push(centroid(&mag, &plan.freqs));
                    roll.push(rolloff(&mag, &plan.freqs, rolloff_pct));
                    let (p, v) = (
                        &mut peaks[t * n_con..(t + 1) * n_con],
                        &mut valleys[t * n_con..(t + 1) * n_con],
                    );
                    self.contrast.peak_valley(&mag, p, v, &mut sort_buf);
                }
            },
        );

        if need_mel {
            block.flush(&plan.mel, n_mels, &mut mel);
        }
        let mel_linear = if want(FrameFeature::Mel) {
            Some(mel.clone())
        } else {
            None
        };
        let need_db = func || want(FrameFeature::Logmel) || want(FrameFeature::Mfcc);
        let mut logmel = mel;
        if need_db {
            power_to_db(
                &mut logmel,
                cfg.db.fixed_reference(),
                cfg.db.amin,
                cfg.db.top_db,
            );
        }
        let n_mfcc = cfg.mfcc.n_mfcc;
        let mfcc = if func || want(FrameFeature::Mfcc) {
            project(&logmel, n_mels, &plan.dct, n_mfcc)
        } else {
            Vec::new()
        };

        let functionals = if func {
            self.functionals(y, n_frames, &mfcc, &cent, &roll, peaks, valleys)
        } else {
            Vec::new()
        };

        // Hand the buffers over rather than copying them.
        let mut owned = [Some(spec_out), mel_linear, Some(logmel), Some(mfcc)];
        let mut frames = Vec::with_capacity(self.layout.len());
        for feat in &cfg.frames {
            let (slot, dim) = match feat {
                FrameFeature::Spectrogram => (0, n_bins),
                FrameFeature::Mel => (1, n_mels),
                FrameFeature::Logmel => (2, n_mels),
                FrameFeature::Mfcc => (3, n_mfcc),
            };
            let data = owned[slot].take().unwrap_or_default();
            let deltas: Vec<Vec<T>> = if matches!(feat, FrameFeature::Logmel | FrameFeature::Mfcc) {
                (1..=cfg.deltas.order)
                    .map(|order| delta(&data, dim, cfg.deltas.width, order))
                    .collect()
            } else {
                Vec::new()
            };
            frames.push(data);
            frames.extend(deltas);
        }
        ClipFeatures {
            n_frames,
            frames,
            functionals,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn functionals<T: Real>(
        &self,
        y: &[T],
        n_frames: usize,
        mfcc: &[T],
        cent: &[T],
        roll: &[T],
        peaks: Vec<T>,
        valleys: Vec<T>,
    ) -> Vec<T> {
        let cfg = &self.cfg;
        let f = &cfg.functionals;
        let p = cfg.stft.params().expect("validated");
        let pct = &f.percentiles;
        let n_mfcc = cfg.mfcc.n_mfcc;
        let n_con = self.contrast.len();
        let col = |data: &[T], dim: usize, k: usize| -> Vec<f64> {
            (0..n_frames).map(|t| data[t * dim + k].as_f64()).collect()
        };
        let mut out: Vec<f64> = Vec::with_capacity(self.functional_names.len());
        for k in 0..n_mfcc {
            out.extend(summarize(&col(mfcc, n_mfcc, k), pct));
        }
        let rms = frame_rms(y, p.n_fft, p.hop_length, p.center, p.pad_mode);
        let zcr = zero_crossing_rate(y, p.n_fft, p.hop_length, p.center);
        for series in [&rms[..], &zcr[..], cent, roll] {
            out.extend(summarize(
                &series.iter().map(|v| v.as_f64()).collect::<Vec<_>>(),
                pct,
            ));
        }
        let contrast = contrast_db(peaks, valleys);
        for k in 0..n_con {
            out.extend(summarize(&col(&contrast, n_con, k), pct));
        }
        let yp = YinParams {
            sr: cfg.audio.sample_rate as f64,
            fmin: f.f0_min,
            fmax: f.f0_max,
            frame_length: f.yin_frame_length,
            hop_length: f.yin_hop_length.unwrap_or(f.yin_frame_length / 4),
            trough_threshold: f.yin_threshold,
        };
        let (f0, voiced) = yin(y, &yp);
        let voiced_f0: Vec<f64> = f0
            .iter()
            .zip(&voiced)
            .filter(|(_, v)| **v)
            .map(|(f, _)| f.as_f64())
            .collect();
        out.extend(summarize(&voiced_f0, pct));
        out.push(voiced_f0.len() as f64 / f0.len().max(1) as f64);
        debug_assert_eq!(out.len(), self.functional_names.len());
        out.into_iter().map(T::lit).collect()
    }
}

/// Anything that turns cleaned clips into features under one [`FeatureConfig`]: the CPU
/// [`Extractor`] here, or a GPU extractor (`ser-kernels`). The cache writer takes one.
pub trait FeatureBackend: Sync {
    /// The CPU extractor of the same config: layout, functional names, audio cleaner.
    fn reference(&self) -> &Extractor;
    /// Features of many cleaned signals, in input order.
    fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures>;
    /// Where features are computed, for messages (e.g. `cpu (2 threads)`).
    fn describe(&self) -> String;
}

impl FeatureBackend for Extractor {
    fn reference(&self) -> &Extractor {
        self
    }

    fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        Extractor::compute_batch(self, clips)
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
}

const MEL_BLOCK: usize = 8;

/// Power spectra of up to [`MEL_BLOCK`] consecutive frames: rows as they come, then
/// transposed to bin-major (`[bin][frame]`) for the projection.
struct MelBlock<T> {
    rows: Vec<T>,
    data: Vec<T>,
    n_bins: usize,
    first: usize,
    len: usize,
}

impl<T: Real> MelBlock<T> {
    fn new(n_bins: usize) -> Self {
        MelBlock {
            rows: vec![T::zero(); n_bins * MEL_BLOCK],
            data: vec![T::zero(); n_bins * MEL_BLOCK],
            n_bins,
            first: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn push(
        &mut self,
        t: usize,
        row: &[T],
        weights: &[(usize, Vec<T>)],
        n_mels: usize,
        out: &mut [T],
    ) {
        if self.len == 0 {
            self.first = t;
        }
        self.rows[self.len * self.n_bins..(self.len + 1) * self.n_bins].copy_from_slice(row);
        self.len += 1;
        if self.len == MEL_BLOCK {
            self.flush(weights, n_mels, out);
        }
    }

    #[inline(always)]
    fn flush(&mut self, weights: &[(usize, Vec<T>)], n_mels: usize, out: &mut [T]) {
        if self.len == 0 {
            return;
        }
        // Contiguous stores, eight sequential read streams.
        let nb = self.n_bins;
        for (k, col) in self.data.chunks_exact_mut(MEL_BLOCK).enumerate() {
            for (f, c) in col.iter_mut().enumerate() {
                *c = self.rows[f * nb + k];
            }
        }
        for (m, (start, w)) in weights.iter().enumerate() {
            let mut acc = [T::zero(); MEL_BLOCK];
            for (j, wk) in w.iter().enumerate() {
                let col = &self.data[(start + j) * MEL_BLOCK..(start + j + 1) * MEL_BLOCK];
                for (a, p) in acc.iter_mut().zip(col) {
                    *a = *a + *wk * *p;
                }
            }
            for (f, a) in acc.iter().enumerate().take(self.len) {
                out[(self.first + f) * n_mels + m] = *a;
            }
        }
        self.len = 0;
    }
}

/// The f32 pipeline compiled for the baseline CPU and again with AVX2 + FMA, picked at run
/// time (the hot loops are written to vectorise; wider vectors make them ~1.5x faster, and
/// shipping a binary that requires AVX2 would crash older CPUs).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn run_f32(ex: &Extractor, y: &[f32]) -> ClipFeatures<f32> {
    ex.run(&ex.plan32, y)
}

fn functional_names(cfg: &FeatureConfig, n_contrast: usize) -> Vec<String> {
    let mut stats = vec!["mean".to_string(), "std".to_string()];
    stats.extend(
        cfg.functionals
            .percentiles
            .iter()
            .map(|p| format!("p{}", p)),
    );
    let mut descriptors: Vec<String> = (1..=cfg.mfcc.n_mfcc).map(|k| format!("mfcc{k}")).collect();
    descriptors.extend(["rms", "zcr", "centroid", "rolloff"].map(String::from));
    descriptors.extend((1..=n_contrast).map(|k| format!("contrast{k}")));
    descriptors.push("f0".into());
    let mut names: Vec<String> = descriptors
        .iter()
        .flat_map(|d| stats.iter().map(move |s| format!("{d}_{s}")))
        .collect();
    names.push("voiced_fraction".into());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg16k() -> FeatureConfig {
        FeatureConfig::from_toml(
            "frames = [\"logmel\", \"mfcc\", \"spectrogram\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n[deltas]\norder = 2\n[functionals]\nenabled = true\n",
        )
        .unwrap()
    }

    fn chirp(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                (0.3 * (2.0 * std::f64::consts::PI * (150.0 * t + 400.0 * t * t)).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn layout_and_shapes() {
        let ex = Extractor::new(cfg16k()).unwrap();
        let names: Vec<&str> = ex.frame_layout().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "logmel",
                "logmel_delta",
                "logmel_delta2",
                "mfcc",
                "mfcc_delta",
                "mfcc_delta2",
                "spectrogram"
            ]
        );
        let f = ex.compute(&chirp(16_000));
        assert_eq!(f.n_frames, 101);
        for ((name, dim), data) in ex.frame_layout().iter().zip(&f.frames) {
            assert_eq!(data.len(), f.n_frames * dim, "{name}");
            assert!(data.iter().all(|v| v.is_finite()), "{name}");
        }
        assert_eq!(f.functionals.len(), ex.functional_names().len());
        assert_eq!(ex.functional_names().len(), (20 + 4 + 7 + 1) * 5 + 1);
        assert!(f.functionals.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn f32_and_f64_paths_agree_and_batch_equals_single() {
        let mut c64 = cfg16k();
        c64.precision = Precision::F64;
        let (e32, e64) = (
            Extractor::new(cfg16k()).unwrap(),
            Extractor::new(c64).unwrap(),
        );
        let y = chirp(20_000);
        let (a, b) = (e32.compute(&y), e64.compute(&y));
        ser_check::assert_all_close(&a.frames[0], &b.frames[0], 0.01, "logmel f32 vs f64 (dB)");
        let batch = e32.compute_batch(&[y.clone(), chirp(3_000)]);
        assert_eq!(batch[0], a);
        assert_eq!(batch[1], e32.compute(&chirp(3_000)));
    }

    #[test]
    fn clips_shorter_than_a_frame_still_give_frames() {
        let ex = Extractor::new(cfg16k()).unwrap();
        let f = ex.compute(&chirp(100));
        assert_eq!(f.n_frames, 1);
        assert!(f.frames.iter().all(|d| d.iter().all(|v| v.is_finite())));
    }

    #[test]
    fn functionals_track_pitch_and_level() {
        let mut cfg = cfg16k();
        cfg.frames = vec![];
        cfg.deltas.order = 0;
        let ex = Extractor::new(cfg).unwrap();
        let idx = |n: &str| ex.functional_names().iter().position(|x| x == n).unwrap();
        let tone = |f0: f64, amp: f64| -> Vec<f32> {
            (0..16_000)
                .map(|i| {
                    let t = i as f64 / 16_000.0;
                    (amp * ((2.0 * std::f64::consts::PI * f0 * t).sin()
                        + 0.3 * (4.0 * std::f64::consts::PI * f0 * t).sin()))
                        as f32
                })
                .collect()
        };
        let low = ex.compute(&tone(120.0, 0.1));
        let high = ex.compute(&tone(240.0, 0.4));
        assert!(
            (low.functionals[idx("f0_p50")] - 120.0).abs() < 2.0,
            "{}",
            low.functionals[idx("f0_p50")]
        );
        assert!((high.functionals[idx("f0_p50")] - 240.0).abs() < 3.0);
        assert!(high.functionals[idx("rms_mean")] > 3.0 * low.functionals[idx("rms_mean")]);
        assert!(high.functionals[idx("centroid_mean")] > low.functionals[idx("centroid_mean")]);
        assert!(low.functionals[idx("voiced_fraction")] > 0.9);
    }
}
