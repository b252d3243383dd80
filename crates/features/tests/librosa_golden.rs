//! Agreement with librosa / SciPy, through the golden file made by
//! `tests/golden/make_golden.sh` (librosa 0.11, float64 throughout).
//!
//! Tolerances reached (and asserted):
//! - f64 pipeline: log-mel within 1e-6 dB, MFCC and deltas within 1e-6, power spectrum
//!   within 1e-6 of the frame maximum (the reference is stored as float32);
//! - f32 pipeline (the default): log-mel within 1e-3 dB over every bin of every clip for
//!   power mels (`mel.power = 2`, the default; worst seen 8e-4 dB on a full-band chirp).
//!   For magnitude mels (`power = 1`) 80 dB of `10 log10 |X|` span 160 dB of energy, and
//!   single precision's FFT rounding (~1e-7 of the frame energy) limits bins far below the
//!   peak: within 1e-3 dB down to 30 dB below the peak, 0.05 dB beyond (worst seen 0.036);
//! - YIN F0 within 1e-5 relative (parabolic refinement amplifies rounding in near-silent
//!   frames); RMS within 1e-6 relative (librosa computes it in float32); zero-crossing
//!   rate and roll-off exactly; centroid within 1e-9; contrast within 1e-6 dB.

use hdf5::types::VarLenUnicode;
use ser_features::{Extractor, FeatureConfig, Precision};

#[path = "../../../tests/support/paths.rs"]
mod paths;
use paths::manifest_dir;

fn golden() -> hdf5::File {
    let path = manifest_dir().join("../../tests/golden/librosa_golden.h5");
    hdf5::File::open(path).expect("golden file (regenerate with tests/golden/make_golden.sh)")
}

fn read(g: &hdf5::Group, name: &str) -> Option<(Vec<f64>, Vec<usize>)> {
    let ds = g.dataset(name).ok()?;
    Some((ds.read_raw::<f64>().unwrap(), ds.shape()))
}

