//! Cross-validation runs (`[split] protocol = "speaker_kfold" | "loso"`): one model per fold
//! in `<run>/fold-NN/` (each an ordinary run folder, resumable on its own), the folds fixed in
//! `<run>/folds.json`, and `<run>/results.json` with every fold, mean +- std over folds and the
//! metrics pooled over all test clips (each clip is tested exactly once).

use std::path::Path;

use ser_eval::{Folds, Metrics, Protocol, loso_folds, speaker_folds};

use crate::shard::{self, Models, StudyOutcome};

use ser_experiment::folder::{pin_plan, write_atomic, write_json};
use ser_experiment::{Experiment, TrainError};
use ser_plot::confusion;
use ser_train::report::{class_rows, heading, metrics_rows, read_audit, recall_bars, save_figure};
use ser_train::{
    CrossValidation, FoldResult, MeanStd, Observer, Part, RunOptions, RunSummary, load_dataset,
    sub_run,
};

/// Trains (or resumes) the folds of `exp` in `dir` that `models` selects and, once every
/// fold has finished, writes the combined results.
pub(crate) fn run_folds(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    models: Models,
    obs: &mut dyn Observer,
) -> Result<StudyOutcome, TrainError> {
    let ds = load_dataset(exp)?;
    let folds = {
        let view = ds.split_view();
        match exp.split.protocol {
            Protocol::Loso => loso_folds(&view, exp.split.loso_group),
            _ => speaker_folds(&view, &ds.labels, exp.split.folds, exp.split.seed),
        }
        .map_err(|e| TrainError::Data(e.to_string()))?
    };
    pin_plan(
        &dir.join("folds.json"),
        &serde_json::to_string_pretty(&folds).expect("json"),
        "start a new run instead of resuming",
    )?;
    let n = folds.folds.len();
    let mut runs = Vec::with_capacity(n);
    for i in 0..n {
        let what = format!(
            "fold {} of {n}: test speakers {}",
            i + 1,
            folds.folds[i].join(", ")
        );
        let fdir = dir.join(fold_folder(i + 1));
        let part = Part::Fold(&folds, i);
        runs.push(shard::model(models, i, &fdir, obs, |obs| {
            sub_run(exp, &fdir, opts, obs, ds.clone(), &part, &what)
        })?);
    }
    let folders: Vec<String> = (1..=n).map(fold_folder).collect();
    shard::outcome(runs, dir, &folders, |runs| {
        write_folds(dir, &folds, &runs, opts)
    })
}

/// The combined results, figures and report of every fold's run.
fn write_folds(
    dir: &Path,
    folds: &Folds,
    runs: &[RunSummary],
    opts: &RunOptions,
) -> Result<RunSummary, TrainError> {
    let n = runs.len();
    let summary = combine(dir, folds, runs, opts);
    save_figure(
        dir,
        "confusion_test",
        &confusion(
            &summary.test.confusion,
            &summary.classes,
            &format!("test, pooled over {n} folds"),
        ),
    )?;
    save_figure(
        dir,
        "recall_test",
        &recall_bars(
            &summary.test,
            &summary.classes,
            "test recall per class, pooled over folds",
        ),
    )?;
    write_atomic(&dir.join("report.md"), cv_report(dir, &summary)?.as_bytes())?;
    write_json(&dir.join("results.json"), &summary)?;
    Ok(summary)
}

/// The folder of fold `k` (from 1).
fn fold_folder(k: usize) -> String {
    format!("fold-{k:02}")
}

/// Metrics of the clips behind summed confusion matrices (each clip counted once).
pub(crate) fn pooled(matrices: impl Iterator<Item = Vec<Vec<u64>>>, n_classes: usize) -> Metrics {
    let (mut truth, mut pred) = (Vec::new(), Vec::new());
    for m in matrices {
        for (t, row) in m.iter().enumerate() {
            for (p, &c) in row.iter().enumerate() {
                truth.extend(std::iter::repeat_n(t, c as usize));
                pred.extend(std::iter::repeat_n(p, c as usize));
            }
        }
    }
    Metrics::new(&truth, &pred, n_classes)
}

