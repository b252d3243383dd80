//! The backend extension: the device operations the GPU feature pipeline needs.
//!
//! CubeCL backends (wgpu, CUDA) run the kernels in `cube/`; every other backend (flex, the
//! pure-Rust CPU backend) runs the default bodies here, which read the tensors back and use
//! the CPU reference of `ser-features`, so that the same code works on machines without
//! any GPU or Vulkan driver.

use burn::backend::{Backend, TensorMetadata, backend_extension, tensor::FloatTensor};
use burn::tensor::{Shape, TensorData};

use crate::host;

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
    /// Largest FFT radix of the CubeCL kernel (4, 8 or 16; see [`FFT_RADICES`]): a speed
    /// knob, the result is the same to rounding. The host fallback ignores it.
    pub radix: usize,
    /// Feed the CubeCL kernel's first FFT stage straight from the signal instead of from the
    /// frame loaded into shared memory: a speed knob (same result to rounding) awaiting a
    /// GPU measurement. The host fallback ignores it.
    pub first_from_signal: bool,
    /// Lay the CubeCL kernel's FFT buffers out with gaps so that a stage's strided stores
    /// hit distinct shared-memory banks (up to 25 % more shared memory per frame at radix
    /// 4): a speed knob (same result) awaiting a GPU measurement; banks are a GPU matter,
    /// lavapipe has none. The host fallback ignores it.
    pub pad_shared: bool,
    /// Run the CubeCL kernel's FFT stages in place: each reads its inputs into registers,
    /// waits for the whole cube, and writes them back over them, so a frame needs 2 shared
    /// buffers instead of 4 (twice the frames per SM where shared memory bounds occupancy,
    /// as at radix 16 on Hopper) for one more barrier per stage: a speed knob (same result)
    /// awaiting a GPU measurement. The host fallback ignores it.
    pub in_place: bool,
    /// Samples `[lo, hi)` of a frame outside which the window is zero (see
    /// [`window_support`]; `[0, n_fft]` claims nothing): the CubeCL kernel loads no sample
    /// of an interior frame outside it (112 of 512 for a 400-sample window in a 512-point
    /// frame). The window passed with the plan must be zero there; the host fallback
    /// ignores it.
    pub window_support: [usize; 2],
}

/// FFT radices the CubeCL spectrum kernel is built for; the first is the default.
pub const FFT_RADICES: [usize; 3] = [4, 8, 16];

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

/// Clip lengths as [`FeatureOps::spectrum`] takes them, `[B, 2]` rows `(n / 4096, n % 4096)`:
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

/// Output shape of [`FeatureOps::spectrum`]: `[batch, n_frames, out_dim]`.
pub fn spectrum_shape(signal: &Shape, plan: &SpectrumPlan) -> Shape {
    Shape::from(vec![signal[0], plan.n_frames, plan.out_dim])
}

/// Feature primitives on device tensors. Shapes: `signal [B, L]` zero-padded clips,
/// `lengths [B, 2]` valid samples per clip as [`encode_lengths`] writes them, frame-level arrays `[B, T, D]` where frames past a
/// clip's own count are zero and never computed.
#[backend_extension(
    Cube: cfg(feature = "cube"),
    Fusion: cfg(feature = "cube"),
    Flex,
)]
pub trait FeatureOps: Backend {
    /// Framing, window, real FFT, `|X|^power` and (with `use_mel`) the mel projection, in
    /// one pass: `[B, L] -> [B, T, out_dim]`. `twiddles` holds `cos, sin` of
    /// `-2 pi k / n_fft` for `k < n_fft`; `mel` is the dense `[n_mels, n_bins]`
    /// filterbank and `bounds [n_mels, 2]` each band's first bin and length.
    #[fusion(dtype = signal, shape = spectrum_shape(signal, plan))]
    #[allow(clippy::too_many_arguments)]
    fn spectrum(
        signal: FloatTensor<Self>,
        lengths: FloatTensor<Self>,
        window: FloatTensor<Self>,
        twiddles: FloatTensor<Self>,
        mel: FloatTensor<Self>,
        bounds: FloatTensor<Self>,
        plan: SpectrumPlan,
    ) -> FloatTensor<Self> {
        let _ = twiddles;
        let device = signal.device();
        let shape = signal.shape();
        let out = host::spectrum(
            &read::<Self>(signal),
            shape[0],
            shape[1],
            &decode_lengths(&read::<Self>(lengths)),
            &read::<Self>(window),
            &read::<Self>(mel),
            &read::<Self>(bounds),
            &plan,
        );
        let dims = vec![shape[0], plan.n_frames, plan.out_dim];
        Self::float_from_data(TensorData::new(out, dims), &device)
    }

