//! Generic corpora: a CSV with `path,label,speaker[,corpus,gender,text,text_id]`.

use std::path::PathBuf;

use super::names::Parsed;
use super::{empty_scan, push_parsed};
use crate::{CorpusScan, CorpusSpec, DataError, Gender, LabelMap, Skipped};

pub(super) fn scan(spec: &CorpusSpec, map: &LabelMap) -> Result<CorpusScan, DataError> {
    let csv_path = &spec.root;
    let err = |m: String| DataError::Spec(format!("manifest {}: {m}", csv_path.display()));
    if !csv_path.is_file() {
        return Err(err(
            "is not a file; a manifest corpus is a CSV file (path,label,speaker)".into(),
        ));
    }
    let base = csv_path.parent().map(PathBuf::from).unwrap_or_default();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(csv_path)
        .map_err(|e| err(e.to_string()))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (Some(ci_path), Some(ci_label), Some(ci_speaker)) =
        (col("path"), col("label"), col("speaker"))
    else {
        return Err(err(format!(
            "header {headers:?} lacks one of the required columns path, label, speaker"
        )));
    };
    let (ci_corpus, ci_gender, ci_text, ci_text_id) =
        (col("corpus"), col("gender"), col("text"), col("text_id"));
    let mut out = empty_scan(spec);
    for (i, row) in rdr.records().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                out.skipped.push(Skipped {
                    path: csv_path.clone(),
                    kind: "bad_row".into(),
                    reason: format!("line {line}: {e}"),
                });
                continue;
            }
        };
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).unwrap_or("").to_string();
        let rel = get(Some(ci_path));
        if rel.is_empty() {
            out.skipped.push(Skipped {
                path: csv_path.clone(),
                kind: "bad_row".into(),
                reason: format!("line {line}: empty path"),
            });
            continue;
        }
        let path = if PathBuf::from(&rel).is_absolute() {
            PathBuf::from(&rel)
        } else {
            base.join(&rel)
        };
        let (label, speaker) = (get(Some(ci_label)), get(Some(ci_speaker)));
        if label.is_empty() || speaker.is_empty() {
            out.skipped.push(Skipped {
                path,
                kind: "bad_row".into(),
                reason: format!("line {line}: label and speaker must not be empty"),
            });
            continue;
        }
        if !path.is_file() {
            out.skipped.push(Skipped {
                path,
                kind: "missing_file".into(),
                reason: format!(
                    "line {line}: file not found (paths are relative to the manifest's folder)"
                ),
            });
            continue;
        }
        let corpus = get(ci_corpus);
        let parsed = Parsed {
            speaker,
            raw_label: label,
            text_id: get(ci_text_id),
            text: get(ci_text),
            gender: Some(Gender::parse(&get(ci_gender))),
            corpus: if corpus.is_empty() {
                None
            } else {
                Some(corpus)
            },
            ..Default::default()
        };
        push_parsed(&mut out, map, path, parsed);
    }
    Ok(out)
}
