//! [`GpuExtractor`]: a [`FeatureConfig`] run on a burn device, with the same output as the
//! CPU [`Extractor`].
//!
//! Constants (window, FFT twiddles, mel filterbank, DCT matrix, delta coefficients) are
//! uploaded once. Each batch of clips is zero-padded to its longest clip, sent as one
//! `[B, L]` tensor with the clip lengths, and run through the fused spectrum kernel,
//! per-clip `power_to_db` (fused with it as `log_mel` unless the mel power is kept too), a
//! DCT matmul and the delta kernel; frames beyond each clip's end
//! are masked, never computed. Per-utterance functionals (YIN, contrast, ...) stay on the
//! CPU, in parallel, from a functionals-only CPU extractor.

use burn::backend::Dispatch;
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use ser_features::{
    ClipFeatures, Extractor, FeatureBackend, FeatureConfig, FrameFeature, MelFilterbank, Precision,
    dct_matrix,
};

use crate::device::DeviceError;
use crate::host::{delta_coefficients, pad_code};
use crate::ops::FeatureOps;
use crate::plan::{
    DbPlan, DeltaPlan, FFT_RADICES, FftVariant, SpectrumPlan, encode_lengths, window_support,
};

/// A batch whose kernels are queued: frames per clip and the `[B, T, D]` outputs.
struct Launched {
    frames: Vec<usize>,
    outputs: Vec<Tensor<3>>,
}

/// Samples per device batch where the device reports no memory size (flex): about 17
/// minutes of 16 kHz audio, a spectrum of ~110 MB at n_fft 512 / hop 160.
pub const DEFAULT_BATCH_SAMPLES: usize = 1 << 24;

/// Samples per device batch sized from what the device reports: a quarter of its memory
/// for the batch's signal and every array computed from it (twice over, for the
/// intermediates the backend may keep), with no single array over the largest buffer it
/// allows. Clamped to 2^18..2^28 samples (16 s .. 4.7 h at 16 kHz).
fn batch_samples_for(cfg: &FeatureConfig, n_bins: usize, hop: usize, device: &Device) -> usize {
    #[cfg(feature = "cube")]
    let limits = crate::cube::info(device).map(|i| (i.max_memory, i.max_buffer));
    #[cfg(not(feature = "cube"))]
    let limits: Option<(Option<u64>, u64)> = {
        let _ = device;
        None
    };
    let Some((max_memory, max_buffer)) = limits else {
        return DEFAULT_BATCH_SAMPLES;
    };
    let (n_mels, copies) = (cfg.mel.n_mels, 1 + cfg.deltas.order);
    let widths: Vec<usize> = cfg
        .frames
        .iter()
        .map(|f| match f {
            FrameFeature::Spectrogram => n_bins,
            FrameFeature::Mel => n_mels,
            FrameFeature::Logmel => n_mels * copies,
            FrameFeature::Mfcc => cfg.mfcc.n_mfcc * copies,
        })
        .collect();
    // Bytes per input sample: the f32 signal, the mel and log-mel intermediates and every
    // output array, doubled.
    let per_frame = 4.0 * (2 * n_mels + widths.iter().sum::<usize>()) as f64;
    let per_sample = 2.0 * (4.0 + per_frame / hop as f64);
    let budget = max_memory.unwrap_or(4 << 30) as f64 / 4.0;
    let widest =
        4.0 * widths.iter().copied().chain([n_mels]).max().unwrap_or(1) as f64 / hop as f64;
    let by_buffer = (max_buffer as f64 / widest.max(4.0)).floor();
    let samples = (budget / per_sample).min(by_buffer);
    (samples as usize).clamp(1 << 18, 1 << 28)
}

/// Feature extraction on a burn device (wgpu, CUDA, or flex for the CPU fallback).
pub struct GpuExtractor {
    cpu: Extractor,
    functionals: Option<Extractor>,
    device: Device,
    plan: SpectrumPlan,
    window: Tensor<1>,
    twiddles: Tensor<1>,
    mel: Tensor<2>,
    bounds: Tensor<2>,
    dct_t: Tensor<2>,
    delta_coefs: [Tensor<2>; 2],
    batch_samples: usize,
}