    /// [`spectrum`](Self::spectrum) with `use_mel`, then [`power_to_db`](Self::power_to_db)
    /// (`frames [B]` frame counts), for when the mel power itself is not kept: the CubeCL
    /// kernel finds each clip's peak while it projects (atomic maxima), so the dB pass
    /// reads the mel spectrum once, in place, instead of twice into a second array.
    #[fusion(dtype = signal, shape = spectrum_shape(signal, plan))]
    #[allow(clippy::too_many_arguments)]
    fn log_mel(
        signal: FloatTensor<Self>,
        lengths: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        window: FloatTensor<Self>,
        twiddles: FloatTensor<Self>,
        mel: FloatTensor<Self>,
        bounds: FloatTensor<Self>,
        plan: SpectrumPlan,
        db: DbPlan,
    ) -> FloatTensor<Self> {
        let power = Self::spectrum(signal, lengths, window, twiddles, mel, bounds, plan);
        Self::power_to_db(power, frames, db)
    }

    /// `power_to_db` of each clip's valid frames, with the reference and `top_db` applied per
    /// clip, as `librosa.power_to_db` on that clip alone. `frames [B]` holds frame counts.
    #[fusion(dtype = x, shape = x)]
    fn power_to_db(
        x: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        plan: DbPlan,
    ) -> FloatTensor<Self> {
        per_clip::<Self>(x, frames, |x, shape, frames| {
            host::power_to_db(x, shape, frames, &plan)
        })
    }

    /// Time derivative of each clip's valid frames (`librosa.feature.delta`, `mode="interp"`;
    /// clips shorter than the window use the largest odd width that fits). `coefs` holds one
    /// row per odd width 3, 5, .., `width`, zero-padded to `width`.
    #[fusion(dtype = x, shape = x)]
    fn deltas(
        x: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        coefs: FloatTensor<Self>,
        plan: DeltaPlan,
    ) -> FloatTensor<Self> {
        let _ = coefs;
        per_clip::<Self>(x, frames, |x, shape, frames| {
            host::deltas(x, shape, frames, &plan)
        })
    }
}

/// Runs a host `[B, T, D]` per-clip operation on a tensor (default bodies only).
fn per_clip<B: Backend>(
    x: FloatTensor<B>,
    frames: FloatTensor<B>,
    f: impl FnOnce(&[f32], [usize; 3], &[f32]) -> Vec<f32>,
) -> FloatTensor<B> {
    let device = x.device();
    let shape = x.shape();
    let dims = [shape[0], shape[1], shape[2]];
    let out = f(&read::<B>(x), dims, &read::<B>(frames));
    B::float_from_data(TensorData::new(out, dims.to_vec()), &device)
}

/// Reads a float tensor back to the host as f32 values (default bodies only).
fn read<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    let msg = "reading a tensor back for the CPU fallback failed";
    burn_std::reader::try_read_sync(B::float_into_data(t))
        .expect(msg)
        .expect(msg)
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect(msg)
}

impl FeatureOps for burn::backend::Flex {}

#[cfg(test)]
mod tests {
    use super::{decode_lengths, encode_lengths, window_support};

    #[test]
    fn clip_lengths_past_f32_exact_integers_survive_the_float_tensor() {
        let lengths = [0, 1, 4095, 4096, (1 << 24) + 1, (1 << 30) + 12_345];
        let encoded = encode_lengths(&lengths);
        // A plain f32 would lose the odd sample past 2^24.
        assert_ne!(((1usize << 24) + 1) as f32 as usize, (1 << 24) + 1);
        assert_eq!(decode_lengths(&encoded), lengths);
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
