//! Shared pieces of ser's benchmarks: the fixed workloads, and timing helpers that report
//! medians, so that the numbers in `benches/results/` can be reproduced.

use std::time::Instant;

use burn::tensor::Device;
use ser_features::FeatureConfig;

/// The allocator of the `ser` binary (see `crates/cli/src/main.rs`), so that the benchmarks
/// measure what users run.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Clips in the fixed workload of the feature benchmarks (CPU and device).
pub const CLIPS: usize = 512;
/// Seconds per clip of that workload.
pub const SECS: f64 = 3.0;
/// Sample rate of that workload.
pub const SR: u32 = 16_000;

/// The feature benchmarks' settings (n_fft 512, 400-sample window, hop 160, 64 mels, at
/// 16 kHz, the same as the Python peers) with `frames` (a TOML list body, e.g. `"logmel"`)
/// and `extra` TOML sections appended.
pub fn bench_config(frames: &str, extra: &str) -> FeatureConfig {
    FeatureConfig::from_toml(&format!(
        "frames = [{frames}]\n[audio]\nsample_rate = {SR}\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n{extra}"
    ))
    .expect("valid bench config")
}

/// A fixed, seeded workload: `clips` mono clips of `secs` seconds at `sr` Hz, each a mix of
/// a gliding harmonic tone, noise and silence gaps (speech-like spectra and dynamics; the
/// content does not change the cost of the features measured).
pub fn workload(clips: usize, secs: f64, sr: u32) -> Vec<Vec<f32>> {
    let n = (secs * sr as f64) as usize;
    let mut state: u64 = 0x5e5e_2026;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f64 / (1u64 << 24) as f64) - 0.5
    };
    (0..clips)
        .map(|c| {
            let f0 = 100.0 + (c % 17) as f64 * 10.0;
            let mut phase = 0.0f64;
            (0..n)
                .map(|i| {
                    let t = i as f64 / sr as f64;
                    phase += 2.0
                        * std::f64::consts::PI
                        * f0
                        * (1.0 + 0.2 * (2.0 * std::f64::consts::PI * 0.7 * t).sin())
                        / sr as f64;
                    let gate = if (t * 3.0).fract() < 0.8 { 1.0 } else { 0.0 };
                    let tone: f64 = (1..8).map(|k| (k as f64 * phase).sin() / k as f64).sum();
                    (0.2 * gate * tone + 0.01 * noise()) as f32
                })
                .collect()
        })
        .collect()
}

/// Writes clips as raw little-endian f32, clip after clip (the Python peers read this file).
pub fn write_raw(path: &std::path::Path, clips: &[Vec<f32>]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(clips.iter().map(|c| c.len() * 4).sum());
    for c in clips {
        for v in c {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)
}

/// Runs `f` once to warm up, then `reps` times; returns the median wall time in seconds.
pub fn median_seconds(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The value after `--name` on the command line, if given.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A benchmark's device by name (`flex`, `wgpu[:N]`, `cuda[:N]`, and with the `tch` feature
/// `tch` / `tch-cuda`), with the name its results carry.
#[cfg_attr(feature = "tch", allow(deprecated))] // burn-tch: deprecated in burn 0.22, still built
pub fn bench_device(name: &str) -> (Device, String) {
    match name {
        "flex" => (
            burn::backend::FlexDevice.into(),
            format!("flex ({} threads)", rayon::current_num_threads()),
        ),
        #[cfg(feature = "tch")]
        "tch" => (
            burn::backend::LibTorchDevice::Cpu.into(),
            "tch (libtorch CPU)".into(),
        ),
        #[cfg(feature = "tch")]
        "tch-cuda" => (
            burn::backend::LibTorchDevice::Cuda(0).into(),
            "tch (libtorch CUDA 0)".into(),
        ),
        other => {
            let d = other
                .parse::<ser_kernels::DeviceChoice>()
                .and_then(|c| c.resolve().map_err(|e| e.to_string()))
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("device {other} is not available"));
            let n = ser_kernels::device_name(&d);
            (d, n)
        }
    }
}
