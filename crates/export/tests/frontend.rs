//! `--with-frontend` graphs against ser's own pipeline. For five feature configs (FFT sizes
//! 256 / 400 / 512 / 1024 / 2048, Hann / Hamming windows, centred with zero or reflect padding
//! and not centred, pre-emphasis, peak and RMS normalization, fixed and per-clip maximum dB
//! references, MFCC with a lifter, first and second deltas, spectrogram and linear mel, tile
//! and floor-filled segments) and inputs longer than the segment, shorter than it, of odd
//! length and of the shortest accepted length:
//! - the front end alone (`frontend_to_onnx`) run by onnxruntime gives ser's frame features
//!   (the CPU reference `FramePipeline` on the same samples, cut by `centre_segment`);
//! - the whole pipeline (`pipeline_to_onnx`) with a network trained a few steps on those
//!   features gives ser's probabilities within 1e-4.
//!
//! Both pass `onnx.checker`'s full check; the comparison runs in `tests/onnx/check_onnx.py`.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use ser_experiment::{FramePipeline, SegmentConfig, SegmentPolicy, centre_segment};
use ser_export::{Frontend, Segment, ShortFill};
use ser_features::FeatureConfig;
use ser_models::{
    Activation, CnnConfig, CnnReduce, HeadConfig, LstmConfig, Net, NetConfig, NetKind, TimePooling,
};

mod common;
use common::{check_in_onnxruntime, rnd, small_sections};

const CLASSES: usize = 4;

/// A voiced, speech-like signal in 16-bit range (whole numbers, as a WAV file holds): eight
/// harmonics of a class-dependent, gliding F0, a syllable envelope, a little noise.
fn voice(class: usize, len: usize, rate: u32, seed: &mut u64) -> Vec<f32> {
    let f0 = [110.0f64, 160.0, 230.0, 320.0][class] * (1.0 + 0.05 * rnd(seed) as f64);
    let mut phase = 0.0f64;
    (0..len)
        .map(|n| {
            let t = n as f64 / rate as f64;
            phase += 2.0 * std::f64::consts::PI * f0 * (1.0 + 0.08 * (3.0 * t).sin()) / rate as f64;
            let env = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
            let v: f64 = (1..=8)
                .map(|h| (h as f64 * phase).sin() / h as f64)
                .sum::<f64>()
                * env;
            (6000.0 * v + 150.0 * rnd(seed) as f64)
                .round()
                .clamp(-32768.0, 32767.0) as f32
        })
        .collect()
}

/// Waveforms of one length (16-bit range) and ser's features of each.
type Feed = (Vec<Vec<f32>>, Vec<Vec<f32>>);

struct Case {
    name: &'static str,
    config: &'static str,
    arrays: &'static [&'static str],
    segment: Option<(usize, SegmentPolicy)>,
    net: NetConfig,
    /// Input lengths in seconds, besides the shortest accepted one.
    seconds: &'static [f64],
    /// Tolerance of the features: dB arrays absolute, linear ones relative to their maximum.
    linear: bool,
}

/// ser's features of each waveform (16-bit range) as the run's test clips get them, cut to
/// the segment: `[frames, dim]` each.
fn reference(p: &FramePipeline, waves: &[Vec<f32>], seg: Option<SegmentConfig>) -> Vec<Vec<f32>> {
    let cleaner = p.reference().cleaner();
    let rate = p.reference().config().audio.sample_rate;
    let signals: Vec<Vec<f32>> = waves
        .iter()
        .map(|w| {
            let d = ser_audio::Decoded {
                samples: w.iter().map(|v| v / 32768.0).collect(),
                channels: 1,
                sample_rate: rate,
            };
            cleaner.clean(&d).unwrap()
        })
        .collect();
    p.features(&signals)
        .into_iter()
        .map(|f| match seg {
            Some(s) => centre_segment(&f, p.dim(), s).0,
            None => f,
        })
        .collect()
}

fn nested(x: &[Vec<f32>], dim: usize) -> Vec<Vec<Vec<f32>>> {
    x.iter()
        .map(|f| f.chunks(dim).map(|r| r.to_vec()).collect())
        .collect()
}

