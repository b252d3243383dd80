//! Corpus kinds, `--corpus` arguments and layout detection.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::DataError;
use crate::corpora::{AUDIO_EXTENSIONS, file_name_matches};

/// File a corpus root may hold to declare its name and layout (`ser synth` writes one):
/// `name = "synth_ravdess"` and `kind = "ravdess"`.
pub const MARKER_FILE: &str = "ser-corpus.toml";

/// The on-disk layouts ser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CorpusKind {
    /// RAVDESS speech and song.
    Ravdess,
    /// CREMA-D.
    Cremad,
    /// Toronto Emotional Speech Set.
    Tess,
    /// SAVEE.
    Savee,
    /// Berlin EmoDB.
    Emodb,
    /// IEMOCAP.
    Iemocap,
    /// Folder + CSV manifest.
    Manifest,
}

impl CorpusKind {
    /// Every kind.
    pub const ALL: [CorpusKind; 7] = [
        CorpusKind::Ravdess,
        CorpusKind::Cremad,
        CorpusKind::Tess,
        CorpusKind::Savee,
        CorpusKind::Emodb,
        CorpusKind::Iemocap,
        CorpusKind::Manifest,
    ];

    /// Name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CorpusKind::Ravdess => "ravdess",
            CorpusKind::Cremad => "cremad",
            CorpusKind::Tess => "tess",
            CorpusKind::Savee => "savee",
            CorpusKind::Emodb => "emodb",
            CorpusKind::Iemocap => "iemocap",
            CorpusKind::Manifest => "csv",
        }
    }
}

impl fmt::Display for CorpusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CorpusKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(
            match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
                "ravdess" => CorpusKind::Ravdess,
                "cremad" | "crema" => CorpusKind::Cremad,
                "tess" => CorpusKind::Tess,
                "savee" => CorpusKind::Savee,
                "emodb" | "berlin" => CorpusKind::Emodb,
                "iemocap" => CorpusKind::Iemocap,
                "csv" | "manifest" => CorpusKind::Manifest,
                _ => {
                    return Err(format!(
                        "unknown corpus kind '{s}': use one of ravdess, cremad, tess, savee, emodb, iemocap, csv"
                    ));
                }
            },
        )
    }
}

/// One corpus to read: a name for reports and records, its layout, where it is, and an
/// optional label map replacing the embedded one.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusSpec {
    /// Name written into every record's `corpus` field.
    pub name: String,
    /// Layout.
    pub kind: CorpusKind,
    /// Folder (or manifest CSV).
    pub root: PathBuf,
    /// User label map (`--label-map`), replacing `datasets/<kind>.toml`.
    pub label_map: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Marker {
    name: Option<String>,
    kind: Option<String>,
}

fn read_marker(root: &Path) -> Option<(Option<String>, Option<CorpusKind>)> {
    let text = std::fs::read_to_string(root.join(MARKER_FILE)).ok()?;
    let m: Marker = toml::from_str(&text).ok()?;
    Some((m.name, m.kind.and_then(|k| k.parse().ok())))
}

impl CorpusSpec {
    /// Parses `PATH`, `KIND=PATH`, `NAME=PATH` or `NAME:KIND=PATH`. The layout comes from
    /// the argument, else the root's `ser-corpus.toml`, else detection from file names.
    pub fn parse(arg: &str) -> Result<Self, DataError> {
        let (left, path) = match arg.split_once('=') {
            Some((l, p)) => (Some(l.trim()), p.trim()),
            None => (None, arg.trim()),
        };
        if path.is_empty() {
            return Err(DataError::Spec(format!(
                "--corpus '{arg}': missing path (write NAME=PATH)"
            )));
        }
        let root = PathBuf::from(path);
        if !root.exists() {
            return Err(DataError::Root {
                name: left.unwrap_or(path).to_string(),
                path: path.to_string(),
                message: "no such file or folder; check the path (relative paths start from the current directory)".into(),
            });
        }
        let marker = read_marker(&root);
        let (name, kind) = match left {
            Some(l) if l.contains(':') => {
                let (n, k) = l.split_once(':').unwrap();
                (
                    n.to_string(),
                    Some(k.parse::<CorpusKind>().map_err(DataError::Spec)?),
                )
            }
            Some(l) => match l.parse::<CorpusKind>() {
                Ok(k) => (l.to_string(), Some(k)),
                Err(_) => (l.to_string(), None),
            },
            None => {
                let n = marker.as_ref().and_then(|m| m.0.clone());
                (n.unwrap_or_default(), None)
            }
        };
        let kind = match kind.or_else(|| marker.as_ref().and_then(|m| m.1)) {
            Some(k) => k,
            None => detect_kind(&root).map_err(|why| {
                DataError::Spec(format!(
                    "cannot tell which layout {} uses ({why}); name it explicitly, e.g. --corpus {}:ravdess={path}",
                    if name.is_empty() { path.to_string() } else { format!("corpus '{name}'") },
                    if name.is_empty() { "mycorpus" } else { &name },
                ))
            })?,
        };
        let name = if name.is_empty() {
            kind.as_str().to_string()
        } else {
            name
        };
        if name.is_empty() || name.contains(['/', '\\', ',']) {
            return Err(DataError::Spec(format!(
                "corpus name '{name}' must be non-empty without / \\ or ,"
            )));
        }
        Ok(CorpusSpec {
            name,
            kind,
            root,
            label_map: None,
        })
    }
}

