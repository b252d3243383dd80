//! Mel filterbank as `librosa.filters.mel` (Slaney or HTK scale, Slaney area norm or none),
//! kept sparse: each band stores only its non-zero run of FFT bins.

use ser_dsp::Real;

/// Hz to mel (`librosa.hz_to_mel`).
pub fn hz_to_mel(f: f64, htk: bool) -> f64 {
    if htk {
        return 2595.0 * (1.0 + f / 700.0).log10();
    }
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

/// Mel to Hz (`librosa.mel_to_hz`).
pub fn mel_to_hz(m: f64, htk: bool) -> f64 {
    if htk {
        return 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    }
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// A mel filterbank: `n_mels` triangular filters over `n_fft / 2 + 1` FFT bins.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    n_bins: usize,
    /// Per band: first non-zero bin and the weights from there on.
    bands: Vec<(usize, Vec<f64>)>,
}

impl MelFilterbank {
    /// Builds the filterbank exactly as `librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=,
    /// fmax=, htk=, norm=)` does, in float64.
    pub fn new(
        sr: f64,
        n_fft: usize,
        n_mels: usize,
        fmin: f64,
        fmax: f64,
        htk: bool,
        slaney_norm: bool,
    ) -> Self {
        let n_bins = n_fft / 2 + 1;
        let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();
        let (mmin, mmax) = (hz_to_mel(fmin, htk), hz_to_mel(fmax, htk));
        let mel_f: Vec<f64> = (0..n_mels + 2)
            .map(|i| {
                let m = if n_mels + 1 == 0 {
                    mmin
                } else {
                    mmin + (mmax - mmin) * i as f64 / (n_mels + 1) as f64
                };
                mel_to_hz(m, htk)
            })
            .collect();
        let bands = (0..n_mels)
            .map(|i| {
                let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
                let enorm = if slaney_norm { 2.0 / (hi - lo) } else { 1.0 };
                let weights: Vec<f64> = fftfreqs
                    .iter()
                    .map(|&f| {
                        let lower = (f - lo) / (mid - lo);
                        let upper = (hi - f) / (hi - mid);
                        lower.min(upper).max(0.0) * enorm
                    })
                    .collect();
                let first = weights.iter().position(|w| *w > 0.0).unwrap_or(0);
                let last = weights
                    .iter()
                    .rposition(|w| *w > 0.0)
                    .map_or(first, |l| l + 1);
                (first, weights[first..last].to_vec())
            })
            .collect();
        MelFilterbank { n_bins, bands }
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Number of FFT bins the filterbank expects.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The dense `[n_mels, n_bins]` weight matrix (for tests and export).
    pub fn dense(&self) -> Vec<Vec<f64>> {
        self.bands
            .iter()
            .map(|(start, w)| {
                let mut row = vec![0.0; self.n_bins];
                row[*start..start + w.len()].copy_from_slice(w);
                row
            })
            .collect()
    }

    /// Weights converted to `T`: per band, the first bin and the non-zero run.
    pub fn weights<T: Real>(&self) -> Vec<(usize, Vec<T>)> {
        self.bands
            .iter()
            .map(|(s, w)| (*s, w.iter().map(|v| T::lit(*v)).collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_below_1khz_and_invertible() {
        assert!((hz_to_mel(1000.0, false) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0, false) - 7.5).abs() < 1e-12);
        for f in [0.0, 300.0, 999.0, 1000.0, 4000.0, 11025.0] {
            for htk in [false, true] {
                assert!((mel_to_hz(hz_to_mel(f, htk), htk) - f).abs() < 1e-9);
            }
        }
        assert!((hz_to_mel(700.0, true) - 2595.0 * 2f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn slaney_norm_gives_unit_area_in_hz_and_none_gives_unit_peak() {
        let sr = 16_000.0;
        let fb = MelFilterbank::new(sr, 4096, 40, 0.0, 8000.0, false, true);
        let df = sr / 4096.0;
        for row in fb.dense().iter().skip(3) {
            let area: f64 = row.iter().sum::<f64>() * df;
            assert!((area - 1.0).abs() < 0.02, "area {area}");
        }
        let fb = MelFilterbank::new(sr, 4096, 40, 0.0, 8000.0, true, false);
        for row in fb.dense() {
            let peak = ser_check::nan_max(row.iter().copied());
            assert!(peak > 0.9 && peak <= 1.0, "peak {peak}");
        }
    }
}
