//! Corpus-level protocols: `cross_corpus` (one model per training set, tested on the held-out
//! speakers of its own corpora and on every clip of every other corpus: the full train x test
//! matrix) and `leave_one_corpus_out` (one model per corpus, trained on all the others). Each
//! model is an ordinary run folder (`<run>/train-<set>/` or `<run>/without-<corpus>/`,
//! resumable on its own, with its own leakage audit and report); the study adds `plan.json`,
//! `results.json` with the matrix, `ua_matrix.{png,svg}` and `report.md`.

use std::fmt::Write as _;
use std::path::Path;

use ser_eval::{Metrics, Protocol};

use ser_experiment::folder::{pin_plan, write_atomic, write_json};
use ser_experiment::{Experiment, TrainError};
use ser_plot::Heatmap;
use ser_train::report::{heading, metrics_rows, read_audit, save_figure};
use ser_train::{
    Cell, CrossCorpus, Observer, Part, RunOptions, RunSummary, TrainSet, load_dataset, sub_run,
};

use crate::cv::pooled;
use crate::shard::{self, Models, StudyOutcome};

/// The models a corpus-level protocol trains, from the data's corpora.
fn plan(exp: &Experiment, corpora: &[String]) -> Result<Vec<TrainSet>, TrainError> {
    let folder = |prefix: &str, names: &[String]| {
        let s: String = names
            .join("+")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "+-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{prefix}-{s}")
    };
    match exp.split.protocol {
        Protocol::CrossCorpus => {
            let sets: Vec<Vec<String>> = if exp.split.train_sets.is_empty() {
                corpora.iter().map(|c| vec![c.clone()]).collect()
            } else {
                exp.split.train_sets.clone()
            };
            sets.into_iter()
                .map(|mut t| {
                    t.sort();
                    t.dedup();
                    if let Some(bad) = t.iter().find(|c| !corpora.contains(c)) {
                        return Err(TrainError::Config(format!(
                            "split.train_sets names {bad:?}, which is not a corpus of the data {corpora:?}"
                        )));
                    }
                    Ok(TrainSet {
                        name: t.join("+"),
                        folder: folder("train", &t),
                        train: t,
                        test: corpora.to_vec(),
                        own_test: true,
                    })
                })
                .collect()
        }
        Protocol::LeaveOneCorpusOut => Ok(corpora
            .iter()
            .map(|c| TrainSet {
                name: format!("all but {c}"),
                folder: folder("without", std::slice::from_ref(c)),
                train: corpora.iter().filter(|k| *k != c).cloned().collect(),
                test: vec![c.clone()],
                own_test: false,
            })
            .collect()),
        p => unreachable!("{p:?} is not corpus-level"),
    }
}

/// Trains (or resumes) every model of the study in `dir` and writes the matrix.
pub(crate) fn run_matrix(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    models: Models,
    obs: &mut dyn Observer,
) -> Result<StudyOutcome, TrainError> {
    let ds = load_dataset(exp)?;
    let corpora = ds.corpora();
    let sets = plan(exp, &corpora)?;
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "labels": ds.classes,
        "corpora": corpora,
        "sets": sets,
    }))
    .expect("json");
    pin_plan(
        &dir.join("plan.json"),
        &text,
        "start a new run instead of resuming",
    )?;
    obs.note(&format!(
        "{} model(s) on the labels all corpora share: {}",
        sets.len(),
        ds.classes.join(", ")
    ));
    let mut runs = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        let what = format!(
            "model {} of {}: train on {}, test on {}",
            i + 1,
            sets.len(),
            set.train.join(" + "),
            set.test.join(", ")
        );
        let part = Part::Corpora {
            train: &set.train,
            test: &set.test,
            own_test: set.own_test,
        };
        let sub = dir.join(&set.folder);
        runs.push(shard::model(models, i, &sub, obs, |obs| {
            sub_run(exp, &sub, opts, obs, ds.clone(), &part, &what)
        })?);
    }
    let folders: Vec<String> = sets.iter().map(|s| s.folder.clone()).collect();
    shard::outcome(runs, dir, &folders, |runs| {
        write_matrix(exp, dir, opts, &sets, &corpora, &ds.classes, &runs)
    })
}

