//! What a run reports and how it is driven: [`RunSummary`] (`results.json` of a model or of a
//! whole study, cross-validation folds and cross-corpus matrices included), [`RunOptions`]
//! (where it runs) and the [`Observer`] that the CLI draws progress with.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ser_eval::Metrics;
use ser_experiment::TrainError;
use ser_experiment::folder::io;
use serde::{Deserialize, Serialize};

use crate::learning::LearningCheck;
use crate::record::EpochRecord;

/// Where and how a run executes (not part of the experiment: the same experiment runs
/// anywhere).
pub struct RunOptions {
    /// Parent of run folders.
    pub runs_dir: PathBuf,
    /// burn device (flex, wgpu, cuda), with autodiff enabled by the trainer.
    pub device: Device,
    /// Further devices that train data-parallel beside `device`, each on `train.batch_size`
    /// clips of every step (empty: one device; see the trainer's `step` module).
    pub replicas: Vec<Device>,
    /// Human name of the device(s), recorded with the results.
    pub device_name: String,
    /// Stop after this many epochs in this call (tests use it to simulate a kill).
    pub stop_after: Option<usize>,
}

/// Receives progress; the CLI draws bars with it.
pub trait Observer {
    /// An epoch with `steps` steps starts.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// One step finished; `loss` is the mean training loss of the steps since the last read
    /// from the device, when this step read it (every `train.sync_every` steps).
    fn step(&mut self, _loss: Option<f64>, _samples_per_s: f64) {}
    /// An epoch finished.
    fn epoch_end(&mut self, _record: &EpochRecord) {}
    /// A message for the user.
    fn note(&mut self, _message: &str) {}
}

/// Observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run folder.
    pub dir: PathBuf,
    /// Evaluation protocol, stated with every figure.
    pub protocol: String,
    /// Class names.
    pub classes: Vec<String>,
    /// Epoch whose model was kept (networks).
    pub best_epoch: usize,
    /// Validation metrics of the kept model.
    pub val: Metrics,
    /// Test metrics of the kept model.
    pub test: Metrics,
    /// Device the run trained on.
    pub device: String,
    /// Why training stopped early, if it did.
    pub stopped: Option<String>,
    /// Every fold of a cross-validation protocol, with mean +- std (`val` / `test` are then
    /// pooled over the folds' clips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<CrossValidation>,
    /// Macro one-vs-rest ROC AUC of the test predictions (from class probabilities; SVM
    /// vote shares; random-forest votes are not exposed by smartcore, so one-hot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_auc: Option<f64>,
    /// Test metrics of each corpus, when the test set holds more than one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_corpus: BTreeMap<String, Metrics>,
    /// Macro AUC of each corpus's test clips, with `per_corpus`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_corpus_auc: BTreeMap<String, f64>,
    /// The train x test matrix of a cross-corpus or leave-one-corpus-out study.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_corpus: Option<CrossCorpus>,
    /// False when this model, or any model of this study, did not learn (see
    /// [`LearningCheck`]): the figures above are then those of a chance-level model.
    #[serde(default = "yes")]
    pub learned: bool,
    /// This model's verdict and the figures it rests on (single models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<LearningCheck>,
    /// Models of this study that did not learn, as `folder: why` (folds, corpus sets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_learned: Vec<String>,
}

fn yes() -> bool {
    true
}

