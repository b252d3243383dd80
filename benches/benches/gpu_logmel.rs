//! Device feature-extraction throughput of ser's CubeCL kernels (`ser-kernels`) on the CPU
//! benchmark's fixed workload (512 clips x 3 s at 16 kHz, n_fft 512 with a 400-sample Hann
//! window, hop 160, 64 Slaney mels, power_to_db top_db 80), on a large one (the same clips
//! tiled to about 10 hours of audio) and on the large one joined into 30-minute recordings
//! (ser only: a batch of a few long clips). Prints one JSON line per measurement:
//!
//! - `kernels`: signal already on the device, log-mel left there (excludes transfers; the
//!   run waits for the device by reading back one value);
//! - `end_to_end`: host clips in, host features out (`GpuExtractor::compute_batch`: padding,
//!   upload, kernels, read-back, per-clip slicing);
//! - `burn-signal`: the peer inside burn, `burn::signal::stft` + `|X|^2` + a mel matmul + a
//!   log, on the same device and signal (no top_db: burn has no per-clip max op here, which
//!   only flatters the peer).
//!
//! `kernels` is measured as users run it (row `ser`: the FFT variant CubeCL's autotune picks
//! on this device, tuned in the warm-up rep) and once per pinned [`FftVariant`] asked for
//! (rows `ser pinned radix4+signal+padded+in_place` and so on), so that one run on a lent
//! GPU shows what autotune chose against every candidate: `--radix` (default: every radix the
//! kernels are built for), the FFT's first stage fed straight from the signal
//! (`--from-signal off|on|both`, default both), shared memory padded against bank conflicts
//! (`--padded off|on|both`, default both), the FFT stages in place, in half the shared memory
//! (`--in-place off|on|both`, default both).
//! `--kernels-only` skips `end_to_end` and the peer (for tuning runs).
//!
//! `cargo bench -p ser-benches --bench gpu_logmel -- --device wgpu|cuda|flex [--reps N]
//!  [--hours H] [--radix 4,8,16] [--from-signal both] [--padded both] [--in-place both]
//!  [--kernels-only]
//!  [--peer-clips N]
//!  [--write-workload FILE]`.
//! `benches/run_gpu_logmel.sh` runs it beside torchaudio on the same device and writes the
//! table.

use burn::tensor::{Device, Tensor, TensorData};
use ser_benches::{CLIPS, SECS, SR, arg, bench_config, median_seconds, workload, write_raw};
use ser_features::{FeatureConfig, MelFilterbank};
use ser_kernels::{DeviceChoice, FFT_RADICES, FftVariant, GpuExtractor, probe_wgpu};

/// The values of an `off|on|both` flag (default both).
fn switch(flag: &str) -> &'static [bool] {
    match arg(flag).as_deref() {
        None | Some("both") => &[false, true],
        Some("off") => &[false],
        Some("on") => &[true],
        Some(other) => panic!("{flag} takes off, on or both, not {other}"),
    }
}

fn config() -> FeatureConfig {
    bench_config("\"logmel\"", "")
}

fn device(name: &str) -> Device {
    match name {
        "flex" => burn::backend::FlexDevice.into(),
        "wgpu" => probe_wgpu().expect("a wgpu adapter"),
        other => other
            .parse::<DeviceChoice>()
            .and_then(|c| c.resolve().map_err(|e| e.to_string()))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("device {other} is not available")),
    }
}

/// Waits for every queued kernel by reading back one value that depends on all of `t` (its
/// sum: one reduction pass over the output, 4 bytes transferred). `into_data` alone does not
/// wait in burn 0.22: the bytes are fetched when first read, hence `try_to_vec`.
fn sync(t: &Tensor<3>) {
    let v = t.clone().sum().into_data().try_to_vec::<f32>();
    std::hint::black_box(v.expect("f32 sum"));
}

/// Uploads `clips` as device batches of at most `samples` samples: `(signal, lengths)`.
fn upload(clips: &[Vec<f32>], samples: usize, dev: &Device) -> Vec<(Tensor<2>, Vec<usize>)> {
    let len = clips.iter().map(Vec::len).max().unwrap_or(1);
    let per = (samples / len).max(1);
    clips
        .chunks(per)
        .map(|group| {
            let mut flat = vec![0.0f32; group.len() * len];
            for (row, c) in flat.chunks_mut(len).zip(group) {
                row[..c.len()].copy_from_slice(c);
            }
            let t = Tensor::<2>::from_data(TensorData::new(flat, vec![group.len(), len]), dev);
            (t, group.iter().map(Vec::len).collect())
        })
        .collect()
}

fn report(tool: &str, mode: &str, workload: &str, dev: &str, audio_s: f64, secs: f64) {
    println!(
        "{}",
        serde_json::json!({
            "tool": tool, "mode": mode, "workload": workload, "device": dev,
            "audio_seconds": audio_s, "seconds": secs, "audio_seconds_per_second": audio_s / secs,
        })
    );
}

/// The burn-signal peer: power spectrogram by `stft`, mel projection by matmul, log10.
struct BurnSignal {
    window: Tensor<1>,
    mel_t: Tensor<2>,
}

