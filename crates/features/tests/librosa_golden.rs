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
use ser_check::{Worst, assert_all_close, max_abs_diff, max_rel_diff, nan_max};
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

/// A dataset the generator writes for this case; a missing one fails the test.
fn need(g: &hdf5::Group, name: &str, ctx: &str) -> (Vec<f64>, Vec<usize>) {
    read(g, name).unwrap_or_else(|| {
        panic!(
            "{ctx}: golden value '{name}' is missing; regenerate with tests/golden/make_golden.sh"
        )
    })
}

/// Whether make_golden.py stores the power spectrum of this case (it leaves out the two
/// incompressible signals at n_fft > 512).
fn has_power(cfg: &FeatureConfig, signal: &str) -> bool {
    cfg.stft.n_fft <= 512 || !matches!(signal, "noise" | "odd_length")
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

        let (logmel, shape) = need(&g, "logmel", &ctx);
        assert_eq!(out.n_frames, shape[0], "{ctx}: frame count");
        let ours = &out.frames[layout_index(&ex, "logmel")];
        assert_all_close(ours, &logmel, 1e-6, format!("{ctx}: log-mel (dB)"));

        if has_power(ex.config(), &signal) {
            let (power, _) = need(&g, "power", &ctx);
            let ours = &out.frames[layout_index(&ex, "spectrogram")];
            let n_bins = ours.len() / out.n_frames;
            assert_eq!(ours.len(), power.len(), "{ctx}: power spectrum size");
            for (t, (a, b)) in ours.chunks(n_bins).zip(power.chunks(n_bins)).enumerate() {
                let peak = nan_max(b.iter().copied()).max(1e-30);
                let err = max_abs_diff(a, b);
                Worst::of([err.error / peak]).assert_within(
                    1e-6,
                    format!("{ctx}: power frame {t}, relative to its peak"),
                );
            }
        }

        let (mfcc, _) = need(&g, "mfcc", &ctx);
        let ours = &out.frames[layout_index(&ex, "mfcc")];
        assert_all_close(ours, &mfcc, 1e-6, format!("{ctx}: MFCC"));
        // make_golden.py stores deltas for clips of at least 9 frames (librosa's width).
        if out.n_frames >= 9 {
            for name in ["mfcc_delta", "mfcc_delta2"] {
                let (reference, _) = need(&g, name, &ctx);
                let ours = &out.frames[layout_index(&ex, name)];
                assert_all_close(ours, &reference, 1e-6, format!("{ctx}: {name}"));
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
        let ctx = format!("{setting}/{signal}");
        let (logmel, _) = need(&g, "logmel", &ctx);
        let ours = &out.frames[layout_index(&ex, "logmel")];
        let max = max_abs_diff(ours, &logmel).error;
        if ex.config().mel.power == 2.0 {
            assert!(max <= 1e-3, "{ctx}: f32 log-mel max error {max} dB");
        } else {
            // Magnitude mels: 80 dB of 10 log10|X| span 160 dB of energy; f32 FFT rounding
            // (~1e-7 of the frame energy) limits the bins far below the peak.
            assert!(
                max <= 0.05,
                "{ctx}: f32 magnitude log-mel max error {max} dB"
            );
            let peak = nan_max(logmel.iter().copied());
            let near = ours
                .iter()
                .zip(&logmel)
                .filter(|(_, b)| !(**b <= peak - 30.0));
            let near_max = Worst::of(near.map(|(a, b)| (*a as f64 - b).abs())).error;
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
        let (y, _) = need(&sg, "y", &signal);
        let rms: Vec<f64> =
            ser_dsp::frame_rms(&y, p.n_fft, p.hop_length, true, ser_dsp::PadMode::Constant);
        // librosa computes rms in float32 (its `dtype` default).
        let rms_ref = need(&sg, "rms", &signal).0;
        max_rel_diff(&rms, &rms_ref, 1e-6).assert_within(1e-6, format!("{signal}: rms, relative"));
        let zcr = ser_features::zero_crossing_rate(&y, p.n_fft, p.hop_length, true);
        assert_eq!(zcr, need(&sg, "zcr", &signal).0, "{signal}: zcr");

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
        let rc = need(&sg, "centroid", &signal).0;
        max_rel_diff(&cent, &rc, 1.0).assert_within(1e-9, format!("{signal}: centroid, relative"));
        assert_eq!(roll, need(&sg, "rolloff", &signal).0, "{signal}: rolloff");
        let contrast = ser_features::contrast_db(peaks, valleys);
        let contrast_ref = need(&sg, "contrast", &signal).0;
        assert_all_close(
            &contrast,
            &contrast_ref,
            1e-6,
            format!("{signal}: contrast (dB)"),
        );

        // make_golden.py runs YIN on clips of at least one YIN frame (1024 samples).
        if y.len() >= 1024 {
            let (f0_ref, _) = need(&sg, "f0", &signal);
            let yp = ser_features::YinParams {
                sr,
                fmin: fc.f0_min,
                fmax: fc.f0_max,
                frame_length: fc.yin_frame_length,
                hop_length: p.hop_length,
                trough_threshold: fc.yin_threshold,
            };
            let (f0, _) = ser_features::yin(&y, &yp);
            max_rel_diff(&f0, &f0_ref, 0.0)
                .assert_within(1e-5, format!("{signal}: YIN F0, relative"));
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
        let peak = nan_max(y.iter().map(|v| v.abs()));
        assert_all_close(
            &x,
            &y,
            1e-9 * peak,
            format!("{name}: sosfilt (1e-9 of the peak)"),
        );
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
