//! Records, skip reports and corpus summaries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::{CorpusKind, Emotion, Gender};

/// One labelled clip of a corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Path to the audio file.
    pub path: PathBuf,
    /// Corpus name (the `NAME` of `--corpus NAME=PATH`).
    pub corpus: String,
    /// Speaker id as the corpus writes it (unique within the corpus).
    pub speaker: String,
    /// Speaker gender.
    pub gender: Gender,
    /// Common label.
    pub label: Emotion,
    /// The corpus's own code for the label (e.g. `05`, `ANG`, `exc`).
    pub raw_label: String,
    /// Sentence / text id ("" when the corpus has none).
    pub text_id: String,
    /// Sentence text when known ("" otherwise).
    pub text: String,
    /// Corpus-specific attributes (intensity, modality, session, ...).
    pub attrs: BTreeMap<String, String>,
    /// BLAKE3 content hash of the file, once computed ([`CorpusScan::hash_all`]).
    pub content_hash: Option<String>,
}

/// A file that belongs to the corpus folder but was not turned into a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Short category (`bad_name`, `unknown_label`, `excluded_label`, `missing_file`, ...).
    pub kind: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl Skipped {
    /// True for clips left out on purpose by the label map (not a problem to report).
    pub fn is_exclusion(&self) -> bool {
        self.kind == "excluded_label"
    }
}

/// The result of reading one corpus.
#[derive(Debug, Clone)]
pub struct CorpusScan {
    /// Corpus name.
    pub name: String,
    /// Layout that was read.
    pub kind: CorpusKind,
    /// Corpus root (folder, or the manifest file).
    pub root: PathBuf,
    /// Labelled clips, sorted by path.
    pub records: Vec<Record>,
    /// Files not read, with reasons, sorted by path.
    pub skipped: Vec<Skipped>,
    /// Files ignored because they are not audio (e.g. RAVDESS .mp4, notes).
    pub ignored_non_audio: usize,
}

impl CorpusScan {
    /// Fills every record's content hash, reading files in parallel; unreadable files move
    /// to `skipped`.
    pub fn hash_all(&mut self) {
        let results: Vec<std::io::Result<String>> = self
            .records
            .par_iter()
            .map(|r| crate::hash_file(&r.path))
            .collect();
        let mut kept = Vec::with_capacity(self.records.len());
        for (mut r, h) in std::mem::take(&mut self.records).into_iter().zip(results) {
            match h {
                Ok(h) => {
                    r.content_hash = Some(h);
                    kept.push(r);
                }
                Err(e) => self.skipped.push(Skipped {
                    path: r.path,
                    kind: "io".into(),
                    reason: format!("cannot read file: {e}"),
                }),
            }
        }
        self.records = kept;
    }

    /// Counts for `ser corpus inspect`.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.records {
            *s.labels.entry(r.label.as_str().to_string()).or_default() += 1;
            *s.speakers.entry(r.speaker.clone()).or_default() += 1;
            *s.genders.entry(r.gender.as_str().to_string()).or_default() += 1;
            s.speaker_gender
                .insert(r.speaker.clone(), r.gender.as_str().to_string());
        }
        let mut by_hash: BTreeMap<&str, Vec<&PathBuf>> = BTreeMap::new();
        for r in &self.records {
            if let Some(h) = &r.content_hash {
                by_hash.entry(h).or_default().push(&r.path);
            }
        }
        s.duplicate_groups = by_hash
            .values()
            .filter(|v| v.len() > 1)
            .map(|v| v.iter().map(|p| (*p).clone()).collect())
            .collect();
        s
    }
}

/// Counts per label, speaker and gender, and groups of identical files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Clips per common label.
    pub labels: BTreeMap<String, usize>,
    /// Clips per speaker.
    pub speakers: BTreeMap<String, usize>,
    /// Clips per gender.
    pub genders: BTreeMap<String, usize>,
    /// Gender of each speaker.
    pub speaker_gender: BTreeMap<String, String>,
    /// Sets of paths with identical content (only when hashes were computed).
    pub duplicate_groups: Vec<Vec<PathBuf>>,
}
