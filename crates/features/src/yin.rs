//! YIN fundamental-frequency estimation as `librosa.yin`: cumulative mean normalised
//! difference from an FFT autocorrelation, first trough below the threshold (else the global
//! minimum), parabolic refinement. Also returns whether a trough below the threshold existed,
//! which the functionals use as the voicing decision.

use realfft::RealFftPlanner;
use ser_dsp::{Real, frame_count, pad_signal};

/// YIN settings (`librosa.yin` arguments).
#[derive(Debug, Clone, Copy)]
pub struct YinParams {
    /// Sample rate in Hz.
    pub sr: f64,
    /// Lowest F0 in Hz.
    pub fmin: f64,
    /// Highest F0 in Hz.
    pub fmax: f64,
    /// Frame length in samples.
    pub frame_length: usize,
    /// Hop in samples (librosa default `frame_length / 4`).
    pub hop_length: usize,
    /// Absolute trough threshold (librosa default 0.1).
    pub trough_threshold: f64,
}

/// Frames whose difference functions are computed side by side: the two running sums of
/// each frame are serial chains of additions, and eight independent frames in lockstep fill
/// an AVX register and hide the adds' latency (the same operations in the same order per
/// frame, so the values are those of one frame at a time, bit for bit).
const LANES: usize = 8;

/// Per-frame F0 in Hz and voicing flags, for `center=True, pad_mode="constant"`.
pub fn yin<T: Real>(y: &[T], p: &YinParams) -> (Vec<T>, Vec<bool>) {
    let fl = p.frame_length;
    let min_period = (p.sr / p.fmax).floor() as usize;
    let max_period = ((p.sr / p.fmin).ceil() as usize).min(fl - 1);
    let padded = pad_signal(y, fl / 2, fl / 2, ser_dsp::PadMode::Constant);
    let n_frames = frame_count(y.len(), fl, p.hop_length, true);
    let mut acf = Autocorrelation::new(acf_size(fl + max_period));
    // Lane-interleaved blocks: `x[(tau - 1) * LANES + l]` is sample tau - 1 of frame l,
    // `r[tau * LANES + l]` its autocorrelation at lag tau, `cmnd[(tau - min_period) *
    // LANES + l]` its normalised difference.
    let mut x = vec![T::zero(); max_period * LANES];
    let mut r = vec![T::zero(); (max_period + 1) * LANES];
    let mut cmnd = vec![T::zero(); (max_period - min_period + 1) * LANES];
    let (mut f0, mut voiced) = (Vec::with_capacity(n_frames), Vec::with_capacity(n_frames));
    for block in (0..n_frames).step_by(LANES) {
        let lanes = LANES.min(n_frames - block);
        for l in 0..lanes {
            let start = (block + l) * p.hop_length;
            let frame = &padded[start..start + fl];
            for (tau, v) in acf.of(frame)[..=max_period].iter().enumerate() {
                r[tau * LANES + l] = *v;
            }
            for (tau, v) in frame[..max_period].iter().enumerate() {
                x[tau * LANES + l] = *v;
            }
        }
        normalized_differences(&x, &r, acf.scale, min_period, &mut cmnd);
        for l in 0..lanes {
            let (period, is_voiced) = best_period(&cmnd, l, min_period, T::lit(p.trough_threshold));
            f0.push(T::lit(p.sr) / period);
            voiced.push(is_voiced);
        }
    }
    (f0, voiced)
}

/// Autocorrelations of zero-padded frames through one real FFT size, buffers reused.
struct Autocorrelation<T: Real> {
    fwd: std::sync::Arc<dyn realfft::RealToComplex<T>>,
    inv: std::sync::Arc<dyn realfft::ComplexToReal<T>>,
    buf: Vec<T>,
    spec: Vec<realfft::num_complex::Complex<T>>,
    out: Vec<T>,
    fwd_scratch: Vec<realfft::num_complex::Complex<T>>,
    inv_scratch: Vec<realfft::num_complex::Complex<T>>,
    /// `1 / n_fft`: the inverse transform is unnormalised.
    scale: T,
}

impl<T: Real> Autocorrelation<T> {
    fn new(n_fft: usize) -> Self {
        let mut planner = RealFftPlanner::<T>::new();
        let (fwd, inv) = (
            planner.plan_fft_forward(n_fft),
            planner.plan_fft_inverse(n_fft),
        );
        Self {
            buf: fwd.make_input_vec(),
            spec: fwd.make_output_vec(),
            out: inv.make_output_vec(),
            fwd_scratch: fwd.make_scratch_vec(),
            inv_scratch: inv.make_scratch_vec(),
            scale: T::one() / T::lit(n_fft as f64),
            fwd,
            inv,
        }
    }

    /// The unnormalised autocorrelation of `frame` (times `n_fft`).
    fn of(&mut self, frame: &[T]) -> &[T] {
        self.buf.iter_mut().for_each(|v| *v = T::zero());
        self.buf[..frame.len()].copy_from_slice(frame);
        (self.fwd)
            .process_with_scratch(&mut self.buf, &mut self.spec, &mut self.fwd_scratch)
            .expect("planned sizes");
        for c in self.spec.iter_mut() {
            *c = realfft::num_complex::Complex::new(c.norm_sqr(), T::zero());
        }
        (self.inv)
            .process_with_scratch(&mut self.spec, &mut self.out, &mut self.inv_scratch)
            .expect("planned sizes");
        &self.out
    }
}