impl RunSummary {
    /// The summary of one trained model, before the report adds per-corpus figures and the
    /// did-not-learn judgement.
    pub(crate) fn one_model(
        dir: &Path,
        protocol: &str,
        classes: &[String],
        (val, test): (Metrics, Metrics),
        device: String,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            protocol: protocol.to_string(),
            classes: classes.to_vec(),
            best_epoch: 0,
            val,
            test,
            device,
            stopped: None,
            cv: None,
            test_auc: None,
            per_corpus: BTreeMap::new(),
            per_corpus_auc: BTreeMap::new(),
            cross_corpus: None,
            learned: true,
            learning: None,
            not_learned: Vec::new(),
        }
    }

    /// A single model's summary, judged by [`LearningCheck`] (`epochs`: `None` for the
    /// classical baselines).
    pub(crate) fn judged(mut self, epochs: Option<&[EpochRecord]>) -> Self {
        let check = LearningCheck::judge(&self.val, epochs);
        self.learned = check.learned;
        self.learning = Some(check);
        self
    }

    /// A study's summary over its models `(folder, summary)`: which of them did not learn.
    pub fn over_models<'a>(
        mut self,
        models: impl IntoIterator<Item = (&'a str, &'a RunSummary)>,
    ) -> Self {
        self.not_learned = models
            .into_iter()
            .flat_map(|(folder, s)| {
                let own = s.learning.as_ref().filter(|l| !l.learned);
                own.map(|l| format!("{folder}: {}", l.describe()))
                    .into_iter()
                    .chain(s.not_learned.iter().map(move |n| format!("{folder}/{n}")))
            })
            .collect();
        self.learned = self.not_learned.is_empty();
        self
    }

    /// What the user must be told before any figure: every model that did not learn.
    pub fn warnings(&self) -> Vec<String> {
        let own = self.learning.iter().filter(|l| !l.learned);
        own.map(|l| format!("the model {}", l.describe()))
            .chain(self.not_learned.iter().map(|n| format!("model {n}")))
            .collect()
    }
}

/// A finished run's `results.json`.
pub fn read_summary(path: &Path) -> Result<RunSummary, TrainError> {
    let t = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&t).map_err(|e| TrainError::file(path, e))
}

/// A figure over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds (0 with one fold).
    pub std: f64,
}

impl MeanStd {
    /// Mean and sample standard deviation of `v`.
    pub fn of(v: &[f64]) -> Self {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Self {
            mean,
            std: var.sqrt(),
        }
    }
}

/// One fold's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldResult {
    /// Fold number, from 1.
    pub fold: usize,
    /// Its test speakers (`corpus/speaker`).
    pub test_speakers: Vec<String>,
    /// Epoch whose model was kept (networks).
    pub best_epoch: usize,
    /// Test metrics of the fold's model.
    pub test: Metrics,
}

/// Every fold and the figures over them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossValidation {
    /// The folds, in order.
    pub folds: Vec<FoldResult>,
    /// Test UA over folds.
    pub ua: MeanStd,
    /// Test WA over folds.
    pub wa: MeanStd,
    /// Test macro-F1 over folds.
    pub macro_f1: MeanStd,
}

impl CrossValidation {
    /// "over k folds (mean +- sample std): UA .. +- .., WA .., macro-F1 ..".
    pub fn describe(&self) -> String {
        format!(
            "over {} folds (mean +- sample std): test UA {:.4} +- {:.4}, WA {:.4} +- {:.4}, macro-F1 {:.4} +- {:.4}",
            self.folds.len(),
            self.ua.mean,
            self.ua.std,
            self.wa.mean,
            self.wa.std,
            self.macro_f1.mean,
            self.macro_f1.std
        )
    }
}

/// One model of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSet {
    /// Row name in the matrix (`a+b`, or `all but c`).
    pub name: String,
    /// Its folder under the run.
    pub folder: String,
    /// Corpora it trains on.
    pub train: Vec<String>,
    /// Corpora it is tested on.
    pub test: Vec<String>,
    /// Whether its own corpora's held-out speakers are tested too.
    pub own_test: bool,
}

/// One cell: a model tested on one corpus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// Training set (row).
    pub train: String,
    /// Test corpus (column).
    pub test: String,
    /// The test corpus is one of the training corpora (its held-out speakers were tested).
    pub in_corpus: bool,
    /// Metrics of the cell.
    pub metrics: Metrics,
    /// Macro one-vs-rest AUC of the cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
}

/// The train x test matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossCorpus {
    /// The models, in order (rows).
    pub sets: Vec<TrainSet>,
    /// Test corpora (columns).
    pub corpora: Vec<String>,
    /// Labels every corpus shares: the classes of every model.
    pub labels: Vec<String>,
    /// Every filled cell.
    pub cells: Vec<Cell>,
}

impl CrossCorpus {
    /// The cell of a training set and a test corpus.
    pub fn cell(&self, train: &str, test: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.train == train && c.test == test)
    }
}
