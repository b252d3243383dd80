//! Speaker-independent splits and the leakage check that guards every evaluation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// What the split needs to know of a clip.
#[derive(Debug, Clone)]
pub struct Clip<'a> {
    /// Corpus name (speaker ids are only unique within a corpus).
    pub corpus: &'a str,
    /// Speaker id.
    pub speaker: &'a str,
    /// Hash of the audio bytes (duplicates across corpora or folders share it).
    pub content_hash: &'a str,
}

/// Which speaker-independent protocol an experiment is evaluated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// One split: `test_speakers` and `val_speakers` of each corpus held out (default).
    #[default]
    Holdout,
    /// `folds` label-stratified folds of whole speakers; each tested once.
    SpeakerKfold,
    /// Leave one speaker out: one fold per speaker.
    Loso,
}

/// How clips are divided: whole speakers go to test, validation or training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// `holdout` (default), `speaker_kfold` or `loso`. Cross-validation protocols train one
    /// model per fold (validation speakers drawn from that fold's training speakers) and
    /// report every fold, their mean +- std, and the metrics pooled over all test clips.
    pub protocol: Protocol,
    /// Folds of `speaker_kfold` (default 5).
    pub folds: usize,
    /// Fraction of each corpus's speakers held out for the test set by `holdout` (at least
    /// one).
    pub test_speakers: f64,
    /// Fraction of each corpus's speakers (of the training speakers, in a fold) held out for
    /// validation (early stopping, model choice; at least one).
    pub val_speakers: f64,
    /// Seed of the speaker shuffle.
    pub seed: u64,
    /// `holdout` with named speakers instead of fractions: `corpus/speaker` entries of the
    /// test set (e.g. `["synth_ravdess/01", "synth_cremad/1003"]`); needs `val_list` too.
    pub test_list: Vec<String>,
    /// Named validation speakers, as `test_list`.
    pub val_list: Vec<String>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Holdout,
            folds: 5,
            test_speakers: 0.2,
            val_speakers: 0.2,
            seed: 0,
            test_list: Vec::new(),
            val_list: Vec::new(),
        }
    }
}

/// Clip indices of each part, and which speakers went where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training clips.
    pub train: Vec<usize>,
    /// Validation clips.
    pub val: Vec<usize>,
    /// Test clips.
    pub test: Vec<usize>,
    /// `corpus/speaker` of the test speakers.
    pub test_speakers: Vec<String>,
    /// `corpus/speaker` of the validation speakers.
    pub val_speakers: Vec<String>,
    /// A one-line description for every reported figure.
    pub protocol: String,
}

/// A split that would let the model see test speakers or test audio in training.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LeakageError {
    /// Speakers in more than one part.
    #[error(
        "speaker leakage: {0} speaker(s) are in both {1}, e.g. {2}; split by speaker (the default protocol)"
    )]
    Speaker(usize, &'static str, String),
    /// The same audio bytes in more than one part.
    #[error(
        "duplicate audio in both {1}: {0} recording(s), e.g. content hash {2}; remove the duplicates from the corpus or keep them in one part"
    )]
    Duplicate(usize, &'static str, String),
    /// A split config that cannot work.
    #[error("split: {0}")]
    Config(String),
}

