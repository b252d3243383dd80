//! Every stage of the GPU path against the CPU reference (itself checked against librosa):
//! on wgpu (lavapipe where there is no GPU; a missing adapter fails unless
//! `SER_TEST_WITHOUT_WGPU=1`) and on flex (the default bodies, for machines without Vulkan).
//!
//! Tolerances: log-mel within 1e-3 dB; MFCC and deltas within 1e-3 (they are linear in
//! log-mel); power / mel spectra within 1e-4 of each clip's peak value.

use burn::tensor::{Device, Tensor, TensorData};
use ser_check::{assert_all_close, nan_max};
use ser_features::{ClipFeatures, Extractor, FeatureConfig, Precision};
use ser_kernels::{FftVariant, GpuExtractor};

/// The devices to test: wgpu (required unless `SER_TEST_WITHOUT_WGPU=1`), and flex. Each
/// is named on stderr, so a test log says what ran.
fn devices() -> Vec<(&'static str, Device)> {
    let mut out = Vec::new();
    if let Some(d) = ser_check::wgpu_or_opt_out(ser_kernels::probe_wgpu()) {
        eprintln!("testing on wgpu: {}", ser_kernels::device_name(&d));
        out.push(("wgpu", d));
    }
    let flex: Device = burn::backend::FlexDevice.into();
    eprintln!("testing on flex: {}", ser_kernels::device_name(&flex));
    out.push(("flex", flex));
    out
}

/// Speech-like clips of mixed lengths: odd, very short (under one frame), long.
fn clips(sr: f64) -> Vec<Vec<f32>> {
    [12_345usize, 300, 1, 20_000, 8_001, 64]
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            let mut state = 17u64 + c as u64;
            (0..n)
                .map(|i| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let noise = ((state >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.02;
                    let t = i as f64 / sr;
                    let f0 = 120.0
                        + 40.0 * c as f64
                        + 30.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                    let voiced: f64 = (1..6)
                        .map(|k| (2.0 * std::f64::consts::PI * k as f64 * f0 * t).sin() / k as f64)
                        .sum();
                    (0.3 * voiced + noise) as f32
                })
                .collect()
        })
        .collect()
}

/// `cfg` on `device` with the FFT pinned to [`FftVariant::PLAIN`], for tests whose subject
/// is not the variant: autotune may pick another one per batch shape, which agrees only to
/// rounding, and tuning every shape on lavapipe would cost minutes.
fn pinned(cfg: FeatureConfig, device: Device) -> GpuExtractor {
    GpuExtractor::new(cfg, device)
        .unwrap()
        .with_fft_variant(FftVariant::PLAIN)
        .unwrap()
}

fn config(toml: &str) -> FeatureConfig {
    FeatureConfig::from_toml(toml).unwrap()
}

/// The CPU reference for `cfg`, computed in f64.
fn reference(cfg: &FeatureConfig) -> Extractor {
    let mut cfg = cfg.clone();
    cfg.precision = Precision::F64;
    Extractor::new(cfg).unwrap()
}

/// Compares one config's GPU output, with the FFT run as `variant` (`None`: as autotune
/// picks), with the CPU reference (computed in f64).
fn check(
    name: &str,
    cfg: FeatureConfig,
    device: &Device,
    dev_name: &str,
    variant: Option<FftVariant>,
) {
    let reference = reference(&cfg);
    let mut gpu = GpuExtractor::new(cfg, device.clone()).unwrap();
    if let Some(v) = variant {
        gpu = gpu.with_fft_variant(v).unwrap();
    }
    let variant = variant.map_or("autotuned".to_string(), |v| v.to_string());
    let signals = clips(gpu.cpu().config().audio.sample_rate as f64);
    let got: Vec<ClipFeatures> = gpu.compute_batch(&signals);
    let want: Vec<ClipFeatures> = reference.compute_batch(&signals);
    let layout = reference.frame_layout();
    for (c, (g, w)) in got.iter().zip(&want).enumerate() {
        let ctx = format!(
            "{dev_name} FFT {variant} {name} clip {c} ({} samples)",
            signals[c].len()
        );
        assert_eq!(g.n_frames, w.n_frames, "{ctx}: frame count");
        for ((feat, _), (ga, wa)) in layout.iter().zip(g.frames.iter().zip(&w.frames)) {
            assert_eq!(ga.len(), wa.len(), "{ctx} {feat}: length");
            let tol = if feat == "spectrogram" || feat == "mel" {
                1e-4 * nan_max(wa.iter().map(|v| v.abs() as f64)).max(1e-12)
            } else {
                1e-3
            };
            assert_all_close(ga, wa, tol, format!("{ctx} {feat}"));
        }
        assert_eq!(
            g.functionals.len(),
            w.functionals.len(),
            "{ctx}: functionals"
        );
    }
}

