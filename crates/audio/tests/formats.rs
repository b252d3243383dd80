//! Decoding of the compressed formats, on fixtures made by
//! `tests/fixtures/audio/make_fixtures.sh` (a 0.5 s stereo tone: 440 Hz left, 660 Hz right).

use std::path::PathBuf;

use ser_audio::{AudioConfig, Cleaner, decode_file};

#[path = "../../../tests/support/paths.rs"]
mod paths;
use paths::manifest_dir;

fn fixture(ext: &str) -> PathBuf {
    manifest_dir().join(format!("../../tests/fixtures/audio/tone_stereo_22k.{ext}"))
}

/// Magnitude of the DFT of `x` at `freq` Hz, normalised by length.
fn tone_level(x: &[f32], freq: f64, sr: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (n, v) in x.iter().enumerate() {
        let a = 2.0 * std::f64::consts::PI * freq * n as f64 / sr;
        re += *v as f64 * a.cos();
        im -= *v as f64 * a.sin();
    }
    (re * re + im * im).sqrt() / x.len() as f64
}

#[test]
fn wav_flac_ogg_mp3_decode_to_the_same_tone() {
    for ext in ["wav", "flac", "ogg", "mp3"] {
        let d = decode_file(&fixture(ext)).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!((d.channels, d.sample_rate), (2, 22_050), "{ext}");
        let frames = d.frames();
        // MP3 may keep part of the encoder's delay and padding; the others are exact.
        let slack = if ext == "mp3" { 2_400 } else { 0 };
        assert!(
            frames >= 11_025 && frames <= 11_025 + slack,
            "{ext}: {frames} frames"
        );
        let left: Vec<f32> = d.samples.iter().step_by(2).copied().collect();
        let right: Vec<f32> = d.samples.iter().skip(1).step_by(2).copied().collect();
        let (l440, l660) = (
            tone_level(&left, 440.0, 22_050.0),
            tone_level(&left, 660.0, 22_050.0),
        );
        let (r440, r660) = (
            tone_level(&right, 440.0, 22_050.0),
            tone_level(&right, 660.0, 22_050.0),
        );
        assert!(
            l440 > 0.1 && l440 > 20.0 * l660,
            "{ext}: left {l440} {l660}"
        );
        assert!(
            r660 > 0.1 && r660 > 20.0 * r440,
            "{ext}: right {r440} {r660}"
        );
    }
}

#[test]
fn compressed_files_go_through_the_cleaning_pipeline() {
    let cleaner = Cleaner::new(AudioConfig {
        sample_rate: 16_000,
        ..Default::default()
    })
    .unwrap();
    let wav = cleaner
        .clean(&decode_file(&fixture("wav")).unwrap())
        .unwrap();
    let flac = cleaner
        .clean(&decode_file(&fixture("flac")).unwrap())
        .unwrap();
    assert_eq!(wav.len(), 8_000);
    // FLAC is lossless: identical after the same processing.
    assert_eq!(wav, flac);
    let ogg = cleaner
        .clean(&decode_file(&fixture("ogg")).unwrap())
        .unwrap();
    ser_check::assert_all_close(&ogg, &wav, 0.05, "ogg against wav");
}
