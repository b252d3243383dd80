//! The models inside a study are models: a cross-corpus study's corpus-set folders and a
//! cross-validation's folds are exported and scored like any run, and reproduce the
//! study's own predictions; a model that did not learn is reported as such.

use std::path::{Path, PathBuf};

use ser_check::assert_close;

#[path = "support/paths.rs"]
mod paths;
#[path = "support/cli.rs"]
mod support;
use support::{features, read_csv, run, ser, synth_tiny, text};

/// A small LSTM experiment on the tiny synthetic corpora with `split` settings and `train`
/// settings appended.
fn experiment(d: &Path, name: &str, synth: &Path, split: &str, train: &str) -> PathBuf {
    let p = d.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\n[data]\ncache = \"{}\"\nframes = [\"logmel\"]\ncorpora = [\"{}\", \"{}\"]\nfeatures = \"{}\"\n\
             [split]\n{split}\n[segment]\nframes = 100\n\
             [model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 16\nlayers = 1\n[model.head]\nhidden = []\n\
             [train]\nepochs = 2\nbatch_size = 16\n{train}\n[augment]\ngain_db = [-6.0, 6.0]\n",
            d.join("cache.h5").display(),
            synth.join("ravdess").display(),
            synth.join("cremad").display(),
            features().display()
        ),
    )
    .unwrap();
    p
}

/// `ser predict MODEL FILES...` (plus `extra`) equals the rows of `predictions.csv` of
/// `model_dir` for those files: same predicted class, probabilities within 1e-4.
fn predicts_the_study_rows(model: &Path, model_dir: &Path, rows: &[Vec<String>], extra: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("p.csv");
    let o = run(ser()
        .arg("predict")
        .arg(model)
        .args(rows.iter().map(|r| &r[0]))
        .args(extra)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}: {}", model.display(), text(&o));
    let ours = read_csv(&out);
    assert_eq!(ours.len(), rows.len(), "{}", model.display());
    for t in rows {
        let o = ours
            .iter()
            .find(|o| Path::new(&o[0]) == Path::new(&t[0]))
            .unwrap_or_else(|| panic!("{} not predicted", t[0]));
        assert_eq!(
            o[1],
            t[4],
            "{} on {}: predicted class",
            model.display(),
            t[0]
        );
        assert_eq!(o.len() - 3, t.len() - 5, "class columns");
        for (a, b) in o[3..].iter().zip(&t[5..]) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            let what = format!(
                "{} on {} (of {})",
                model.display(),
                t[0],
                model_dir.display()
            );
            assert_close(a, b, 1e-4, what);
        }
    }
}

#[test]
fn models_inside_a_cross_corpus_study_and_a_fold_export_and_predict_their_own_rows() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let runs = d.path().join("runs");

    // Cross-corpus, each corpus standardized with its own statistics.
    let xc = experiment(
        d.path(),
        "xc",
        &synth,
        "protocol = \"cross_corpus\"\nnormalize = \"corpus\"",
        "",
    );
    let o = run(ser().arg("run").arg(&xc).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let model = runs.join("xc/train-synth_ravdess");
    let rows: Vec<Vec<String>> = read_csv(&model.join("predictions.csv"))
        .into_iter()
        .filter(|r| r[1] == "synth_cremad")
        .take(12)
        .collect();
    assert_eq!(rows.len(), 12);
    // The group's statistics must be named: without them the input's scale is unknown.
    let o = run(ser().arg("predict").arg(&model).arg(&rows[0][0]));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("--norm-group") && text(&o).contains("synth_cremad"),
        "{}",
        text(&o)
    );
    predicts_the_study_rows(&model, &model, &rows, &["--norm-group", "synth_cremad"]);
    let onnx = d.path().join("xc.onnx");
    let o = run(ser()
        .arg("export")
        .arg(&model)
        .arg("--out")
        .arg(&onnx)
        .args(["--norm-group", "synth_cremad"]));
    assert!(o.status.success(), "{}", text(&o));
    predicts_the_study_rows(&onnx, &model, &rows, &[]);
    // A model of a study is resumed through its study.
    let o = run(ser().arg("train").arg("--resume").arg(&model));
    assert!(
        !o.status.success() && text(&o).contains("resume the study"),
        "{}",
        text(&o)
    );

    // A fold of a speaker cross-validation.
    let cv = experiment(
        d.path(),
        "cv",
        &synth,
        "protocol = \"speaker_kfold\"\nfolds = 2",
        "",
    );
    let o = run(ser().arg("run").arg(&cv).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let fold = runs.join("cv/fold-02");
    let rows: Vec<Vec<String>> = read_csv(&fold.join("predictions.csv"))
        .into_iter()
        .take(12)
        .collect();
    let onnx = d.path().join("fold.onnx");
    let o = run(ser().arg("export").arg(&fold).arg("--out").arg(&onnx));
    assert!(o.status.success(), "{}", text(&o));
    predicts_the_study_rows(&fold, &fold, &rows, &[]);
    predicts_the_study_rows(&onnx, &fold, &rows, &[]);
}

/// A learning rate far too large: the run finishes, and the CLI, report.md and results.json
/// say the model did not learn.
#[test]
fn a_broken_run_is_reported_as_not_learned() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let runs = d.path().join("runs");
    let exp = experiment(
        d.path(),
        "broken",
        &synth,
        "",
        "lr = 10.0\nwarmup_epochs = 0",
    );
    let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&runs));
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("WARNING: the model did not learn"), "{t}");
    let dir = runs.join("broken");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let top: String = report.lines().take(4).collect::<Vec<_>>().join("\n");
    assert!(top.contains("Warning: the model did not learn"), "{report}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["learned"], false, "{r}");
    assert!(!r["learning"]["reasons"].as_array().unwrap().is_empty());
}
