//! What a feature pipeline's device operations are told: how frames are cut and transformed
//! ([`SpectrumPlan`]), how power becomes dB ([`DbPlan`]) and deltas are taken ([`DeltaPlan`]),
//! and how clip lengths travel in a float tensor. Shared by the kernels (`cube/`), the host
//! fallback (`host`) and the extractor, so none of them imports another for these.

use burn::tensor::Shape;

/// How frames are cut and transformed; shared by the kernel and the host fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumPlan {
    /// FFT size (a power of two on CubeCL backends).
    pub n_fft: usize,
    /// Hop in samples.
    pub hop: usize,
    /// Centre frames (pad `n_fft / 2` on both sides).
    pub center: bool,
    /// 0 constant (zeros), 1 reflect, 2 edge.
    pub pad_mode: u32,
    /// Exponent applied to `|X|`: 2.0 power, 1.0 magnitude.
    pub power: f32,
    /// Frames per clip in the output (the longest clip's count; shorter clips are masked).
    pub n_frames: usize,
    /// Project on the mel filterbank (output `n_mels` wide) instead of returning the bins.
    pub use_mel: bool,
    /// Output width: `n_mels` with `use_mel`, else `n_fft / 2 + 1`.
    pub out_dim: usize,
    /// How the CubeCL kernel runs its FFT: `None` (the default) lets CubeCL's autotune
    /// measure every [`FftVariant`] on the device at the first launch of each shape and keep
    /// the fastest; `Some` pins one (tests, benchmarks). The host fallback ignores it.
    pub variant: Option<FftVariant>,
    /// Samples `[lo, hi)` of a frame outside which the window is zero (see
    /// [`window_support`]; `[0, n_fft]` claims nothing): the CubeCL kernel loads no sample
    /// of an interior frame outside it (112 of 512 for a 400-sample window in a 512-point
    /// frame). The window passed with the plan must be zero there; the host fallback
    /// ignores it.
    pub window_support: [usize; 2],
}

/// FFT radices the CubeCL spectrum kernel is built for; the first is the default.
pub const FFT_RADICES: [usize; 3] = [4, 8, 16];

/// One way the CubeCL spectrum kernel runs its FFT. Every variant gives the same spectra to
/// rounding; which is fastest depends on the device (shared-memory banks and size, occupancy),
/// so by default autotune picks one per device and shape (see [`SpectrumPlan::variant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FftVariant {
    /// Largest radix of the FFT's stages (one of [`FFT_RADICES`]).
    pub radix: usize,
    /// Feed the first FFT stage straight from the signal instead of from the frame loaded
    /// into shared memory (one shared-memory round trip less per frame).
    pub first_from_signal: bool,
    /// Lay the FFT buffers out with gaps so that a stage's strided stores hit distinct
    /// shared-memory banks (up to 25 % more shared memory per frame at radix 4).
    pub pad_shared: bool,
    /// Run the stages in place: each reads its inputs into registers, waits for the whole
    /// cube and writes them back over them, so a frame needs 2 shared buffers instead of 4
    /// (more frames per SM where shared memory bounds occupancy) for one more barrier per
    /// stage.
    pub in_place: bool,
}

impl FftVariant {
    /// Radix 4, nothing else: the variant every device runs.
    pub const PLAIN: FftVariant = FftVariant {
        radix: FFT_RADICES[0],
        first_from_signal: false,
        pad_shared: false,
        in_place: false,
    };

    /// Every variant (24), [`FftVariant::PLAIN`] first: the candidates autotune measures.
    pub fn all() -> Vec<FftVariant> {
        let flags = [false, true];
        let mut out = Vec::with_capacity(24);
        for radix in FFT_RADICES {
            for first_from_signal in flags {
                for pad_shared in flags {
                    for in_place in flags {
                        out.push(FftVariant {
                            radix,
                            first_from_signal,
                            pad_shared,
                            in_place,
                        });
                    }
                }
            }
        }
        out
    }
}

/// `radix4`, `radix8+signal+padded+in_place`: the name a benchmark row and an autotune
/// record carry (stable: recorded results are keyed by it).
impl std::fmt::Display for FftVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "radix{}", self.radix)?;
        for (on, name) in [
            (self.first_from_signal, "+signal"),
            (self.pad_shared, "+padded"),
            (self.in_place, "+in_place"),
        ] {
            if on {
                f.write_str(name)?;
            }
        }
        Ok(())
    }
}