/// The cumulative mean normalised difference of `LANES` frames at once (layouts as in
/// [`yin`]): `d[tau] = 2 (r[0] - r[tau]) / n_fft - cumsum(x^2)[tau - 1]` (librosa's
/// formulation), then `d[tau]` over the mean of `d[1..=tau]`.
fn normalized_differences<T: Real>(x: &[T], r: &[T], scale: T, min_period: usize, cmnd: &mut [T]) {
    let max_period = x.len() / LANES;
    let (mut cum, mut running) = ([T::zero(); LANES], [T::zero(); LANES]);
    let r0: [T; LANES] = std::array::from_fn(|l| r[l]);
    let tiny = T::min_positive_value();
    for tau in 1..=max_period {
        let xs = &x[(tau - 1) * LANES..tau * LANES];
        let rs = &r[tau * LANES..(tau + 1) * LANES];
        let mut d = [T::zero(); LANES];
        for l in 0..LANES {
            cum[l] = cum[l] + xs[l] * xs[l];
            d[l] = T::lit(2.0) * (r0[l] - rs[l]) * scale - cum[l];
            running[l] = running[l] + d[l];
        }
        if tau >= min_period {
            let out = &mut cmnd[(tau - min_period) * LANES..(tau - min_period + 1) * LANES];
            let n = T::lit(tau as f64);
            for l in 0..LANES {
                out[l] = d[l] / (running[l] / n + tiny);
            }
        }
    }
}

/// Lane `l`'s period in samples (first trough below `thr`, else the global minimum, refined
/// by a parabola through its neighbours) and whether a trough below `thr` existed.
fn best_period<T: Real>(cmnd: &[T], l: usize, min_period: usize, thr: T) -> (T, bool) {
    let n = cmnd.len() / LANES;
    let c = |i: usize| cmnd[i * LANES + l];
    let is_trough = |i: usize| -> bool {
        if i == 0 {
            n > 1 && c(0) < c(1)
        } else if i == n - 1 {
            c(i) < c(i - 1)
        } else {
            c(i) < c(i - 1) && c(i) <= c(i + 1)
        }
    };
    let first = (0..n).find(|&i| c(i) < thr && is_trough(i));
    let idx =
        first.unwrap_or_else(|| (0..n).fold(0, |best, i| if c(i) < c(best) { i } else { best }));
    let shift = if idx == 0 || idx == n - 1 {
        T::zero()
    } else {
        let a = c(idx + 1) + c(idx - 1) - T::lit(2.0) * c(idx);
        let b = (c(idx + 1) - c(idx - 1)) / T::lit(2.0);
        if b.abs() >= a.abs() {
            T::zero()
        } else {
            -b / a
        }
    };
    (T::lit((min_period + idx) as f64) + shift, first.is_some())
}

/// FFT length for autocorrelations up to lag `need - frame_length`: at least `need` (so no
/// lag that is read wraps around), the smallest `2^a 3^b` (a >= 1) that is. Measured with
/// realfft (forward + inverse, f32, this machine): 2.5 us at 1296 against 3.9 us at 2048,
/// the power of two librosa's `2 * frame_length - 1` rounds up to for the default
/// 1024-sample frame; the values agree to rounding.
fn acf_size(need: usize) -> usize {
    let mut best = need.next_power_of_two().max(2);
    let mut p3 = 1;
    while p3 < best {
        let mut n = 2 * p3;
        while n < need {
            n *= 2;
        }
        best = best.min(n);
        p3 *= 3;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acf_size_is_the_smallest_even_3_smooth_length_that_holds_the_lags() {
        assert_eq!(acf_size(1024 + 267), 1296);
        assert_eq!(acf_size(2048 + 368), 2592);
        assert_eq!(acf_size(1024), 1024);
        assert_eq!(acf_size(1025), 1152);
        assert_eq!(acf_size(3), 4);
    }

    #[test]
    fn finds_the_pitch_of_a_harmonic_tone() {
        let sr = 16_000.0;
        let y: Vec<f64> = (0..16_000)
            .map(|i| {
                let t = i as f64 / sr;
                (2.0 * std::f64::consts::PI * 180.0 * t).sin()
                    + 0.5 * (2.0 * std::f64::consts::PI * 360.0 * t).sin()
            })
            .collect();
        let p = YinParams {
            sr,
            fmin: 60.0,
            fmax: 500.0,
            frame_length: 1024,
            hop_length: 256,
            trough_threshold: 0.1,
        };
        let (f0, voiced) = yin(&y, &p);
        for t in 5..f0.len() - 5 {
            assert!((f0[t] - 180.0).abs() < 1.0, "frame {t}: {}", f0[t]);
            assert!(voiced[t]);
        }
    }
}