impl BurnSignal {
    fn new(cfg: &FeatureConfig, dev: &Device) -> Self {
        let win: Vec<f32> =
            ser_dsp::window_padded(ser_dsp::Window::Hann, 400, 400).expect("window");
        let fb = MelFilterbank::new(SR as f64, 512, 64, cfg.mel.fmin, cfg.fmax(), false, true);
        let dense = fb.dense();
        let mut mel_t = vec![0.0f32; 257 * 64];
        for (m, row) in dense.iter().enumerate() {
            for (k, w) in row.iter().enumerate() {
                mel_t[k * 64 + m] = *w as f32;
            }
        }
        BurnSignal {
            window: Tensor::from_data(TensorData::new(win, vec![400]), dev),
            mel_t: Tensor::from_data(TensorData::new(mel_t, vec![257, 64]), dev),
        }
    }

    fn logmel(&self, signal: Tensor<2>) -> Tensor<3> {
        let opts = burn::signal::StftOptions {
            n_fft: 512,
            hop_length: 160,
            win_length: Some(400),
            center: true,
            onesided: true,
        };
        let spec = burn::signal::stft(signal, Some(self.window.clone()), opts); // [B, T, F, 2]
        let power: Tensor<3> = spec.powf_scalar(2.0).sum_dim(3).squeeze_dim(3);
        let [b, t, f] = power.dims();
        let mel = power
            .reshape([b * t, f])
            .matmul(self.mel_t.clone())
            .reshape([b, t, 64]);
        mel.clamp_min(1e-10).log() * (10.0 / std::f32::consts::LN_10)
    }
}

fn main() {
    let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(5);
    let hours: f64 = arg("--hours").and_then(|v| v.parse().ok()).unwrap_or(10.0);
    let peer_clips: usize = arg("--peer-clips")
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let radices: Vec<usize> = arg("--radix").map_or(FFT_RADICES.to_vec(), |v| {
        v.split(',')
            .map(|r| r.trim().parse().expect("--radix takes a list like 4,8,16"))
            .collect()
    });
    let kernels_only = std::env::args().any(|a| a == "--kernels-only");
    // The autotuned default, then every pinned FFT variant asked for.
    let mut variants = vec![None];
    for &radix in &radices {
        for &first_from_signal in switch("--from-signal") {
            for &pad_shared in switch("--padded") {
                for &in_place in switch("--in-place") {
                    variants.push(Some(FftVariant {
                        radix,
                        first_from_signal,
                        pad_shared,
                        in_place,
                    }));
                }
            }
        }
    }
    let dev_name = arg("--device").unwrap_or_else(|| "wgpu".into());
    let dev = device(&dev_name);
    let small = workload(CLIPS, SECS, SR);
    if let Some(p) = arg("--write-workload") {
        write_raw(std::path::Path::new(&p), &small).expect("write workload");
    }
    let gpu = GpuExtractor::new(config(), dev.clone()).expect("bench config runs on the device");
    let desc = ser_features::FeatureBackend::describe(&gpu);
    eprintln!(
        "device: {desc}; {} samples per device batch",
        gpu.batch_samples()
    );
    let n_large = ((hours * 3600.0 / SECS).round() as usize).max(1);
    let large: Vec<Vec<f32>> = (0..n_large).map(|i| small[i % CLIPS].clone()).collect();
    // The same audio as long recordings: clips of 30 minutes (fewer than 4 clips: a quarter
    // of the total each), so that a batch holds a handful of clips.
    let per_long = (30.0 * 60.0 / SECS).min(n_large as f64 / 4.0).max(1.0) as usize;
    let long: Vec<Vec<f32>> = large.chunks(per_long).map(|c| c.concat()).collect();
    let clip_secs = per_long as f64 * SECS;
    let long_label = if clip_secs >= 60.0 {
        format!("{hours}h as {}x{:.0}min", long.len(), clip_secs / 60.0)
    } else {
        format!("{hours}h as {}x{clip_secs:.0}s", long.len())
    };
    let peer = BurnSignal::new(&config(), &dev);
    for (label, clips, reps, peers) in [
        ("512x3s", &small, reps, true),
        (&*format!("{hours}h"), &large, reps.div_ceil(2), true),
        // (No burn-signal here: it materialises the complex STFT of a whole clip.)
        (&*long_label, &long, reps.div_ceil(2), false),
    ] {
        let audio_s = clips.iter().map(Vec::len).sum::<usize>() as f64 / SR as f64;
        let batches = upload(clips, gpu.batch_samples(), &dev);
        for &variant in &variants {
            let mut kernels =
                GpuExtractor::new(config(), dev.clone()).expect("bench config runs on the device");
            let tool = match variant {
                None => "ser".to_string(),
                Some(v) => {
                    kernels = kernels.with_fft_variant(v).expect("a radix of FFT_RADICES");
                    format!("ser pinned {v}")
                }
            };
            let secs = median_seconds(reps, || {
                for (signal, lengths) in &batches {
                    let out = kernels.frames_on_device(signal.clone(), lengths);
                    sync(&out[0]);
                }
            });
            report(&tool, "kernels", label, &desc, audio_s, secs);
        }
        if kernels_only {
            continue;
        }
        let secs = median_seconds(reps, || {
            std::hint::black_box(gpu.compute_batch(clips));
        });
        report("ser", "end_to_end", label, &desc, audio_s, secs);
        if !peers {
            continue;
        }
        // burn-signal materialises the complex STFT ([B, T, 257, 2] f32): the default of 64
        // clips per launch keeps it under lavapipe's 128 MiB buffer limit (--peer-clips).
        let peer_batches = upload(clips, peer_clips * clips[0].len(), &dev);
        let secs = median_seconds(reps, || {
            for (signal, _) in &peer_batches {
                sync(&peer.logmel(signal.clone()));
            }
        });
        report("burn-signal 0.22", "kernels", label, &desc, audio_s, secs);
    }
}
