//! What a finished run leaves for people: `predictions.csv` (every test clip with its truth,
//! prediction and class probabilities), plots as PNG and SVG (confusion matrix, per-class
//! recall, one-vs-rest ROC curves, training curves) and `report.md`, readable top to bottom:
//! protocol, leakage audit, data counts, metrics, plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use ser_eval::{Audit, Metrics, roc_curves};

use ser_experiment::folder::{io, write_atomic, write_json};
use ser_experiment::{Dataset, TrainError};
use ser_plot::{Bars, Figure, Lines, Painter, confusion, confusion_png, render};
use ser_tensorboard::EventWriter;

use crate::prepare::Prepared;
use crate::record::{EpochRecord, read_epochs};
use crate::summary::RunSummary;

/// Predictions of one model on some clips.
pub(crate) struct Scored {
    /// Dataset indices of the clips.
    pub clips: Vec<usize>,
    /// Predicted class per clip.
    pub pred: Vec<usize>,
    /// Class scores per clip (probabilities for networks).
    pub scores: Vec<Vec<f64>>,
}

impl Scored {
    /// Metrics against the dataset's labels.
    pub fn metrics(&self, ds: &Dataset) -> Metrics {
        let truth: Vec<usize> = self.clips.iter().map(|&i| ds.labels[i]).collect();
        Metrics::new(&truth, &self.pred, ds.classes.len())
    }
}

/// Writes `<stem>.png` and `<stem>.svg`.
pub fn save_figure(dir: &Path, stem: &str, p: &impl Painter) -> Result<Figure, TrainError> {
    let f = render(p).map_err(TrainError::Io)?;
    write_atomic(&dir.join(format!("{stem}.png")), &f.png)?;
    write_atomic(&dir.join(format!("{stem}.svg")), f.svg.as_bytes())?;
    Ok(f)
}

/// Per-class recall bars with the chance line.
pub fn recall_bars(m: &Metrics, classes: &[String], title: &str) -> Bars {
    Bars {
        title: title.to_string(),
        labels: classes.to_vec(),
        values: m.recall.clone(),
        reference: Some((
            1.0 / classes.len().max(1) as f64,
            format!("chance (1/{})", classes.len()),
        )),
    }
}

/// Predictions, ROC / AUC, per-corpus metrics, plots and the report of one model's run.
pub(crate) fn write_run_outputs(
    dir: &Path,
    p: &Prepared,
    test: &Scored,
    mut s: RunSummary,
) -> Result<RunSummary, TrainError> {
    let ds = &p.ds;
    write_atomic(&dir.join("predictions.csv"), &predictions_csv(ds, test)?)?;
    let truth: Vec<usize> = test.clips.iter().map(|&i| ds.labels[i]).collect();
    let (curves, auc) = roc_curves(&truth, &test.scores, ds.classes.len());
    s.test_auc = auc.is_finite().then_some(auc);
    let corpora: BTreeMap<&str, Vec<usize>> =
        test.clips
            .iter()
            .enumerate()
            .fold(BTreeMap::new(), |mut m, (k, &i)| {
                m.entry(ds.meta[i].corpus.as_str())
                    .or_insert_with(Vec::new)
                    .push(k);
                m
            });
    if corpora.len() > 1 {
        for (c, ks) in &corpora {
            let t: Vec<usize> = ks.iter().map(|&k| truth[k]).collect();
            let pr: Vec<usize> = ks.iter().map(|&k| test.pred[k]).collect();
            s.per_corpus
                .insert(c.to_string(), Metrics::new(&t, &pr, ds.classes.len()));
            let sc: Vec<Vec<f64>> = ks.iter().map(|&k| test.scores[k].clone()).collect();
            let (_, a) = roc_curves(&t, &sc, ds.classes.len());
            if a.is_finite() {
                s.per_corpus_auc.insert(c.to_string(), a);
            }
        }
    }
    let short = s
        .protocol
        .split([':', ','])
        .next()
        .unwrap_or("")
        .to_string();
    save_figure(
        dir,
        "confusion_test",
        &confusion(&s.test.confusion, &s.classes, &format!("test ({short})")),
    )?;
    save_figure(
        dir,
        "recall_test",
        &recall_bars(&s.test, &s.classes, "test recall per class"),
    )?;
    let mut series = vec![("~chance".to_string(), vec![(0.0, 0.0), (1.0, 1.0)])];
    for (c, r) in s.classes.iter().zip(&curves) {
        if r.auc.is_finite() {
            series.push((
                format!("{c} (AUC {:.2})", r.auc),
                r.fpr.iter().copied().zip(r.tpr.iter().copied()).collect(),
            ));
        }
    }
    save_figure(
        dir,
        "roc_test",
        &Lines {
            title: format!("test ROC, one vs rest (macro AUC {auc:.3})"),
            x_label: "false-positive rate".into(),
            y_label: "true-positive rate".into(),
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            series,
        },
    )?;
    let epochs = read_epochs(dir);
    if !epochs.is_empty() {
        save_figure(dir, "curves", &training_curves(&epochs))?;
    }
    let md = run_report(&s, &p.audit, ds, &p.split, !epochs.is_empty());
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    Ok(s)
}

