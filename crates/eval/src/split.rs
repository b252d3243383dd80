//! Speaker-independent splits and the leakage check that guards every evaluation. Splits are
//! speaker-disjoint by construction; whether audio crosses them (copies under other
//! speakers' names) is for the audit (`crate::audit`), which ser runs before every model.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Clips shuffled into parts regardless of speaker (`test_speakers` / `val_speakers`
    /// are then clip fractions). Allowed for comparison with papers that use it; every
    /// figure it produces is marked speaker-dependent.
    Random,
    /// One model per training set (`train_sets`; default each corpus alone) tested on every
    /// corpus of the study: its own held-out speakers (the in-corpus cell) and all clips of
    /// every other corpus, on the labels all the corpora share.
    CrossCorpus,
    /// One model per corpus left out, trained on all the others and tested on it.
    LeaveOneCorpusOut,
}

impl Protocol {
    /// Protocols that train one model per corpus combination.
    pub fn is_corpus_level(self) -> bool {
        matches!(self, Protocol::CrossCorpus | Protocol::LeaveOneCorpusOut)
    }
}

/// Which audio the feature standardization statistics come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormScope {
    /// Mean and std of the training clips, applied to every clip (default).
    #[default]
    Train,
    /// Each corpus standardized with its own statistics (a test corpus's from its own
    /// unlabeled audio), then the training statistics on top.
    Corpus,
    /// Each speaker standardized with their own statistics (from their unlabeled audio).
    Speaker,
}

impl NormScope {
    /// How reports state it.
    pub fn describe(self) -> &'static str {
        match self {
            NormScope::Train => "features standardized with the training clips' statistics",
            NormScope::Corpus => {
                "features standardized per corpus (each corpus's own unlabeled audio), then with the training statistics"
            }
            NormScope::Speaker => {
                "features standardized per speaker (each speaker's own unlabeled audio), then with the training statistics"
            }
        }
    }
}

/// How clips are divided: whole speakers go to test, validation or training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// `holdout` (default), `speaker_kfold`, `loso`, `random`, `cross_corpus` or
    /// `leave_one_corpus_out`. Cross-validation protocols train one model per fold
    /// (validation speakers drawn from that fold's training speakers) and report every fold,
    /// their mean +- std, and the metrics pooled over all test clips.
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
    /// `cross_corpus`: the corpora each model trains on, e.g. `[["synth_ravdess"],
    /// ["synth_ravdess", "synth_cremad"]]` (default: each corpus of the data alone).
    pub train_sets: Vec<Vec<String>>,
    /// Feature standardization: `train` (default), `corpus` or `speaker`.
    pub normalize: NormScope,
    /// What `loso` leaves out: `speaker` (default) or `session` (speakers whose id shares
    /// the part before `_`, as IEMOCAP's `Ses01_F` / `Ses01_M`, who talk to each other and
    /// so must be tested together: leave-one-session-out, IEMOCAP's standard protocol).
    pub loso_group: LosoGroup,
}

/// The unit `loso` leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LosoGroup {
    /// One speaker per fold.
    #[default]
    Speaker,
    /// One recording session per fold (speaker id up to the first `_`).
    Session,
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
            train_sets: Vec::new(),
            normalize: NormScope::Train,
            loso_group: LosoGroup::Speaker,
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
    /// Speakers may be in several parts (the `random` protocol); the leakage check then
    /// refuses only shared audio.
    #[serde(default)]
    pub speaker_dependent: bool,
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
    /// The leakage audit found the protocol's claim broken.
    #[error("leakage audit: {0}")]
    Audit(String),
}

/// Holds out whole speakers of every corpus: `test_speakers` and `val_speakers` fractions
/// (rounded, at least one each, at least one left for training), chosen by a seeded shuffle.
pub fn speaker_split(clips: &[Clip<'_>], cfg: &SplitConfig) -> Result<Split, LeakageError> {
    if !cfg.test_list.is_empty() || !cfg.val_list.is_empty() {
        return listed_split(clips, cfg);
    }
    let all: BTreeSet<&str> = clips.iter().map(|c| c.corpus).collect();
    let (test_speakers, val_speakers) =
        holdout_speakers(clips, &all, Some(cfg.test_speakers), cfg)?;
    let (train, val, test) = partition(clips, &as_refs(&test_speakers), &as_refs(&val_speakers));
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
        speaker_dependent: false,
    };
    Ok(split)
}