impl GpuExtractor {
    /// Plans `cfg` on `device`; configs the kernels do not cover are refused with the reason.
    pub fn new(cfg: FeatureConfig, device: Device) -> Result<Self, DeviceError> {
        let unsupported = |m: String| DeviceError::Unsupported(m);
        if cfg.precision == Precision::F64 {
            return Err(unsupported(
                "precision = \"f64\" (GPU kernels compute in f32)".into(),
            ));
        }
        let cpu = Extractor::new(cfg.clone()).map_err(|e| unsupported(e.to_string()))?;
        let p = cfg.stft.params().map_err(unsupported)?;
        if !p.n_fft.is_power_of_two() || p.n_fft < 4 || p.n_fft > 4096 {
            return Err(unsupported(format!(
                "stft.n_fft = {} (the GPU FFT takes powers of two from 4 to 4096; pad the window, e.g. win_length = 400 in n_fft = 512)",
                p.n_fft
            )));
        }
        let functionals = if cfg.functionals.enabled {
            let mut f = cfg.clone();
            f.frames.clear();
            f.deltas.order = 0;
            Some(Extractor::new(f).map_err(|e| unsupported(e.to_string()))?)
        } else {
            None
        };
        let n_bins = p.n_fft / 2 + 1;
        let sr = cfg.audio.sample_rate as f64;
        let window: Vec<f32> = ser_dsp::window_padded(p.window, p.win_length, p.n_fft)
            .map_err(|e| unsupported(e.to_string()))?;
        let twiddles: Vec<f32> = (0..p.n_fft)
            .flat_map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / p.n_fft as f64;
                [a.cos() as f32, a.sin() as f32]
            })
            .collect();
        let fb = MelFilterbank::new(
            sr,
            p.n_fft,
            cfg.mel.n_mels,
            cfg.mel.fmin,
            cfg.fmax(),
            cfg.mel.htk,
            cfg.mel.norm == "slaney",
        );
        let dense = fb.dense();
        let mut mel = Vec::with_capacity(cfg.mel.n_mels * n_bins);
        let mut bounds = Vec::with_capacity(2 * cfg.mel.n_mels);
        for row in &dense {
            let first = row.iter().position(|w| *w > 0.0).unwrap_or(0);
            let last = row.iter().rposition(|w| *w > 0.0).map_or(first, |l| l + 1);
            bounds.extend([first as f32, (last - first) as f32]);
            mel.extend(row.iter().map(|w| *w as f32));
        }
        let (n_mels, n_mfcc) = (cfg.mel.n_mels, cfg.mfcc.n_mfcc);
        let dct = dct_matrix(n_mfcc, n_mels, cfg.mfcc.lifter);
        let mut dct_t = vec![0.0f32; n_mels * n_mfcc];
        for k in 0..n_mfcc {
            for j in 0..n_mels {
                dct_t[j * n_mfcc + k] = dct[k * n_mels + j] as f32;
            }
        }
        let width = cfg.deltas.width.max(3);
        let rows = (width - 1) / 2;
        let coefs = |order: usize| {
            Tensor::<2>::from_data(
                TensorData::new(delta_coefficients(width, order), vec![rows, width]),
                &device,
            )
        };
        let plan = SpectrumPlan {
            n_fft: p.n_fft,
            hop: p.hop_length,
            center: p.center,
            pad_mode: pad_code(p.pad_mode),
            power: cfg.mel.power as f32,
            n_frames: 0,
            use_mel: true,
            out_dim: n_mels,
            variant: None,
            window_support: window_support(&window),
        };
        let batch_samples = batch_samples_for(&cfg, n_bins, p.hop_length, &device);
        Ok(GpuExtractor {
            window: Tensor::from_data(TensorData::new(window, vec![p.n_fft]), &device),
            twiddles: Tensor::from_data(TensorData::new(twiddles, vec![2 * p.n_fft]), &device),
            mel: Tensor::from_data(TensorData::new(mel, vec![n_mels, n_bins]), &device),
            bounds: Tensor::from_data(TensorData::new(bounds, vec![n_mels, 2]), &device),
            dct_t: Tensor::from_data(TensorData::new(dct_t, vec![n_mels, n_mfcc]), &device),
            delta_coefs: [coefs(1), coefs(2)],
            cpu,
            functionals,
            device,
            batch_samples,
            plan,
        })
    }

    /// Samples per device batch (sized from the device's memory unless set).
    pub fn batch_samples(&self) -> usize {
        self.batch_samples
    }

    /// Caps the samples of one device batch (memory per batch scales with it).
    pub fn with_batch_samples(mut self, samples: usize) -> Self {
        self.batch_samples = samples.max(1);
        self
    }

    /// Pins the device FFT to one [`FftVariant`] instead of letting CubeCL's autotune pick
    /// the fastest per device and shape: for tests and benchmarks, the features are the
    /// same to rounding. The flex fallback ignores it.
    pub fn with_fft_variant(mut self, variant: FftVariant) -> Result<Self, DeviceError> {
        if !FFT_RADICES.contains(&variant.radix) {
            return Err(DeviceError::Unsupported(format!(
                "FFT radix {} (the kernels are built for {FFT_RADICES:?})",
                variant.radix
            )));
        }
        self.plan.variant = Some(variant);
        Ok(self)
    }

    /// The CPU extractor of the same config (layout, cleaner, functional names).
    pub fn cpu(&self) -> &Extractor {
        &self.cpu
    }

    /// The device features are computed on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Features of many cleaned signals, in input order: clips are grouped by length into
    /// device batches of at most the configured number of samples. Two batches are in
    /// flight: the device computes batch k + 1 while the host reads back and slices batch k.
    pub fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        let mut order: Vec<usize> = (0..clips.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(clips[i].len()));
        let mut out: Vec<Option<ClipFeatures>> = vec![None; clips.len()];
        let mut pending: Option<(&[usize], Launched)> = None;
        let mut start = 0;
        while start < order.len() {
            let longest = clips[order[start]].len().max(1);
            let fit = (self.batch_samples / longest).max(1);
            let group = &order[start..(start + fit).min(order.len())];
            let refs: Vec<&[f32]> = group.iter().map(|&i| clips[i].as_slice()).collect();
            let launched = self.launch(&refs);
            if let Some((g, l)) = pending.replace((group, launched)) {
                for (&i, f) in g.iter().zip(Self::finish(l)) {
                    out[i] = Some(f);
                }
            }
            start += group.len();
        }
        if let Some((g, l)) = pending {
            for (&i, f) in g.iter().zip(Self::finish(l)) {
                out[i] = Some(f);
            }
        }
        if let Some(fx) = &self.functionals {
            let funcs = fx.compute_batch(clips);
            for (o, f) in out.iter_mut().zip(funcs) {
                o.as_mut().expect("computed").functionals = f.functionals;
            }
        }
        out.into_iter()
            .map(|o| o.expect("every clip computed"))
            .collect()
    }

    /// Pads one batch (rayon), uploads it and queues its kernels; the device runs them
    /// while the caller goes on.
    fn launch(&self, clips: &[&[f32]]) -> Launched {
        let b = clips.len();
        // An even row width lets the kernel load interior frames' samples as pairs.
        let len = clips
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(0)
            .max(1)
            .next_multiple_of(2);
        let mut signal = vec![0.0f32; b * len];
        signal
            .par_chunks_mut(len)
            .zip(clips.par_iter())
            .for_each(|(row, c)| row[..c.len()].copy_from_slice(c));
        let lengths: Vec<usize> = clips.iter().map(|c| c.len()).collect();
        let signal = Tensor::<2>::from_data(TensorData::new(signal, vec![b, len]), &self.device);
        let frames = self.frame_counts(&lengths);
        let outputs = self.frames_on_device(signal, &lengths);
        Launched { frames, outputs }
    }

    /// Waits for a launched batch and slices it into per-clip features (rayon).
    fn finish(l: Launched) -> Vec<ClipFeatures> {
        let t_max = l.frames.iter().copied().max().unwrap_or(0);
        let host: Vec<(TensorData, usize)> = l
            .outputs
            .into_iter()
            .map(|t| {
                let dim = t.dims()[2];
                (t.into_data().convert::<f32>(), dim)
            })
            .collect();
        let slices: Vec<(&[f32], usize)> = host
            .iter()
            .map(|(d, dim)| (d.as_slice::<f32>().expect("f32 tensor"), *dim))
            .collect();
        l.frames
            .par_iter()
            .enumerate()
            .map(|(i, &n)| ClipFeatures {
                n_frames: n,
                frames: slices
                    .iter()
                    .map(|(data, dim)| data[i * t_max * dim..(i * t_max + n) * dim].to_vec())
                    .collect(),
                functionals: Vec::new(),
            })
            .collect()
    }

    /// The plan of one spectrum launch: `n_frames` per clip, `out_dim` wide (`n_mels` with
    /// `use_mel`, else the bins).
    fn spectrum_plan(&self, n_frames: usize, use_mel: bool, out_dim: usize) -> SpectrumPlan {
        SpectrumPlan {
            n_frames,
            use_mel,
            out_dim,
            ..self.plan.clone()
        }
    }

    /// Frames of each clip, from its length in samples.
    pub fn frame_counts(&self, lengths: &[usize]) -> Vec<usize> {
        lengths.iter().map(|&n| self.plan.frames(n)).collect()
    }

    /// The config's frame-level arrays, in the cache's layout order (see
    /// [`Extractor::frame_layout`]), computed on the device from a device batch: `signal
    /// [B, L]` holds cleaned clips zero-padded to `L`, `lengths` their valid samples. Each
    /// array is `[B, T, D]` with `T` the longest clip's frame count and zeros past each clip's
    /// own count ([`frame_counts`](Self::frame_counts)). Nothing is read back: training can
    /// compute features on the fly, and benchmarks can time the kernels alone.
    pub fn frames_on_device(&self, signal: Tensor<2>, lengths: &[usize]) -> Vec<Tensor<3>> {
        let cfg = self.cpu.config();
        let b = lengths.len();
        let [rows, width] = signal.dims();
        assert_eq!(rows, b, "one length per clip");
        assert!(
            lengths.iter().all(|&n| n <= width),
            "a clip length exceeds the batch's {width} samples per row"
        );
        let frames = self.frame_counts(lengths);
        let t_max = frames.iter().copied().max().unwrap_or(0);
        let dev = &self.device;
        let lengths =
            Tensor::<2>::from_data(TensorData::new(encode_lengths(lengths), vec![b, 2]), dev);
        // (Frame counts stay exact in f32: a batch holds at most 2^28 samples.)
        let frames_t = Tensor::<1>::from_data(
            TensorData::new(frames.iter().map(|&f| f as f32).collect(), vec![b]),
            dev,
        );

        let spectrum = |use_mel: bool, out_dim: usize| -> Tensor<3> {
            let plan = self.spectrum_plan(t_max, use_mel, out_dim);
            Tensor::from_dispatch(Dispatch::spectrum(
                signal.clone().into_dispatch(),
                lengths.clone().into_dispatch(),
                self.window.clone().into_dispatch(),
                self.twiddles.clone().into_dispatch(),
                self.mel.clone().into_dispatch(),
                self.bounds.clone().into_dispatch(),
                plan,
            ))
        };
        let want = |f: FrameFeature| cfg.frames.contains(&f);
        let (n_mels, n_mfcc) = (cfg.mel.n_mels, cfg.mfcc.n_mfcc);
        let db = DbPlan {
            reference: cfg.db.fixed_reference().map(|r| r as f32),
            amin: cfg.db.amin as f32,
            top_db: cfg.db.top_db as f32,
        };
        let mel = want(FrameFeature::Mel).then(|| spectrum(true, n_mels));
        // Where the mel power is not kept, `log_mel` converts it in place as soon as each
        // clip's peak is known: one pass less over the mel spectrum.
        let logmel = (want(FrameFeature::Logmel) || want(FrameFeature::Mfcc)).then(|| {
            let dispatch = match &mel {
                Some(m) => Dispatch::power_to_db(
                    m.clone().into_dispatch(),
                    frames_t.clone().into_dispatch(),
                    db,
                ),
                None => Dispatch::log_mel(
                    signal.clone().into_dispatch(),
                    lengths.clone().into_dispatch(),
                    frames_t.clone().into_dispatch(),
                    self.window.clone().into_dispatch(),
                    self.twiddles.clone().into_dispatch(),
                    self.mel.clone().into_dispatch(),
                    self.bounds.clone().into_dispatch(),
                    self.spectrum_plan(t_max, true, n_mels),
                    db,
                ),
            };
            Tensor::<3>::from_dispatch(dispatch)
        });
        let mfcc = logmel
            .as_ref()
            .filter(|_| want(FrameFeature::Mfcc))
            .map(|l| {
                l.clone()
                    .reshape([b * t_max, n_mels])
                    .matmul(self.dct_t.clone())
                    .reshape([b, t_max, n_mfcc])
            });
        let deltas = |x: &Tensor<3>, order: usize| -> Tensor<3> {
            let plan = DeltaPlan {
                width: cfg.deltas.width,
                order,
            };
            Tensor::from_dispatch(Dispatch::deltas(
                x.clone().into_dispatch(),
                frames_t.clone().into_dispatch(),
                self.delta_coefs[order - 1].clone().into_dispatch(),
                plan,
            ))
        };

        let mut arrays: Vec<Tensor<3>> = Vec::new();
        for feat in &cfg.frames {
            let base = match feat {
                FrameFeature::Spectrogram => spectrum(false, self.plan.n_fft / 2 + 1),
                FrameFeature::Mel => mel.clone().expect("computed"),
                FrameFeature::Logmel => logmel.clone().expect("computed"),
                FrameFeature::Mfcc => mfcc.clone().expect("computed"),
            };
            let order = if matches!(feat, FrameFeature::Logmel | FrameFeature::Mfcc) {
                cfg.deltas.order
            } else {
                0
            };
            let d: Vec<Tensor<3>> = (1..=order).map(|o| deltas(&base, o)).collect();
            arrays.push(base);
            arrays.extend(d);
        }
        arrays
    }
}

impl FeatureBackend for GpuExtractor {
    fn reference(&self) -> &Extractor {
        &self.cpu
    }

    fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        GpuExtractor::compute_batch(self, clips)
    }

    fn describe(&self) -> String {
        crate::device_name(&self.device)
    }
}
