//! Butterworth design in second-order sections (as `scipy.signal.butter(..., output="sos")`)
//! and the `sosfilt` cascade, plus RBJ biquads for loudness weighting.
//!
//! Written here rather than taken from a crate: the DSP crates on crates.io either design
//! only low/high-pass biquads or return transfer-function coefficients, which are unstable
//! for band-pass orders above 4. The design follows SciPy step by step (analog prototype,
//! frequency transform, pre-warped bilinear transform, pairing into sections), so the
//! cascade has the same poles, zeros and gain as SciPy's; only the section order differs,
//! which changes the output by rounding alone.

use realfft::num_complex::Complex;

use crate::{DspError, invalid};

type C = Complex<f64>;

/// Which frequencies a Butterworth filter passes, in Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// Passes below the cutoff.
    Lowpass(f64),
    /// Passes above the cutoff.
    Highpass(f64),
    /// Passes between the two cutoffs.
    Bandpass(f64, f64),
}

/// A cascade of second-order sections `[b0, b1, b2, a0, a1, a2]` (SciPy's `sos` layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Sos {
    /// One row per section, `a0 == 1`.
    pub sections: Vec<[f64; 6]>,
}

/// Designs a digital Butterworth filter of `order` for sample rate `fs`.
pub fn butter(order: usize, band: Band, fs: f64) -> Result<Sos, DspError> {
    if order == 0 || order > 24 {
        return Err(invalid(
            "order",
            format!("{order} must be between 1 and 24"),
        ));
    }
    let nyquist = fs / 2.0;
    let check = |f: f64| {
        if f > 0.0 && f < nyquist {
            Ok(())
        } else {
            Err(invalid(
                "cutoff",
                format!("{f} Hz must lie strictly between 0 and Nyquist ({nyquist} Hz)"),
            ))
        }
    };
    // Analog prototype: poles on the unit circle's left half, no zeros, gain 1 (`buttap`).
    let proto: Vec<C> = (0..order)
        .map(|k| {
            let m = -(order as f64) + 1.0 + 2.0 * k as f64;
            -C::from_polar(1.0, std::f64::consts::PI * m / (2.0 * order as f64))
        })
        .collect();
    // Pre-warp with SciPy's convention: fs = 2 after normalising by Nyquist.
    let warp = |f: f64| 4.0 * (std::f64::consts::PI * (f / nyquist) / 2.0).tan();
    let (zeros, poles, gain) = match band {
        Band::Lowpass(f) => {
            check(f)?;
            let wo = warp(f);
            let poles: Vec<C> = proto.iter().map(|p| p * wo).collect();
            (vec![], poles, wo.powi(order as i32))
        }
        Band::Highpass(f) => {
            check(f)?;
            let wo = warp(f);
            let poles: Vec<C> = proto.iter().map(|p| wo / p).collect();
            let prod: C = proto.iter().map(|p| -p).product();
            (
                vec![C::new(0.0, 0.0); order],
                poles,
                (C::new(1.0, 0.0) / prod).re,
            )
        }
        Band::Bandpass(lo, hi) => {
            check(lo)?;
            check(hi)?;
            if lo >= hi {
                return Err(invalid(
                    "cutoff",
                    format!("band-pass low edge {lo} Hz must be below high edge {hi} Hz"),
                ));
            }
            let (wl, wh) = (warp(lo), warp(hi));
            let bw = wh - wl;
            let wo = (wl * wh).sqrt();
            let mut poles = Vec::with_capacity(2 * order);
            for p in &proto {
                let pl = p * (bw / 2.0);
                let root = (pl * pl - wo * wo).sqrt();
                poles.push(pl + root);
                poles.push(pl - root);
            }
            (vec![C::new(0.0, 0.0); order], poles, bw.powi(order as i32))
        }
    };
    let (zd, pd, kd) = bilinear(&zeros, &poles, gain, 2.0);
    Ok(Sos {
        sections: to_sections(&zd, &pd, kd),
    })
}

/// Bilinear transform of an analog zpk filter (`scipy.signal.bilinear_zpk`).
fn bilinear(z: &[C], p: &[C], k: f64, fs: f64) -> (Vec<C>, Vec<C>, f64) {
    let fs2 = C::new(2.0 * fs, 0.0);
    let mut zd: Vec<C> = z.iter().map(|z| (fs2 + z) / (fs2 - z)).collect();
    let pd: Vec<C> = p.iter().map(|p| (fs2 + p) / (fs2 - p)).collect();
    zd.resize(p.len(), C::new(-1.0, 0.0)); // zeros at infinity map to Nyquist
    let num: C = z.iter().map(|z| fs2 - z).product();
    let den: C = p.iter().map(|p| fs2 - p).product();
    (zd, pd, k * (num / den).re)
}

