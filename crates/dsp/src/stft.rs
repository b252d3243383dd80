//! Short-time Fourier transform and its inverse, laid out as librosa's `stft` / `istft`.
//!
//! Frames are centred by padding `n_fft // 2` samples on each side (when `center`), the
//! window of `win_length` samples is zero-padded to `n_fft`, and each frame's one-sided
//! spectrum has `n_fft / 2 + 1` bins. Spectrograms are returned frame-major (`[frame][bin]`),
//! the layout the feature cache stores.

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::frame::{PadMode, frame_count, source_index};
use crate::window::{Window, window_padded};
use crate::{Complex, DspError, Real, invalid};

/// STFT parameters, named and defaulted as in `librosa.stft`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StftParams {
    /// FFT length in samples (librosa default 2048).
    pub n_fft: usize,
    /// Window length in samples, `<= n_fft` (librosa default: `n_fft`).
    pub win_length: usize,
    /// Samples between frame starts (librosa default: `win_length / 4`).
    pub hop_length: usize,
    /// Window shape (librosa default: periodic Hann).
    pub window: Window,
    /// Centre frames on `t * hop_length` by padding the signal (librosa default: true).
    pub center: bool,
    /// Padding used when `center` (librosa >= 0.10 default: zeros).
    pub pad_mode: PadMode,
}

impl StftParams {
    /// librosa's defaults for a given `n_fft`.
    pub fn librosa(n_fft: usize) -> Self {
        StftParams {
            n_fft,
            win_length: n_fft,
            hop_length: n_fft / 4,
            window: Window::Hann,
            center: true,
            pad_mode: PadMode::Constant,
        }
    }