#[test]
fn logmel_mfcc_and_deltas_match_the_cpu_reference_across_fft_sizes() {
    let cases = [
        (
            "n_fft 512 win 400 hop 160, 64 mels",
            "frames = [\"logmel\", \"mfcc\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n[deltas]\norder = 2\n",
        ),
        (
            "n_fft 256 hop 64, 40 mels",
            "frames = [\"logmel\"]\n[audio]\nsample_rate = 8000\n[stft]\nn_fft = 256\nhop_length = 64\n[mel]\nn_mels = 40\n",
        ),
        (
            "n_fft 1024 reflect hamming, htk, ref=max",
            "frames = [\"logmel\", \"mfcc\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 1024\nhop_length = 256\nwindow = \"hamming\"\npad_mode = \"reflect\"\n[mel]\nn_mels = 40\nhtk = true\nnorm = \"none\"\n[db]\nref = \"max\"\ntop_db = 60.0\n[mfcc]\nn_mfcc = 13\nlifter = 22.0\n[deltas]\norder = 1\n",
        ),
        (
            "librosa defaults (n_fft 2048)",
            "frames = [\"logmel\", \"mfcc\"]\n",
        ),
        (
            "uncentred edge-padded povey, magnitude mels",
            "frames = [\"mel\", \"logmel\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\nwindow = \"povey\"\ncenter = false\n[mel]\nn_mels = 23\npower = 1.0\n",
        ),
        (
            // The window's support [57, 455) ends mid-point at both sides, with full weight.
            "rectangular 398 in 512, spectrogram and log-mel",
            "frames = [\"spectrogram\", \"logmel\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 398\nhop_length = 160\nwindow = \"rectangular\"\n",
        ),
        (
            // An odd hop: frames start at odd samples, loaded one by one, not as pairs.
            "power spectrogram, edge padding, odd hop",
            "frames = [\"spectrogram\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nhop_length = 127\npad_mode = \"edge\"\n",
        ),
        (
            "tiny FFTs: n_fft 32 hop 8, spectrogram",
            "frames = [\"spectrogram\"]\n[audio]\nsample_rate = 8000\n[stft]\nn_fft = 32\nhop_length = 8\n",
        ),
        (
            "tiny FFTs: n_fft 8 hop 4, spectrogram",
            "frames = [\"spectrogram\"]\n[audio]\nsample_rate = 8000\n[stft]\nn_fft = 8\nhop_length = 4\n",
        ),
    ];
    for (dev_name, device) in devices() {
        // The FFT variant only changes the CubeCL kernel: every variant on wgpu (n_fft 8 to
        // 2048 give first stages of radix 2, 4, 8 and 16), one run on flex; the autotuned
        // default (which times all 24 on its first launch) on the first config.
        let variants: Vec<Option<FftVariant>> = if dev_name == "wgpu" {
            FftVariant::all().into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for &variant in &variants {
            for (name, toml) in cases {
                check(name, config(toml), &device, dev_name, variant);
            }
        }
        if dev_name == "wgpu" {
            let (name, toml) = cases[0];
            check(name, config(toml), &device, dev_name, None);
        }
    }
}

#[test]
fn an_fft_radix_the_kernels_are_not_built_for_is_refused() {
    let cfg = config("frames = [\"logmel\"]\n");
    let gpu = GpuExtractor::new(cfg, burn::backend::FlexDevice.into()).unwrap();
    let err = gpu
        .with_fft_variant(FftVariant {
            radix: 32,
            ..FftVariant::PLAIN
        })
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("radix 32") && err.contains("[4, 8, 16]"),
        "{err}"
    );
}

