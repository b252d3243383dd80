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
