//! The backend extension: the device operations the GPU feature pipeline needs.
//!
//! CubeCL backends (wgpu, CUDA) run the kernels in `cube/`; every other backend (flex, the
//! pure-Rust CPU backend) runs the default bodies here, which read the tensors back and use
//! the CPU reference of `ser-features`, so that the same code works on machines without
//! any GPU or Vulkan driver.

use burn::backend::{Backend, TensorMetadata, backend_extension, tensor::FloatTensor};
use burn::tensor::TensorData;

use crate::host;
// `spectrum_shape` is read by the fusion attributes, compiled with `cube` only.
#[cfg_attr(not(feature = "cube"), allow(unused_imports))]
use crate::plan::{DbPlan, DeltaPlan, SpectrumPlan, decode_lengths, spectrum_shape};

/// Feature primitives on device tensors. Shapes: `signal [B, L]` zero-padded clips,
/// `lengths [B, 2]` valid samples per clip as [`encode_lengths`] writes them, frame-level arrays `[B, T, D]` where frames past a
/// clip's own count are zero and never computed.
#[backend_extension(
    Cube: cfg(feature = "cube"),
    Fusion: cfg(feature = "cube"),
    Flex,
)]
/// Each tensor is its own argument (burn's extension macro tracks them one by one for
/// fusion), hence the two long signatures.
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
        let args = host::SpectrumArgs {
            signal: &read::<Self>(signal),
            batch: shape[0],
            len: shape[1],
            lengths: &decode_lengths(&read::<Self>(lengths)),
            window: &read::<Self>(window),
            mel: &read::<Self>(mel),
            bounds: &read::<Self>(bounds),
        };
        let out = host::spectrum(args, &plan);
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