fn attr_str(g: &hdf5::Group, name: &str) -> String {
    g.attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

/// Each (setting, signal) pair with its parsed config.
fn cases() -> Vec<(String, String, FeatureConfig, hdf5::Group)> {
    let f = golden();
    let mut out = Vec::new();
    for setting in [
        "speech16k",
        "librosa_default",
        "htk_reflect_hamming",
        "povey_uncentred_8k",
    ] {
        let g = f.group(setting).unwrap();
        let cfg = FeatureConfig::from_toml(&attr_str(&g, "toml")).unwrap();
        for name in g.member_names().unwrap() {
            let sg = g.group(&name).unwrap();
            out.push((setting.to_string(), name, cfg.clone(), sg));
        }
    }
    assert!(out.len() >= 18, "golden file has {} cases", out.len());
    out
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn layout_index(ex: &Extractor, name: &str) -> usize {
    ex.frame_layout()
        .iter()
        .position(|(n, _)| n == name)
        .unwrap()
}

#[test]
fn f64_pipeline_matches_librosa_float64() {
    for (setting, signal, cfg, g) in cases() {
        let ex = Extractor::new(cfg).unwrap();
        let (y, _) = read(&g, "y").unwrap();
        let out = ex.compute_f64(&y);
        let ctx = format!("{setting}/{signal}");

        let (logmel, shape) = read(&g, "logmel").unwrap();
        assert_eq!(out.n_frames, shape[0], "{ctx}: frame count");
        let err = max_abs_diff(&out.frames[layout_index(&ex, "logmel")], &logmel);
        assert!(err <= 1e-6, "{ctx}: log-mel max error {err} dB");

        let (power, _) = read(&g, "power").map_or((vec![], vec![]), |v| v);
        if !power.is_empty() {
            let ours = &out.frames[layout_index(&ex, "spectrogram")];
            let n_bins = ours.len() / out.n_frames;
            for (t, (a, b)) in ours.chunks(n_bins).zip(power.chunks(n_bins)).enumerate() {
                let peak = b.iter().cloned().fold(1e-30, f64::max);
                let err = max_abs_diff(a, b) / peak;
                assert!(err <= 1e-6, "{ctx}: power frame {t} relative error {err}");
            }
        }

        let (mfcc, _) = read(&g, "mfcc").unwrap();
        let err = max_abs_diff(&out.frames[layout_index(&ex, "mfcc")], &mfcc);
        assert!(err <= 1e-6, "{ctx}: MFCC max error {err}");
        for (name, key) in [("mfcc_delta", "mfcc_delta"), ("mfcc_delta2", "mfcc_delta2")] {
            if let Some((reference, _)) = read(&g, key) {
                let err = max_abs_diff(&out.frames[layout_index(&ex, name)], &reference);
                assert!(err <= 1e-6, "{ctx}: {name} max error {err}");
            }
        }
    }
}

#[test]
fn f32_pipeline_stays_within_the_stated_tolerance() {
    let mut worst = 0.0f64;
    for (setting, signal, mut cfg, g) in cases() {
        cfg.precision = Precision::F32;
        let ex = Extractor::new(cfg).unwrap();
        let (y, _) = read(&g, "y").unwrap();
        let y32: Vec<f32> = y.iter().map(|v| *v as f32).collect();
        let out = ex.compute(&y32);
        let (logmel, _) = read(&g, "logmel").unwrap();
        let ours = &out.frames[layout_index(&ex, "logmel")];
        let max = ours
            .iter()
            .zip(&logmel)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        let ctx = format!("{setting}/{signal}");
        if ex.config().mel.power == 2.0 {
            assert!(max <= 1e-3, "{ctx}: f32 log-mel max error {max} dB");
        } else {
            // Magnitude mels: 80 dB of 10 log10|X| span 160 dB of energy; f32 FFT rounding
            // (~1e-7 of the frame energy) limits the bins far below the peak.
            assert!(
                max <= 0.05,
                "{ctx}: f32 magnitude log-mel max error {max} dB"
            );
            let peak = logmel.iter().cloned().fold(f64::MIN, f64::max);
            let near = ours.iter().zip(&logmel).filter(|(_, b)| **b > peak - 30.0);
            let near_max = near.map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(
                near_max <= 1e-3,
                "{ctx}: f32 log-mel error {near_max} dB within 30 dB of the peak"
            );
        }
        worst = worst.max(max);
    }
    eprintln!("worst f32 log-mel error over all golden clips: {worst:.2e} dB");
}

#[test]
fn functional_descriptors_match_librosa() {
    let f = golden();
    let g = f.group("speech16k").unwrap();
    let cfg = FeatureConfig::from_toml(&attr_str(&g, "toml")).unwrap();
    let p = cfg.stft.params().unwrap();
    let sr = cfg.audio.sample_rate as f64;
    let freqs: Vec<f64> = (0..p.n_fft / 2 + 1)
        .map(|k| k as f64 * sr / p.n_fft as f64)
        .collect();
    let fc = &cfg.functionals;
    let bands = ser_features::ContrastBands::new(
        &freqs,
        fc.contrast_fmin,
        fc.contrast_bands,
        fc.contrast_quantile,
    );
    for signal in g.member_names().unwrap() {
        let sg = g.group(&signal).unwrap();
        let (y, _) = read(&sg, "y").unwrap();
        let rms: Vec<f64> =
            ser_dsp::frame_rms(&y, p.n_fft, p.hop_length, true, ser_dsp::PadMode::Constant);
        // librosa computes rms in float32 (its `dtype` default).
        let rms_ref = read(&sg, "rms").unwrap().0;
        let err = rms
            .iter()
            .zip(&rms_ref)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-6))
            .fold(0.0, f64::max);
        assert!(err < 1e-6, "{signal}: rms relative error {err}");
        let zcr = ser_features::zero_crossing_rate(&y, p.n_fft, p.hop_length, true);
        assert_eq!(zcr, read(&sg, "zcr").unwrap().0, "{signal}: zcr");

        let stft = ser_dsp::Stft::<f64>::new(p).unwrap();
        let (mag, n_frames) = stft.spectrogram(&y, 1.0);
        let n_bins = stft.n_bins();
        let (mut cent, mut roll) = (vec![], vec![]);
        let mut peaks = vec![0.0; n_frames * bands.len()];
        let mut valleys = peaks.clone();
        let mut buf = Vec::new();
        for t in 0..n_frames {
            let m = &mag[t * n_bins..(t + 1) * n_bins];
            cent.push(ser_features::centroid(m, &freqs));
            roll.push(ser_features::rolloff(m, &freqs, fc.rolloff_percent));
            let k = bands.len();
            bands.peak_valley(
                m,
                &mut peaks[t * k..(t + 1) * k],
                &mut valleys[t * k..(t + 1) * k],
                &mut buf,
            );
        }
        let rc = read(&sg, "centroid").unwrap().0;
        let err = cent
            .iter()
            .zip(&rc)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        assert!(err < 1e-9, "{signal}: centroid relative error {err}");
        assert_eq!(roll, read(&sg, "rolloff").unwrap().0, "{signal}: rolloff");
        let contrast = ser_features::contrast_db(peaks, valleys);
        let err = max_abs_diff(&contrast, &read(&sg, "contrast").unwrap().0);
        assert!(err < 1e-6, "{signal}: contrast max error {err} dB");

        if let Some((f0_ref, _)) = read(&sg, "f0") {
            let yp = ser_features::YinParams {
                sr,
                fmin: fc.f0_min,
                fmax: fc.f0_max,
                frame_length: fc.yin_frame_length,
                hop_length: p.hop_length,
                trough_threshold: fc.yin_threshold,
            };
            let (f0, _) = ser_features::yin(&y, &yp);
            let err = f0
                .iter()
                .zip(&f0_ref)
                .map(|(a, b)| (a - b).abs() / b)
                .fold(0.0, f64::max);
            assert!(err < 1e-5, "{signal}: yin relative error {err}");
        }
    }
}