/// Guesses the layout of a corpus root from its structure and file names.
pub fn detect_kind(root: &Path) -> Result<CorpusKind, String> {
    if root.is_file() {
        return if root
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            Ok(CorpusKind::Manifest)
        } else {
            Err("a single file that is not a .csv manifest".into())
        };
    }
    if (1..=5).any(|i| root.join(format!("Session{i}")).is_dir())
        || root
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("Session"))
            && root.join("sentences").is_dir()
    {
        return Ok(CorpusKind::Iemocap);
    }
    let mut counts = [0usize; 5];
    let kinds = [
        CorpusKind::Ravdess,
        CorpusKind::Cremad,
        CorpusKind::Tess,
        CorpusKind::Savee,
        CorpusKind::Emodb,
    ];
    let mut total = 0;
    for entry in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        let p = entry.path();
        let is_audio = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if !entry.file_type().is_file() || !is_audio {
            continue;
        }
        total += 1;
        for (i, k) in kinds.iter().enumerate() {
            if file_name_matches(*k, p) {
                counts[i] += 1;
            }
        }
        if total >= 500 {
            break;
        }
    }
    if total == 0 {
        return Err("no audio files (.wav .flac .mp3 .ogg) found".into());
    }
    let (best, &n) = counts.iter().enumerate().max_by_key(|(_, c)| **c).unwrap();
    if n * 2 >= total {
        Ok(kinds[best])
    } else {
        Err(format!(
            "only {n} of {total} audio file names follow any known corpus convention"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_with_aliases() {
        assert_eq!("CREMA-D".parse::<CorpusKind>().unwrap(), CorpusKind::Cremad);
        assert_eq!("emo_db".parse::<CorpusKind>().unwrap(), CorpusKind::Emodb);
        assert!(
            "timit"
                .parse::<CorpusKind>()
                .unwrap_err()
                .contains("ravdess")
        );
    }

    #[test]
    fn spec_forms() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let s = CorpusSpec::parse(&format!("ravdess={root}")).unwrap();
        assert_eq!((s.name.as_str(), s.kind), ("ravdess", CorpusKind::Ravdess));
        let s = CorpusSpec::parse(&format!("mine:emodb={root}")).unwrap();
        assert_eq!((s.name.as_str(), s.kind), ("mine", CorpusKind::Emodb));
        std::fs::write(
            dir.path().join(MARKER_FILE),
            "name = \"synth_a\"\nkind = \"ravdess\"\n",
        )
        .unwrap();
        let s = CorpusSpec::parse(&root).unwrap();
        assert_eq!((s.name.as_str(), s.kind), ("synth_a", CorpusKind::Ravdess));
        let s = CorpusSpec::parse(&format!("other={root}")).unwrap();
        assert_eq!((s.name.as_str(), s.kind), ("other", CorpusKind::Ravdess));
        let err = CorpusSpec::parse("x=/definitely/not/here")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such file"), "{err}");
    }

    #[test]
    fn detection_from_file_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("wav")).unwrap();
        for n in ["03a01Fa.wav", "08b02Wb.wav", "notes.txt"] {
            std::fs::write(dir.path().join("wav").join(n), b"x").unwrap();
        }
        assert_eq!(detect_kind(dir.path()).unwrap(), CorpusKind::Emodb);
        let err = CorpusSpec::parse(&format!("mystery={}", dir.path().join("nothing").display()));
        assert!(err.is_err());
    }
}