#[test]
fn functionals_come_from_the_cpu_and_small_device_batches_give_the_same_result() {
    let cfg = config(
        "frames = [\"logmel\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n[functionals]\nenabled = true\n",
    );
    let cpu = Extractor::new(cfg.clone()).unwrap();
    for (dev_name, device) in devices() {
        let whole = pinned(cfg.clone(), device.clone());
        // One clip per device batch: batching must not change any number (of one variant).
        let small = pinned(cfg.clone(), device.clone()).with_batch_samples(1);
        let signals = clips(16_000.0);
        let (a, b) = (whole.compute_batch(&signals), small.compute_batch(&signals));
        assert_eq!(a, b, "{dev_name}: batching changed the features");
        for (g, c) in a.iter().zip(cpu.compute_batch(&signals)) {
            assert_eq!(g.functionals, c.functionals, "{dev_name}: functionals");
        }
    }
}

#[test]
fn configs_the_gpu_cannot_run_are_refused_with_the_reason() {
    let device: Device = burn::backend::FlexDevice.into();
    let err = GpuExtractor::new(config("[stft]\nn_fft = 400\n"), device.clone())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("n_fft = 400") && err.contains("--device cpu"),
        "{err}"
    );
    let err = GpuExtractor::new(config("precision = \"f64\"\n"), device)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("f64"), "{err}");
}

#[test]
fn frames_past_each_clip_are_zero_on_device() {
    // With the mel power kept, log-mel comes from `power_to_db`; without, from `log_mel`.
    for frames in ["\"mel\", \"logmel\", \"mfcc\"", "\"logmel\", \"mfcc\""] {
        padded_frames_are_zero(config(&format!(
            "frames = [{frames}]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 32\n[mfcc]\nn_mfcc = 13\n[deltas]\norder = 1\n",
        )));
    }
}