#[test]
fn butterworth_sosfilt_matches_scipy() {
    let f = golden();
    let g = f.group("filters").unwrap();
    for name in g.member_names().unwrap() {
        let h = g.group(&name).unwrap();
        let spec: serde_json::Value = serde_json::from_str(&attr_str(&h, "spec")).unwrap();
        let order = spec["order"].as_u64().unwrap() as usize;
        let fs = spec["fs"].as_f64().unwrap();
        let band = match spec["btype"].as_str().unwrap() {
            "bandpass" => ser_dsp::Band::Bandpass(
                spec["band"][0].as_f64().unwrap(),
                spec["band"][1].as_f64().unwrap(),
            ),
            "lowpass" => ser_dsp::Band::Lowpass(spec["band"].as_f64().unwrap()),
            "highpass" => ser_dsp::Band::Highpass(spec["band"].as_f64().unwrap()),
            other => panic!("unknown btype {other}"),
        };
        let sos = ser_dsp::butter(order, band, fs).unwrap();
        let (mut x, _) = read(&h, "x").unwrap();
        sos.filter_f64(&mut x);
        let (y, _) = read(&h, "y").unwrap();
        let peak = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&x, &y) / peak;
        assert!(err < 1e-9, "{name}: relative error {err}");
    }
}

#[test]
fn trim_bounds_match_librosa() {
    let f = golden();
    let g = f.group("trim").unwrap();
    for name in g.member_names().unwrap() {
        let h = g.group(&name).unwrap();
        let top_db = h.attr("top_db").unwrap().read_scalar::<f64>().unwrap();
        let y: Vec<f32> = read(&h, "y").unwrap().0.iter().map(|v| *v as f32).collect();
        let bounds = h.dataset("bounds").unwrap().read_raw::<i64>().unwrap();
        let (s, e) = ser_audio::trim_bounds(&y, top_db, 2048, 512);
        assert_eq!([s as i64, e as i64], [bounds[0], bounds[1]], "{name}");
    }
}