    /// Checks every field, naming the offending one.
    pub fn validate(&self) -> Result<(), DspError> {
        if self.n_fft < 2 {
            return Err(invalid(
                "n_fft",
                format!("{} must be at least 2", self.n_fft),
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return Err(invalid(
                "win_length",
                format!(
                    "{} must be between 1 and n_fft ({})",
                    self.win_length, self.n_fft
                ),
            ));
        }
        if self.hop_length == 0 {
            return Err(invalid("hop_length", "must be at least 1"));
        }
        Ok(())
    }
}

/// A planned forward STFT: the FFT plan and padded window are built once and shared by
/// every clip (and thread) that uses the same parameters.
#[derive(Clone)]
pub struct Stft<T: Real> {
    params: StftParams,
    window: Vec<T>,
    fft: Arc<dyn RealToComplex<T>>,
    power: Option<PowerPlan<T>>,
}

/// Power spectrum of a real frame through a half-length complex FFT (even `n_fft`).
///
/// Written here rather than through `realfft`: its post-processing step is scalar and took
/// twice as long as the FFT itself in the log-mel benchmark. This one computes only `|X|^2`
/// from split real/imaginary arrays, in a loop the compiler vectorises.
#[derive(Clone)]
struct PowerPlan<T: Real> {
    fft: Arc<dyn rustfft::Fft<T>>,
    tw_re: Vec<T>,
    tw_im: Vec<T>,
}

/// Per-thread work buffers for [`Stft::for_each_frame`] and [`Stft::for_each_power`],
/// reused across frames and clips.
pub struct StftScratch<T: Real> {
    input: Vec<T>,
    output: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    packed: Vec<Complex<T>>,
    split: Vec<T>,
    power: Vec<T>,
    edge: Vec<T>,
}

impl<T: Real> Stft<T> {
    /// Plans the transform; fails with a parameter-naming error on invalid settings.
    pub fn new(params: StftParams) -> Result<Self, DspError> {
        params.validate()?;
        let window = window_padded(params.window, params.win_length, params.n_fft)?;
        let fft = RealFftPlanner::<T>::new().plan_fft_forward(params.n_fft);
        let power = params.n_fft.is_multiple_of(2).then(|| {
            let m = params.n_fft / 2;
            let ang = |k: usize| -2.0 * std::f64::consts::PI * k as f64 / params.n_fft as f64;
            PowerPlan {
                fft: rustfft::FftPlanner::<T>::new().plan_fft_forward(m),
                tw_re: (0..m).map(|k| T::lit(ang(k).cos())).collect(),
                tw_im: (0..m).map(|k| T::lit(ang(k).sin())).collect(),
            }
        });
        Ok(Stft {
            params,
            window,
            fft,
            power,
        })
    }

    /// The parameters this transform was planned for.
    pub fn params(&self) -> &StftParams {
        &self.params
    }

    /// Number of one-sided frequency bins (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.params.n_fft / 2 + 1
    }

    /// Number of frames for a signal of `len` samples.
    pub fn n_frames(&self, len: usize) -> usize {
        frame_count(
            len,
            self.params.n_fft,
            self.params.hop_length,
            self.params.center,
        )
    }

    /// Samples of frame `t`: a slice of `y` when the frame lies inside it, else assembled
    /// in `edge` with the padding mode (only the first and last frames of a centred STFT),
    /// so no padded copy of the whole signal is made.
    #[inline(always)]
    fn frame<'a>(&self, y: &'a [T], t: usize, edge: &'a mut [T]) -> &'a [T] {
        let p = &self.params;
        let offset = if p.center { p.n_fft / 2 } else { 0 };
        let start = (t * p.hop_length) as isize - offset as isize;
        if start >= 0 && start as usize + p.n_fft <= y.len() {
            return &y[start as usize..start as usize + p.n_fft];
        }
        for (i, v) in edge.iter_mut().enumerate() {
            *v = source_index(start + i as isize, y.len(), p.pad_mode).map_or(T::zero(), |j| y[j]);
        }
        edge
    }

    /// Fresh work buffers sized for this transform.
    pub fn scratch(&self) -> StftScratch<T> {
        let half = self.params.n_fft / 2;
        let inplace = self
            .power
            .as_ref()
            .map_or(0, |p| p.fft.get_inplace_scratch_len());
        let mut scratch = self.fft.make_scratch_vec();
        scratch.resize(
            scratch.len().max(inplace),
            Complex::new(T::zero(), T::zero()),
        );
        StftScratch {
            input: self.fft.make_input_vec(),
            output: self.fft.make_output_vec(),
            scratch,
            packed: vec![Complex::new(T::zero(), T::zero()); half],
            split: vec![T::zero(); 2 * (half + 1)],
            power: vec![T::zero(); half + 1],
            edge: vec![T::zero(); self.params.n_fft],
        }
    }

    /// Calls `f(frame_index, power)` with `|X[k]|^2` for every frame of `y`, in order:
    /// the same numbers as squaring [`Stft::for_each_frame`]'s spectrum, faster.
    #[inline(always)]
    pub fn for_each_power(
        &self,
        y: &[T],
        scratch: &mut StftScratch<T>,
        mut f: impl FnMut(usize, &[T]),
    ) {
        let Some(plan) = &self.power else {
            let mut power = std::mem::take(&mut scratch.power);
            power.resize(self.n_bins(), T::zero());
            self.for_each_frame(y, scratch, |t, spec| {
                for (p, c) in power.iter_mut().zip(spec) {
                    *p = c.re * c.re + c.im * c.im;
                }
                f(t, &power);
            });
            scratch.power = power;
            return;
        };
        let p = &self.params;
        let n_frames = self.n_frames(y.len());
        if n_frames == 0 {
            return;
        }
        let m = p.n_fft / 2;
        let half = T::lit(0.5);
        for t in 0..n_frames {
            let frame = self.frame(y, t, &mut scratch.edge);
            // Pack even/odd samples as one complex sequence of half the length.
            let w = &self.window[..p.n_fft];
            for ((z, x), w) in scratch
                .packed
                .iter_mut()
                .zip(frame.chunks_exact(2))
                .zip(w.chunks_exact(2))
            {
                *z = Complex::new(x[0] * w[0], x[1] * w[1]);
            }
            plan.fft.process_with_scratch(
                &mut scratch.packed,
                &mut scratch.scratch[..plan.fft.get_inplace_scratch_len()],
            );
            let (zr, zi) = scratch.split.split_at_mut(m + 1);
            for ((r, i), z) in zr.iter_mut().zip(zi.iter_mut()).zip(&scratch.packed) {
                *r = z.re;
                *i = z.im;
            }
            let out = &mut scratch.power;
            let dc = zr[0] + zi[0];
            let nyq = zr[0] - zi[0];
            out[0] = dc * dc;
            out[m] = nyq * nyq;
            // k = 1..m, paired with m - k (a reversed walk over the same range).
            let (fr, fi) = (&zr[1..m], &zi[1..m]);
            let body = out[1..m]
                .iter_mut()
                .zip(fr.iter().zip(fi))
                .zip(fr.iter().rev().zip(fi.iter().rev()));
            for (((o, (ar, ai)), (br, bi)), (wr, wi)) in
                body.zip(plan.tw_re[1..m].iter().zip(&plan.tw_im[1..m]))
            {
                let (ar, ai, br, bi) = (*ar, *ai, *br, -*bi);
                let (er, ei) = (half * (ar + br), half * (ai + bi));
                let (or, oi) = (half * (ai - bi), half * (br - ar));
                let xr = er + *wr * or - *wi * oi;
                let xi = ei + *wr * oi + *wi * or;
                *o = xr * xr + xi * xi;
            }
            f(t, out);
        }
    }

    /// Calls `f(frame_index, spectrum)` for every frame of `y`, in order.
    pub fn for_each_frame(
        &self,
        y: &[T],
        scratch: &mut StftScratch<T>,
        mut f: impl FnMut(usize, &[Complex<T>]),
    ) {
        for t in 0..self.n_frames(y.len()) {
            let frame = self.frame(y, t, &mut scratch.edge);
            for ((dst, &s), &w) in scratch.input.iter_mut().zip(frame).zip(&self.window) {
                *dst = s * w;
            }
            self.fft
                .process_with_scratch(
                    &mut scratch.input,
                    &mut scratch.output,
                    &mut scratch.scratch,
                )
                .expect("buffer sizes come from the plan");
            f(t, &scratch.output);
        }
    }

    /// `|STFT|^power` as a frame-major matrix: returns (data, n_frames), data has
    /// `n_frames * n_bins` values. `power` 2.0 is the power spectrogram, 1.0 the magnitude.
    pub fn spectrogram(&self, y: &[T], power: f64) -> (Vec<T>, usize) {
        let n_bins = self.n_bins();
        let n_frames = self.n_frames(y.len());
        let mut out = vec![T::zero(); n_frames * n_bins];
        let mut scratch = self.scratch();
        let p = T::lit(power);
        self.for_each_frame(y, &mut scratch, |t, spec| {
            let row = &mut out[t * n_bins..(t + 1) * n_bins];
            for (dst, c) in row.iter_mut().zip(spec) {
                let pw = c.re * c.re + c.im * c.im;
                *dst = if power == 2.0 {
                    pw
                } else if power == 1.0 {
                    pw.sqrt()
                } else {
                    pw.sqrt().powf(p)
                };
            }
        });
        (out, n_frames)
    }

    /// The complex STFT as a frame-major matrix of `n_frames * n_bins` values.
    pub fn complex(&self, y: &[T]) -> (Vec<Complex<T>>, usize) {
        let n_bins = self.n_bins();
        let n_frames = self.n_frames(y.len());
        let mut out = Vec::with_capacity(n_frames * n_bins);
        let mut scratch = self.scratch();
        self.for_each_frame(y, &mut scratch, |_, spec| out.extend_from_slice(spec));
        (out, n_frames)
    }
}

/// Inverse STFT by weighted overlap-add, normalised by the summed squared window as in
/// `librosa.istft`, so that `istft(stft(y)) == y` for windows satisfying the NOLA condition.
pub struct Istft<T: Real> {
    params: StftParams,
    window: Vec<T>,
    ifft: Arc<dyn ComplexToReal<T>>,
}

impl<T: Real> Istft<T> {
    /// Plans the inverse transform for the same parameters as the forward one.
    pub fn new(params: StftParams) -> Result<Self, DspError> {
        params.validate()?;
        let window = window_padded(params.window, params.win_length, params.n_fft)?;
        let ifft = RealFftPlanner::<T>::new().plan_fft_inverse(params.n_fft);
        Ok(Istft {
            params,
            window,
            ifft,
        })
    }

