//! Settings of the classical baselines (`[model.svm]`, `[model.random_forest]`), with
//! scikit-learn's names and defaults; `ser-train` fits them.

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// RBF SVM settings (scikit-learn's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SvmConfig {
    /// Penalty of margin violations.
    pub c: f64,
    /// RBF width; 0 means scikit-learn's `"scale"`: 1 / (n_features * var(X)), which is
    /// 1 / n_features on standardized inputs.
    pub gamma: f64,
    /// Stopping tolerance of the solver.
    pub tol: f64,
    /// Passes of the solver over the data.
    pub epochs: usize,
}

impl Default for SvmConfig {
    fn default() -> Self {
        Self {
            c: 1.0,
            gamma: 0.0,
            tol: 1e-3,
            epochs: 2,
        }
    }
}

impl SvmConfig {
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
        if !(self.c > 0.0) || !(self.gamma >= 0.0) || !(self.tol > 0.0) || self.epochs == 0 {
            return Err(TrainError::Config(
                "model.svm: c > 0, gamma >= 0 (0 = \"scale\"), tol > 0, epochs >= 1".into(),
            ));
        }
        Ok(())
    }
}

/// Random forest settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestConfig {
    /// Trees.
    pub trees: u16,
    /// Deepest tree (0: unlimited).
    pub max_depth: u16,
    /// Fewest samples to split a node.
    pub min_samples_split: usize,
    /// Fewest samples in a leaf.
    pub min_samples_leaf: usize,
    /// Features tried per split (0: sqrt(n_features), as scikit-learn).
    pub max_features: usize,
}

impl Default for ForestConfig {
    fn default() -> Self {
        Self {
            trees: 200,
            max_depth: 0,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: 0,
        }
    }
}

impl ForestConfig {
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
        if self.trees == 0 || self.min_samples_split < 2 || self.min_samples_leaf == 0 {
            return Err(TrainError::Config(
                "model.random_forest: trees >= 1, min_samples_split >= 2, min_samples_leaf >= 1"
                    .into(),
            ));
        }
        Ok(())
    }
}
