//! Analysis windows, with SciPy's `get_window(..., fftbins=True)` (periodic) convention that
//! librosa uses, plus Kaldi's povey window.

use crate::{DspError, Real, invalid};

/// Analysis window shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Periodic Hann (librosa's default): `0.5 - 0.5 cos(2πn/N)`.
    Hann,
    /// Periodic Hamming: `0.54 - 0.46 cos(2πn/N)`.
    Hamming,
    /// Kaldi's povey window: symmetric Hann raised to the power 0.85.
    Povey,
    /// All ones (no tapering).
    Rectangular,
}

impl Window {
    /// Parses the config name of a window (`hann`, `hamming`, `povey`, `rectangular`/`ones`).
    pub fn from_name(name: &str) -> Result<Self, DspError> {
        match name.to_ascii_lowercase().as_str() {
            "hann" | "hanning" => Ok(Window::Hann),
            "hamming" => Ok(Window::Hamming),
            "povey" => Ok(Window::Povey),
            "rectangular" | "rect" | "boxcar" | "ones" => Ok(Window::Rectangular),
            other => Err(invalid(
                "window",
                format!("unknown window '{other}'; use hann, hamming, povey or rectangular"),
            )),
        }
    }
}

/// Window of `length` samples (periodic for Hann/Hamming, as librosa's STFT uses).
pub fn window<T: Real>(kind: Window, length: usize) -> Vec<T> {
    let n = length as f64;
    let two_pi = 2.0 * std::f64::consts::PI;
    (0..length)
        .map(|i| {
            let i = i as f64;
            let v = match kind {
                Window::Hann => 0.5 - 0.5 * (two_pi * i / n).cos(),
                Window::Hamming => 0.54 - 0.46 * (two_pi * i / n).cos(),
                Window::Povey => {
                    if length == 1 {
                        1.0
                    } else {
                        (0.5 - 0.5 * (two_pi * i / (n - 1.0)).cos()).powf(0.85)
                    }
                }
                Window::Rectangular => 1.0,
            };
            T::lit(v)
        })
        .collect()
}

/// Window of `win_length` samples zero-padded on both sides to `n_fft` (librosa's
/// `util.pad_center`): the window sits in the middle of each FFT frame.
pub fn window_padded<T: Real>(
    kind: Window,
    win_length: usize,
    n_fft: usize,
) -> Result<Vec<T>, DspError> {
    if win_length == 0 || win_length > n_fft {
        return Err(invalid(
            "win_length",
            format!("{win_length} must be between 1 and n_fft ({n_fft})"),
        ));
    }
    let w = window::<T>(kind, win_length);
    let mut out = vec![T::zero(); n_fft];
    let left = (n_fft - win_length) / 2;
    out[left..left + win_length].copy_from_slice(&w);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_matches_formula_and_is_not_symmetric() {
        let w = window::<f64>(Window::Hann, 4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
    }

    #[test]
    fn povey_is_symmetric_and_peaks_at_one() {
        let w = window::<f64>(Window::Povey, 9);
        assert!((w[4] - 1.0).abs() < 1e-12);
        assert_eq!(w[0], 0.0);
        for i in 0..9 {
            assert!((w[i] - w[8 - i]).abs() < 1e-12);
        }
    }

    #[test]
    fn padded_window_is_centred() {
        let w = window_padded::<f32>(Window::Rectangular, 400, 512).unwrap();
        assert_eq!(w.iter().filter(|v| **v == 1.0).count(), 400);
        assert_eq!(w[55], 0.0);
        assert_eq!(w[56], 1.0);
        assert_eq!(w[455], 1.0);
        assert_eq!(w[456], 0.0);
        assert!(window_padded::<f32>(Window::Hann, 513, 512).is_err());
    }

    #[test]
    fn names_parse_and_unknown_is_an_error_naming_choices() {
        assert_eq!(Window::from_name("Hann").unwrap(), Window::Hann);
        let err = Window::from_name("kaiser").unwrap_err().to_string();
        assert!(err.contains("povey"), "{err}");
    }
}
