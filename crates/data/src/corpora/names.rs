//! File-name conventions of the corpora whose labels live in the names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::{CorpusKind, Gender};

/// What a file name says about a clip.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Parsed {
    pub speaker: String,
    pub raw_label: String,
    pub text_id: String,
    pub text: String,
    pub gender: Option<Gender>,
    pub corpus: Option<String>,
    pub attrs: BTreeMap<String, String>,
}

static RAVDESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$").unwrap()
});
static CREMAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$").unwrap());
static TESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z]{3})_([A-Za-z]+)_([A-Za-z_]+)$").unwrap());
static SAVEE_FLAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z]{2})_([a-z]{1,2})(\d{2})$").unwrap());
static SAVEE_DIR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([a-z]{1,2})(\d{2})$").unwrap());
static TWO_CAPS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z]{2}$").unwrap());
static EMODB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$").unwrap());

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// True when the name follows `kind`'s convention (used for layout detection).
pub(crate) fn file_name_matches(kind: CorpusKind, path: &Path) -> bool {
    parse_name(kind, path).is_ok()
}

/// Parses a file name; the error explains the expected pattern and what to do.
pub(crate) fn parse_name(kind: CorpusKind, path: &Path) -> Result<Parsed, String> {
    let s = stem(path);
    let bad = |pattern: &str, example: &str| {
        format!(
            "file name '{}' does not follow the {} convention {pattern} (e.g. {example}); rename it, or list such files in a CSV manifest (--corpus NAME:csv=manifest.csv)",
            file_name(path),
            kind.as_str().to_uppercase()
        )
    };
    match kind {
        CorpusKind::Ravdess => {
            let c = RAVDESS
                .captures(&s)
                .ok_or_else(|| bad("MM-VV-EE-II-SS-RR-AA.wav", "03-01-05-01-02-01-12.wav"))?;
            let f = |i: usize| c[i].to_string();
            let modality = match &c[1] {
                "01" => "audio-video",
                "02" => "video-only",
                "03" => "audio-only",
                m => {
                    return Err(format!(
                        "{}: modality '{m}' must be 01, 02 or 03",
                        bad("MM-VV-EE-II-SS-RR-AA.wav", "03-01-05-01-02-01-12.wav")
                    ));
                }
            };
            let channel = match &c[2] {
                "01" => "speech",
                "02" => "song",
                v => {
                    return Err(format!(
                        "file name '{}': vocal channel '{v}' must be 01 (speech) or 02 (song)",
                        file_name(path)
                    ));
                }
            };
            let intensity = match &c[4] {
                "01" => "normal",
                "02" => "strong",
                v => {
                    return Err(format!(
                        "file name '{}': intensity '{v}' must be 01 or 02",
                        file_name(path)
                    ));
                }
            };
            let actor: u32 = c[7].parse().unwrap();
            if actor == 0 {
                return Err(format!(
                    "file name '{}': actor 00 does not exist (01-24)",
                    file_name(path)
                ));
            }
            let mut attrs = BTreeMap::new();
            attrs.insert("modality".into(), modality.into());
            attrs.insert("vocal_channel".into(), channel.into());
            attrs.insert("intensity".into(), intensity.into());
            attrs.insert("repetition".into(), f(6));
            Ok(Parsed {
                speaker: f(7),
                raw_label: f(3),
                text_id: f(5),
                gender: Some(if actor % 2 == 1 {
                    Gender::Male
                } else {
                    Gender::Female
                }),
                attrs,
                ..Default::default()
            })
        }
        CorpusKind::Cremad => {
            let c = CREMAD
                .captures(&s)
                .ok_or_else(|| bad("AAAA_SSS_EEE_LL.wav", "1001_DFA_ANG_XX.wav"))?;
            let mut attrs = BTreeMap::new();
            attrs.insert("level".into(), c[4].to_string());
            Ok(Parsed {
                speaker: c[1].to_string(),
                raw_label: c[3].to_string(),
                text_id: c[2].to_string(),
                attrs,
                ..Default::default()
            })
        }
        CorpusKind::Tess => {
            let c = TESS
                .captures(&s)
                .ok_or_else(|| bad("SPK_word_emotion.wav", "OAF_back_angry.wav"))?;
            let word = c[2].to_ascii_lowercase();
            Ok(Parsed {
                speaker: c[1].to_ascii_uppercase(),
                raw_label: c[3].to_ascii_lowercase(),
                text: format!("Say the word {word}"),
                text_id: word,
                ..Default::default()
            })
        }
        CorpusKind::Savee => {
            let parent = path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let (speaker, code, num) = if let Some(c) = SAVEE_FLAT.captures(&s) {
                (c[1].to_string(), c[2].to_string(), c[3].to_string())
            } else if let (Some(c), true) = (SAVEE_DIR.captures(&s), TWO_CAPS.is_match(&parent)) {
                (parent.clone(), c[1].to_string(), c[2].to_string())
            } else {
                return Err(bad(
                    "SPK_cNN.wav or SPK/cNN.wav",
                    "DC_a01.wav or DC/a01.wav",
                ));
            };
            let n: u32 = num.parse().unwrap();
            let text_id = if n <= 3 {
                format!("common{num}")
            } else {
                format!("{code}{num}")
            };
            Ok(Parsed {
                speaker,
                raw_label: code,
                text_id,
                ..Default::default()
            })
        }
        CorpusKind::Emodb => {
            let c = EMODB
                .captures(&s)
                .ok_or_else(|| bad("SSTTTEV.wav", "03a01Fa.wav"))?;
            let mut attrs = BTreeMap::new();
            attrs.insert("version".into(), c[4].to_string());
            Ok(Parsed {
                speaker: c[1].to_string(),
                raw_label: c[3].to_string(),
                text_id: c[2].to_string(),
                attrs,
                ..Default::default()
            })
        }
        CorpusKind::Iemocap | CorpusKind::Manifest => {
            Err(format!("{kind} clips are not identified by file name"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ravdess_fields() {
        let p = parse_name(
            CorpusKind::Ravdess,
            Path::new("Actor_12/03-02-05-02-01-02-12.wav"),
        )
        .unwrap();
        assert_eq!(
            (p.speaker.as_str(), p.raw_label.as_str(), p.text_id.as_str()),
            ("12", "05", "01")
        );
        assert_eq!(p.gender, Some(Gender::Female));
        assert_eq!(p.attrs["vocal_channel"], "song");
        assert_eq!(p.attrs["intensity"], "strong");
        let e = parse_name(CorpusKind::Ravdess, Path::new("03-01-05.wav")).unwrap_err();
        assert!(
            e.contains("MM-VV-EE-II-SS-RR-AA") && e.contains("manifest"),
            "{e}"
        );
        assert!(parse_name(CorpusKind::Ravdess, Path::new("03-04-05-01-01-01-01.wav")).is_err());
    }

    #[test]
    fn savee_both_layouts() {
        let a = parse_name(CorpusKind::Savee, Path::new("AudioData/DC_sa02.wav")).unwrap();
        let b = parse_name(CorpusKind::Savee, &PathBuf::from("AudioData/DC/sa02.wav")).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            (a.speaker.as_str(), a.raw_label.as_str(), a.text_id.as_str()),
            ("DC", "sa", "common02")
        );
        let c = parse_name(CorpusKind::Savee, Path::new("KL/su15.wav")).unwrap();
        assert_eq!(c.text_id, "su15");
        assert!(parse_name(CorpusKind::Savee, Path::new("misc/su15.wav")).is_err());
    }

    #[test]
    fn tess_emodb_cremad() {
        let t = parse_name(
            CorpusKind::Tess,
            Path::new("YAF_pleasant_surprised/YAF_dog_ps.wav"),
        )
        .unwrap();
        assert_eq!(
            (t.speaker.as_str(), t.raw_label.as_str(), t.text_id.as_str()),
            ("YAF", "ps", "dog")
        );
        let e = parse_name(CorpusKind::Emodb, Path::new("wav/16b10Tc.wav")).unwrap();
        assert_eq!(
            (e.speaker.as_str(), e.raw_label.as_str(), e.text_id.as_str()),
            ("16", "T", "b10")
        );
        let c = parse_name(
            CorpusKind::Cremad,
            Path::new("AudioWAV/1091_WSI_HAP_MD.wav"),
        )
        .unwrap();
        assert_eq!(
            (c.speaker.as_str(), c.raw_label.as_str(), c.text_id.as_str()),
            ("1091", "HAP", "WSI")
        );
        assert_eq!(c.attrs["level"], "MD");
    }
}