    /// Reconstructs a signal of `length` samples from a frame-major complex spectrogram.
    pub fn process(&self, spec: &[Complex<T>], n_frames: usize, length: usize) -> Vec<T> {
        let p = &self.params;
        let n_bins = p.n_fft / 2 + 1;
        assert_eq!(
            spec.len(),
            n_frames * n_bins,
            "spectrogram size does not match n_frames"
        );
        let total = p.n_fft + p.hop_length * n_frames.saturating_sub(1);
        let mut y = vec![T::zero(); total];
        let mut wss = vec![T::zero(); total];
        let mut buf = self.ifft.make_input_vec();
        let mut frame = self.ifft.make_output_vec();
        let mut scratch = self.ifft.make_scratch_vec();
        let scale = T::one() / T::lit(p.n_fft as f64);
        for t in 0..n_frames {
            buf.copy_from_slice(&spec[t * n_bins..(t + 1) * n_bins]);
            // A real signal's DC and Nyquist bins are real; drop rounding residue.
            buf[0].im = T::zero();
            if p.n_fft.is_multiple_of(2) {
                buf[n_bins - 1].im = T::zero();
            }
            self.ifft
                .process_with_scratch(&mut buf, &mut frame, &mut scratch)
                .expect("buffer sizes come from the plan");
            let start = t * p.hop_length;
            for (i, (&v, &w)) in frame.iter().zip(&self.window).enumerate() {
                y[start + i] = y[start + i] + v * scale * w;
                wss[start + i] = wss[start + i] + w * w;
            }
        }
        let tiny = T::min_positive_value();
        for (v, &w) in y.iter_mut().zip(&wss) {
            if w > tiny {
                *v = *v / w;
            }
        }
        let offset = if p.center { p.n_fft / 2 } else { 0 };
        let mut out: Vec<T> = y.into_iter().skip(offset).take(length).collect();
        out.resize(length, T::zero());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n_fft: usize, win: usize, hop: usize) -> StftParams {
        StftParams {
            win_length: win,
            hop_length: hop,
            ..StftParams::librosa(n_fft)
        }
    }

