//! The synthetic corpora: layouts the real loaders accept, labels and speakers as designed,
//! deterministic output, resumable writing.

use std::collections::BTreeSet;
use std::path::Path;

use ser_data::{CorpusSpec, Emotion, Gender, scan};
use ser_synth::{SynthConfig, generate};

fn all_bytes(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(root);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn tiny_corpora_load_with_the_real_loaders_and_are_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let cfg = SynthConfig::tiny(11);
    let report = generate(&cfg, a.path(), &|_, _| {}).unwrap();
    assert_eq!(report.reused, 0);
    assert_eq!(report.corpora[0].3, 4 * 60);
    assert_eq!(report.corpora[1].3, 4 * (16 + 6));

    let rav =
        scan(&CorpusSpec::parse(&a.path().join("ravdess").display().to_string()).unwrap()).unwrap();
    assert_eq!(rav.name, "synth_ravdess");
    assert!(rav.skipped.is_empty(), "{:?}", rav.skipped);
    assert_eq!(rav.records.len(), 240);
    let labels: BTreeSet<Emotion> = rav.records.iter().map(|r| r.label).collect();
    assert_eq!(labels.len(), 8);
    let s = rav.summary();
    assert_eq!(s.speakers.len(), 4);
    assert_eq!(s.labels["neutral"], 4 * 4);
    assert_eq!(s.labels["angry"], 4 * 8);
    assert_eq!(s.genders["male"], 120);

    let cre =
        scan(&CorpusSpec::parse(&a.path().join("cremad").display().to_string()).unwrap()).unwrap();
    assert_eq!(cre.name, "synth_cremad");
    assert!(cre.skipped.is_empty(), "{:?}", cre.skipped);
    assert_eq!(cre.records.len(), 88);
    assert!(cre.records.iter().all(|r| r.gender != Gender::Unknown));
    let spk_a: BTreeSet<_> = rav.records.iter().map(|r| r.speaker.clone()).collect();
    let spk_b: BTreeSet<_> = cre.records.iter().map(|r| r.speaker.clone()).collect();
    assert!(spk_a.is_disjoint(&spk_b));

    // Same seed, same bytes; another seed, other audio.
    let b = tempfile::tempdir().unwrap();
    generate(&cfg, b.path(), &|_, _| {}).unwrap();
    assert_eq!(all_bytes(a.path()), all_bytes(b.path()));
    let c = tempfile::tempdir().unwrap();
    generate(
        &SynthConfig {
            ravdess_actors: 1,
            cremad_actors: 1,
            ..SynthConfig::tiny(12)
        },
        c.path(),
        &|_, _| {},
    )
    .unwrap();
    let clip = "ravdess/Actor_01/03-01-05-02-01-01-01.wav";
    assert_ne!(
        std::fs::read(a.path().join(clip)).unwrap(),
        std::fs::read(c.path().join(clip)).unwrap()
    );

    // An interrupted run (files missing) resumes to the same result.
    for p in walk(&b.path().join("ravdess/Actor_02"))
        .into_iter()
        .take(20)
    {
        std::fs::remove_file(p).unwrap();
    }
    let again = generate(&cfg, b.path(), &|_, _| {}).unwrap();
    assert_eq!(again.written, 20);
    assert_eq!(all_bytes(a.path()), all_bytes(b.path()));
}

#[test]
fn invalid_sizes_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let err = generate(
        &SynthConfig {
            ravdess_actors: 30,
            ..SynthConfig::default()
        },
        d.path(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("ravdess_actors"), "{err}");
}

/// Mean level in dB of the quietest 10 % of 20 ms blocks: the noise floor of a clip.
fn floor_db(path: &Path) -> f64 {
    let d = ser_audio::decode_file(path).unwrap();
    let y: Vec<f64> = d.samples.iter().map(|&v| v as f64).collect();
    let mut blocks: Vec<f64> = y
        .chunks(320)
        .map(|b| {
            10.0 * (b.iter().map(|v| v * v).sum::<f64>() / b.len() as f64)
                .max(1e-12)
                .log10()
        })
        .collect();
    blocks.sort_by(f64::total_cmp);
    let k = (blocks.len() / 10).max(1);
    blocks[..k].iter().sum::<f64>() / k as f64
}

