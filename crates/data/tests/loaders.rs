//! Loader tests on small fixture trees that use each corpus's real naming and layout.
//! Scanning never decodes audio, so fixture files hold a few marker bytes.

use std::collections::BTreeMap;
use std::path::Path;

use ser_data::{CorpusKind, CorpusScan, CorpusSpec, Emotion, Gender, scan};

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, rel.as_bytes()).unwrap();
}

fn spec(kind: CorpusKind, root: &Path) -> CorpusSpec {
    CorpusSpec {
        name: kind.as_str().into(),
        kind,
        root: root.to_path_buf(),
        label_map: None,
    }
}

fn by_file(s: &CorpusScan) -> BTreeMap<String, &ser_data::Record> {
    s.records
        .iter()
        .map(|r| (r.path.file_name().unwrap().to_string_lossy().to_string(), r))
        .collect()
}

fn skipped_kinds(s: &CorpusScan) -> Vec<(String, String)> {
    s.skipped
        .iter()
        .map(|k| {
            (
                k.path.file_name().unwrap().to_string_lossy().to_string(),
                k.kind.clone(),
            )
        })
        .collect()
}

#[test]
fn ravdess_speech_and_song() {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "Actor_01/03-01-01-01-01-01-01.wav", // neutral, male
        "Actor_01/03-01-02-02-02-01-01.wav", // calm, strong
        "Actor_02/03-01-05-01-01-02-02.wav", // angry, female
        "Actor_02/03-02-06-02-02-01-02.wav", // song, fearful
        "Actor_02/01-01-08-01-01-01-02.mp4", // video: not audio, ignored
        "Actor_03/03-01-09-01-01-01-03.wav", // emotion 09 does not exist
        "Actor_03/recording_take2.wav",      // unparseable name
    ] {
        touch(d.path(), f);
    }
    let s = scan(&spec(CorpusKind::Ravdess, d.path())).unwrap();
    let r = by_file(&s);
    assert_eq!(s.records.len(), 4);
    let neutral = r["03-01-01-01-01-01-01.wav"];
    assert_eq!(
        (neutral.label, neutral.speaker.as_str(), neutral.gender),
        (Emotion::Neutral, "01", Gender::Male)
    );
    assert_eq!(neutral.text, "Kids are talking by the door");
    assert_eq!(r["03-01-02-02-02-01-01.wav"].label, Emotion::Calm);
    assert_eq!(r["03-01-02-02-02-01-01.wav"].text_id, "02");
    assert_eq!(r["03-01-05-01-01-02-02.wav"].gender, Gender::Female);
    let song = r["03-02-06-02-02-01-02.wav"];
    assert_eq!(
        (song.label, song.attrs["vocal_channel"].as_str()),
        (Emotion::Fearful, "song")
    );
    assert_eq!(s.ignored_non_audio, 1);
    assert_eq!(
        skipped_kinds(&s),
        vec![
            ("03-01-09-01-01-01-03.wav".into(), "unknown_label".into()),
            ("recording_take2.wav".into(), "bad_name".into())
        ]
    );
    assert!(s.skipped[0].reason.contains("'09'") && s.skipped[0].reason.contains("--label-map"));
}

#[test]
fn cremad_with_demographics() {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "AudioWAV/1001_DFA_ANG_XX.wav",
        "AudioWAV/1002_IEO_HAP_HI.wav",
        "AudioWAV/1091_WSI_NEU_XX.wav",
        "AudioWAV/1001_DFA_XYZ_XX.wav",
    ] {
        touch(d.path(), f);
    }
    std::fs::write(d.path().join("VideoDemographics.csv"), "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n").unwrap();
    let s = scan(&spec(CorpusKind::Cremad, &d.path().join("AudioWAV"))).unwrap();
    let r = by_file(&s);
    assert_eq!(s.records.len(), 3);
    let a = r["1001_DFA_ANG_XX.wav"];
    assert_eq!(
        (a.label, a.gender, a.text.as_str()),
        (Emotion::Angry, Gender::Male, "Don't forget a jacket")
    );
    assert_eq!(r["1002_IEO_HAP_HI.wav"].gender, Gender::Female);
    assert_eq!(r["1002_IEO_HAP_HI.wav"].attrs["level"], "HI");
    assert_eq!(r["1091_WSI_NEU_XX.wav"].gender, Gender::Unknown);
    assert_eq!(
        skipped_kinds(&s),
        vec![("1001_DFA_XYZ_XX.wav".into(), "unknown_label".into())]
    );
}

