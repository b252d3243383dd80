//! ser-eval's metrics against scikit-learn's on the cases of `tests/golden/metrics_golden.json`
//! (written by `tests/golden/make_metrics_golden.py`, run through `make_golden.sh`).

use ser_eval::Metrics;
use serde::Deserialize;

#[path = "../../../tests/support/paths.rs"]
mod paths;
use paths::manifest_dir;

#[derive(Deserialize)]
struct Golden {
    generator: String,
    cases: Vec<Case>,
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
    recall: Vec<Option<f64>>,
    confusion: Vec<Vec<u64>>,
}

#[test]
fn wa_ua_macro_f1_recall_and_confusion_match_scikit_learn() {
    let path = manifest_dir().join("../../tests/golden/metrics_golden.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (tests/golden/make_golden.sh)", path.display()));
    let golden: Golden = serde_json::from_str(&text).expect("golden JSON");
    assert!(golden.cases.len() >= 5, "{}", golden.generator);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    for c in &golden.cases {
        let m = Metrics::new(&c.truth, &c.pred, c.n_classes);
        let who = format!("{} ({})", c.name, golden.generator);
        assert_eq!(m.n, c.truth.len(), "{who}");
        assert!(close(m.wa, c.wa), "{who}: WA {} vs {}", m.wa, c.wa);
        assert!(close(m.ua, c.ua), "{who}: UA {} vs {}", m.ua, c.ua);
        assert!(
            close(m.macro_f1, c.macro_f1),
            "{who}: macro-F1 {} vs {}",
            m.macro_f1,
            c.macro_f1
        );
        for (k, (r, g)) in m.recall.iter().zip(&c.recall).enumerate() {
            match g {
                Some(g) => assert!(close(*r, *g), "{who}: recall[{k}] {r} vs {g}"),
                None => assert!(r.is_nan(), "{who}: class {k} has no items, recall {r}"),
            }
        }
        assert_eq!(m.confusion, c.confusion, "{who}");
    }
}
