//! Signal padding with NumPy's `np.pad` semantics and frame counting as in librosa.

use crate::{DspError, Real, invalid};

/// How a signal is extended past its ends before centred framing (`np.pad` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// Zeros (librosa >= 0.10 default for `stft`).
    Constant,
    /// Mirror without repeating the edge sample (torchaudio's default).
    Reflect,
    /// Repeat the edge sample (librosa's zero-crossing rate uses this).
    Edge,
}

impl PadMode {
    /// Parses a config name (`constant`/`zeros`, `reflect`, `edge`).
    pub fn from_name(name: &str) -> Result<Self, DspError> {
        match name.to_ascii_lowercase().as_str() {
            "constant" | "zeros" => Ok(PadMode::Constant),
            "reflect" => Ok(PadMode::Reflect),
            "edge" => Ok(PadMode::Edge),
            other => Err(invalid(
                "pad_mode",
                format!("unknown pad mode '{other}'; use constant, reflect or edge"),
            )),
        }
    }
}

/// Index into a signal of length `n` for position `i` (possibly outside `0..n`) under `mode`.
/// `None` means "zero" (constant padding).
pub(crate) fn source_index(i: isize, n: usize, mode: PadMode) -> Option<usize> {
    let n_i = n as isize;
    if (0..n_i).contains(&i) {
        return Some(i as usize);
    }
    if n == 0 {
        return None;
    }
    match mode {
        PadMode::Constant => None,
        PadMode::Edge => Some(if i < 0 { 0 } else { n - 1 }),
        PadMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            // Reflection has period 2(n-1); NumPy applies it repeatedly for long pads.
            let period = 2 * (n_i - 1);
            let mut j = i.rem_euclid(period);
            if j >= n_i {
                j = period - j;
            }
            Some(j as usize)
        }
    }
}

/// Returns `y` extended by `left` and `right` samples under `mode` (like `np.pad`).
pub fn pad_signal<T: Real>(y: &[T], left: usize, right: usize, mode: PadMode) -> Vec<T> {
    let mut out = Vec::with_capacity(y.len() + left + right);
    for k in 0..left {
        let i = k as isize - left as isize;
        out.push(source_index(i, y.len(), mode).map_or(T::zero(), |j| y[j]));
    }
    out.extend_from_slice(y);
    for k in 0..right {
        let i = (y.len() + k) as isize;
        out.push(source_index(i, y.len(), mode).map_or(T::zero(), |j| y[j]));
    }
    out
}

/// Number of frames librosa produces for a signal of `len` samples
/// (`1 + (len_padded - frame_length) // hop`, 0 if the signal is shorter than a frame).
pub fn frame_count(len: usize, frame_length: usize, hop: usize, center: bool) -> usize {
    let padded = if center {
        len + 2 * (frame_length / 2)
    } else {
        len
    };
    if padded < frame_length {
        0
    } else {
        1 + (padded - frame_length) / hop
    }
}

/// Root-mean-square of each frame (`librosa.feature.rms(y=...)`): frames of `frame_length`
/// every `hop` samples, centred with `pad_mode` padding when `center`.
pub fn frame_rms<T: Real>(
    y: &[T],
    frame_length: usize,
    hop: usize,
    center: bool,
    pad_mode: PadMode,
) -> Vec<T> {
    let n = frame_count(y.len(), frame_length, hop, center);
    let padded;
    let signal = if center {
        padded = pad_signal(y, frame_length / 2, frame_length / 2, pad_mode);
        &padded[..]
    } else {
        y
    };
    (0..n)
        .map(|t| {
            let frame = &signal[t * hop..t * hop + frame_length];
            let power = sum_of_squares(frame);
            T::lit((power / frame_length as f64).sqrt())
        })
        .collect()
}

/// Sum of squares in f64, over eight interleaved partial sums (vector lanes instead of one
/// chain of dependent adds; the rounding differs from a sequential sum by ~1e-16 relative).
fn sum_of_squares<T: Real>(v: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x.as_f64() * x.as_f64();
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|x| x.as_f64() * x.as_f64())
        .sum();
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_modes_match_numpy() {
        let y = [1.0f64, 2.0, 3.0, 4.0];
        assert_eq!(
            pad_signal(&y, 2, 2, PadMode::Constant),
            [0., 0., 1., 2., 3., 4., 0., 0.]
        );
        assert_eq!(
            pad_signal(&y, 2, 2, PadMode::Edge),
            [1., 1., 1., 2., 3., 4., 4., 4.]
        );
        assert_eq!(
            pad_signal(&y, 2, 2, PadMode::Reflect),
            [3., 2., 1., 2., 3., 4., 3., 2.]
        );
        // np.pad([1, 2, 3], 5, mode="reflect")
        let y3 = [1.0f64, 2.0, 3.0];
        assert_eq!(
            pad_signal(&y3, 5, 5, PadMode::Reflect),
            [2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2.]
        );
    }

    #[test]
    fn rms_of_a_constant_is_the_constant_away_from_zero_padding() {
        let y = vec![0.5f64; 4096];
        let r = frame_rms(&y, 1024, 256, true, PadMode::Constant);
        assert_eq!(r.len(), 1 + 4096 / 256);
        assert!((r[8] - 0.5).abs() < 1e-12);
        // The first frame is half zero padding: rms = 0.5 * sqrt(1/2).
        assert!((r[0] - 0.5 * 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn frame_counts_follow_librosa() {
        // 3 s at 16 kHz, n_fft 512, hop 160, centred: librosa gives 301 frames.
        assert_eq!(frame_count(48_000, 512, 160, true), 301);
        assert_eq!(frame_count(48_000, 512, 160, false), 297);
        assert_eq!(frame_count(100, 512, 160, false), 0);
        assert_eq!(frame_count(0, 512, 160, true), 1);
    }
}