#[test]
fn tess_flat_and_in_folders() {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "OAF_angry/OAF_back_angry.wav",
        "YAF_pleasant_surprised/YAF_dog_ps.wav",
        "OAF_Fear/OAF_bite_fear.wav",
        "YAF_neutral.wav",
    ] {
        touch(d.path(), f);
    }
    let s = scan(&spec(CorpusKind::Tess, d.path())).unwrap();
    let r = by_file(&s);
    assert_eq!(r["OAF_back_angry.wav"].label, Emotion::Angry);
    assert_eq!(r["YAF_dog_ps.wav"].label, Emotion::Surprised);
    assert_eq!(r["OAF_bite_fear.wav"].label, Emotion::Fearful);
    assert_eq!(r["YAF_dog_ps.wav"].text_id, "dog");
    assert!(s.records.iter().all(|r| r.gender == Gender::Female));
    assert_eq!(
        skipped_kinds(&s),
        vec![("YAF_neutral.wav".into(), "bad_name".into())]
    );
}

#[test]
fn savee_both_layouts_give_the_same_records() {
    let flat = tempfile::tempdir().unwrap();
    let nested = tempfile::tempdir().unwrap();
    for (spk, code) in [("DC", "a01"), ("JE", "sa04"), ("JK", "su15"), ("KL", "n30")] {
        touch(flat.path(), &format!("{spk}_{code}.wav"));
        touch(nested.path(), &format!("AudioData/{spk}/{code}.wav"));
    }
    let a = scan(&spec(CorpusKind::Savee, flat.path())).unwrap();
    let b = scan(&spec(CorpusKind::Savee, nested.path())).unwrap();
    let key = |s: &CorpusScan| {
        s.records
            .iter()
            .map(|r| (r.speaker.clone(), r.label, r.text_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(
        key(&a),
        vec![
            ("DC".into(), Emotion::Angry, "common01".into()),
            ("JE".into(), Emotion::Sad, "sa04".into()),
            ("JK".into(), Emotion::Surprised, "su15".into()),
            ("KL".into(), Emotion::Neutral, "n30".into()),
        ]
    );
    assert!(a.records.iter().all(|r| r.gender == Gender::Male));
}

#[test]
fn emodb_codes_speakers_and_texts() {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "wav/03a01Fa.wav",
        "wav/08b10Lb.wav",
        "wav/16a07Tc.wav",
        "wav/10a02Wd.wav",
        "wav/10a02Xd.wav",
    ] {
        touch(d.path(), f);
    }
    let s = scan(&spec(CorpusKind::Emodb, d.path())).unwrap();
    let r = by_file(&s);
    assert_eq!(
        (r["03a01Fa.wav"].label, r["03a01Fa.wav"].gender),
        (Emotion::Happy, Gender::Male)
    );
    assert_eq!(
        (r["08b10Lb.wav"].label, r["08b10Lb.wav"].gender),
        (Emotion::Boredom, Gender::Female)
    );
    assert_eq!(r["16a07Tc.wav"].label, Emotion::Sad);
    assert_eq!(r["10a02Wd.wav"].label, Emotion::Angry);
    assert_eq!(
        r["03a01Fa.wav"].text,
        "Der Lappen liegt auf dem Eisschrank."
    );
    assert_eq!(
        skipped_kinds(&s),
        vec![("10a02Xd.wav".into(), "unknown_label".into())]
    );
}

#[test]
fn iemocap_labels_speakers_and_four_class_mapping() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("IEMOCAP_full_release");
    let eval = "% header\n\n[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n\
                C-E2:\tNeutral;\t()\n\n[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[3.5, 3.5, 2.5]\n\
                [12.1 - 13.0]\tSes01F_impro01_F002\tfru\t[2.0, 3.0, 3.0]\n";
    std::fs::create_dir_all(root.join("Session1/dialog/EmoEvaluation/Categorical")).unwrap();
    std::fs::write(
        root.join("Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"),
        eval,
    )
    .unwrap();
    std::fs::write(
        root.join("Session1/dialog/EmoEvaluation/Categorical/Ses01F_impro01_e1_cat.txt"),
        "noise",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("Session1/dialog/transcriptions")).unwrap();
    std::fs::write(
        root.join("Session1/dialog/transcriptions/Ses01F_impro01.txt"),
        "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\n",
    )
    .unwrap();
    for u in [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M001",
        "Ses01F_impro01_F002",
        "Ses01F_impro01_M003",
    ] {
        touch(
            &root,
            &format!("Session1/sentences/wav/Ses01F_impro01/{u}.wav"),
        );
    }
    std::fs::create_dir_all(root.join("Session2/sentences/wav/Ses02M_script01_1")).unwrap();
    std::fs::create_dir_all(root.join("Session2/dialog/EmoEvaluation")).unwrap();
    std::fs::write(
        root.join("Session2/dialog/EmoEvaluation/Ses02M_script01_1.txt"),
        "[1.0 - 2.0]\tSes02M_script01_1_F005\tang\t[1, 4, 4]\n",
    )
    .unwrap();
    touch(
        &root,
        "Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F005.wav",
    );

    let s = scan(&spec(CorpusKind::Iemocap, &root)).unwrap();
    let r = by_file(&s);
    assert_eq!(s.records.len(), 3);
    let f0 = r["Ses01F_impro01_F000.wav"];
    assert_eq!(
        (f0.label, f0.speaker.as_str(), f0.gender, f0.text.as_str()),
        (Emotion::Neutral, "Ses01_F", Gender::Female, "Excuse me.")
    );
    // The dialog prefix says F, the utterance says M: the speaker is the male actor.
    let m1 = r["Ses01F_impro01_M001.wav"];
    assert_eq!(
        (
            m1.label,
            m1.raw_label.as_str(),
            m1.speaker.as_str(),
            m1.gender
        ),
        (Emotion::Happy, "exc", "Ses01_M", Gender::Male)
    );
    let f5 = r["Ses02M_script01_1_F005.wav"];
    assert_eq!(
        (f5.label, f5.speaker.as_str(), f5.attrs["type"].as_str()),
        (Emotion::Angry, "Ses02_F", "scripted")
    );
    assert_eq!(
        skipped_kinds(&s),
        vec![
            ("Ses01F_impro01_F002.wav".into(), "excluded_label".into()),
            ("Ses01F_impro01_M003.wav".into(), "no_label".into())
        ]
    );
    assert!(s.skipped[0].is_exclusion());
}

#[test]
fn csv_manifest_relative_paths_and_bad_rows() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "clips/a.wav");
    touch(d.path(), "clips/b.flac");
    let csv = d.path().join("manifest.csv");
    std::fs::write(
        &csv,
        "path,label,speaker,gender,corpus,text\nclips/a.wav,Anger,spk1,F,call_centre,hello there\nclips/b.flac,neutral,spk2,m,,\nclips/missing.wav,sad,spk1,f,,\nclips/a.wav,euphoric,spk1,f,,\n",
    )
    .unwrap();
    let s = scan(&spec(CorpusKind::Manifest, &csv)).unwrap();
    assert_eq!(s.records.len(), 2);
    let a = &s.records[0];
    assert_eq!(
        (a.label, a.gender, a.corpus.as_str(), a.text.as_str()),
        (Emotion::Angry, Gender::Female, "call_centre", "hello there")
    );
    assert_eq!(
        (s.records[1].corpus.as_str(), s.records[1].gender),
        ("csv", Gender::Male)
    );
    let kinds: Vec<&str> = s.skipped.iter().map(|k| k.kind.as_str()).collect();
    assert_eq!(kinds, ["unknown_label", "missing_file"]);
    std::fs::write(&csv, "file,emotion\nx.wav,sad\n").unwrap();
    let err = scan(&spec(CorpusKind::Manifest, &csv))
        .unwrap_err()
        .to_string();
    assert!(err.contains("path, label, speaker"), "{err}");
}

