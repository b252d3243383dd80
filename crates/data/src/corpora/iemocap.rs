//! IEMOCAP: labels from `Session*/dialog/EmoEvaluation/*.txt`, text from
//! `Session*/dialog/transcriptions/*.txt`, audio in `Session*/sentences/wav/<dialog>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::names::Parsed;
use super::{empty_scan, push_parsed, walk_audio};
use crate::{CorpusScan, CorpusSpec, Gender, LabelMap, Skipped};

struct Label {
    code: String,
    start: String,
    end: String,
    vad: String,
    file: PathBuf,
}

fn session_dirs(root: &Path) -> Vec<PathBuf> {
    let own = root
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("Session"));
    if own {
        return vec![root.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("Session"))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn txt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension().is_some_and(|e| e == "txt")
                        && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]`
fn parse_evaluation(path: &Path, labels: &mut BTreeMap<String, Label>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines().filter(|l| l.starts_with('[')) {
        let parts: Vec<&str> = line.split('\t').collect();
        if parts.len() < 3 {
            continue;
        }
        let (start, end) = parts[0]
            .trim_matches(['[', ']'])
            .split_once(" - ")
            .unwrap_or(("", ""));
        labels.insert(
            parts[1].trim().to_string(),
            Label {
                code: parts[2].trim().to_string(),
                start: start.trim().to_string(),
                end: end.trim().to_string(),
                vad: parts
                    .get(3)
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default(),
                file: path.to_path_buf(),
            },
        );
    }
}

/// `Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.`
fn parse_transcription(path: &Path, texts: &mut BTreeMap<String, String>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        if let (Some((utt, _)), Some((_, said))) = (line.split_once(' '), line.split_once("]: ")) {
            texts.insert(utt.to_string(), said.trim().to_string());
        }
    }
}

pub(super) fn scan(spec: &CorpusSpec, map: &LabelMap) -> std::io::Result<CorpusScan> {
    let sessions = session_dirs(&spec.root);
    if sessions.is_empty() {
        return Err(std::io::Error::other(
            "no Session1..Session5 folders here; point --corpus at the IEMOCAP release folder (IEMOCAP_full_release)",
        ));
    }
    let mut out = empty_scan(spec);
    for session in sessions {
        let mut labels = BTreeMap::new();
        for f in txt_files(&session.join("dialog/EmoEvaluation")) {
            parse_evaluation(&f, &mut labels);
        }
        let mut texts = BTreeMap::new();
        for f in txt_files(&session.join("dialog/transcriptions")) {
            parse_transcription(&f, &mut texts);
        }
        let wav_root = session.join("sentences/wav");
        if !wav_root.is_dir() {
            continue;
        }
        let (files, other) = walk_audio(&wav_root)?;
        out.ignored_non_audio += other;
        for path in files {
            let utt = path.file_stem().unwrap().to_string_lossy().to_string();
            let last = utt.rsplit('_').next().unwrap_or("");
            let letter = last.chars().next().unwrap_or('?');
            if utt.len() < 6 || !utt.starts_with("Ses") || !matches!(letter, 'F' | 'M') {
                out.skipped.push(Skipped {
                    path,
                    kind: "bad_name".into(),
                    reason: format!(
                        "'{utt}' is not an IEMOCAP utterance id like Ses01F_impro01_F000"
                    ),
                });
                continue;
            }
            let Some(label) = labels.get(&utt) else {
                out.skipped.push(Skipped {
                    path,
                    kind: "no_label".into(),
                    reason: format!(
                        "utterance {utt} has no line in {}/dialog/EmoEvaluation/*.txt",
                        session.display()
                    ),
                });
                continue;
            };
            let session_id = &utt[..5];
            let dialog = utt
                .rsplit_once('_')
                .map(|(d, _)| d.to_string())
                .unwrap_or_default();
            let mut attrs = BTreeMap::new();
            attrs.insert("session".into(), session_id.to_string());
            attrs.insert("dialog".into(), dialog.clone());
            attrs.insert(
                "type".into(),
                if dialog.contains("script") {
                    "scripted".into()
                } else {
                    "improvised".into()
                },
            );
            attrs.insert("start_s".into(), label.start.clone());
            attrs.insert("end_s".into(), label.end.clone());
            attrs.insert("vad".into(), label.vad.clone());
            attrs.insert(
                "label_file".into(),
                label
                    .file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string(),
            );
            let parsed = Parsed {
                speaker: format!("{session_id}_{letter}"),
                raw_label: label.code.clone(),
                text: texts.get(&utt).cloned().unwrap_or_default(),
                gender: Some(if letter == 'F' {
                    Gender::Female
                } else {
                    Gender::Male
                }),
                attrs,
                ..Default::default()
            };
            push_parsed(&mut out, map, path, parsed);
        }
    }
    Ok(out)
}
