//! Reading corpora from disk: a walk over audio files plus one file-name parser per layout,
//! or, for IEMOCAP and CSV manifests, label files that point at the audio.

mod iemocap;
mod manifest;
mod names;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use names::file_name_matches;
use names::{Parsed, parse_name};

use crate::{
    CorpusKind, CorpusScan, CorpusSpec, DataError, Gender, LabelMap, Mapped, Record, Skipped,
};

/// File extensions treated as audio (case-insensitive).
pub(crate) const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

pub(crate) fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Audio files under `root` (sorted) and the number of other files, hidden ones aside.
pub(crate) fn walk_audio(root: &Path) -> Result<(Vec<PathBuf>, usize), std::io::Error> {
    let mut audio = Vec::new();
    let mut other = 0;
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || name.starts_with('.') || name == crate::MARKER_FILE {
            continue;
        }
        if is_audio(entry.path()) {
            audio.push(entry.into_path());
        } else {
            other += 1;
        }
    }
    Ok((audio, other))
}

/// Reads one corpus. Fails only when the corpus as a whole cannot be read (missing root,
/// invalid label map or manifest header); every problem with a single file lands in
/// [`CorpusScan::skipped`].
pub fn scan(spec: &CorpusSpec) -> Result<CorpusScan, DataError> {
    let map = match &spec.label_map {
        Some(p) => LabelMap::from_file(p)?,
        None => LabelMap::embedded(spec.kind),
    };
    let root_err = |message: String| DataError::Root {
        name: spec.name.clone(),
        path: spec.root.display().to_string(),
        message,
    };
    if !spec.root.exists() {
        return Err(root_err("no such file or folder".into()));
    }
    let mut scan = match spec.kind {
        CorpusKind::Iemocap => iemocap::scan(spec, &map).map_err(|e| root_err(e.to_string()))?,
        CorpusKind::Manifest => manifest::scan(spec, &map)?,
        kind => {
            let (files, other) = walk_audio(&spec.root).map_err(|e| root_err(e.to_string()))?;
            let genders = if kind == CorpusKind::Cremad {
                cremad_demographics(&spec.root)
            } else {
                BTreeMap::new()
            };
            let mut scan = empty_scan(spec);
            scan.ignored_non_audio = other;
            for path in files {
                match parse_name(kind, &path) {
                    Ok(mut parsed) => {
                        if let Some(g) = genders.get(&parsed.speaker) {
                            parsed.gender = Some(*g);
                        }
                        push_parsed(&mut scan, &map, path, parsed);
                    }
                    Err(reason) => scan.skipped.push(Skipped {
                        path,
                        kind: "bad_name".into(),
                        reason,
                    }),
                }
            }
            scan
        }
    };
    scan.records.sort_by(|a, b| a.path.cmp(&b.path));
    scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

pub(crate) fn empty_scan(spec: &CorpusSpec) -> CorpusScan {
    CorpusScan {
        name: spec.name.clone(),
        kind: spec.kind,
        root: spec.root.clone(),
        records: Vec::new(),
        skipped: Vec::new(),
        ignored_non_audio: 0,
    }
}

/// Maps a parsed file's label and adds it as a record, or as a skip with the reason.
pub(crate) fn push_parsed(scan: &mut CorpusScan, map: &LabelMap, path: PathBuf, p: Parsed) {
    let mapped = if scan.kind == CorpusKind::Manifest {
        map.map_case_insensitive(&p.raw_label)
    } else {
        map.map(&p.raw_label)
    };
    match mapped {
        Some(Mapped::Label(label)) => {
            let text = if p.text.is_empty() { map.texts.get(&p.text_id).cloned().unwrap_or_default() } else { p.text };
            let gender = p.gender.unwrap_or_else(|| map.gender(&p.speaker));
            scan.records.push(Record {
                path,
                corpus: p.corpus.unwrap_or_else(|| scan.name.clone()),
                speaker: p.speaker,
                gender,
                label,
                raw_label: p.raw_label,
                text_id: p.text_id,
                text,
                attrs: p.attrs,
                content_hash: None,
            });
        }
        Some(Mapped::Drop) => scan.skipped.push(Skipped {
            path,
            kind: "excluded_label".into(),
            reason: format!("label '{}' is mapped to \"drop\" in {}", p.raw_label, map.source),
        }),
        None => scan.skipped.push(Skipped {
            path,
            kind: "unknown_label".into(),
            reason: format!(
                "label code '{}' is not in {}; add it there (copy the file and pass --label-map {}=FILE) to use these clips",
                p.raw_label,
                map.source,
                scan.kind
            ),
        }),
    }
}

/// Actor genders from CREMA-D's `VideoDemographics.csv` (in the root or its parent).
fn cremad_demographics(root: &Path) -> BTreeMap<String, Gender> {
    let mut out = BTreeMap::new();
    let candidates = [
        root.join("VideoDemographics.csv"),
        root.parent()
            .map(|p| p.join("VideoDemographics.csv"))
            .unwrap_or_default(),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return out;
    };
    let Ok(mut rdr) = csv::Reader::from_path(path) else {
        return out;
    };
    let headers = rdr.headers().cloned().unwrap_or_default();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(id), Some(sex)) = (col("ActorID"), col("Sex")) else {
        return out;
    };
    for row in rdr.records().filter_map(Result::ok) {
        if let (Some(a), Some(s)) = (row.get(id), row.get(sex)) {
            out.insert(a.trim().to_string(), Gender::parse(s));
        }
    }
    out
}