fn run_case(dir: &Path, c: &Case) {
    let flex: Device = burn::backend::FlexDevice.into();
    let cfg = FeatureConfig::from_toml(c.config).unwrap();
    let rate = cfg.audio.sample_rate;
    let arrays: Vec<String> = c.arrays.iter().map(|s| s.to_string()).collect();
    let p = FramePipeline::new(&cfg.to_toml(), &arrays, &flex).unwrap();
    let dim = p.dim();
    let seg = c
        .segment
        .map(|(frames, policy)| SegmentConfig { frames, policy });
    let frontend = Frontend {
        config: &cfg,
        arrays: &arrays,
        segment: seg.map(|s| Segment {
            frames: s.frames,
            short: match s.policy {
                SegmentPolicy::Tile => ShortFill::Tile,
                SegmentPolicy::Crop => ShortFill::Floor,
                SegmentPolicy::Pad => unreachable!(),
            },
        }),
    };
    let info = frontend.check().unwrap();
    assert_eq!(info.n_features, dim, "{}", c.name);
    let mut lengths: Vec<usize> = c
        .seconds
        .iter()
        .map(|s| (s * rate as f64) as usize)
        .collect();
    lengths.push(info.min_samples);
    let mut seed = 7u64;
    // One feed per length: a batch of three clips of three classes.
    let feeds: Vec<Feed> = lengths
        .iter()
        .map(|&len| {
            let waves: Vec<Vec<f32>> = (0..3).map(|k| voice(k, len, rate, &mut seed)).collect();
            let feats = reference(&p, &waves, seg);
            assert!(
                !feats[0].is_empty(),
                "{}: {len} samples give no frame",
                c.name
            );
            (waves, feats)
        })
        .collect();

    // The front end alone.
    let d = dir.join(format!("{}_features", c.name));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("model.onnx"),
        ser_export::frontend_to_onnx(&frontend, &[]).unwrap(),
    )
    .unwrap();
    let scale = ser_check::nan_max(
        feeds
            .iter()
            .flat_map(|(_, f)| f.iter().flatten())
            .map(|v| v.abs() as f64),
    );
    let tol = if c.linear { 2e-5 * scale } else { 2e-3 };
    assert!(tol.is_finite(), "{}: reference features hold NaN", c.name);
    let json_feeds: Vec<serde_json::Value> = feeds
        .iter()
        .map(|(w, f)| serde_json::json!({ "input": w, "expected": nested(f, dim) }))
        .collect();
    std::fs::write(
        d.join("case.json"),
        serde_json::json!({
            "feeds": json_feeds, "input_name": "waveform", "output_name": "features", "tol": tol,
        })
        .to_string(),
    )
    .unwrap();

    // The whole pipeline: a network trained a few steps on the reference features (so its
    // outputs are confident, not a comparison of two near-uniform vectors).
    let frames = seg.map_or(feeds[0].1[0].len() / dim, |s| s.frames);
    let train_len = seg.map_or(lengths[0], |_| {
        (frames + 5) * p.reference().config().stft.hop_length()
    });
    let train: Vec<(Vec<f32>, usize)> = (0..24)
        .map(|i| {
            let w = voice(i % CLASSES, train_len, rate, &mut seed);
            let f = reference(
                &p,
                &[w],
                seg.or(Some(SegmentConfig {
                    frames,
                    policy: SegmentPolicy::Tile,
                })),
            );
            (f.into_iter().next().unwrap(), i % CLASSES)
        })
        .collect();
    let n = train.len() as f32 * frames as f32;
    let mean: Vec<f32> = (0..dim)
        .map(|k| {
            train
                .iter()
                .flat_map(|(f, _)| f.iter().skip(k).step_by(dim))
                .sum::<f32>()
                / n
        })
        .collect();
    let std: Vec<f32> = (0..dim)
        .map(|k| {
            let v = train
                .iter()
                .flat_map(|(f, _)| f.iter().skip(k).step_by(dim))
                .map(|v| (v - mean[k]).powi(2))
                .sum::<f32>()
                / n;
            v.sqrt().max(1e-3)
        })
        .collect();
    let standardized = |f: &[f32]| -> Vec<f32> {
        f.iter()
            .enumerate()
            .map(|(i, v)| (v - mean[i % dim]) / std[i % dim])
            .collect()
    };
    let device = flex.clone().autodiff();
    device.seed(3);
    let mut net = Net::new(&c.net, dim, frames, CLASSES, &device).unwrap();
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    for step in 0..10 {
        let items: Vec<&(Vec<f32>, usize)> = (0..8)
            .map(|k| &train[(step * 8 + k) % train.len()])
            .collect();
        let x: Vec<f32> = items.iter().flat_map(|(f, _)| standardized(f)).collect();
        let y: Vec<i64> = items.iter().map(|(_, l)| *l as i64).collect();
        let x = Tensor::<3>::from_data(TensorData::new(x, [8, frames, dim]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [8]), &device);
        let loss = loss_fn.forward(net.forward(x, &[frames; 8]), y);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-2, net, grads);
    }
    let net = net.valid();
    let mut spread = 0f64;
    let json_feeds: Vec<serde_json::Value> = feeds
        .iter()
        .map(|(w, f)| {
            let t = f[0].len() / dim;
            let x: Vec<f32> = f.iter().flat_map(|f| standardized(f)).collect();
            let logits = net.forward(
                Tensor::<3>::from_data(TensorData::new(x, [f.len(), t, dim]), &flex),
                &vec![t; f.len()],
            );
            let probs = activation::softmax(logits, 1)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let top = ser_check::nan_max(probs.iter().map(|&v| v as f64 - 1.0 / CLASSES as f64));
            spread = ser_check::nan_max([spread, top]);
            let expected: Vec<Vec<f32>> = probs.chunks(CLASSES).map(|r| r.to_vec()).collect();
            serde_json::json!({ "input": w, "expected": expected })
        })
        .collect();
    assert!(
        spread > 0.05,
        "{}: probabilities nearly uniform ({spread}), a weak check",
        c.name
    );
    let classes: Vec<String> = (0..CLASSES).map(|k| format!("c{k}")).collect();
    let bytes = ser_export::pipeline_to_onnx(
        &net.weights(),
        &frontend,
        &classes,
        Some(ser_export::Standardize {
            mean: &mean,
            std: &std,
        }),
        &[],
    )
    .unwrap();
    let d = dir.join(c.name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("model.onnx"), bytes).unwrap();
    std::fs::write(
        d.join("case.json"),
        serde_json::json!({ "feeds": json_feeds, "input_name": "waveform" }).to_string(),
    )
    .unwrap();
}

