//! GPU feature kernels for ser.
//!
//! [`FeatureOps`] is a burn backend extension with four operations — the fused
//! framing / window / FFT / power / mel pass, per-clip `power_to_db`, the two together as
//! `log_mel` (one pass less over the mel spectrum), and deltas — written as
//! CubeCL kernels for burn's CubeCL backend (wgpu over Vulkan, Metal or DX12; CUDA behind the
//! `cuda` feature) and as CPU default bodies for burn's pure-Rust `flex` backend.
//! [`GpuExtractor`] runs a whole [`FeatureConfig`](ser_features::FeatureConfig) on a burn
//! device, batch by batch, and returns the same [`ClipFeatures`](ser_features::ClipFeatures)
//! as the CPU extractor.

#[cfg(feature = "cube")]
mod cube;
mod device;
mod extractor;
pub mod host;
mod ops;
mod plan;

pub use device::{
    Chosen, DeviceChoice, DeviceError, device_name, probe_wgpu, quiet_headless_vulkan, runs_kernels,
};
pub use extractor::GpuExtractor;
pub use ops::FeatureOps;
pub use plan::{
    DbPlan, DeltaPlan, FFT_RADICES, FftVariant, SpectrumPlan, decode_lengths, encode_lengths,
    spectrum_shape, window_support,
};
