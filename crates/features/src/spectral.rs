//! Frame descriptors for the functionals, with librosa's definitions: zero-crossing rate,
//! spectral centroid, roll-off and contrast (on the magnitude spectrogram).

use ser_dsp::{PadMode, Real, frame_count, pad_signal};

use crate::db::power_to_db;

/// `librosa.feature.zero_crossing_rate(y, frame_length, hop_length, center)`: share of
/// sign changes per frame, samples with `|y| <= 1e-10` counting as positive zero,
/// edge-padded when centred.
pub fn zero_crossing_rate<T: Real>(
    y: &[T],
    frame_length: usize,
    hop: usize,
    center: bool,
) -> Vec<T> {
    let n = frame_count(y.len(), frame_length, hop, center);
    let padded;
    let signal = if center {
        padded = pad_signal(y, frame_length / 2, frame_length / 2, PadMode::Edge);
        &padded[..]
    } else {
        y
    };
    let thr = T::lit(1e-10);
    let negative = |v: &T| v.abs() > thr && v.is_sign_negative();
    // crossings[i] = sign changes among signal[..=i]: a frame's count is a difference of two
    // (exact integers, the same counts as a scan of every frame).
    let mut crossings = Vec::with_capacity(signal.len());
    let mut total = 0u32;
    let mut prev = signal.first().is_some_and(negative);
    for v in signal {
        let neg = negative(v);
        total += u32::from(neg != prev);
        prev = neg;
        crossings.push(total);
    }
    (0..n)
        .map(|t| {
            let (a, b) = (t * hop, t * hop + frame_length - 1);
            let count = crossings[b] - crossings[a];
            T::lit(count as f64 / frame_length as f64)
        })
        .collect()
}

/// Spectral centroid of one magnitude frame (`sum f S / sum S`; 0 for a silent frame).
pub fn centroid<T: Real>(mag: &[T], freqs: &[T]) -> T {
    let total: T = mag.iter().copied().sum();
    let weighted: T = mag.iter().zip(freqs).map(|(s, f)| *s * *f).sum();
    if total > T::min_positive_value() {
        weighted / total
    } else {
        weighted
    }
}

/// Spectral roll-off of one magnitude frame: lowest frequency below which `percent` of the
/// frame's magnitude lies.
pub fn rolloff<T: Real>(mag: &[T], freqs: &[T], percent: f64) -> T {
    let total: T = mag.iter().copied().sum();
    let threshold = T::lit(percent) * total;
    let mut acc = T::zero();
    for (s, f) in mag.iter().zip(freqs) {
        acc = acc + *s;
        if acc >= threshold {
            return *f;
        }
    }
    *freqs.last().expect("non-empty spectrum")
}

/// Bin selection of each octave band, computed once per config (librosa's
/// `spectral_contrast` band logic, edge bins included).
#[derive(Debug, Clone)]
pub struct ContrastBands {
    /// Per band: the selected bins (contiguous) and the number of values averaged for peak /
    /// valley.
    bands: Vec<(std::ops::Range<usize>, usize)>,
}

impl ContrastBands {
    /// Bands for the given FFT bin frequencies.
    pub fn new(freqs: &[f64], fmin: f64, n_bands: usize, quantile: f64) -> Self {
        let mut octa = vec![0.0; n_bands + 2];
        for (k, o) in octa.iter_mut().enumerate().skip(1) {
            *o = fmin * 2f64.powi(k as i32 - 1);
        }
        let bands = (0..=n_bands)
            .map(|k| {
                let (lo, hi) = (octa[k], octa[k + 1]);
                let mut sel: Vec<bool> = freqs.iter().map(|f| *f >= lo && *f <= hi).collect();
                let idx: Vec<usize> = (0..freqs.len()).filter(|&i| sel[i]).collect();
                if let (Some(&first), Some(&last)) = (idx.first(), idx.last()) {
                    if k > 0 && first > 0 {
                        sel[first - 1] = true;
                    }
                    if k == n_bands {
                        sel[last + 1..].iter_mut().for_each(|s| *s = true);
                    }
                }
                let count = sel.iter().filter(|s| **s).count();
                let mut bins: Vec<usize> = (0..freqs.len()).filter(|&i| sel[i]).collect();
                if k < n_bands {
                    bins.pop();
                }
                let n = ((quantile * count as f64).round_ties_even() as usize)
                    .max(1)
                    .min(bins.len().max(1));
                let range = bins.first().map_or(0..0, |&a| a..a + bins.len());
                debug_assert!(
                    bins.iter().copied().eq(range.clone()),
                    "octave bands are contiguous"
                );
                (range, n)
            })
            .collect();
        ContrastBands { bands }
    }

