//! Speaker k-fold and leave-one-speaker-out cross-validation: every speaker is tested exactly
//! once, by a model that never heard them, and each fold's validation speakers come from its
//! training speakers only.

use std::collections::{BTreeMap, BTreeSet};

use crate::split::{Clip, LeakageError, LosoGroup, Split, fnv, partition, shuffle, speaker_key};

/// Speakers (`corpus/speaker`) of each fold, fixed by the seed (save them with the results to
/// make a figure reproducible).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Folds {
    /// `folds[i]`: the test speakers of fold i, sorted.
    pub folds: Vec<Vec<String>>,
    /// How the folds were made, for reports.
    pub protocol: String,
}

/// `k` folds of whole speakers, stratified by label as far as speakers allow: speakers, in a
/// seeded order with the largest first, each join the fold whose label counts then stay
/// closest to an equal share of every label. `labels[i]` is clip i's class.
pub fn speaker_folds(
    clips: &[Clip<'_>],
    labels: &[usize],
    k: usize,
    seed: u64,
) -> Result<Folds, LeakageError> {
    assert_eq!(clips.len(), labels.len(), "one label per clip");
    let n_classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut per_speaker: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (c, &l) in clips.iter().zip(labels) {
        per_speaker
            .entry(speaker_key(c))
            .or_insert_with(|| vec![0.0; n_classes])[l] += 1.0;
    }
    if k < 2 || k > per_speaker.len() {
        return Err(LeakageError::Config(format!(
            "speaker_kfold with k = {k}: needs 2 <= k <= the {} speakers",
            per_speaker.len()
        )));
    }
    let mut order: Vec<(&String, &Vec<f64>)> = per_speaker.iter().collect();
    shuffle(&mut order, seed ^ fnv("speaker_kfold"));
    // Largest first (stable: ties keep the seeded order), so the small ones even out.
    order.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let total: Vec<f64> = (0..n_classes)
        .map(|l| labels.iter().filter(|&&x| x == l).count() as f64)
        .collect();
    let target: Vec<f64> = total.iter().map(|t| t / k as f64).collect();
    let mut counts = vec![vec![0.0; n_classes]; k];
    let mut folds: Vec<Vec<String>> = vec![Vec::new(); k];
    for (speaker, c) in order {
        // Cost of a fold after adding this speaker: squared excess over the target share,
        // plus a term that fills empty folds first.
        let cost = |f: usize| -> f64 {
            let excess: f64 = (0..n_classes)
                .map(|l| (counts[f][l] + c[l] - target[l]).max(0.0).powi(2))
                .sum();
            let size: f64 = counts[f].iter().sum::<f64>() + c.iter().sum::<f64>();
            excess + 1e-6 * size
        };
        let best = (0..k)
            .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
            .expect("k >= 2");
        (0..n_classes).for_each(|l| counts[best][l] += c[l]);
        folds[best].push(speaker.clone());
    }
    folds.iter_mut().for_each(|f| f.sort());
    Ok(Folds {
        protocol: format!(
            "speaker-independent {k}-fold cross-validation (label-stratified speaker folds, seed {seed})"
        ),
        folds,
    })
}

/// Leave one speaker (or session) out: one fold per speaker (`corpus/speaker`), or per
/// session with [`LosoGroup::Session`] (the speakers whose id shares the part before `_`).
pub fn loso_folds(clips: &[Clip<'_>], group: LosoGroup) -> Result<Folds, LeakageError> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in clips {
        let unit = match group {
            LosoGroup::Speaker => speaker_key(c),
            LosoGroup::Session => format!(
                "{}/{}",
                c.corpus,
                c.speaker.split('_').next().unwrap_or(c.speaker)
            ),
        };
        groups.entry(unit).or_default().insert(speaker_key(c));
    }
    let what = match group {
        LosoGroup::Speaker => "speaker",
        LosoGroup::Session => "session",
    };
    if groups.len() < 3 {
        return Err(LeakageError::Config(format!(
            "leave-one-{what}-out needs at least 3 {what}s (test, validation, training); found {}",
            groups.len()
        )));
    }
    Ok(Folds {
        protocol: format!("leave-one-{what}-out ({} folds)", groups.len()),
        folds: groups
            .into_values()
            .map(|s| s.into_iter().collect())
            .collect(),
    })
}

/// The split of fold `i`: its speakers are the test set; `val_speakers` (a fraction, at least
/// one speaker, at least one left for training) of the other speakers, chosen by `seed`,
/// validate; the rest train.
pub fn fold_split(
    clips: &[Clip<'_>],
    folds: &Folds,
    i: usize,
    val_speakers: f64,
    seed: u64,
) -> Result<Split, LeakageError> {
    let test: BTreeSet<&str> = folds.folds[i].iter().map(String::as_str).collect();
    let mut rest: Vec<String> = clips
        .iter()
        .map(speaker_key)
        .filter(|s| !test.contains(s.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if rest.len() < 2 {
        return Err(LeakageError::Config(format!(
            "fold {} leaves {} training speaker(s); validation and training need one each",
            i + 1,
            rest.len()
        )));
    }
    shuffle(&mut rest, seed ^ fnv("fold_val") ^ i as u64);
    let n_val = ((rest.len() as f64 * val_speakers).round() as usize).clamp(1, rest.len() - 1);
    let val: BTreeSet<&str> = rest[..n_val].iter().map(String::as_str).collect();
    let (tr, va, te) = partition(clips, &test, &val);
    // Sorted: a BTreeSet iterates in order.
    let val_speakers: Vec<String> = val.iter().map(|s| s.to_string()).collect();
    let split = Split {
        protocol: format!(
            "{}, fold {} of {}: {} test speaker(s), {} validation speaker(s) from the training speakers",
            folds.protocol,
            i + 1,
            folds.folds.len(),
            folds.folds[i].len(),
            val_speakers.len()
        ),
        train: tr,
        val: va,
        test: te,
        test_speakers: folds.folds[i].clone(),
        val_speakers,
        speaker_dependent: false,
    };
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 12 speakers in two corpora; speaker s has 10 clips, 7 of class s / 3 (so consecutive
    /// speakers share their main class).
    fn corpus() -> (Vec<(String, String, String)>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for s in 0..12 {
            for j in 0..10 {
                let corpus = if s < 6 { "a" } else { "b" };
                rows.push((corpus.to_string(), format!("s{s}"), format!("h{s}-{j}")));
                labels.push(if j < 7 { s / 3 } else { j % 4 });
            }
        }
        (rows, labels)
    }

    fn view(rows: &[(String, String, String)]) -> Vec<Clip<'_>> {
        rows.iter()
            .map(|(c, s, h)| Clip {
                corpus: c,
                speaker: s,
                content_hash: h,
            })
            .collect()
    }

    #[test]
    fn folds_are_disjoint_cover_every_speaker_and_are_fixed_by_the_seed() {
        let (rows, labels) = corpus();
        let clips = view(&rows);
        let f = speaker_folds(&clips, &labels, 4, 7).unwrap();
        let all: Vec<&String> = f.folds.iter().flatten().collect();
        let unique: BTreeSet<&String> = all.iter().copied().collect();
        assert_eq!((all.len(), unique.len()), (12, 12));
        assert!(f.folds.iter().all(|x| x.len() == 3), "{:?}", f.folds);
        assert_eq!(f, speaker_folds(&clips, &labels, 4, 7).unwrap());
        assert_ne!(f.folds, speaker_folds(&clips, &labels, 4, 8).unwrap().folds);
        assert!(speaker_folds(&clips, &labels, 13, 7).is_err());
    }

    #[test]
    fn folds_balance_labels_better_than_consecutive_speakers() {
        // Consecutive speakers s0-s3, s4-s7, s8-s11 give each fold one or two main classes;
        // stratified folds should come near the 1/4 share of every label.
        let (rows, labels) = corpus();
        let clips = view(&rows);
        let f = speaker_folds(&clips, &labels, 3, 0).unwrap();
        let spread = |fold: &[String]| -> f64 {
            let mut n = [0.0f64; 4];
            for (c, &l) in clips.iter().zip(&labels) {
                if fold.contains(&speaker_key(c)) {
                    n[l] += 1.0;
                }
            }
            let total: f64 = n.iter().sum();
            ser_check::Worst::of(n.iter().map(|x| (x / total - 0.25).abs())).error
        };
        let worst = ser_check::Worst::of(f.folds.iter().map(|x| spread(x))).error;
        let naive: Vec<Vec<String>> = (0..3)
            .map(|i| {
                (4 * i..4 * i + 4)
                    .map(|s| format!("{}/s{s}", if s < 6 { "a" } else { "b" }))
                    .collect()
            })
            .collect();
        let naive_worst = ser_check::Worst::of(naive.iter().map(|x| spread(x))).error;
        assert!(
            worst < 0.12 && worst < naive_worst / 2.0,
            "{worst} vs {naive_worst}"
        );
    }

    #[test]
    fn each_fold_tests_its_speakers_and_validates_on_training_speakers_only() {
        let (rows, labels) = corpus();
        let clips = view(&rows);
        for folds in [
            speaker_folds(&clips, &labels, 3, 1).unwrap(),
            loso_folds(&clips, LosoGroup::Speaker).unwrap(),
        ] {
            let mut tested = BTreeSet::new();
            for i in 0..folds.folds.len() {
                let s = fold_split(&clips, &folds, i, 0.2, 1).unwrap();
                assert_eq!(s.train.len() + s.val.len() + s.test.len(), clips.len());
                for &k in &s.test {
                    assert!(folds.folds[i].contains(&speaker_key(&clips[k])));
                    tested.insert(k);
                }
                assert!(s.val_speakers.iter().all(|v| !folds.folds[i].contains(v)));
                assert!(!s.val.is_empty() && !s.train.is_empty());
                assert!(
                    s.protocol.contains(&format!("fold {} of", i + 1)),
                    "{}",
                    s.protocol
                );
            }
            assert_eq!(tested.len(), clips.len(), "every clip tested exactly once");
        }
        assert_eq!(
            loso_folds(&clips, LosoGroup::Speaker).unwrap().folds.len(),
            12
        );
    }

    #[test]
    fn leave_one_session_out_tests_both_speakers_of_a_session_together() {
        let rows: Vec<(String, String, String)> = [
            "Ses01_F", "Ses01_M", "Ses02_F", "Ses02_M", "Ses03_F", "Ses03_M",
        ]
        .iter()
        .flat_map(|s| {
            (0..3).map(move |j| ("iemocap".to_string(), s.to_string(), format!("{s}{j}")))
        })
        .collect();
        let clips = view(&rows);
        let f = loso_folds(&clips, LosoGroup::Session).unwrap();
        assert_eq!(f.folds.len(), 3);
        assert_eq!(f.folds[0], ["iemocap/Ses01_F", "iemocap/Ses01_M"]);
        assert!(f.protocol.starts_with("leave-one-session-out"));
        let s = fold_split(&clips, &f, 1, 0.2, 0).unwrap();
        assert!(
            s.test
                .iter()
                .all(|&i| clips[i].speaker.starts_with("Ses02"))
        );
        assert_eq!(s.test.len(), 6);
    }
}