fn training_curves(epochs: &[EpochRecord]) -> Lines {
    let pts = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        epochs.iter().map(|r| (r.epoch as f64, f(r))).collect()
    };
    let top = epochs
        .iter()
        .flat_map(|r| [r.train_loss, r.val_loss])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    Lines {
        title: "training curves".into(),
        x_label: "epoch".into(),
        y_label: "loss / accuracy".into(),
        x: (1.0, epochs.len().max(2) as f64),
        y: (0.0, top * 1.05),
        series: vec![
            ("train loss".into(), pts(|r| r.train_loss)),
            ("val loss".into(), pts(|r| r.val_loss)),
            ("train accuracy".into(), pts(|r| r.train_wa)),
            ("val UA".into(), pts(|r| r.val_ua)),
        ],
    }
}

/// `path,corpus,speaker,true,predicted,p_<class>...`, one row per test clip.
fn predictions_csv(ds: &Dataset, s: &Scored) -> Result<Vec<u8>, TrainError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec![
        "path".to_string(),
        "corpus".into(),
        "speaker".into(),
        "true".into(),
        "predicted".into(),
    ];
    head.extend(ds.classes.iter().map(|c| format!("p_{c}")));
    let err = |e: csv::Error| TrainError::Io(format!("predictions.csv: {e}"));
    w.write_record(&head).map_err(err)?;
    for (k, &i) in s.clips.iter().enumerate() {
        let m = &ds.meta[i];
        let mut row = vec![
            m.path.clone(),
            m.corpus.clone(),
            m.speaker.clone(),
            ds.classes[ds.labels[i]].clone(),
            ds.classes[s.pred[k]].clone(),
        ];
        row.extend(s.scores[k].iter().map(|v| format!("{v:.6}")));
        w.write_record(&row).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| TrainError::Io(format!("predictions.csv: {e}")))
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

/// The metrics table rows of `report.md`.
pub fn metrics_rows(rows: &[(&str, &Metrics, Option<f64>)]) -> String {
    let mut t = String::from(
        "| set | clips | UA | WA | macro-F1 | weighted F1 | kappa | macro AUC |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (name, m, auc) in rows {
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            m.n,
            fmt(m.ua),
            fmt(m.wa),
            fmt(m.macro_f1),
            fmt(m.weighted_f1),
            fmt(m.kappa),
            auc.map_or("n/a".into(), fmt)
        );
    }
    t
}

/// Per-class precision / recall / F1 / support.
pub fn class_rows(m: &Metrics, classes: &[String]) -> String {
    let mut t =
        String::from("| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n");
    for (c, name) in classes.iter().enumerate() {
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {} |",
            fmt(m.precision[c]),
            fmt(m.recall[c]),
            fmt(m.f1[c]),
            m.support[c]
        );
    }
    t
}

/// Clips per part and class, and per part and corpus.
fn counts(ds: &Dataset, split: &ser_eval::Split) -> String {
    let parts = [
        ("train", &split.train),
        ("val", &split.val),
        ("test", &split.test),
    ];
    let mut t = String::from("| part | clips | speakers |");
    for c in &ds.classes {
        let _ = write!(t, " {c} |");
    }
    t.push_str("\n|---|---|---|");
    t.push_str(&"---|".repeat(ds.classes.len()));
    t.push('\n');
    for (name, idx) in parts {
        let speakers: std::collections::BTreeSet<String> = idx
            .iter()
            .map(|&i| format!("{}/{}", ds.meta[i].corpus, ds.meta[i].speaker))
            .collect();
        let _ = write!(t, "| {name} | {} | {} |", idx.len(), speakers.len());
        for c in 0..ds.classes.len() {
            let _ = write!(
                t,
                " {} |",
                idx.iter().filter(|&&i| ds.labels[i] == c).count()
            );
        }
        t.push('\n');
    }
    let mut by: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    for (p, (_, idx)) in parts.iter().enumerate() {
        for &i in idx.iter() {
            *by.entry((ds.meta[i].corpus.as_str(), p)).or_default() += 1;
        }
    }
    t.push_str("\n| corpus | train | val | test |\n|---|---|---|---|\n");
    for c in ds.corpora() {
        let n = |p: usize| by.get(&(c.as_str(), p)).copied().unwrap_or(0);
        let _ = writeln!(t, "| {c} | {} | {} | {} |", n(0), n(1), n(2));
    }
    t
}