    #[test]
    fn dft_of_a_tone_peaks_at_its_bin() {
        let n_fft = 256;
        let stft = Stft::<f64>::new(params(n_fft, n_fft, 64)).unwrap();
        let k0 = 20.0;
        let y: Vec<f64> = (0..2048)
            .map(|n| (2.0 * std::f64::consts::PI * k0 * n as f64 / n_fft as f64).sin())
            .collect();
        let (s, frames) = stft.spectrogram(&y, 2.0);
        assert_eq!(frames, 1 + 2048 / 64);
        let row = &s[10 * stft.n_bins()..11 * stft.n_bins()];
        let argmax = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(argmax, 20);
    }

    #[test]
    fn matches_a_naive_dft() {
        let p = StftParams {
            center: false,
            ..params(16, 12, 5)
        };
        let stft = Stft::<f64>::new(p).unwrap();
        let y: Vec<f64> = (0..40).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let (spec, frames) = stft.complex(&y);
        let w = window_padded::<f64>(Window::Hann, 12, 16).unwrap();
        for t in 0..frames {
            for k in 0..9 {
                let mut acc = Complex::new(0.0, 0.0);
                for n in 0..16 {
                    let ang = -2.0 * std::f64::consts::PI * (k * n) as f64 / 16.0;
                    acc += Complex::new(ang.cos(), ang.sin()) * y[t * 5 + n] * w[n];
                }
                let got = spec[t * 9 + k];
                assert!((got - acc).norm() < 1e-9, "t={t} k={k} {got} vs {acc}");
            }
        }
    }

    #[test]
    fn power_path_equals_the_squared_complex_spectrum() {
        for (n_fft, win, hop) in [
            (512, 400, 160),
            (256, 256, 64),
            (2048, 2048, 512),
            (400, 400, 100),
            (255, 200, 50),
        ] {
            let p = params(n_fft, win, hop);
            let y: Vec<f64> = (0..7000)
                .map(|i| ((i as f64) * 0.0137).sin() + 0.3 * ((i * 31 % 17) as f64 / 17.0))
                .collect();
            let stft = Stft::<f64>::new(p).unwrap();
            let (spec, frames) = stft.complex(&y);
            let bins = stft.n_bins();
            let mut scratch = stft.scratch();
            let mut seen = 0;
            stft.for_each_power(&y, &mut scratch, |t, pw| {
                assert_eq!(pw.len(), bins);
                for k in 0..bins {
                    let c = spec[t * bins + k];
                    let want = c.re * c.re + c.im * c.im;
                    assert!(
                        (pw[k] - want).abs() <= 1e-9 * (1.0 + want),
                        "n_fft {n_fft} t {t} k {k}: {} vs {want}",
                        pw[k]
                    );
                }
                seen += 1;
            });
            assert_eq!(seen, frames);
        }
    }

    #[test]
    fn istft_inverts_stft() {
        for (n_fft, win, hop) in [(512, 400, 160), (256, 256, 64), (400, 400, 100)] {
            let p = params(n_fft, win, hop);
            let y: Vec<f64> = (0..5000)
                .map(|i| ((i as f64) * 0.013).sin() * 0.5)
                .collect();
            let (spec, frames) = Stft::<f64>::new(p).unwrap().complex(&y);
            let back = Istft::<f64>::new(p)
                .unwrap()
                .process(&spec, frames, y.len());
            ser_check::assert_all_close(&back, &y, 1e-9, format!("n_fft={n_fft}: round trip"));
        }
    }

    #[test]
    fn invalid_parameters_name_the_field() {
        let err = Stft::<f32>::new(params(512, 600, 160)).err().unwrap();
        assert!(err.to_string().contains("win_length"));
        let err = Stft::<f32>::new(params(512, 512, 0)).err().unwrap();
        assert!(err.to_string().contains("hop_length"));
    }
}
