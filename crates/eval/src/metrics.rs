//! Classification metrics as SER papers report them: WA (accuracy), UA (unweighted accuracy =
//! mean per-class recall = balanced accuracy), macro-F1, per-class recall, confusion matrix.

use serde::{Deserialize, Serialize};

/// `matrix[true][predicted]` counts over `n_classes` classes.
pub fn confusion(truth: &[usize], predicted: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    assert_eq!(truth.len(), predicted.len(), "one prediction per item");
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[t][p] += 1;
    }
    m
}

/// Every figure of one evaluation. Classes absent from the truth are left out of UA and
/// macro-F1 (as scikit-learn's `balanced_accuracy_score` does), and listed as `NaN` recall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Items evaluated.
    pub n: usize,
    /// Weighted accuracy: correct / n.
    pub wa: f64,
    /// Unweighted accuracy: mean recall over the classes present.
    pub ua: f64,
    /// Mean F1 over the classes present.
    pub macro_f1: f64,
    /// Recall per class (NaN where the class has no items).
    pub recall: Vec<f64>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

impl Metrics {
    /// Metrics of `predicted` against `truth`.
    pub fn new(truth: &[usize], predicted: &[usize], n_classes: usize) -> Self {
        let m = confusion(truth, predicted, n_classes);
        let n = truth.len();
        let correct: u64 = (0..n_classes).map(|c| m[c][c]).sum();
        let mut recall = vec![f64::NAN; n_classes];
        let (mut ua, mut f1, mut present) = (0.0, 0.0, 0usize);
        for c in 0..n_classes {
            let support: u64 = m[c].iter().sum();
            if support == 0 {
                continue;
            }
            let predicted_c: u64 = (0..n_classes).map(|t| m[t][c]).sum();
            let r = m[c][c] as f64 / support as f64;
            let p = if predicted_c == 0 {
                0.0
            } else {
                m[c][c] as f64 / predicted_c as f64
            };
            recall[c] = r;
            ua += r;
            f1 += if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
            present += 1;
        }
        let per = |x: f64| {
            if present == 0 {
                f64::NAN
            } else {
                x / present as f64
            }
        };
        Self {
            n,
            wa: if n == 0 {
                f64::NAN
            } else {
                correct as f64 / n as f64
            },
            ua: per(ua),
            macro_f1: per(f1),
            recall,
            confusion: m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_classes_do_not_count() {
        let m = Metrics::new(&[0, 0, 1], &[0, 1, 1], 3);
        assert!(m.recall[2].is_nan());
        assert!((m.ua - 0.75).abs() < 1e-12);
    }
}