fn as_refs(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

/// Per corpus in `corpora`: a seeded shuffle of its speakers, the first `test` fraction
/// (rounded, at least one; none when `test` is `None`) held out for test, the next
/// `cfg.val_speakers` fraction (at least one) for validation, at least one left to train.
/// Returns the sorted `corpus/speaker` keys of (test, val).
fn holdout_speakers(
    clips: &[Clip<'_>],
    corpora: &BTreeSet<&str>,
    test: Option<f64>,
    cfg: &SplitConfig,
) -> Result<(Vec<String>, Vec<String>), LeakageError> {
    let frac_ok = |f: f64| (0.0..1.0).contains(&f) && f > 0.0;
    if !frac_ok(test.unwrap_or(cfg.test_speakers)) || !frac_ok(cfg.val_speakers) {
        return Err(LeakageError::Config(format!(
            "test_speakers ({}) and val_speakers ({}) must be fractions in (0, 1)",
            cfg.test_speakers, cfg.val_speakers
        )));
    }
    let mut by_corpus: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in clips.iter().filter(|c| corpora.contains(c.corpus)) {
        by_corpus.entry(c.corpus).or_default().insert(c.speaker);
    }
    let (mut test_speakers, mut val_speakers) = (Vec::new(), Vec::new());
    let need = if test.is_some() { 3 } else { 2 };
    for (corpus, speakers) in &by_corpus {
        let mut s: Vec<&str> = speakers.iter().copied().collect();
        if s.len() < need {
            return Err(LeakageError::Config(format!(
                "corpus {corpus} has {} speaker(s); a speaker-independent split of it needs at least {need} (training, validation{})",
                s.len(),
                if test.is_some() { ", test" } else { "" }
            )));
        }
        shuffle(&mut s, cfg.seed ^ fnv(corpus));
        let n = s.len();
        let n_test = test.map_or(0, |f| ((n as f64 * f).round() as usize).clamp(1, n - 2));
        let n_val = ((n as f64 * cfg.val_speakers).round() as usize).clamp(1, n - 1 - n_test);
        for (i, sp) in s.iter().enumerate() {
            if i < n_test {
                test_speakers.push(format!("{corpus}/{sp}"));
            } else if i < n_test + n_val {
                val_speakers.push(format!("{corpus}/{sp}"));
            }
        }
    }
    test_speakers.sort();
    val_speakers.sort();
    Ok((test_speakers, val_speakers))
}

/// The speaker-dependent `random` protocol: clips (grouped by content hash, so copies stay
/// together) shuffled into test and validation by the `test_speakers` / `val_speakers`
/// fractions, the rest training. Every figure it produces says "speaker-dependent".
pub fn random_split(clips: &[Clip<'_>], cfg: &SplitConfig) -> Result<Split, LeakageError> {
    let ok = |f: f64| f > 0.0 && f < 1.0;
    if !ok(cfg.test_speakers)
        || !ok(cfg.val_speakers)
        || cfg.test_speakers + cfg.val_speakers >= 1.0
    {
        return Err(LeakageError::Config(format!(
            "random: test_speakers ({}) and val_speakers ({}) are clip fractions here; both in (0, 1), summing below 1",
            cfg.test_speakers, cfg.val_speakers
        )));
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in clips.iter().enumerate() {
        let key = if c.content_hash.is_empty() {
            format!("#{i}")
        } else {
            c.content_hash.to_string()
        };
        groups.entry(key).or_default().push(i);
    }
    let mut g: Vec<Vec<usize>> = groups.into_values().collect();
    shuffle(&mut g, cfg.seed ^ fnv("random"));
    let n = clips.len() as f64;
    let (n_test, n_val) = (
        (n * cfg.test_speakers).round() as usize,
        (n * cfg.val_speakers).round() as usize,
    );
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for grp in g {
        let part = if test.len() < n_test {
            &mut test
        } else if val.len() < n_val {
            &mut val
        } else {
            &mut train
        };
        part.extend(grp);
    }
    for p in [&mut train, &mut val, &mut test] {
        p.sort_unstable();
    }
    let split = Split {
        protocol: format!(
            "SPEAKER-DEPENDENT random clip split ({:.0}% test, {:.0}% validation, seed {}): the same speakers are in training and test, so figures overstate what a new speaker gets",
            cfg.test_speakers * 100.0,
            cfg.val_speakers * 100.0,
            cfg.seed
        ),
        train,
        val,
        test,
        test_speakers: Vec::new(),
        val_speakers: Vec::new(),
        speaker_dependent: true,
    };
    Ok(split)
}

/// A corpus-level split: the speakers of `train` corpora split into training and validation
/// (and, with `own_test`, held-out test speakers: the in-corpus reference), and every clip of
/// the `test` corpora that are not training corpora in the test set. Clips of other corpora
/// are left out.
pub fn corpus_split(
    clips: &[Clip<'_>],
    train: &[String],
    test: &[String],
    own_test: bool,
    cfg: &SplitConfig,
) -> Result<Split, LeakageError> {
    let known: BTreeSet<&str> = clips.iter().map(|c| c.corpus).collect();
    if let Some(bad) = train
        .iter()
        .chain(test)
        .find(|c| !known.contains(c.as_str()))
    {
        return Err(LeakageError::Config(format!(
            "corpus {bad:?} is not in the data (it has {known:?}); fix split.train_sets or the corpora of the cache"
        )));
    }
    let tr: BTreeSet<&str> = train.iter().map(String::as_str).collect();
    let te: BTreeSet<&str> = test
        .iter()
        .map(String::as_str)
        .filter(|c| !tr.contains(c))
        .collect();
    let (test_sp, val_sp) =
        holdout_speakers(clips, &tr, own_test.then_some(cfg.test_speakers), cfg)?;
    let (t_set, v_set) = (as_refs(&test_sp), as_refs(&val_sp));
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (i, clip) in clips.iter().enumerate() {
        if te.contains(clip.corpus) {
            c.push(i);
        } else if tr.contains(clip.corpus) {
            let k = speaker_key(clip);
            if t_set.contains(k.as_str()) {
                c.push(i);
            } else if v_set.contains(k.as_str()) {
                b.push(i);
            } else {
                a.push(i);
            }
        }
    }
    let name = |v: &BTreeSet<&str>| v.iter().copied().collect::<Vec<_>>().join(" + ");
    let split = Split {
        protocol: format!(
            "cross-corpus: trained on {} ({} validation speaker(s){}), tested on {}{}, seed {}",
            name(&tr),
            val_sp.len(),
            if own_test {
                format!(
                    ", {} held-out test speaker(s) for the in-corpus cell",
                    test_sp.len()
                )
            } else {
                String::new()
            },
            if te.is_empty() {
                "no other corpus".to_string()
            } else {
                name(&te)
            },
            if te.is_empty() {
                ""
            } else {
                " (every clip, speakers never seen)"
            },
            cfg.seed
        ),
        train: a,
        val: b,
        test: c,
        test_speakers: test_sp,
        val_speakers: val_sp,
        speaker_dependent: false,
    };
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
        speaker_dependent: false,
    };
    Ok(split)
}

/// Refuses a split where a speaker or a recording (same content hash) is in two parts (the
/// quick form of [`crate::audit`], for splits made elsewhere).
pub fn check_leakage(clips: &[Clip<'_>], split: &Split) -> Result<(), LeakageError> {
    let speakers_matter = !split.speaker_dependent;
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
            if let Some(s) = speakers.first().filter(|_| speakers_matter) {
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
pub(crate) fn shared<K: Ord>(a: &[usize], b: &[usize], key: impl Fn(usize) -> Option<K>) -> Vec<K> {
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
            speaker_dependent: false,
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

    #[test]
    fn random_split_mixes_speakers_says_so_and_keeps_copies_together() {
        let (sp, mut h) = clips(5, 10);
        h[3] = h[40].clone();
        let c = view(&sp, &h);
        let s = random_split(&c, &SplitConfig::default()).unwrap();
        assert!(s.speaker_dependent && s.protocol.contains("SPEAKER-DEPENDENT"));
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 50);
        let part = |i: usize| {
            [&s.train, &s.val, &s.test]
                .iter()
                .position(|p| p.contains(&i))
        };
        assert_eq!(part(3), part(40), "copies in one part");
        let shared = s
            .test
            .iter()
            .filter(|&&i| s.train.iter().any(|&j| sp[j] == sp[i]));
        assert!(
            shared.count() > 0,
            "speakers cross parts under this protocol"
        );
    }

    #[test]
    fn corpus_split_trains_on_its_corpora_and_tests_every_clip_of_the_others() {
        let (sp, h) = clips(8, 3);
        let c: Vec<Clip<'_>> = sp
            .iter()
            .zip(&h)
            .enumerate()
            .map(|(i, (s, h))| Clip {
                corpus: if i < 12 { "a" } else { "b" },
                speaker: s,
                content_hash: h,
            })
            .collect();
        let cfg = SplitConfig::default();
        let own = corpus_split(&c, &["a".into()], &["a".into(), "b".into()], true, &cfg).unwrap();
        assert!(
            own.train
                .iter()
                .chain(&own.val)
                .all(|&i| c[i].corpus == "a")
        );
        assert_eq!(own.test.iter().filter(|&&i| c[i].corpus == "b").count(), 12);
        assert_eq!(own.test_speakers.len(), 1, "one held-out speaker of a");
        let loco = corpus_split(&c, &["a".into()], &["b".into()], false, &cfg).unwrap();
        assert!(loco.test.iter().all(|&i| c[i].corpus == "b"));
        assert_eq!(loco.train.len() + loco.val.len(), 12);
        let e = corpus_split(&c, &["z".into()], &["b".into()], false, &cfg).unwrap_err();
        assert!(e.to_string().contains("\"z\""), "{e}");
    }
}