fn cases() -> Vec<Case> {
    let (cnn, lstm, head) = small_sections();
    let lstm = LstmConfig {
        hidden: 6,
        layers: 1,
        dropout: 0.0,
        ..lstm
    };
    let head = HeadConfig {
        hidden: vec![8],
        activation: Activation::Relu,
        ..head
    };
    let net = |kind, cnn: &CnnConfig, lstm: &LstmConfig| NetConfig {
        kind,
        cnn: cnn.clone(),
        lstm: lstm.clone(),
        head: head.clone(),
        ssl_head: Default::default(),
    };
    vec![
        Case {
            name: "speech16k_logmel_tile",
            config: "frames = [\"logmel\"]\n[audio]\nsample_rate = 16000\n\
                     [stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 64\n",
            arrays: &["logmel"],
            segment: Some((100, SegmentPolicy::Tile)),
            net: net(NetKind::CnnLstm, &cnn, &lstm),
            seconds: &[1.3, 0.37531],
            linear: false,
        },
        Case {
            name: "tel8k_preemph_peak_delta_floor",
            config: "frames = [\"logmel\"]\n[audio]\nsample_rate = 8000\npreemphasis = 0.97\n\
                     [audio.normalize]\nmode = \"peak\"\n[stft]\nn_fft = 256\nwin_length = 200\n\
                     hop_length = 80\n[mel]\nn_mels = 40\nfmin = 60.0\n[deltas]\norder = 1\n",
            arrays: &["logmel", "logmel_delta"],
            segment: Some((60, SegmentPolicy::Crop)),
            net: net(
                NetKind::Lstm,
                &cnn,
                &LstmConfig {
                    pooling: TimePooling::Attention,
                    ..lstm.clone()
                },
            ),
            seconds: &[1.0, 0.2501],
            linear: false,
        },
        Case {
            name: "mfcc22k_max_ref_reflect_rms_delta2",
            config: "frames = [\"mfcc\"]\n[audio]\nsample_rate = 22050\n\
                     [audio.normalize]\nmode = \"rms\"\n[stft]\nn_fft = 1024\nhop_length = 256\n\
                     pad_mode = \"reflect\"\n[mel]\nn_mels = 64\n[db]\nref = \"max\"\ntop_db = 60.0\n\
                     [mfcc]\nn_mfcc = 20\nlifter = 22.0\n[deltas]\norder = 2\nwidth = 7\n",
            arrays: &["mfcc", "mfcc_delta", "mfcc_delta2"],
            segment: Some((80, SegmentPolicy::Tile)),
            net: net(
                NetKind::Cnn,
                &CnnConfig {
                    reduce: CnnReduce::Max,
                    ..cnn.clone()
                },
                &lstm,
            ),
            seconds: &[1.0, 0.5],
            linear: false,
        },
        Case {
            name: "librosa2048_logmel_mfcc",
            config: "frames = [\"logmel\", \"mfcc\"]\n",
            arrays: &["logmel", "mfcc"],
            segment: Some((40, SegmentPolicy::Tile)),
            net: net(
                NetKind::Lstm,
                &cnn,
                &LstmConfig {
                    pooling: TimePooling::Last,
                    bidirectional: false,
                    ..lstm.clone()
                },
            ),
            seconds: &[1.0, 0.31747],
            linear: false,
        },
        Case {
            name: "hamming400_uncentred_magnitude_mel",
            config: "frames = [\"spectrogram\", \"mel\"]\n[audio]\nsample_rate = 16000\n\
                     [stft]\nn_fft = 400\nhop_length = 160\nwindow = \"hamming\"\ncenter = false\n\
                     [mel]\nn_mels = 32\npower = 1.0\n",
            arrays: &["mel"],
            segment: Some((50, SegmentPolicy::Tile)),
            net: net(NetKind::Cnn, &cnn, &lstm),
            seconds: &[0.8, 0.21],
            linear: true,
        },
    ]
}