/// Holds out whole speakers of every corpus: `test_speakers` and `val_speakers` fractions
/// (rounded, at least one each, at least one left for training), chosen by a seeded shuffle.
pub fn speaker_split(clips: &[Clip<'_>], cfg: &SplitConfig) -> Result<Split, LeakageError> {
    if !cfg.test_list.is_empty() || !cfg.val_list.is_empty() {
        return listed_split(clips, cfg);
    }
    let frac_ok = |f: f64| (0.0..1.0).contains(&f) && f > 0.0;
    if !frac_ok(cfg.test_speakers) || !frac_ok(cfg.val_speakers) {
        return Err(LeakageError::Config(format!(
            "test_speakers ({}) and val_speakers ({}) must be fractions in (0, 1)",
            cfg.test_speakers, cfg.val_speakers
        )));
    }
    let mut by_corpus: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in clips {
        by_corpus.entry(c.corpus).or_default().insert(c.speaker);
    }
    let mut part: HashMap<(&str, &str), u8> = HashMap::new(); // 0 train, 1 val, 2 test
    let (mut test_speakers, mut val_speakers) = (Vec::new(), Vec::new());
    for (corpus, speakers) in &by_corpus {
        let mut s: Vec<&str> = speakers.iter().copied().collect();
        if s.len() < 3 {
            return Err(LeakageError::Config(format!(
                "corpus {corpus} has {} speaker(s); a speaker-independent split needs at least 3 (train, validation, test)",
                s.len()
            )));
        }
        shuffle(&mut s, cfg.seed ^ fnv(corpus));
        let n = s.len();
        let n_test = ((n as f64 * cfg.test_speakers).round() as usize).clamp(1, n - 2);
        let n_val = ((n as f64 * cfg.val_speakers).round() as usize).clamp(1, n - 1 - n_test);
        for (i, sp) in s.iter().enumerate() {
            let p = if i < n_test {
                test_speakers.push(format!("{corpus}/{sp}"));
                2
            } else if i < n_test + n_val {
                val_speakers.push(format!("{corpus}/{sp}"));
                1
            } else {
                0
            };
            part.insert((corpus, sp), p);
        }
    }
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in clips.iter().enumerate() {
        match part[&(c.corpus, c.speaker)] {
            0 => train.push(i),
            1 => val.push(i),
            _ => test.push(i),
        }
    }
    test_speakers.sort();
    val_speakers.sort();
    let split = Split {
        protocol: format!(
            "speaker-independent holdout: {} test speaker(s) ({:.0}% of each corpus), {} validation speaker(s), seed {}",
            test_speakers.len(),
            cfg.test_speakers * 100.0,
            val_speakers.len(),
            cfg.seed
        ),
        train,
        val,
        test,
        test_speakers,
        val_speakers,
    };
    check_leakage(clips, &split)?;
    Ok(split)
}

/// `corpus/speaker`: speaker ids are only unique within a corpus.
pub(crate) fn speaker_key(c: &Clip<'_>) -> String {
    format!("{}/{}", c.corpus, c.speaker)
}

/// Clip indices of (train, val, test), by the `corpus/speaker` sets of test and val.
pub(crate) fn partition(
    clips: &[Clip<'_>],
    test: &BTreeSet<&str>,
    val: &BTreeSet<&str>,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in clips.iter().enumerate() {
        let k = speaker_key(c);
        if test.contains(k.as_str()) {
            te.push(i);
        } else if val.contains(k.as_str()) {
            va.push(i);
        } else {
            tr.push(i);
        }
    }
    (tr, va, te)
}

/// Holdout with the speakers named in `test_list` and `val_list`; every other speaker trains.
fn listed_split(clips: &[Clip<'_>], cfg: &SplitConfig) -> Result<Split, LeakageError> {
    let known: BTreeSet<String> = clips.iter().map(speaker_key).collect();
    for (name, list) in [("test_list", &cfg.test_list), ("val_list", &cfg.val_list)] {
        if list.is_empty() {
            return Err(LeakageError::Config(format!(
                "{name} is empty; name test and validation speakers both (or use the fractions)"
            )));
        }
        if let Some(bad) = list.iter().find(|s| !known.contains(*s)) {
            let some: Vec<&String> = known.iter().take(6).collect();
            return Err(LeakageError::Config(format!(
                "{name} names {bad:?}, which is not a corpus/speaker of the data; e.g. {some:?}"
            )));
        }
    }
    let (test, val): (BTreeSet<&str>, BTreeSet<&str>) = (
        cfg.test_list.iter().map(String::as_str).collect(),
        cfg.val_list.iter().map(String::as_str).collect(),
    );
    if let Some(both) = test.intersection(&val).next() {
        return Err(LeakageError::Config(format!(
            "{both} is named in both test_list and val_list"
        )));
    }
    let (tr, va, te) = partition(clips, &test, &val);
    if tr.is_empty() {
        return Err(LeakageError::Config(
            "the listed speakers leave no one to train on".into(),
        ));
    }
    let split = Split {
        protocol: format!(
            "speaker-independent holdout with listed speakers: {} test, {} validation",
            test.len(),
            val.len()
        ),
        train: tr,
        val: va,
        test: te,
        test_speakers: test.iter().map(|s| s.to_string()).collect(),
        val_speakers: val.iter().map(|s| s.to_string()).collect(),
    };
    check_leakage(clips, &split)?;
    Ok(split)
}

/// Refuses a split where a speaker or a recording (same content hash) is in two parts.
pub fn check_leakage(clips: &[Clip<'_>], split: &Split) -> Result<(), LeakageError> {
    let parts: [(&'static str, &[usize]); 3] = [
        ("train", &split.train),
        ("val", &split.val),
        ("test", &split.test),
    ];
    for a in 0..3 {
        for b in a + 1..3 {
            let pair = match (a, b) {
                (0, 1) => "train and val",
                (0, 2) => "train and test",
                _ => "val and test",
            };
            let (x, y) = (parts[a].1, parts[b].1);
            let speakers = shared(x, y, |i| {
                Some(format!("{}/{}", clips[i].corpus, clips[i].speaker))
            });
            if let Some(s) = speakers.first() {
                return Err(LeakageError::Speaker(speakers.len(), pair, s.clone()));
            }
            let hashes = shared(x, y, |i| {
                Some(clips[i].content_hash).filter(|h| !h.is_empty())
            });
            if let Some(h) = hashes.first() {
                return Err(LeakageError::Duplicate(hashes.len(), pair, h.to_string()));
            }
        }
    }
    Ok(())
}

/// The keys found in both index sets, in order (`None` keys, e.g. unknown hashes, never match).
fn shared<K: Ord>(a: &[usize], b: &[usize], key: impl Fn(usize) -> Option<K>) -> Vec<K> {
    let left: BTreeSet<K> = a.iter().filter_map(|&i| key(i)).collect();
    let right: BTreeSet<K> = b.iter().filter_map(|&i| key(i)).collect();
    left.into_iter().filter(|k| right.contains(k)).collect()
}

pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Fisher-Yates with a SplitMix64 stream: stable across platforms and releases.
pub(crate) fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clips(n_speakers: usize, per: usize) -> (Vec<String>, Vec<String>) {
        let sp: Vec<String> = (0..n_speakers * per)
            .map(|i| format!("s{}", i / per))
            .collect();
        let h: Vec<String> = (0..n_speakers * per).map(|i| format!("h{i}")).collect();
        (sp, h)
    }

    /// Clips of corpus "a" with these speakers and hashes.
    fn view<'a>(sp: &'a [String], h: &'a [String]) -> Vec<Clip<'a>> {
        sp.iter()
            .zip(h)
            .map(|(s, h)| Clip {
                corpus: "a",
                speaker: s,
                content_hash: h,
            })
            .collect()
    }

    #[test]
    fn whole_speakers_go_to_one_part_and_the_split_is_seeded() {
        let (sp, h) = clips(10, 5);
        let c = view(&sp, &h);
        let cfg = SplitConfig::default();
        let s = speaker_split(&c, &cfg).unwrap();
        assert_eq!((s.test_speakers.len(), s.val_speakers.len()), (2, 2));
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 50);
        assert_eq!(s.test.len(), 10);
        assert_eq!(s, speaker_split(&c, &cfg).unwrap());
        let other = speaker_split(&c, &SplitConfig { seed: 1, ..cfg }).unwrap();
        assert_ne!(s.test_speakers, other.test_speakers);
    }

    #[test]
    fn leaks_are_refused_with_the_offender() {
        let (sp, mut h) = clips(4, 2);
        h[7] = h[0].clone(); // speaker 3 re-uses speaker 0's first recording
        let c = view(&sp, &h);
        let split = Split {
            train: vec![0, 1, 2, 3],
            val: vec![4, 5],
            test: vec![6, 7],
            test_speakers: vec![],
            val_speakers: vec![],
            protocol: String::new(),
        };
        let e = check_leakage(&c, &split).unwrap_err();
        assert!(
            e.to_string()
                .contains("duplicate audio in both train and test"),
            "{e}"
        );
        let mixed = Split {
            train: vec![0, 2],
            test: vec![1, 3],
            ..split
        };
        let e = check_leakage(&c, &mixed).unwrap_err().to_string();
        assert!(e.contains("speaker leakage") && e.contains("a/s0"), "{e}");
    }

    #[test]
    fn listed_speakers_are_held_out_and_unknown_or_doubled_names_are_refused() {
        let (sp, h) = clips(6, 3);
        let c = view(&sp, &h);
        let cfg = |t: &[&str], v: &[&str]| SplitConfig {
            test_list: t.iter().map(|s| s.to_string()).collect(),
            val_list: v.iter().map(|s| s.to_string()).collect(),
            ..SplitConfig::default()
        };
        let s = speaker_split(&c, &cfg(&["a/s0", "a/s5"], &["a/s2"])).unwrap();
        assert_eq!(s.test, vec![0, 1, 2, 15, 16, 17]);
        assert_eq!(s.val, vec![6, 7, 8]);
        assert_eq!(s.train.len(), 9);
        assert!(s.protocol.contains("listed speakers"), "{}", s.protocol);
        let e = speaker_split(&c, &cfg(&["a/s9"], &["a/s2"])).unwrap_err();
        assert!(e.to_string().contains("a/s9"), "{e}");
        assert!(speaker_split(&c, &cfg(&["a/s1"], &[])).is_err());
        let e = speaker_split(&c, &cfg(&["a/s1"], &["a/s1", "a/s3"])).unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
    }
}