#[test]
fn the_hardness_knobs_cut_clips_add_noise_and_are_checked() {
    let (easy, hard) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base = SynthConfig {
        ravdess_actors: 2,
        cremad_actors: 1,
        cremad_sentences: 1,
        ravdess_rate: 16_000,
        ..SynthConfig::default()
    };
    generate(&base, easy.path(), &|_, _| {}).unwrap();
    let knobs = SynthConfig {
        emotion_strength: 0.6,
        prosody_spread: 1.4,
        speaker_spread: 1.5,
        ravdess_takes: 1,
        ravdess_snr_db: vec![15.0, 15.0],
        ravdess_band_hz: vec![100.0, 7000.0],
        cremad_snr_db: [5.0, 5.0],
        ..base.clone()
    };
    let r = generate(&knobs, hard.path(), &|_, _| {}).unwrap();
    // One statement and repetition per emotion and intensity: 15 clips per RAVDESS actor.
    assert_eq!(r.corpora[0].3, 2 * 15);
    let clip = "ravdess/Actor_01/03-01-05-02-01-01-01.wav";
    let (quiet, noisy) = (
        floor_db(&easy.path().join(clip)),
        floor_db(&hard.path().join(clip)),
    );
    assert!(
        quiet < -60.0 && noisy > quiet + 20.0,
        "studio floor {quiet:.1} dB, with 15 dB SNR noise {noisy:.1} dB"
    );
    // Deterministic like the defaults.
    let again = tempfile::tempdir().unwrap();
    generate(&knobs, again.path(), &|_, _| {}).unwrap();
    assert_eq!(all_bytes(hard.path()), all_bytes(again.path()));
    // The preset validates; bad knobs are refused with their name.
    let d = tempfile::tempdir().unwrap();
    for (cfg, key) in [
        (
            SynthConfig {
                emotion_strength: 0.0,
                ..SynthConfig::hard(1)
            },
            "emotion_strength",
        ),
        (
            SynthConfig {
                ravdess_takes: 5,
                ..SynthConfig::hard(1)
            },
            "ravdess_takes",
        ),
        (
            SynthConfig {
                ravdess_band_hz: vec![100.0, 30_000.0],
                ..SynthConfig::hard(1)
            },
            "ravdess_band_hz",
        ),
    ] {
        let err = generate(&cfg, d.path(), &|_, _| {}).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn hours_write_one_manifest_corpus_of_that_size_that_the_loader_reads_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    // 0.05 h = 180 s: 68 clips over 4 speakers (the minimum), 6 emotions.
    let cfg = SynthConfig {
        hours: 0.05,
        ..SynthConfig::tiny(3)
    };
    let report = generate(&cfg, d.path(), &|_, _| {}).unwrap();
    assert_eq!(report.corpora.len(), 1, "{:?}", report.corpora);
    let (name, kind, root, clips) = &report.corpora[0];
    assert_eq!(
        (name.as_str(), kind.as_str(), *clips),
        ("synth_large", "manifest", 68)
    );
    assert!(
        (0.045..0.055).contains(&report.hours),
        "asked 0.05 h, wrote {} h",
        report.hours
    );
    assert!(!d.path().join("ravdess").exists() && !d.path().join("cremad").exists());

    let spec = CorpusSpec::parse(&format!("synth_large={}", root.display())).unwrap();
    let scanned = scan(&spec).unwrap();
    assert!(scanned.skipped.is_empty(), "{:?}", scanned.skipped);
    assert_eq!(scanned.records.len(), 68);
    let s = scanned.summary();
    assert_eq!(s.speakers.len(), 4);
    assert_eq!(s.labels.len(), 6, "{:?}", s.labels);
    assert!(s.labels.values().all(|&n| n >= 10), "{:?}", s.labels);
    assert!(scanned.records.iter().all(|r| r.gender != Gender::Unknown));

    // Resumed after losing clips: the same bytes, only the lost clips written again.
    let before = all_bytes(d.path());
    let lost: Vec<_> = walk(&d.path().join("large/wav/spk00001"))
        .into_iter()
        .take(5)
        .collect();
    lost.iter().for_each(|p| std::fs::remove_file(p).unwrap());
    let again = generate(&cfg, d.path(), &|_, _| {}).unwrap();
    assert_eq!((again.written, again.reused), (5, 63));
    assert_eq!(all_bytes(d.path()), before);

    // A band past the 16 kHz corpus's Nyquist frequency is refused.
    let err = generate(
        &SynthConfig {
            hours: 0.01,
            ravdess_band_hz: vec![100.0, 9000.0],
            ..SynthConfig::default()
        },
        d.path(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("below 8000 Hz"), "{err}");
}
