//! ser-eval's metrics against scikit-learn's on the cases of `tests/golden/metrics_golden.json`
//! (written by `tests/golden/make_metrics_golden.py`, run through `make_golden.sh`).

use ser_eval::{Metrics, roc_curves};
use serde::Deserialize;

#[path = "../../../tests/support/paths.rs"]
mod paths;
use paths::manifest_dir;

#[derive(Deserialize)]
struct Golden {
    generator: String,
    cases: Vec<Case>,
    roc_cases: Vec<RocCase>,
}

#[derive(Deserialize)]
struct RocCase {
    name: String,
    truth: Vec<usize>,
    scores: Vec<Vec<f64>>,
    curves: Vec<Curve>,
    macro_auc: f64,
    sklearn_ovr_macro: Option<f64>,
}

#[derive(Deserialize)]
struct Curve {
    fpr: Option<Vec<f64>>,
    tpr: Option<Vec<f64>>,
    auc: Option<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    n_classes: usize,
    truth: Vec<usize>,
    pred: Vec<usize>,
    wa: f64,
    ua: f64,
    macro_f1: f64,
    weighted_f1: f64,
    kappa: f64,
    recall: Vec<Option<f64>>,
    f1: Vec<Option<f64>>,
    precision: Vec<f64>,
    support: Vec<u64>,
    confusion: Vec<Vec<u64>>,
    confusion_normalized: Vec<Vec<f64>>,
}

fn golden() -> Golden {
    let path = manifest_dir().join("../../tests/golden/metrics_golden.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (tests/golden/make_golden.sh)", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

#[test]
fn roc_curves_and_auc_match_scikit_learn() {
    let golden = golden();
    assert!(golden.roc_cases.len() >= 3);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    for c in &golden.roc_cases {
        let k = c.scores[0].len();
        let (curves, macro_auc) = roc_curves(&c.truth, &c.scores, k);
        let who = format!("{} ({})", c.name, golden.generator);
        for (i, (ours, theirs)) in curves.iter().zip(&c.curves).enumerate() {
            match (&theirs.fpr, &theirs.tpr, theirs.auc) {
                (Some(f), Some(t), Some(a)) => {
                    assert!(
                        close(ours.auc, a),
                        "{who}: class {i} AUC {} vs {a}",
                        ours.auc
                    );
                    assert_eq!(ours.fpr.len(), f.len(), "{who}: class {i} points");
                    for (x, y) in ours.fpr.iter().zip(f).chain(ours.tpr.iter().zip(t)) {
                        assert!(close(*x, *y), "{who}: class {i} curve {x} vs {y}");
                    }
                }
                _ => assert!(ours.auc.is_nan(), "{who}: class {i} has one side only"),
            }
        }
        assert!(
            close(macro_auc, c.macro_auc),
            "{who}: macro AUC {macro_auc}"
        );
        if let Some(s) = c.sklearn_ovr_macro {
            assert!(close(macro_auc, s), "{who}: sklearn OvR macro {s}");
        }
    }
}

#[test]
fn every_metric_matches_scikit_learn() {
    let golden = golden();
    assert!(golden.cases.len() >= 5, "{}", golden.generator);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    for c in &golden.cases {
        let m = Metrics::new(&c.truth, &c.pred, c.n_classes);
        let who = format!("{} ({})", c.name, golden.generator);
        assert_eq!(m.n, c.truth.len(), "{who}");
        let figures = [
            ("WA", m.wa, c.wa),
            ("UA", m.ua, c.ua),
            ("macro-F1", m.macro_f1, c.macro_f1),
            ("weighted F1", m.weighted_f1, c.weighted_f1),
            ("kappa", m.kappa, c.kappa),
        ];
        for (what, ours, theirs) in figures {
            assert!(close(ours, theirs), "{who}: {what} {ours} vs {theirs}");
        }
        for (what, ours, theirs) in [("recall", &m.recall, &c.recall), ("F1", &m.f1, &c.f1)] {
            for (k, (r, g)) in ours.iter().zip(theirs).enumerate() {
                match g {
                    Some(g) => assert!(close(*r, *g), "{who}: {what}[{k}] {r} vs {g}"),
                    None => assert!(r.is_nan(), "{who}: class {k} has no items, {what} {r}"),
                }
            }
        }
        for (k, (p, g)) in m.precision.iter().zip(&c.precision).enumerate() {
            assert!(close(*p, *g), "{who}: precision[{k}] {p} vs {g}");
        }
        assert_eq!(m.support, c.support, "{who}");
        for (ours, theirs) in m.confusion_normalized().iter().zip(&c.confusion_normalized) {
            for (a, b) in ours.iter().zip(theirs) {
                assert!(close(*a, *b), "{who}: normalized confusion {a} vs {b}");
            }
        }
        assert_eq!(m.confusion, c.confusion, "{who}");
    }
}