#[test]
fn the_exported_front_end_computes_sers_features_and_probabilities_from_raw_waveforms() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let mut dirs = Vec::new();
    for c in &cases {
        run_case(tmp.path(), c);
        dirs.push(tmp.path().join(format!("{}_features", c.name)));
        dirs.push(tmp.path().join(c.name));
    }
    check_in_onnxruntime(&dirs);
}

#[test]
fn what_onnx_cannot_compute_is_refused_naming_the_key() {
    let arrays = vec!["logmel".to_string()];
    for (toml, key) in [
        ("[audio.bandpass]\nenabled = true\n", "audio.bandpass"),
        ("[audio.denoise]\nenabled = true\n", "audio.denoise"),
        (
            "[audio.normalize]\nmode = \"lufs\"\n",
            "audio.normalize.mode",
        ),
    ] {
        let cfg = FeatureConfig::from_toml(toml).unwrap();
        let f = Frontend {
            config: &cfg,
            arrays: &arrays,
            segment: None,
        };
        let e = f.check().unwrap_err().to_string();
        assert!(
            e.contains(key) && e.contains("without --with-frontend"),
            "{e}"
        );
    }
    let cfg =
        FeatureConfig::from_toml("frames = [\"mel\", \"mfcc\"]\n[deltas]\norder = 1\n").unwrap();
    for name in ["mfcc_delta2", "mel_delta", "logmel", "chroma"] {
        let wrong = vec![name.to_string()];
        let f = Frontend {
            config: &cfg,
            arrays: &wrong,
            segment: None,
        };
        let e = f.check().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
}