fn combine(dir: &Path, folds: &Folds, runs: &[RunSummary], opts: &RunOptions) -> RunSummary {
    let classes = runs[0].classes.clone();
    let names: Vec<String> = (1..=runs.len()).map(fold_folder).collect();
    let k = classes.len();
    let figure =
        |f: fn(&Metrics) -> f64| MeanStd::of(&runs.iter().map(|r| f(&r.test)).collect::<Vec<_>>());
    let cv = CrossValidation {
        folds: runs
            .iter()
            .enumerate()
            .map(|(i, r)| FoldResult {
                fold: i + 1,
                test_speakers: folds.folds[i].clone(),
                best_epoch: r.best_epoch,
                test: r.test.clone(),
            })
            .collect(),
        ua: figure(|m| m.ua),
        wa: figure(|m| m.wa),
        macro_f1: figure(|m| m.macro_f1),
    };
    RunSummary {
        dir: dir.to_path_buf(),
        protocol: format!(
            "{}; test figures pooled over the folds' test clips (each clip tested once), validation pooled over folds",
            folds.protocol
        ),
        classes,
        best_epoch: 0,
        val: pooled(runs.iter().map(|r| r.val.confusion.clone()), k),
        test: pooled(runs.iter().map(|r| r.test.confusion.clone()), k),
        device: runs
            .first()
            .map_or_else(|| opts.device_name.clone(), |r| r.device.clone()),
        stopped: None,
        cv: Some(cv),
        test_auc: None,
        per_corpus: Default::default(),
        per_corpus_auc: Default::default(),
        cross_corpus: None,
        learned: true,
        learning: None,
        not_learned: Vec::new(),
    }
    .over_models(names.iter().map(String::as_str).zip(runs))
}

/// `report.md` of a cross-validation: protocol, each fold's audit verdict, the fold table,
/// mean +- std, pooled metrics and plots (each fold's own report is in its folder).
fn cv_report(dir: &Path, s: &RunSummary) -> Result<String, TrainError> {
    use std::fmt::Write as _;
    let cv = s.cv.as_ref().expect("cross-validation summary");
    let mut r = heading(s, &format!("Classes: {}.", s.classes.join(", ")));
    r.push_str("## Leakage audit (every fold)\n\n| fold | train / val / test clips | findings |\n|---|---|---|\n");
    for f in &cv.folds {
        let a = read_audit(&dir.join(fold_folder(f.fold)))?;
        let _ = writeln!(
            r,
            "| {} | {} / {} / {} | {} |",
            f.fold,
            a.counts[0],
            a.counts[1],
            a.counts[2],
            a.summary()
        );
    }
    r.push_str("\n## Folds\n\n| fold | test speakers | clips | UA | WA | macro-F1 |\n|---|---|---|---|---|---|\n");
    for f in &cv.folds {
        let _ = writeln!(
            r,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} |",
            f.fold,
            f.test_speakers.join(", "),
            f.test.n,
            f.test.ua,
            f.test.wa,
            f.test.macro_f1
        );
    }
    let _ = writeln!(r, "\n{}.\n", cv.describe());
    r.push_str("## Pooled over every fold's test clips\n\n");
    r.push_str(&metrics_rows(&[
        ("validation", &s.val, None),
        ("test", &s.test, None),
    ]));
    r.push('\n');
    r.push_str(&class_rows(&s.test, &s.classes));
    r.push_str("\n## Plots\n\n![confusion matrix](confusion_test.png)\n\n![recall per class](recall_test.png)\n\nEach fold's folder has its own report.md, predictions.csv, ROC curves and training curves.\n");
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std_over_folds() {
        let m = MeanStd::of(&[0.2, 0.4, 0.6]);
        assert!((m.mean - 0.4).abs() < 1e-12);
        assert!((m.std - 0.2).abs() < 1e-12);
        assert_eq!(MeanStd::of(&[0.5]).std, 0.0);
    }

    #[test]
    fn pooled_metrics_count_every_clip_of_every_fold() {
        let a = vec![vec![2, 1], vec![0, 3]];
        let b = vec![vec![1, 0], vec![1, 1]];
        let m = pooled([a, b].into_iter(), 2);
        assert_eq!(m.confusion, vec![vec![3, 1], vec![1, 4]]);
        assert_eq!(m.n, 9);
    }
}