/// The train x test matrix, pooled results, figure and report of every model's run.
fn write_matrix(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    sets: &[TrainSet],
    corpora: &[String],
    classes: &[String],
    runs: &[RunSummary],
) -> Result<RunSummary, TrainError> {
    let mut cells = Vec::new();
    for (set, r) in sets.iter().zip(runs) {
        if r.per_corpus.is_empty() {
            let only = set
                .test
                .iter()
                .find(|c| !set.train.contains(c))
                .or(set.test.first());
            if let Some(c) = only {
                cells.push(Cell {
                    train: set.name.clone(),
                    test: c.clone(),
                    in_corpus: set.train.contains(c),
                    metrics: r.test.clone(),
                    auc: r.test_auc,
                });
            }
        }
        for (c, m) in &r.per_corpus {
            cells.push(Cell {
                train: set.name.clone(),
                test: c.clone(),
                in_corpus: set.train.contains(c),
                metrics: m.clone(),
                auc: r.per_corpus_auc.get(c).copied(),
            });
        }
    }
    let k = classes.len();
    let matrix = CrossCorpus {
        sets: sets.to_vec(),
        corpora: corpora.to_vec(),
        labels: classes.to_vec(),
        cells,
    };
    let what = match exp.split.protocol {
        Protocol::CrossCorpus => "cross-corpus",
        _ => "leave-one-corpus-out",
    };
    let summary = RunSummary {
        dir: dir.to_path_buf(),
        protocol: format!(
            "{what} ({} models on the {} labels all corpora share; {}); test figures pooled over the cross-corpus cells only (speakers and recordings never seen in training)",
            sets.len(),
            k,
            exp.split.normalize.describe()
        ),
        classes: classes.to_vec(),
        best_epoch: 0,
        val: pooled(runs.iter().map(|r| r.val.confusion.clone()), k),
        test: pooled(
            matrix
                .cells
                .iter()
                .filter(|c| !c.in_corpus)
                .map(|c| c.metrics.confusion.clone()),
            k,
        ),
        device: runs
            .first()
            .map_or_else(|| opts.device_name.clone(), |r| r.device.clone()),
        stopped: None,
        cv: None,
        test_auc: None,
        per_corpus: Default::default(),
        per_corpus_auc: Default::default(),
        cross_corpus: Some(matrix),
        learned: true,
        learning: None,
        not_learned: Vec::new(),
    }
    .over_models(sets.iter().map(|s| s.folder.as_str()).zip(runs));
    let m = summary.cross_corpus.as_ref().expect("set above");
    save_figure(dir, "ua_matrix", &heatmap(m, what))?;
    write_atomic(&dir.join("report.md"), report(dir, &summary, m)?.as_bytes())?;
    write_json(&dir.join("results.json"), &summary)?;
    Ok(summary)
}

fn heatmap(m: &CrossCorpus, what: &str) -> Heatmap {
    let mut shade = Vec::new();
    let mut text = Vec::new();
    for s in &m.sets {
        let (mut sr, mut tr) = (Vec::new(), Vec::new());
        for c in &m.corpora {
            match m.cell(&s.name, c) {
                Some(cell) => {
                    sr.push(cell.metrics.ua);
                    tr.push(format!(
                        "{:.3}{}",
                        cell.metrics.ua,
                        if cell.in_corpus { "*" } else { "" }
                    ));
                }
                None => {
                    sr.push(f64::NAN);
                    tr.push(String::new());
                }
            }
        }
        shade.push(sr);
        text.push(tr);
    }
    Heatmap {
        title: format!("{what}: test UA ({} labels)", m.labels.len()),
        rows: m.sets.iter().map(|s| s.name.clone()).collect(),
        cols: m.corpora.clone(),
        shade,
        text,
        footer: "rows: trained on, columns: tested on; * held-out speakers of a training corpus"
            .into(),
    }
}

fn report(dir: &Path, s: &RunSummary, m: &CrossCorpus) -> Result<String, TrainError> {
    let mut r = heading(
        s,
        &format!(
            "Labels shared by every corpus (the classes of every model): {}.",
            m.labels.join(", ")
        ),
    );
    r.push_str("## Leakage audit (every model)\n\n| model | train / val / test clips | findings | verdict |\n|---|---|---|---|\n");
    for set in &m.sets {
        let a = read_audit(&dir.join(&set.folder))?;
        let verdict = match a.verdict() {
            Ok(()) => "clean".to_string(),
            Err(e) => format!("**{e}**"),
        };
        let _ = writeln!(
            r,
            "| {} | {} / {} / {} | {} | {verdict} |",
            set.name,
            a.counts[0],
            a.counts[1],
            a.counts[2],
            a.summary()
        );
    }
    r.push_str("\nEach model's folder has the full audit table (`audit.json`, `report.md`).\n\n## Test UA, trained on (rows) x tested on (columns)\n\n| trained on |");
    for c in &m.corpora {
        let _ = write!(r, " {c} |");
    }
    r.push_str("\n|---|");
    r.push_str(&"---|".repeat(m.corpora.len()));
    r.push('\n');
    for set in &m.sets {
        let _ = write!(r, "| {} |", set.name);
        for c in &m.corpora {
            match m.cell(&set.name, c) {
                Some(cell) => {
                    let _ = write!(
                        r,
                        " {:.4}{} ({} clips) |",
                        cell.metrics.ua,
                        if cell.in_corpus { "*" } else { "" },
                        cell.metrics.n
                    );
                }
                None => r.push_str(" |"),
            }
        }
        r.push('\n');
    }
    r.push_str("\n\\* in-corpus cell: held-out speakers of a training corpus (speaker-independent); every other cell tests a corpus the model never saw. Chance UA is ");
    let _ = writeln!(r, "{:.3}.\n", 1.0 / m.labels.len().max(1) as f64);
    r.push_str("## Every cell\n\n");
    let names: Vec<String> = m
        .cells
        .iter()
        .map(|c| {
            format!(
                "{} -> {}{}",
                c.train,
                c.test,
                if c.in_corpus { " *" } else { "" }
            )
        })
        .collect();
    let rows: Vec<(&str, &Metrics, Option<f64>)> = m
        .cells
        .iter()
        .zip(&names)
        .map(|(c, n)| (n.as_str(), &c.metrics, c.auc))
        .collect();
    r.push_str(&metrics_rows(&rows));
    r.push_str("\n## Pooled\n\n");
    r.push_str(&metrics_rows(&[
        ("validation (all models)", &s.val, None),
        ("test (cross-corpus cells)", &s.test, None),
    ]));
    r.push_str("\n## Plots\n\n![UA matrix](ua_matrix.png)\n\nAlso `ua_matrix.svg`. Each model's folder has its confusion matrix, recall bars, ROC and training curves, and `predictions.csv` (with the corpus of every clip).\n");
    Ok(r)
}
