//! The common label set and the per-corpus label maps (files in `datasets/`, embedded at
//! build time, replaceable at run time with `--label-map`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::{CorpusKind, DataError};

/// The common emotion labels every corpus is mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Emotion {
    /// Neutral.
    Neutral,
    /// Calm (RAVDESS only).
    Calm,
    /// Happy / joy.
    Happy,
    /// Sad.
    Sad,
    /// Angry.
    Angry,
    /// Fearful.
    Fearful,
    /// Disgust.
    Disgust,
    /// Surprised.
    Surprised,
    /// Boredom (EmoDB).
    Boredom,
}

impl Emotion {
    /// Every label, in canonical order.
    pub const ALL: [Emotion; 9] = [
        Emotion::Neutral,
        Emotion::Calm,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
        Emotion::Surprised,
        Emotion::Boredom,
    ];

    /// Lower-case name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Calm => "calm",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Fearful => "fearful",
            Emotion::Disgust => "disgust",
            Emotion::Surprised => "surprised",
            Emotion::Boredom => "boredom",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Emotion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Emotion::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a common label; use one of {}",
                    Emotion::ALL.map(|e| e.as_str()).join(", ")
                )
            })
    }
}

/// Speaker gender as the corpus documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not documented.
    Unknown,
}

impl Gender {
    /// Lower-case name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Unknown => "unknown",
        }
    }

    /// Parses `male`/`m`/`female`/`f` (any case); anything else is unknown.
    pub fn parse(s: &str) -> Gender {
        match s.trim().to_ascii_lowercase().as_str() {
            "m" | "male" | "man" => Gender::Male,
            "f" | "female" | "woman" => Gender::Female,
            _ => Gender::Unknown,
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a raw corpus code maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    /// A common label.
    Label(Emotion),
    /// Excluded on purpose (`"drop"` in the label map).
    Drop,
}

/// A corpus description: label codes, speaker genders, sentence texts.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    /// Human-readable corpus name.
    pub name: String,
    /// Raw code → mapping. Codes are matched exactly, or case-insensitively for manifests.
    pub labels: BTreeMap<String, Mapped>,
    /// Speaker id → gender, where file names do not say.
    pub speakers: BTreeMap<String, Gender>,
    /// Text id → sentence.
    pub texts: BTreeMap<String, String>,
    /// Where the map came from (`embedded datasets/x.toml` or a path), for messages.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelMapFile {
    name: String,
    #[allow(dead_code)]
    layout: Option<String>,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    speakers: BTreeMap<String, String>,
    #[serde(default)]
    texts: BTreeMap<String, String>,
}

impl LabelMap {
    /// Parses a label-map TOML file's text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, DataError> {
        let bad = |m: String| DataError::LabelMap {
            file: source.to_string(),
            message: m,
        };
        let file: LabelMapFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut labels = BTreeMap::new();
        for (code, target) in file.labels {
            let mapped = if target.eq_ignore_ascii_case("drop") {
                Mapped::Drop
            } else {
                Mapped::Label(
                    target
                        .parse()
                        .map_err(|e| bad(format!("labels.{code}: {e} (or \"drop\")")))?,
                )
            };
            labels.insert(code, mapped);
        }
        let speakers = file
            .speakers
            .into_iter()
            .map(|(k, v)| (k, Gender::parse(&v)))
            .collect();
        Ok(LabelMap {
            name: file.name,
            labels,
            speakers,
            texts: file.texts,
            source: source.to_string(),
        })
    }

    /// The map shipped in `datasets/` for a corpus kind.
    pub fn embedded(kind: CorpusKind) -> LabelMap {
        let (text, file) = match kind {
            CorpusKind::Ravdess => (
                include_str!("../../../datasets/ravdess.toml"),
                "ravdess.toml",
            ),
            CorpusKind::Cremad => (include_str!("../../../datasets/cremad.toml"), "cremad.toml"),
            CorpusKind::Tess => (include_str!("../../../datasets/tess.toml"), "tess.toml"),
            CorpusKind::Savee => (include_str!("../../../datasets/savee.toml"), "savee.toml"),
            CorpusKind::Emodb => (include_str!("../../../datasets/emodb.toml"), "emodb.toml"),
            CorpusKind::Iemocap => (
                include_str!("../../../datasets/iemocap.toml"),
                "iemocap.toml",
            ),
            CorpusKind::Manifest => (
                include_str!("../../../datasets/manifest.toml"),
                "manifest.toml",
            ),
        };
        LabelMap::parse(text, &format!("embedded datasets/{file}"))
            .expect("shipped label maps are valid")
    }

    /// Reads a user's label map from disk.
    pub fn from_file(path: &std::path::Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::LabelMap {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        LabelMap::parse(&text, &path.display().to_string())
    }

    /// Maps a raw code; `None` when the code is not listed.
    pub fn map(&self, code: &str) -> Option<Mapped> {
        self.labels.get(code).copied()
    }

    /// Like [`LabelMap::map`], ignoring case (for free-form manifest labels).
    pub fn map_case_insensitive(&self, code: &str) -> Option<Mapped> {
        let lc = code.trim().to_ascii_lowercase();
        self.labels
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase() == lc)
            .map(|(_, v)| *v)
    }

    /// Documented gender of a speaker id.
    pub fn gender(&self, speaker: &str) -> Gender {
        self.speakers
            .get(speaker)
            .copied()
            .unwrap_or(Gender::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_map_parses_and_maps_to_common_labels() {
        for kind in CorpusKind::ALL {
            let m = LabelMap::embedded(kind);
            assert!(!m.labels.is_empty(), "{kind:?}");
        }
        let r = LabelMap::embedded(CorpusKind::Ravdess);
        assert_eq!(r.map("02"), Some(Mapped::Label(Emotion::Calm)));
        let i = LabelMap::embedded(CorpusKind::Iemocap);
        assert_eq!(i.map("exc"), Some(Mapped::Label(Emotion::Happy)));
        assert_eq!(i.map("fru"), Some(Mapped::Drop));
        let e = LabelMap::embedded(CorpusKind::Emodb);
        assert_eq!(e.map("L"), Some(Mapped::Label(Emotion::Boredom)));
        assert_eq!(e.gender("08"), Gender::Female);
        let m = LabelMap::embedded(CorpusKind::Manifest);
        assert_eq!(
            m.map_case_insensitive("Anger"),
            Some(Mapped::Label(Emotion::Angry))
        );
    }

    #[test]
    fn a_bad_target_label_names_the_code_and_the_file() {
        let err = LabelMap::parse("name = \"x\"\n[labels]\nW = \"furious\"\n", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("my.toml") && err.contains("labels.W") && err.contains("furious"),
            "{err}"
        );
    }
}