impl SpectrumPlan {
    /// Frames of a clip of `samples` samples (librosa's count), the same on every backend.
    pub fn frames(&self, samples: usize) -> usize {
        ser_dsp::frame_count(samples, self.n_fft, self.hop, self.center)
    }
}

/// The samples `[first non-zero, last non-zero + 1)` of a window (`[0, 0]` for an all-zero
/// one): what [`SpectrumPlan::window_support`] takes, so that the kernel need not load the
/// samples a zero-padded window (`win_length < n_fft`) multiplies by zero.
pub fn window_support(window: &[f32]) -> [usize; 2] {
    match window.iter().position(|&w| w != 0.0) {
        Some(lo) => [
            lo,
            window.iter().rposition(|&w| w != 0.0).map_or(lo, |l| l + 1),
        ],
        None => [0, 0],
    }
}

/// `power_to_db` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DbPlan {
    /// Fixed reference power, or `None` for each clip's maximum.
    pub reference: Option<f32>,
    /// Floor before the logarithm.
    pub amin: f32,
    /// Range kept below each clip's maximum (infinite keeps all).
    pub top_db: f32,
}

/// Savitzky-Golay derivative settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaPlan {
    /// Window in frames (odd).
    pub width: usize,
    /// Derivative order (1 or 2).
    pub order: usize,
}

/// Scale of the high half of an encoded clip length (see [`encode_lengths`]).
pub(crate) const LENGTH_SPLIT: usize = 1 << 12;

/// Clip lengths as [`crate::FeatureOps::spectrum`] takes them, `[B, 2]` rows `(n / 4096, n % 4096)`:
/// a float tensor holds integers exactly only up to 2^24 (17 minutes at 16 kHz), each half
/// here stays exact for any clip under 2^36 samples.
pub fn encode_lengths(lengths: &[usize]) -> Vec<f32> {
    lengths
        .iter()
        .flat_map(|&n| [(n / LENGTH_SPLIT) as f32, (n % LENGTH_SPLIT) as f32])
        .collect()
}

/// Lengths from [`encode_lengths`]'s pairs.
pub fn decode_lengths(encoded: &[f32]) -> Vec<usize> {
    encoded
        .chunks(2)
        .map(|p| p[0] as usize * LENGTH_SPLIT + p.get(1).map_or(0, |&lo| lo as usize))
        .collect()
}

/// Output shape of [`crate::FeatureOps::spectrum`]: `[batch, n_frames, out_dim]`.
pub fn spectrum_shape(signal: &Shape, plan: &SpectrumPlan) -> Shape {
    Shape::from(vec![signal[0], plan.n_frames, plan.out_dim])
}

#[cfg(test)]
mod tests {
    use super::{FftVariant, decode_lengths, encode_lengths, window_support};

    #[test]
    fn clip_lengths_past_f32_exact_integers_survive_the_float_tensor() {
        let lengths = [0, 1, 4095, 4096, (1 << 24) + 1, (1 << 30) + 12_345];
        let encoded = encode_lengths(&lengths);
        // A plain f32 would lose the odd sample past 2^24.
        assert_ne!(((1usize << 24) + 1) as f32 as usize, (1 << 24) + 1);
        assert_eq!(decode_lengths(&encoded), lengths);
    }

    #[test]
    fn autotune_has_24_distinct_variants_with_the_plain_one_first() {
        let all = FftVariant::all();
        assert_eq!(all.len(), 24);
        assert_eq!(all[0], FftVariant::PLAIN);
        let names: std::collections::BTreeSet<String> =
            all.iter().map(ToString::to_string).collect();
        assert_eq!(names.len(), 24, "{names:?}");
        assert!(names.contains("radix8+signal+padded+in_place"), "{names:?}");
    }

    #[test]
    fn window_support_spans_the_first_to_the_last_non_zero_sample() {
        // A periodic Hann window of 400 in 512: zeros pad 56 samples each side, and the
        // window's own first sample is zero.
        let hann = ser_dsp::window_padded(ser_dsp::Window::Hann, 400, 512).unwrap();
        assert_eq!(window_support(&hann), [57, 456]);
        assert_eq!(window_support(&[1.0; 8]), [0, 8]);
        assert_eq!(window_support(&[0.0, -0.5, 0.0, 0.25, 0.0]), [1, 4]);
        assert_eq!(window_support(&[0.0; 4]), [0, 0]);
    }
}