/// The top of every `report.md`: run name, a warning for every model that did not learn,
/// protocol, device, and `classes` (a sentence naming the classes).
pub fn heading(s: &RunSummary, classes: &str) -> String {
    let name = s
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut warn = String::new();
    for w in s.warnings() {
        let _ = writeln!(
            warn,
            "> **Warning: {w}.** Its figures below are those of a model at chance level; check the learning rate, the features and their normalization.\n"
        );
    }
    format!(
        "# {name}\n\n{warn}**Protocol:** {}\n\nDevice: {}. {classes}\n\n",
        s.protocol, s.device
    )
}

fn run_report(
    s: &RunSummary,
    audit: &Audit,
    ds: &Dataset,
    split: &ser_eval::Split,
    curves: bool,
) -> String {
    let kept = if s.best_epoch > 0 {
        format!(" Kept model: epoch {} (best validation UA).", s.best_epoch)
    } else {
        String::new()
    };
    let mut r = heading(s, &format!("Classes: {}.{kept}", s.classes.join(", ")));
    if let Some(why) = &s.stopped {
        let _ = writeln!(r, "Stopped: {why}.\n");
    }
    r.push_str("## Leakage audit\n\n");
    r.push_str(&audit.markdown());
    r.push_str("\n## Data\n\n");
    r.push_str(&counts(ds, split));
    r.push_str("\n## Metrics\n\n");
    r.push_str(&metrics_rows(&[
        ("validation", &s.val, None),
        ("test", &s.test, s.test_auc),
    ]));
    if !s.per_corpus.is_empty() {
        r.push_str("\nTest clips of each corpus:\n\n");
        let rows: Vec<(&str, &Metrics, Option<f64>)> = s
            .per_corpus
            .iter()
            .map(|(c, m)| (c.as_str(), m, s.per_corpus_auc.get(c).copied()))
            .collect();
        r.push_str(&metrics_rows(&rows));
    }
    r.push_str("\nTest, per class:\n\n");
    r.push_str(&class_rows(&s.test, &s.classes));
    r.push_str("\n## Plots\n\n");
    r.push_str("![confusion matrix](confusion_test.png)\n\n![recall per class](recall_test.png)\n\n![ROC curves](roc_test.png)\n");
    if curves {
        r.push_str("\n![training curves](curves.png)\n");
    }
    r.push_str("\nEvery plot is also saved as SVG beside its PNG. Per-clip predictions and class scores: `predictions.csv`.\n");
    r
}

/// Reads a run's audit back (for reports that gather several runs).
pub fn read_audit(dir: &Path) -> Result<Audit, TrainError> {
    let p = dir.join("audit.json");
    let t = fs::read_to_string(&p).map_err(io(&p))?;
    serde_json::from_str(&t).map_err(|e| TrainError::file(&p, e))
}

/// Writes `results.json`, `predictions.csv`, the plots and `report.md`, logs the test
/// confusion matrix to TensorBoard, and returns the summary (with AUC and per-corpus figures).
pub(crate) fn finish(
    dir: &Path,
    tb: &mut EventWriter,
    p: &Prepared,
    test: &Scored,
    s: RunSummary,
    step: i64,
) -> Result<RunSummary, TrainError> {
    let s = write_run_outputs(dir, p, test, s)?;
    write_json(
        &dir.join("metrics.json"),
        &serde_json::json!({
            "protocol": s.protocol,
            "classes": s.classes,
            "val": s.val,
            "test": s.test,
            "test_auc": s.test_auc,
            "per_corpus": s.per_corpus,
            "per_corpus_auc": s.per_corpus_auc,
        }),
    )?;
    let (png, w, h) = confusion_png(
        &s.test.confusion,
        &s.classes,
        &format!("test ({})", s.protocol.split(':').next().unwrap_or("")),
    )
    .map_err(TrainError::Io)?;
    tb.png(step, "confusion/test", png, w, h)
        .map_err(|e| TrainError::Io(e.to_string()))?;
    tb.scalars(
        step,
        &[
            ("unweighted_accuracy/test", s.test.ua),
            ("accuracy/test", s.test.wa),
        ],
    )
    .map_err(|e| TrainError::Io(e.to_string()))?;
    write_json(&dir.join("results.json"), &s)?;
    Ok(s)
}