/// Groups poles (conjugate pairs, then real pairs) and zeros into biquads; the gain goes
/// into the first section.
fn to_sections(z: &[C], p: &[C], k: f64) -> Vec<[f64; 6]> {
    const EPS: f64 = 1e-10;
    let mut pole_polys: Vec<[f64; 3]> = Vec::new();
    let mut real_poles: Vec<f64> = Vec::new();
    for pole in p {
        if pole.im > EPS {
            pole_polys.push([1.0, -2.0 * pole.re, pole.norm_sqr()]);
        } else if pole.im.abs() <= EPS {
            real_poles.push(pole.re);
        }
    }
    for pair in real_poles.chunks(2) {
        pole_polys.push(match pair {
            [a, b] => [1.0, -(a + b), a * b],
            [a] => [1.0, -a, 0.0],
            _ => unreachable!(),
        });
    }
    let mut zeros: Vec<f64> = z.iter().map(|z| z.re).collect();
    zeros.sort_by(f64::total_cmp);
    // Pair one zero at -1 with one at +1 where both exist (band-pass), else neighbours.
    let (mut neg, mut pos): (Vec<f64>, Vec<f64>) = zeros.into_iter().partition(|z| *z < 0.0);
    let mut sections = Vec::with_capacity(pole_polys.len());
    for (i, a) in pole_polys.iter().enumerate() {
        let order = if a[2] == 0.0 { 1 } else { 2 };
        let mut picked = Vec::with_capacity(order);
        while picked.len() < order {
            let take_neg = match (neg.len(), pos.len()) {
                (0, 0) => break,
                (_, 0) => true,
                (0, _) => false,
                (n, m) => picked.len() % 2 == 0 && n >= m || picked.len() % 2 == 1 && n > m,
            };
            picked.push(if take_neg {
                neg.pop().unwrap()
            } else {
                pos.pop().unwrap()
            });
        }
        let b = match picked.as_slice() {
            [] => [1.0, 0.0, 0.0],
            [z0] => [1.0, -z0, 0.0],
            [z0, z1] => [1.0, -(z0 + z1), z0 * z1],
            _ => unreachable!(),
        };
        let g = if i == 0 { k } else { 1.0 };
        sections.push([g * b[0], g * b[1], g * b[2], a[0], a[1], a[2]]);
    }
    sections
}

impl Sos {
    /// Filters `x` in place from rest (`scipy.signal.sosfilt`, direct form II transposed),
    /// accumulating in f64.
    pub fn filter(&self, x: &mut [f32]) {
        for s in &self.sections {
            let [b0, b1, b2, _, a1, a2] = *s;
            let (mut z0, mut z1) = (0.0f64, 0.0f64);
            for v in x.iter_mut() {
                let xi = *v as f64;
                let y = b0 * xi + z0;
                z0 = b1 * xi - a1 * y + z1;
                z1 = b2 * xi - a2 * y;
                *v = y as f32;
            }
        }
    }

    /// Like [`Sos::filter`] on f64 samples (used by reference tests).
    pub fn filter_f64(&self, x: &mut [f64]) {
        for s in &self.sections {
            let [b0, b1, b2, _, a1, a2] = *s;
            let (mut z0, mut z1) = (0.0f64, 0.0f64);
            for v in x.iter_mut() {
                let y = b0 * *v + z0;
                z0 = b1 * *v - a1 * y + z1;
                z1 = b2 * *v - a2 * y;
                *v = y;
            }
        }
    }

    /// Magnitude response at `freq` Hz for sample rate `fs`.
    pub fn gain_at(&self, freq: f64, fs: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / fs;
        let z1 = C::from_polar(1.0, -w);
        let z2 = z1 * z1;
        self.sections
            .iter()
            .map(|s| ((s[0] + z1 * s[1] + z2 * s[2]) / (s[3] + z1 * s[4] + z2 * s[5])).norm())
            .product()
    }
}

/// One RBJ-cookbook biquad, normalised so `a0 == 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    /// `[b0, b1, b2, a0, a1, a2]`.
    pub coefs: [f64; 6],
}