    /// Number of contrast values per frame (`n_bands + 1`).
    pub fn len(&self) -> usize {
        self.bands.len()
    }

    /// True when there are no bands (never for a validated config).
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    /// Peak and valley (mean of the top / bottom quantile) of each band for one frame.
    pub fn peak_valley<T: Real>(
        &self,
        mag: &[T],
        peak: &mut [T],
        valley: &mut [T],
        buf: &mut Vec<T>,
    ) {
        for (k, (bins, n)) in self.bands.iter().enumerate() {
            let band = &mag[bins.clone()];
            let n = (*n).min(band.len());
            if n == 0 {
                peak[k] = T::zero();
                valley[k] = T::zero();
                continue;
            }
            let inv = T::one() / T::lit(n as f64);
            let mean = |v: &[T]| v.iter().copied().sum::<T>() * inv;
            let len = band.len();
            // The default 2 % of a band is 1-2 values at 16 kHz: one pass of insertion finds
            // them (in the order a full sort leaves them) without a selection per band and frame.
            if n <= SMALL_QUANTILE && len > 2 * n {
                let (low, high) = extremes(band, n);
                valley[k] = mean(&low[..n]);
                peak[k] = mean(&high[SMALL_QUANTILE - n..]);
                continue;
            }
            // The n smallest and the n largest, each sorted, as a full sort would leave them
            // (selection, then two sorts of n values): the sums below see the same values in
            // the same order. Unstable is exact: magnitudes that compare equal are the same
            // bits (no -0.0).
            buf.clear();
            buf.extend_from_slice(band);
            let cmp = |a: &T, b: &T| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
            if len > 2 * n {
                buf.select_nth_unstable_by(n - 1, cmp);
                buf[n..].select_nth_unstable_by(len - 2 * n, cmp);
                buf[..n].sort_unstable_by(cmp);
                buf[len - n..].sort_unstable_by(cmp);
            } else {
                buf.sort_unstable_by(cmp);
            }
            valley[k] = mean(&buf[..n]);
            peak[k] = mean(&buf[len - n..]);
        }
    }
}

/// Quantile sizes [`extremes`] handles (the default 2 % of a band is 1-2 values at 16 kHz).
const SMALL_QUANTILE: usize = 8;