fn padded_frames_are_zero(cfg: FeatureConfig) {
    for (dev_name, device) in devices() {
        let dev_name = format!("{dev_name} {:?}", cfg.frames);
        let gpu = pinned(cfg.clone(), device.clone());
        let signals = clips(16_000.0);
        let lengths: Vec<usize> = signals.iter().map(Vec::len).collect();
        let len = *lengths.iter().max().unwrap();
        let mut flat = vec![0.0f32; signals.len() * len];
        for (row, s) in flat.chunks_mut(len).zip(&signals) {
            row[..s.len()].copy_from_slice(s);
        }
        let signal =
            Tensor::<2>::from_data(TensorData::new(flat, vec![signals.len(), len]), &device);
        let frames = gpu.frame_counts(&lengths);
        let arrays = gpu.frames_on_device(signal, &lengths);
        assert_eq!(
            arrays.len(),
            gpu.cpu().frame_layout().len(),
            "{dev_name}: one array per layout entry"
        );
        for (a, (name, dim)) in arrays.into_iter().zip(gpu.cpu().frame_layout()) {
            let [b, t, d] = a.dims();
            assert_eq!(
                (b, t, d),
                (signals.len(), *frames.iter().max().unwrap(), *dim),
                "{dev_name} {name}"
            );
            let v = a.into_data().try_to_vec::<f32>().unwrap();
            for (i, &n) in frames.iter().enumerate() {
                let pad = &v[(i * t + n) * d..(i + 1) * t * d];
                assert!(
                    pad.iter().all(|x| *x == 0.0),
                    "{dev_name} {name} clip {i}: padded frames not zero"
                );
                // (Deltas of a clip of fewer than 3 frames are zero, as in librosa.)
                if n >= 3 || !name.contains("delta") {
                    let valid = &v[i * t * d..(i * t + n) * d];
                    assert!(
                        valid.iter().any(|x| *x != 0.0),
                        "{dev_name} {name} clip {i}: valid frames all zero"
                    );
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "exceeds the batch's 100 samples per row")]
fn a_clip_length_beyond_its_row_is_refused_before_any_kernel_runs() {
    let cfg = config("frames = [\"logmel\"]\n");
    let device: Device = burn::backend::FlexDevice.into();
    let gpu = GpuExtractor::new(cfg, device.clone()).unwrap();
    let signal = Tensor::<2>::from_data(TensorData::new(vec![0.1f32; 200], vec![2, 100]), &device);
    gpu.frames_on_device(signal, &[100, 101]);
}

#[test]
fn a_clip_longer_than_f32_exact_integers_is_framed_to_its_last_sample() {
    // 2^24 + 1 samples: as one f32 the length rounds to 2^24 and the last sample, the only
    // loud one, would be dropped. Hop 256 keeps the work small (65,537 frames of 16 points).
    let cfg = config(
        "frames = [\"spectrogram\"]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 16\nhop_length = 256\n",
    );
    let n = (1usize << 24) + 1;
    let mut clip = vec![0.0f32; n];
    for (i, v) in clip.iter_mut().enumerate().step_by(97) {
        *v = 1e-3 * ((i % 13) as f32 - 6.0);
    }
    // Nothing else in the last frame: its power is exactly 1 in every bin.
    clip[n - 64..].fill(0.0);
    clip[n - 1] = 1.0;
    let want = reference(&cfg).compute(&clip);
    let runs = devices()
        .into_iter()
        .flat_map(|(name, dev)| [(name, dev.clone(), false), (name, dev, true)]);
    for (dev_name, device, direct) in runs {
        let got = GpuExtractor::new(cfg.clone(), device)
            .unwrap()
            .with_fft_variant(FftVariant {
                first_from_signal: direct,
                ..FftVariant::PLAIN
            })
            .unwrap()
            .compute_batch(std::slice::from_ref(&clip))
            .remove(0);
        let dev_name = format!("{dev_name} (first stage from signal: {direct})");
        assert_eq!(got.n_frames, want.n_frames, "{dev_name}: frame count");
        let (g, w) = (&got.frames[0], &want.frames[0]);
        // The last frame holds the loud sample: |X|^2 = w[8]^2 = 1 in every bin (Hann).
        let last = &g[g.len() - 9..];
        assert_all_close(last, &[1.0f32; 9], 1e-4, format!("{dev_name}: last frame"));
        assert_all_close(g, w, 1e-4, &dev_name);
    }
}

#[test]
fn power_to_db_finds_each_clip_peak_wherever_it_lies_in_a_long_clip() {
    // Log-mel alone runs `log_mel`: the spectrum kernel's cubes raise each clip's peak by
    // atomics. With the mel power kept too, `power_to_db` reduces each clip's maximum piece
    // by piece (a 60 s clip at 64 mels is 188 pieces of ~32 frames). Clips whose loudest
    // moment is near the start, in the middle and at the very end, and a shorter one in the
    // same batch, with ref = max, so that a missed cube or piece shifts every value (by 40
    // dB here).
    for frames in ["\"logmel\"", "\"mel\", \"logmel\""] {
        peaks_of_long_clips(config(&format!(
            "frames = [{frames}]\n[audio]\nsample_rate = 16000\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n[db]\nref = \"max\"\ntop_db = 60.0\n",
        )));
    }
}

fn peaks_of_long_clips(cfg: FeatureConfig) {
    let n = 60 * 16_000;
    let signals: Vec<Vec<f32>> = [0.02, 0.5, 0.999, 0.3]
        .iter()
        .enumerate()
        .map(|(c, &at)| {
            let len: usize = if c == 3 { n / 7 } else { n };
            let loud = (at * len as f64) as usize;
            (0..len)
                .map(|i| {
                    let t = i as f64 / 16_000.0;
                    let gain = if i.abs_diff(loud) < 80 { 1.0 } else { 0.01 };
                    (gain * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32
                })
                .collect()
        })
        .collect();
    let reference = reference(&cfg);
    let want = reference.compute_batch(&signals);
    let logmel = reference
        .frame_layout()
        .iter()
        .position(|(name, _)| name == "logmel")
        .expect("a log-mel array");
    for (dev_name, device) in devices() {
        let got = pinned(cfg.clone(), device).compute_batch(&signals);
        for (c, (g, w)) in got.iter().zip(&want).enumerate() {
            let what = format!("{dev_name} {:?} clip {c} log-mel (dB)", cfg.frames);
            assert_all_close(&g.frames[logmel], &w.frames[logmel], 1e-3, what);
        }
    }
}
