//! Whether a model learned at all, judged from its own training and validation figures, so
//! that a chance-level model is reported in words instead of sitting in a table like any
//! other.
//!
//! A model did not learn when either holds:
//! - (networks) its mean training loss never fell below [`LOSS_SHARE`] of the loss of a
//!   uniform prediction, ln K for K classes: it never fitted even the training clips;
//! - its validation UA (of the kept model: the best epoch's, for networks) is within noise
//!   of chance: at most 1/K plus two standard errors of the UA of a uniform guesser on the
//!   same validation clips (per class c with n_c clips, recall has variance
//!   (1/K)(1 - 1/K) / n_c; UA averages the recalls of the classes present).

use serde::{Deserialize, Serialize};

use ser_eval::Metrics;

use crate::record::EpochRecord;

/// Share of ln K below which the training loss must fall at least once.
pub const LOSS_SHARE: f64 = 0.95;

/// The verdict on one model, with the figures it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningCheck {
    /// False when the model did not learn.
    pub learned: bool,
    /// Why it did not, in words (empty when it learned).
    pub reasons: Vec<String>,
    /// Chance UA, 1/K.
    pub chance_ua: f64,
    /// Validation UA at or below which a model is indistinguishable from chance.
    pub noise_ua: f64,
    /// Validation UA of the kept model.
    pub val_ua: f64,
    /// Lowest mean training loss over the epochs (networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_train_loss: Option<f64>,
    /// Loss of a uniform prediction, ln K (networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniform_loss: Option<f64>,
}

impl LearningCheck {
    /// Judges a model from the validation metrics of its kept model and, for networks, its
    /// epochs (`None` for the classical baselines).
    pub fn judge(val: &Metrics, epochs: Option<&[EpochRecord]>) -> Self {
        let k = val.recall.len().max(1) as f64;
        let chance = 1.0 / k;
        let present: Vec<f64> = val
            .support
            .iter()
            .filter(|&&n| n > 0)
            .map(|&n| n as f64)
            .collect();
        let var = present
            .iter()
            .map(|n| chance * (1.0 - chance) / n)
            .sum::<f64>()
            / (present.len().max(1) as f64).powi(2);
        let noise_ua = chance + 2.0 * var.sqrt();
        let mut reasons = Vec::new();
        let (mut min_loss, mut uniform) = (None, None);
        if let Some(epochs) = epochs {
            let lnk = k.ln();
            let low = epochs
                .iter()
                .map(|r| r.train_loss)
                .fold(f64::INFINITY, |m, v| if v.is_nan() { m } else { m.min(v) });
            (min_loss, uniform) = (Some(low), Some(lnk));
            if !(low < LOSS_SHARE * lnk) {
                reasons.push(format!(
                    "its training loss never fell below {:.0} % of the loss of a uniform guess (lowest {low:.3}, ln {} = {lnk:.3})",
                    LOSS_SHARE * 100.0,
                    k as usize
                ));
            }
        }
        if !(val.ua > noise_ua) {
            reasons.push(format!(
                "its validation UA {:.3} is within noise of chance ({chance:.3}; a uniform guess reaches {noise_ua:.3} at two standard errors on these {} clips)",
                val.ua, val.n
            ));
        }
        LearningCheck {
            learned: reasons.is_empty(),
            reasons,
            chance_ua: chance,
            noise_ua,
            val_ua: val.ua,
            min_train_loss: min_loss,
            uniform_loss: uniform,
        }
    }

    /// "did not learn: ..." (empty when it learned).
    pub fn describe(&self) -> String {
        if self.learned {
            String::new()
        } else {
            format!("did not learn: {}", self.reasons.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(loss: f64) -> EpochRecord {
        EpochRecord {
            epoch: 1,
            lr: 1e-3,
            train_loss: loss,
            train_wa: 0.0,
            val_loss: 0.0,
            val_wa: 0.0,
            val_ua: 0.0,
            val_macro_f1: 0.0,
            val_recall: Vec::new(),
            train_samples_per_s: 0.0,
            loader_wait_share: 0.0,
        }
    }

    #[test]
    fn chance_level_models_are_flagged_and_learning_ones_are_not() {
        // 4 classes x 25 validation clips: a uniform guess reaches 0.25 + 2 * 0.0433.
        let truth: Vec<usize> = (0..100).map(|i| i % 4).collect();
        let one_class = Metrics::new(&truth, &[0; 100], 4);
        let c = LearningCheck::judge(&one_class, Some(&[epoch(1.386), epoch(1.38)]));
        assert!(!c.learned);
        assert_eq!(c.reasons.len(), 2, "{:?}", c.reasons);
        ser_check::assert_close(
            c.noise_ua,
            0.25 + 2.0 * (0.1875f64 / 100.0).sqrt(),
            1e-12,
            "noise",
        );
        assert!(c.describe().starts_with("did not learn: its training loss"));

        let mut pred = truth.clone();
        pred[..20].iter_mut().for_each(|p| *p = 0);
        let good = Metrics::new(&truth, &pred, 4);
        let c = LearningCheck::judge(&good, Some(&[epoch(1.386), epoch(0.7)]));
        assert!(c.learned && c.describe().is_empty(), "{c:?}");
        // A loss that went NaN is not a fall; a baseline is judged on validation alone.
        assert!(!LearningCheck::judge(&good, Some(&[epoch(f64::NAN)])).learned);
        assert!(LearningCheck::judge(&good, None).learned);
        assert!(!LearningCheck::judge(&one_class, None).learned);
    }
}
