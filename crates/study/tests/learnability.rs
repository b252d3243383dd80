//! The learnability matrix: every model kind x every normalization scope x every protocol
//! that uses it trains briefly, with the shipped augmentation on, on data that is easy to
//! learn (two toy corpora with a channel difference and realistic level spread, tests/common), and must beat chance by
//! [`MARGIN`] in every model of the protocol and be judged as having learned. This is the
//! test that catches an augmentation acting in the wrong units (gain in dB added to
//! standardized frames under per-corpus normalization kept networks at chance).

mod common;

use std::path::Path;

use ser_experiment::{Experiment, NormScope, Protocol};
use ser_study::{Quiet, RunSummary, train};

/// Chance is 1/4 (four classes): every model must reach at least chance + this test UA.
/// With the augmentation acting in the right units every network reaches 0.78 or more here;
/// with gain added to group-standardized frames (the bug this guards) the group-normalized
/// cells fall to 0.41-0.66.
const MARGIN: f64 = 0.4;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn experiment(name: &str, cache: &Path, model: &str, scope: &str, protocol: &str) -> Experiment {
    Experiment::from_toml(&format!(
        r#"
name = "{name}"
[data]
cache = "{}"
frames = ["logmel"]
[split]
protocol = "{protocol}"
normalize = "{scope}"
folds = 3
test_speakers = 0.25
val_speakers = 0.25
[segment]
frames = 32
[model]
kind = "{model}"
[model.cnn]
channels = [4, 8]
dropout = 0.1
reduce = "flatten"   # the toy classes differ in which bands are loud
[model.lstm]
hidden = 12
dropout = 0.1
# The SUPERB head reads the toy's log-mel frames as one encoder state.
[model.ssl_head]
states = 1
projection = 16
[model.head]
hidden = [16]
dropout = 0.1
[train]
epochs = 8
batch_size = 8
lr = 0.005
warmup_epochs = 0
early_stopping = 0
seed = 3
# As experiments/cnn_lstm.toml ships it.
[augment]
time_masks = 2
time_mask_frames = 4
freq_masks = 2
freq_mask_bins = 2
gain_db = [-6.0, 6.0]
"#,
        cache.display()
    ))
    .unwrap()
}

/// Every model a study trained: the run itself, or its folds or corpus sets.
fn models(s: &RunSummary) -> Vec<(String, f64)> {
    if let Some(cv) = &s.cv {
        return cv
            .folds
            .iter()
            .map(|f| (format!("fold {}", f.fold), f.test.ua))
            .collect();
    }
    if let Some(m) = &s.cross_corpus {
        return m
            .cells
            .iter()
            .map(|c| (format!("{} -> {}", c.train, c.test), c.metrics.ua))
            .collect();
    }
    vec![("holdout".into(), s.test.ua)]
}

fn matrix(kind: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("two.h5");
    // Classes 6 dB apart in their own bands, clips +-10 dB apart in level (recording gain):
    // features spread over several dB, as real log-mel, so that a gain of 6 dB is a fraction
    // of a standard deviation, not six of them.
    let toy = common::Toy {
        class_db: 6.0,
        clip_level_db: 20.0,
    };
    common::write_toy(&cache, &[("a", 8, 4, 0.0), ("b", 8, 4, 3.0)], toy);
    let opts = common::flex(&tmp.path().join("runs"), None);
    let mut failures = Vec::new();
    for scope in [NormScope::Train, NormScope::Corpus, NormScope::Speaker] {
        for protocol in [
            Protocol::Holdout,
            Protocol::SpeakerKfold,
            Protocol::CrossCorpus,
        ] {
            let (s, p) = (
                serde_json::to_value(scope).unwrap(),
                serde_json::to_value(protocol).unwrap(),
            );
            let (s, p) = (s.as_str().unwrap(), p.as_str().unwrap());
            let name = format!("{kind}-{s}-{p}");
            let summary = train(&experiment(&name, &cache, kind, s, p), &opts, &mut Quiet)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for (model, ua) in models(&summary) {
                if !(ua >= 0.25 + MARGIN) {
                    failures.push(format!("{name} {model}: test UA {ua:.3}"));
                }
            }
            if !summary.learned {
                failures.push(format!(
                    "{name}: judged as not learned: {:?}",
                    summary.warnings()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{kind}: below chance + {MARGIN} or not learned:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cnn_learns_under_every_normalization_and_protocol() {
    matrix("cnn");
}

#[test]
fn lstm_learns_under_every_normalization_and_protocol() {
    matrix("lstm");
}

#[test]
fn cnn_lstm_learns_under_every_normalization_and_protocol() {
    matrix("cnn_lstm");
}

#[test]
fn ssl_head_learns_under_every_normalization_and_protocol() {
    matrix("ssl_head");
}

#[test]
fn svm_learns_under_every_normalization_and_protocol() {
    matrix("svm");
}

#[test]
fn random_forest_learns_under_every_normalization_and_protocol() {
    matrix("random_forest");
}
