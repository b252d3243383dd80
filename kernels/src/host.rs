//! Host implementations of the feature operations, on the layouts the kernels use. They back
//! the default trait bodies (the flex backend) and are built from the CPU reference pieces
//! (`ser-dsp` padding, realfft, `ser-features` dB and deltas), so the fallback computes the
//! same numbers as `ser extract --device cpu`.

use rayon::prelude::*;
use realfft::RealFftPlanner;
use ser_dsp::{PadMode, pad_signal};

use crate::plan::{DbPlan, DeltaPlan, SpectrumPlan};

/// Pad-mode code used by kernels and plans.
pub fn pad_code(mode: PadMode) -> u32 {
    match mode {
        PadMode::Constant => 0,
        PadMode::Reflect => 1,
        PadMode::Edge => 2,
    }
}

fn pad_mode(code: u32) -> PadMode {
    match code {
        1 => PadMode::Reflect,
        2 => PadMode::Edge,
        _ => PadMode::Constant,
    }
}

/// The host copies of [`spectrum`]'s inputs.
pub struct SpectrumArgs<'a> {
    /// Zero-padded clips, `[batch, len]`.
    pub signal: &'a [f32],
    /// Clips.
    pub batch: usize,
    /// Samples per padded row.
    pub len: usize,
    /// Valid samples of each clip.
    pub lengths: &'a [usize],
    /// The `n_fft` window.
    pub window: &'a [f32],
    /// Dense `[n_mels, n_bins]` mel weights.
    pub mel: &'a [f32],
    /// Each band's first bin and length, `[n_mels, 2]`.
    pub bounds: &'a [f32],
}

/// `[B, L]` signals → `[B, T, out_dim]` spectra or mel spectra (see `FeatureOps::spectrum`).
pub fn spectrum(args: SpectrumArgs, plan: &SpectrumPlan) -> Vec<f32> {
    let SpectrumArgs {
        signal,
        batch,
        len,
        lengths,
        window,
        mel,
        bounds,
    } = args;
    let (n_fft, t_max, d) = (plan.n_fft, plan.n_frames, plan.out_dim);
    let n_bins = n_fft / 2 + 1;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let frames: Vec<usize> = lengths.iter().map(|&l| plan.frames(l)).collect();
    let mut out = vec![0.0f32; batch * t_max * d];
    out.par_chunks_mut(t_max * d.max(1))
        .enumerate()
        .for_each(|(b, clip_out)| {
            let y = &signal[b * len..b * len + lengths[b].min(len)];
            let padded;
            let source: &[f32] = if plan.center {
                padded = pad_signal(y, n_fft / 2, n_fft / 2, pad_mode(plan.pad_mode));
                &padded
            } else {
                y
            };
            let mut input = fft.make_input_vec();
            let mut spec = fft.make_output_vec();
            let mut power = vec![0.0f32; n_bins];
            for t in 0..frames[b].min(t_max) {
                for ((dst, s), w) in input
                    .iter_mut()
                    .zip(&source[t * plan.hop..t * plan.hop + n_fft])
                    .zip(window)
                {
                    *dst = s * w;
                }
                fft.process(&mut input, &mut spec).expect("planned sizes");
                for (p, c) in power.iter_mut().zip(&spec) {
                    let p2 = c.re * c.re + c.im * c.im;
                    *p = if plan.power == 2.0 {
                        p2
                    } else if plan.power == 1.0 {
                        p2.sqrt()
                    } else {
                        p2.sqrt().powf(plan.power)
                    };
                }
                let row = &mut clip_out[t * d..(t + 1) * d];
                if plan.use_mel {
                    for (m, o) in row.iter_mut().enumerate() {
                        let (start, n) = (bounds[2 * m] as usize, bounds[2 * m + 1] as usize);
                        let w = &mel[m * n_bins + start..m * n_bins + start + n];
                        *o = w
                            .iter()
                            .zip(&power[start..start + n])
                            .map(|(a, b)| a * b)
                            .sum();
                    }
                } else {
                    row.copy_from_slice(&power);
                }
            }
        });
    out
}

/// Applies `f` to each clip's valid frames of `[B, T, D]` (`frames[b]` of them, written to
/// the start of the clip's output block); padded frames stay zero.
fn per_clip(
    x: &[f32],
    shape: [usize; 3],
    frames: &[f32],
    f: impl Fn(&mut [f32], &[f32], usize) + Sync,
) -> Vec<f32> {
    let [_, t_max, d] = shape;
    let block = (t_max * d).max(1);
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(block)
        .zip(x.par_chunks(block))
        .enumerate()
        .for_each(|(b, (o, src))| {
            let n = (frames[b] as usize).min(t_max) * d;
            f(&mut o[..n], &src[..n], d);
        });
    out
}

/// Per-clip `power_to_db` of `[B, T, D]` (see `FeatureOps::power_to_db`).
pub fn power_to_db(x: &[f32], shape: [usize; 3], frames: &[f32], plan: &DbPlan) -> Vec<f32> {
    per_clip(x, shape, frames, |o, src, _| {
        o.copy_from_slice(src);
        ser_features::power_to_db(
            o,
            plan.reference.map(f64::from),
            plan.amin as f64,
            plan.top_db as f64,
        );
    })
}

/// Per-clip deltas of `[B, T, D]` (see `FeatureOps::deltas`).
pub fn deltas(x: &[f32], shape: [usize; 3], frames: &[f32], plan: &DeltaPlan) -> Vec<f32> {
    per_clip(x, shape, frames, |o, src, d| {
        o.copy_from_slice(&ser_features::delta(src, d, plan.width, plan.order))
    })
}

/// The delta kernel's coefficient table: one row per odd window 3, 5, .., `width` (the
/// kernel picks the largest that fits a short clip), each the Savitzky-Golay `order`-th
/// derivative filter of that window (zeros where `order` >= the window), zero-padded to
/// `width` columns: `[(width - 1) / 2, width]`, row-major.
pub fn delta_coefficients(width: usize, order: usize) -> Vec<f32> {
    let rows = (width.saturating_sub(1)) / 2;
    let mut out = vec![0.0f32; rows * width];
    for (r, row) in out.chunks_mut(width.max(1)).enumerate() {
        let w = 3 + 2 * r;
        if order < w {
            for (o, c) in row
                .iter_mut()
                .zip(ser_features::savgol_coefficients(w, order))
            {
                *o = c as f32;
            }
        }
    }
    out
}