/// The `n` smallest values of `v` ascending in `low[..n]` and the `n` largest ascending in
/// `high[SMALL_QUANTILE - n..]`, in one pass of insertion: the values (and order) a full sort
/// leaves at both ends, without a selection per band and frame. `n <= SMALL_QUANTILE`.
fn extremes<T: Real>(v: &[T], n: usize) -> ([T; SMALL_QUANTILE], [T; SMALL_QUANTILE]) {
    let m = SMALL_QUANTILE;
    let mut low = [T::zero(); SMALL_QUANTILE];
    let mut high = [T::zero(); SMALL_QUANTILE];
    if n == 1 {
        // Branch-free minimum and maximum.
        let (mut lo, mut hi) = (v[0], v[0]);
        for &x in &v[1..] {
            lo = if x < lo { x } else { lo };
            hi = if x > hi { x } else { hi };
        }
        (low[0], high[m - 1]) = (lo, hi);
        return (low, high);
    }
    for (i, &x) in v.iter().enumerate() {
        // low[..filled] ascending; insert x when it beats the largest kept.
        let filled = i.min(n);
        if filled < n || x < low[n - 1] {
            let mut j = filled.min(n - 1);
            while j > 0 && x < low[j - 1] {
                low[j] = low[j - 1];
                j -= 1;
            }
            low[j] = x;
        }
        // high[m - filled..] ascending; insert x when it beats the smallest kept.
        if filled < n {
            let mut j = m - filled - 1;
            while j + 1 < m && high[j + 1] < x {
                high[j] = high[j + 1];
                j += 1;
            }
            high[j] = x;
        } else if x > high[m - n] {
            let mut j = m - n;
            while j + 1 < m && high[j + 1] < x {
                high[j] = high[j + 1];
                j += 1;
            }
            high[j] = x;
        }
    }
    (low, high)
}

/// Turns per-frame peaks and valleys (`[n_frames, n_bands+1]`) into contrast in dB
/// (`power_to_db(peak) - power_to_db(valley)`, each clipped at its own max - 80 dB, as librosa).
pub fn contrast_db<T: Real>(mut peak: Vec<T>, mut valley: Vec<T>) -> Vec<T> {
    power_to_db(&mut peak, Some(1.0), 1e-10, 80.0);
    power_to_db(&mut valley, Some(1.0), 1e-10, 80.0);
    peak.iter().zip(&valley).map(|(p, v)| *p - *v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zcr_of_alternating_signal_is_nearly_one() {
        let y: Vec<f64> = (0..4096)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let z = zero_crossing_rate(&y, 1024, 256, true);
        assert!((z[5] - 1023.0 / 1024.0).abs() < 1e-12);
        let dc = zero_crossing_rate(&vec![0.3f64; 4096], 1024, 256, true);
        assert!(dc.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn centroid_and_rolloff_of_a_single_bin() {
        let freqs = [0.0, 100.0, 200.0, 300.0];
        let mag = [0.0, 0.0, 2.0, 0.0];
        assert_eq!(centroid(&mag, &freqs), 200.0);
        assert_eq!(rolloff(&mag, &freqs, 0.85), 200.0);
        assert_eq!(centroid(&[0.0; 4], &freqs), 0.0);
        assert_eq!(rolloff(&[0.0f64; 4], &freqs, 0.85), 0.0);
    }

    #[test]
    fn peak_valley_by_selection_equals_a_full_sort_bit_for_bit() {
        let freqs: Vec<f64> = (0..257).map(|k| k as f64 * 8000.0 / 256.0).collect();
        for quantile in [0.02, 0.05, 0.1, 0.2, 0.5] {
            let bands = ContrastBands::new(&freqs, 200.0, 6, quantile);
            let mut s = 11u64;
            let mag: Vec<f32> = (0..257)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (s >> 40) as f32 / 1e3
                })
                .collect();
            let (mut peak, mut valley) = (vec![0f32; 7], vec![0f32; 7]);
            bands.peak_valley(&mag, &mut peak, &mut valley, &mut Vec::new());
            for (k, (bins, n)) in bands.bands.iter().enumerate() {
                let mut v: Vec<f32> = mag[bins.clone()].to_vec();
                v.sort_by(f32::total_cmp);
                let n = (*n).min(v.len());
                let inv = 1.0 / n as f32;
                let want_v = v[..n].iter().sum::<f32>() * inv;
                let want_p = v[v.len() - n..].iter().sum::<f32>() * inv;
                assert_eq!(
                    (peak[k].to_bits(), valley[k].to_bits()),
                    (want_p.to_bits(), want_v.to_bits()),
                    "band {k}, quantile {quantile}"
                );
            }
        }
    }
}
