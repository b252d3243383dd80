//! Classification metrics as SER papers report them: WA (accuracy), UA (unweighted accuracy =
//! mean per-class recall = balanced accuracy), macro- and weighted F1, Cohen's kappa,
//! per-class precision / recall / F1 / support, confusion matrix (counts and normalized).

use serde::{Deserialize, Deserializer, Serialize};

/// JSON has no NaN (serde_json writes `null`): read `null` back as NaN.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nans_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// `matrix[true][predicted]` counts over `n_classes` classes.
pub fn confusion(truth: &[usize], predicted: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    assert_eq!(truth.len(), predicted.len(), "one prediction per item");
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[t][p] += 1;
    }
    m
}

/// Every figure of one evaluation. Classes absent from the truth are left out of UA and the
/// F1 averages (as scikit-learn's `balanced_accuracy_score` does), and listed as `NaN`
/// recall and F1; precision of a class never predicted is 0 (scikit-learn's
/// `zero_division=0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Items evaluated.
    pub n: usize,
    /// Weighted accuracy: correct / n.
    #[serde(deserialize_with = "nan_if_null")]
    pub wa: f64,
    /// Unweighted accuracy: mean recall over the classes present.
    #[serde(deserialize_with = "nan_if_null")]
    pub ua: f64,
    /// Mean F1 over the classes present.
    #[serde(deserialize_with = "nan_if_null")]
    pub macro_f1: f64,
    /// F1 averaged over the classes present, weighted by their support.
    #[serde(deserialize_with = "nan_if_null")]
    pub weighted_f1: f64,
    /// Cohen's kappa: agreement beyond what the two label distributions give by chance.
    #[serde(deserialize_with = "nan_if_null")]
    pub kappa: f64,
    /// Recall per class (NaN where the class has no items).
    #[serde(deserialize_with = "nans_if_null")]
    pub recall: Vec<f64>,
    /// Precision per class (0 where the class is never predicted).
    #[serde(deserialize_with = "nans_if_null")]
    pub precision: Vec<f64>,
    /// F1 per class (NaN where the class has no items).
    #[serde(deserialize_with = "nans_if_null")]
    pub f1: Vec<f64>,
    /// Items per class in the truth.
    pub support: Vec<u64>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

impl Metrics {
    /// Metrics of `predicted` against `truth`.
    pub fn new(truth: &[usize], predicted: &[usize], n_classes: usize) -> Self {
        let m = confusion(truth, predicted, n_classes);
        let n = truth.len();
        let correct: u64 = (0..n_classes).map(|c| m[c][c]).sum();
        let support: Vec<u64> = m.iter().map(|row| row.iter().sum()).collect();
        let predicted_n: Vec<u64> = (0..n_classes)
            .map(|c| (0..n_classes).map(|t| m[t][c]).sum())
            .collect();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision: Vec<f64> = (0..n_classes)
            .map(|c| ratio(m[c][c], predicted_n[c]))
            .collect();
        let (mut recall, mut f1) = (vec![f64::NAN; n_classes], vec![f64::NAN; n_classes]);
        for c in (0..n_classes).filter(|&c| support[c] > 0) {
            let (p, r) = (precision[c], ratio(m[c][c], support[c]));
            recall[c] = r;
            f1[c] = if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
        }
        let present: Vec<usize> = (0..n_classes).filter(|&c| support[c] > 0).collect();
        let mean = |v: &[f64]| {
            if present.is_empty() {
                f64::NAN
            } else {
                present.iter().map(|&c| v[c]).sum::<f64>() / present.len() as f64
            }
        };
        let weighted_f1 = if n == 0 {
            f64::NAN
        } else {
            present
                .iter()
                .map(|&c| f1[c] * support[c] as f64)
                .sum::<f64>()
                / n as f64
        };
        // kappa = (p_o - p_e) / (1 - p_e), p_e from the marginals.
        let nf = n as f64;
        let p_o = ratio(correct, n as u64);
        let p_e = (0..n_classes)
            .map(|c| support[c] as f64 * predicted_n[c] as f64)
            .sum::<f64>()
            / (nf * nf);
        let kappa = if n == 0 {
            f64::NAN
        } else if (1.0 - p_e).abs() < 1e-15 {
            // One class everywhere in both: perfect agreement is all there is (scikit-learn
            // returns NaN here too).
            f64::NAN
        } else {
            (p_o - p_e) / (1.0 - p_e)
        };
        Self {
            n,
            wa: if n == 0 { f64::NAN } else { p_o },
            ua: mean(&recall),
            macro_f1: mean(&f1),
            weighted_f1,
            kappa,
            recall,
            precision,
            f1,
            support,
            confusion: m,
        }
    }