#[test]
fn user_label_map_overrides_the_embedded_one() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "Actor_01/03-01-02-01-01-01-01.wav");
    touch(d.path(), "Actor_01/03-01-08-01-01-01-01.wav");
    let map = d.path().join("ravdess_merged.toml");
    std::fs::write(
        &map,
        "name = \"RAVDESS, calm as neutral\"\n[labels]\n\"02\" = \"neutral\"\n\"08\" = \"drop\"\n",
    )
    .unwrap();
    let mut sp = spec(CorpusKind::Ravdess, d.path());
    sp.label_map = Some(map);
    let s = scan(&sp).unwrap();
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].label, Emotion::Neutral);
    assert_eq!(s.skipped[0].kind, "excluded_label");
}

#[test]
fn hashes_find_duplicate_audio() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("Actor_01")).unwrap();
    std::fs::write(
        d.path().join("Actor_01/03-01-05-01-01-01-01.wav"),
        b"same audio",
    )
    .unwrap();
    std::fs::write(
        d.path().join("Actor_01/03-01-05-01-01-02-01.wav"),
        b"same audio",
    )
    .unwrap();
    std::fs::write(
        d.path().join("Actor_01/03-01-04-01-01-01-01.wav"),
        b"other audio",
    )
    .unwrap();
    let mut s = scan(&spec(CorpusKind::Ravdess, d.path())).unwrap();
    s.hash_all();
    assert!(
        s.records
            .iter()
            .all(|r| r.content_hash.as_ref().is_some_and(|h| h.len() == 32))
    );
    let sum = s.summary();
    assert_eq!(sum.duplicate_groups.len(), 1);
    assert_eq!(sum.duplicate_groups[0].len(), 2);
    assert_eq!(sum.labels["angry"], 2);
    assert_eq!(sum.speakers["01"], 3);
}