impl Biquad {
    /// High shelf with `gain_db` above `f0` Hz (the first stage of BS.1770 K-weighting).
    pub fn high_shelf(f0: f64, q: f64, gain_db: f64, fs: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
        let alpha = w0.sin() / (2.0 * q);
        let cw = w0.cos();
        let sa = 2.0 * a.sqrt() * alpha;
        let b0 = a * ((a + 1.0) + (a - 1.0) * cw + sa);
        let b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cw);
        let b2 = a * ((a + 1.0) + (a - 1.0) * cw - sa);
        let a0 = (a + 1.0) - (a - 1.0) * cw + sa;
        let a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cw);
        let a2 = (a + 1.0) - (a - 1.0) * cw - sa;
        Biquad {
            coefs: [b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0],
        }
    }

    /// Second-order high-pass at `f0` Hz (the second stage of BS.1770 K-weighting).
    pub fn high_pass(f0: f64, q: f64, fs: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
        let alpha = w0.sin() / (2.0 * q);
        let cw = w0.cos();
        let a0 = 1.0 + alpha;
        let b0 = (1.0 + cw) / 2.0;
        Biquad {
            coefs: [
                b0 / a0,
                -(1.0 + cw) / a0,
                b0 / a0,
                1.0,
                -2.0 * cw / a0,
                (1.0 - alpha) / a0,
            ],
        }
    }

    /// As a one-section cascade.
    pub fn to_sos(self) -> Sos {
        Sos {
            sections: vec![self.coefs],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{a} vs {b}");
    }

    /// Overall transfer function of an SOS cascade equals SciPy's (values from
    /// `scipy.signal.butter(3, [300, 3400], btype="band", output="sos", fs=16000)`).
    #[test]
    fn bandpass_response_matches_scipy_sections() {
        let ours = butter(3, Band::Bandpass(300.0, 3400.0), 16000.0).unwrap();
        let scipy = Sos {
            sections: vec![
                [
                    0.09140219,
                    0.18280439,
                    0.09140219,
                    1.0,
                    -0.36717438,
                    0.40223563,
                ],
                [1.0, 0.0, -1.0, 1.0, -1.0738601, 0.17857734],
                [1.0, -2.0, 1.0, 1.0, -1.88445582, 0.89843291],
            ],
        };
        assert_eq!(ours.sections.len(), 3);
        for f in [50.0, 300.0, 1000.0, 3400.0, 6000.0] {
            assert_close(ours.gain_at(f, 16000.0), scipy.gain_at(f, 16000.0), 1e-6);
        }
        // -3 dB at both edges, unity in the middle.
        assert_close(ours.gain_at(300.0, 16000.0), 0.5f64.sqrt(), 1e-9);
        assert_close(ours.gain_at(3400.0, 16000.0), 0.5f64.sqrt(), 1e-9);
    }

    #[test]
    fn lowpass_odd_order_matches_scipy() {
        let ours = butter(3, Band::Lowpass(1000.0), 16000.0).unwrap();
        let scipy = Sos {
            sections: vec![
                [0.00530041, 0.01060082, 0.00530041, 1.0, -0.66817864, 0.0],
                [1.0, 1.0, 0.0, 1.0, -1.55098998, 0.67877946],
            ],
        };
        for f in [10.0, 500.0, 1000.0, 2000.0, 7000.0] {
            assert_close(ours.gain_at(f, 16000.0), scipy.gain_at(f, 16000.0), 1e-6);
        }
    }

    #[test]
    fn highpass_blocks_dc_and_passes_nyquist() {
        let hp = butter(4, Band::Highpass(100.0), 16000.0).unwrap();
        assert!(hp.gain_at(1.0, 16000.0) < 1e-6);
        assert_close(hp.gain_at(7999.0, 16000.0), 1.0, 1e-6);
        let mut dc = vec![1.0f32; 16000];
        hp.filter(&mut dc);
        assert!(dc[15999].abs() < 1e-4);
    }

    #[test]
    fn invalid_cutoffs_are_rejected_with_the_reason() {
        let err = butter(2, Band::Bandpass(3000.0, 9000.0), 16000.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Nyquist"), "{err}");
        assert!(butter(2, Band::Bandpass(500.0, 300.0), 16000.0).is_err());
        assert!(butter(0, Band::Lowpass(300.0), 16000.0).is_err());
    }
}