    /// The confusion matrix with each true-class row divided by its support (rows of absent
    /// classes stay 0), as scikit-learn's `confusion_matrix(normalize="true")`.
    pub fn confusion_normalized(&self) -> Vec<Vec<f64>> {
        self.confusion
            .iter()
            .zip(&self.support)
            .map(|(row, &s)| {
                row.iter()
                    .map(|&v| if s == 0 { 0.0 } else { v as f64 / s as f64 })
                    .collect()
            })
            .collect()
    }
}

/// One class's one-vs-rest ROC curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False-positive rate at each distinct score threshold, from (0, 0).
    pub fpr: Vec<f64>,
    /// True-positive rate at the same thresholds.
    pub tpr: Vec<f64>,
    /// Area under the curve (trapezoids); NaN when the class has no positive or no negative
    /// item.
    pub auc: f64,
}

/// One-vs-rest ROC curves of every class from per-item class scores (`scores[i][c]`, e.g.
/// probabilities), as scikit-learn's `roc_curve(drop_intermediate=False)` and
/// `roc_auc_score` per class; the macro AUC is the mean over classes where it is defined.
pub fn roc_curves(truth: &[usize], scores: &[Vec<f64>], n_classes: usize) -> (Vec<RocCurve>, f64) {
    assert_eq!(truth.len(), scores.len(), "one score row per item");
    let curves: Vec<RocCurve> = (0..n_classes)
        .map(|c| {
            let mut items: Vec<(f64, bool)> = truth
                .iter()
                .zip(scores)
                .map(|(&t, s)| (s[c], t == c))
                .collect();
            items.sort_by(|a, b| b.0.total_cmp(&a.0));
            let pos = items.iter().filter(|x| x.1).count() as f64;
            let neg = items.len() as f64 - pos;
            let (mut tp, mut fp) = (0f64, 0f64);
            let (mut fpr, mut tpr) = (vec![0.0], vec![0.0]);
            let mut i = 0;
            while i < items.len() {
                let thr = items[i].0;
                while i < items.len() && items[i].0 == thr {
                    if items[i].1 {
                        tp += 1.0;
                    } else {
                        fp += 1.0;
                    }
                    i += 1;
                }
                fpr.push(if neg > 0.0 { fp / neg } else { f64::NAN });
                tpr.push(if pos > 0.0 { tp / pos } else { f64::NAN });
            }
            let auc = if pos == 0.0 || neg == 0.0 {
                f64::NAN
            } else {
                fpr.windows(2)
                    .zip(tpr.windows(2))
                    .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
                    .sum()
            };
            RocCurve { fpr, tpr, auc }
        })
        .collect();
    let defined: Vec<f64> = curves
        .iter()
        .map(|c| c.auc)
        .filter(|a| a.is_finite())
        .collect();
    let macro_auc = if defined.is_empty() {
        f64::NAN
    } else {
        defined.iter().sum::<f64>() / defined.len() as f64
    };
    (curves, macro_auc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_figures_survive_a_json_round_trip() {
        let m = Metrics::new(&[0, 0, 1], &[0, 1, 1], 3);
        let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert!(back.recall[2].is_nan() && back.f1[2].is_nan());
        assert_eq!(back.confusion, m.confusion);
        assert_eq!(back.ua, m.ua);
    }

    #[test]
    fn absent_classes_do_not_count() {
        let m = Metrics::new(&[0, 0, 1], &[0, 1, 1], 3);
        assert!(m.recall[2].is_nan());
        assert!((m.ua - 0.75).abs() < 1e-12);
    }
}
