//! A training run: its folder, the epoch loop, checkpoints, resume and the final test.
//!
//! Folder `<runs>/<name>/`: `experiment.toml` (resolved), `split.json`, `normalizer.json`,
//! `model_last.bpk` / `model_best.bpk` (burnpack records), `optimizer.bin`, `state.json`
//! (written last at the end of each epoch: the commit point a resumed run starts from),
//! `metrics.jsonl` (one line per epoch), `tb/` (TensorBoard events), and at the end
//! `results.json` and `confusion_test.png`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ser_eval::{
    Audit, Folds, Metrics, NormScope, Protocol, Split, corpus_split, fold_split, random_split,
    speaker_split,
};
use ser_models::Net;
use ser_tensorboard::EventWriter;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::corpus::CrossCorpus;
use crate::cv::CrossValidation;
use crate::dataset::{Dataset, Normalizer};
use crate::experiment::{Balance, Experiment, OptimizerKind, Schedule};
use crate::learning::LearningCheck;
use crate::loader::{Batch, BatchSource, Loader, epoch_order, epoch_rng, mix};
use crate::plot::confusion_png;
use crate::report::{Scored, read_epochs, write_run_outputs};
use crate::waveform::Waveforms;

/// Where and how a run executes (not part of the experiment: the same experiment runs
/// anywhere).
pub struct RunOptions {
    /// Parent of run folders.
    pub runs_dir: PathBuf,
    /// burn device (flex, wgpu, cuda), with autodiff enabled by the trainer.
    pub device: Device,
    /// Human name of the device, recorded with the results.
    pub device_name: String,
    /// Stop after this many epochs in this call (tests use it to simulate a kill).
    pub stop_after: Option<usize>,
}

/// Receives progress; the CLI draws bars with it.
pub trait Observer {
    /// An epoch with `steps` steps starts.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// One step finished with this loss.
    fn step(&mut self, _loss: f64, _samples_per_s: f64) {}
    /// An epoch finished.
    fn epoch_end(&mut self, _record: &EpochRecord) {}
    /// A message for the user.
    fn note(&mut self, _message: &str) {}
}

/// Observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (on augmented segments).
    pub train_wa: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_wa: f64,
    /// Validation unweighted accuracy.
    pub val_ua: f64,
    /// Validation macro-F1.
    pub val_macro_f1: f64,
    /// Validation recall per class.
    pub val_recall: Vec<f64>,
    /// Training samples per second (whole epoch, loader included).
    pub train_samples_per_s: f64,
    /// Share of training time spent waiting for the loader.
    pub loader_wait_share: f64,
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunState {
    epochs_done: usize,
    best_ua: f64,
    best_epoch: usize,
    since_best: usize,
    finished: bool,
}

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
    /// A single model's summary, judged by [`LearningCheck`] (`epochs`: `None` for the
    /// classical baselines).
    pub(crate) fn judged(mut self, epochs: Option<&[EpochRecord]>) -> Self {
        let check = LearningCheck::judge(&self.val, epochs);
        self.learned = check.learned;
        self.learning = Some(check);
        self
    }

    /// A study's summary over its models `(folder, summary)`: which of them did not learn.
    pub(crate) fn over_models<'a>(
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

/// Per-group statistics of a run trained with `split.normalize = "corpus" | "speaker"`.
pub(crate) const GROUP_NORMS: &str = "group_normalizers.json";

/// Marks a folder as one model of a study (`{"study": .., "model": ..}`).
pub(crate) const PART: &str = "part.json";

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::Io(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a kill leaves either
/// the old or the new file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = ser_lock::unique_sibling(path, "tmp");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// A finished run's `results.json`.
pub(crate) fn read_summary(path: &Path) -> Result<RunSummary, TrainError> {
    let t = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&t).map_err(|e| TrainError::Io(format!("{}: {e}", path.display())))
}

/// Writes `value` as pretty JSON through [`write_atomic`].
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    write_atomic(
        path,
        serde_json::to_string_pretty(value)
            .expect("json")
            .as_bytes(),
    )
}

/// Fixes a run's plan (folds, corpus sets, sweep points) in `path` on the first call and
/// refuses to go on when a later call would make another one: results must not mix plans.
pub(crate) fn pin_plan(path: &Path, text: &str, fix: &str) -> Result<(), TrainError> {
    if !path.exists() {
        return write_atomic(path, text.as_bytes());
    }
    if fs::read_to_string(path).map_err(io(path))? != text {
        return Err(TrainError::Data(format!(
            "{}: the data or the settings changed since the run started; {fix}",
            path.display()
        )));
    }
    Ok(())
}

/// Learning rate of `epoch` (from 0): linear warm-up from lr / 10, then the schedule.
pub fn learning_rate(exp: &Experiment, epoch: usize) -> f64 {
    let t = &exp.train;
    if epoch < t.warmup_epochs {
        return t.lr * (0.1 + 0.9 * epoch as f64 / t.warmup_epochs as f64);
    }
    let e = epoch - t.warmup_epochs;
    let span = t.epochs.saturating_sub(t.warmup_epochs).max(1);
    match t.schedule {
        Schedule::Constant => t.lr,
        Schedule::Step => t.lr * t.step_gamma.powi((e / t.step_every) as i32),
        Schedule::Cosine => {
            let frac = if span <= 1 {
                0.0
            } else {
                e as f64 / (span - 1) as f64
            };
            let min = t.lr * t.min_lr_ratio;
            min + (t.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * frac.min(1.0)).cos())
        }
    }
}

/// Everything prepared from the experiment and the data, before any epoch.
pub(crate) struct Prepared {
    pub(crate) ds: Arc<Dataset>,
    pub(crate) split: Split,
    pub(crate) audit: Audit,
    src: Arc<BatchSource>,
}

/// Which part of the data one model sees.
pub(crate) enum Part<'a> {
    /// The holdout (or random) split of all clips.
    Whole,
    /// Fold `i` of a cross-validation.
    Fold(&'a Folds, usize),
    /// Trained on the `train` corpora, tested on the `test` ones (and, with `own_test`, on
    /// held-out speakers of its own corpora).
    Corpora {
        train: &'a [String],
        test: &'a [String],
        own_test: bool,
    },
}

/// The experiment's clips, read once per run: restricted to the labels every corpus shares
/// for corpus-level protocols, and standardized per group when `split.normalize` asks.
pub(crate) fn load_dataset(exp: &Experiment) -> Result<Arc<Dataset>, TrainError> {
    let mut ds = Dataset::load(&exp.data.cache, &exp.data.frames, &exp.data.labels)?;
    if exp.split.protocol.is_corpus_level() {
        let corpora = ds.corpora();
        if corpora.len() < 2 {
            return Err(TrainError::Data(format!(
                "{}: protocol {:?} needs at least two corpora; the cache has {corpora:?}",
                exp.data.cache.display(),
                exp.split.protocol
            )));
        }
        let shared: Vec<String> = ds
            .classes
            .iter()
            .enumerate()
            .filter(|(c, _)| {
                corpora.iter().all(|k| {
                    ds.labels
                        .iter()
                        .zip(&ds.meta)
                        .any(|(l, m)| l == c && m.corpus == *k)
                })
            })
            .map(|(_, name)| name.clone())
            .collect();
        if shared.len() < 2 {
            return Err(TrainError::Data(format!(
                "the corpora {corpora:?} share {shared:?}; a cross-corpus study needs two labels they all have (see datasets/ for the label maps)"
            )));
        }
        ds.restrict(&shared);
    }
    ds.normalize_groups(exp.split.normalize);
    Ok(Arc::new(ds))
}

fn prepare(
    exp: &Experiment,
    dir: &Path,
    resume: bool,
    device: &Device,
    obs: &mut dyn Observer,
    ds: Arc<Dataset>,
    part: &Part<'_>,
) -> Result<Prepared, TrainError> {
    let view = ds.split_view();
    let mut split = match part {
        Part::Whole if exp.split.protocol == Protocol::Random => random_split(&view, &exp.split),
        Part::Whole => speaker_split(&view, &exp.split),
        Part::Fold(folds, i) => {
            fold_split(&view, folds, *i, exp.split.val_speakers, exp.split.seed)
        }
        Part::Corpora {
            train,
            test,
            own_test,
        } => corpus_split(&view, train, test, *own_test, &exp.split),
    }
    .map_err(|e| TrainError::Data(e.to_string()))?;
    if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
        return Err(TrainError::Data(
            "a split part is empty; add speakers or change split fractions".into(),
        ));
    }
    if exp.split.normalize != NormScope::Train {
        split.protocol = format!("{}; {}", split.protocol, exp.split.normalize.describe());
    }
    let audit = ser_eval::audit(&view, &ds.audit_view(), &split);
    write_json(&dir.join("audit.json"), &audit)?;
    audit.verdict().map_err(|e| {
        TrainError::Data(format!(
            "{e} (details in {})",
            dir.join("audit.json").display()
        ))
    })?;
    drop(view);
    let norm = Normalizer::fit(&ds, &split.train);
    let split_path = dir.join("split.json");
    let paths =
        |idx: &[usize]| -> Vec<&str> { idx.iter().map(|&i| ds.meta[i].path.as_str()).collect() };
    let split_json = serde_json::json!({
        "protocol": split.protocol,
        "test_speakers": split.test_speakers,
        "val_speakers": split.val_speakers,
        "train": paths(&split.train),
        "val": paths(&split.val),
        "test": paths(&split.test),
    });
    let text = serde_json::to_string_pretty(&split_json).expect("json");
    if resume {
        let old = fs::read_to_string(&split_path).map_err(io(&split_path))?;
        if old != text {
            return Err(TrainError::Data(format!(
                "{}: the cache or split changed since the run started; start a new run instead of resuming",
                split_path.display()
            )));
        }
    } else {
        write_atomic(&split_path, text.as_bytes())?;
        write_atomic(
            &dir.join("normalizer.json"),
            serde_json::to_string(&norm).expect("json").as_bytes(),
        )?;
        if !ds.group_norms.is_empty() {
            // Each group's own statistics, for scoring new audio of a known corpus or
            // speaker (`ser predict --norm-group`).
            let groups: BTreeMap<&str, &Normalizer> = ds
                .group_norms
                .iter()
                .map(|(k, n)| (k.as_str(), n))
                .collect();
            write_json(
                &dir.join(GROUP_NORMS),
                &serde_json::json!({ "scope": exp.split.normalize, "groups": groups }),
            )?;
        }
        // The run folder alone then says how to compute its model's input (`ser predict`).
        write_atomic(&dir.join("features.toml"), ds.feature_config.as_bytes())?;
    }
    let wave = if exp.data.on_the_fly && exp.model.kind.net().is_some() {
        let w = Waveforms::load(&exp.data.cache, &ds, &split.train, &exp.data.frames, device)?;
        obs.note(&format!(
            "on-the-fly features: {} training clips' audio in memory, features on {}",
            split.train.len(),
            w.describe
        ));
        Some(Arc::new(w))
    } else {
        None
    };
    let src = Arc::new(BatchSource {
        ds: ds.clone(),
        norm,
        segment: exp.segment,
        augment: exp.augment.clone(),
        wave,
    });
    Ok(Prepared {
        ds,
        split,
        audit,
        src,
    })
}

/// Starts a new run of `exp` in `<runs_dir>/<name>` (refusing to overwrite one that exists).
pub fn train(
    exp: &Experiment,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    exp.validate()?;
    let dir = opts.runs_dir.join(&exp.name);
    let _claim = claim(&dir)?;
    start(exp, &dir, opts, obs)
}

/// Starts a new run of `exp` in `dir` (claimed by the caller).
fn start(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    if ["state.json", "results.json", "folds.json", "plan.json"]
        .iter()
        .any(|f| dir.join(f).exists())
    {
        return Err(TrainError::Config(format!(
            "{} already holds a run; resume it with `ser train --resume {}`, or change `name`",
            dir.display(),
            dir.display()
        )));
    }
    write_atomic(&dir.join("experiment.toml"), exp.to_toml().as_bytes())?;
    run(exp, dir, opts, obs, false)
}

/// Claims the run folder `dir` (creating it) for this process: two processes never train in
/// one folder (a duplicated or requeued array task, two `ser run` of one experiment). A
/// claim left by a killed process is taken over ([`ser_lock`]).
pub(crate) fn claim(dir: &Path) -> Result<ser_lock::Lock, TrainError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("run.lock");
    match ser_lock::Lock::try_acquire(&path, &format!("training {}", dir.display())) {
        Ok(Ok(lock)) => Ok(lock),
        Ok(Err(holder)) => Err(TrainError::Busy(format!(
            "{} is being trained by {holder}; wait for it to finish (a claim of a killed process is taken over after at most {} s)",
            dir.display(),
            ser_lock::STALE_AFTER.as_secs()
        ))),
        Err(e) => Err(TrainError::Io(format!("{}: {e}", path.display()))),
    }
}

/// Starts `exp` in `<runs_dir>/<name>`, or, when that folder holds a run of the same
/// experiment, continues it (a finished run is re-evaluated and its report rewritten). A
/// folder holding another experiment is refused.
pub fn run_or_resume(
    exp: &Experiment,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    exp.validate()?;
    let dir = opts.runs_dir.join(&exp.name);
    let _claim = claim(&dir)?;
    let path = dir.join("experiment.toml");
    if !path.exists() {
        return start(exp, &dir, opts, obs);
    }
    let old = fs::read_to_string(&path).map_err(io(&path))?;
    // Compared as experiments, so that keys added to ser since (with their defaults) match.
    let theirs = Experiment::from_toml(&old)?;
    if theirs != *exp {
        let first = first_difference(&theirs, exp)
            .map(|(k, a, b)| format!(" ({k} is {a} there, {b} here)"))
            .unwrap_or_default();
        return Err(TrainError::Config(format!(
            "{} holds a run of a different experiment{first}; change `name`, or remove the folder to start over",
            dir.display()
        )));
    }
    let resume = dir.join("split.json").exists();
    run(exp, &dir, opts, obs, resume)
}

/// The first dotted key (in file order) whose value differs between two experiments.
fn first_difference(a: &Experiment, b: &Experiment) -> Option<(String, String, String)> {
    fn flat(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, x) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flat(&key, x, out);
                }
            }
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let table = |e: &Experiment| -> Vec<(String, String)> {
        let mut out = Vec::new();
        flat("", &toml::Value::Table(e.to_table()), &mut out);
        out
    };
    let (x, y) = (table(a), table(b));
    y.iter().find_map(|(k, vb)| {
        let va = x.iter().find(|(ka, _)| ka == k).map(|(_, v)| v.clone());
        (va.as_ref() != Some(vb)).then(|| (k.clone(), va.unwrap_or("unset".into()), vb.clone()))
    })
}

/// The resolved experiment a run folder was started with.
pub(crate) fn read_experiment(dir: &Path) -> Result<Experiment, TrainError> {
    let path = dir.join("experiment.toml");
    let text = fs::read_to_string(&path).map_err(|e| {
        TrainError::Io(format!(
            "{}: {e} (is {} a run folder?)",
            path.display(),
            dir.display()
        ))
    })?;
    Experiment::from_toml(&text)
}

/// Continues the run in `dir` from its last finished epoch.
pub fn resume(
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    if dir.join(PART).exists() {
        let study = dir.parent().unwrap_or(Path::new(".."));
        return Err(TrainError::Config(format!(
            "{} is one model of the study in {}; resume the study: `ser train --resume {}`",
            dir.display(),
            study.display(),
            study.display()
        )));
    }
    let exp = read_experiment(dir)?;
    exp.validate()?;
    let _claim = claim(dir)?;
    let resume = dir.join("split.json").exists();
    run(&exp, dir, opts, obs, resume)
}

fn read_state(dir: &Path) -> Result<Option<RunState>, TrainError> {
    let p = dir.join("state.json");
    if !p.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&p).map_err(io(&p))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::Io(format!("{}: {e}", p.display())))
}

fn run(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    resume: bool,
) -> Result<RunSummary, TrainError> {
    match exp.split.protocol {
        Protocol::Holdout | Protocol::Random => {
            let ds = load_dataset(exp)?;
            run_one(exp, dir, opts, obs, resume, ds, &Part::Whole)
        }
        Protocol::SpeakerKfold | Protocol::Loso => crate::cv::run_folds(exp, dir, opts, obs),
        Protocol::CrossCorpus | Protocol::LeaveOneCorpusOut => {
            crate::corpus::run_matrix(exp, dir, opts, obs)
        }
    }
}

/// One model of a multi-model run (a fold, a corpus set) in its folder `sub`: read back when
/// it finished, else started or resumed after telling the user `what`.
pub(crate) fn sub_run(
    exp: &Experiment,
    sub: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    ds: Arc<Dataset>,
    part: &Part<'_>,
    what: &str,
) -> Result<RunSummary, TrainError> {
    let done = sub.join("results.json");
    if done.exists() {
        return read_summary(&done);
    }
    fs::create_dir_all(sub).map_err(io(sub))?;
    // The folder then holds everything `ser predict` / `ser export` read of a run.
    write_atomic(&sub.join("experiment.toml"), exp.to_toml().as_bytes())?;
    write_json(
        &sub.join(PART),
        &serde_json::json!({ "study": "..", "model": what }),
    )?;
    obs.note(what);
    let resume = sub.join("split.json").exists();
    run_one(exp, sub, opts, obs, resume, ds, part)
}

/// One model on one part of the data (the holdout split, a fold, a corpus combination).
pub(crate) fn run_one(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    resume: bool,
    ds: Arc<Dataset>,
    part: &Part<'_>,
) -> Result<RunSummary, TrainError> {
    let p = prepare(exp, dir, resume, &opts.device, obs, ds, part)?;
    if exp.model.kind.net().is_none() {
        return crate::classical::run(exp, dir, &p, obs);
    }
    let state = if resume { read_state(dir)? } else { None };
    if resume && state.is_none() {
        obs.note("no finished epoch to resume from: starting from epoch 1");
    }
    if let Some(s) = &state
        && s.finished
    {
        obs.note("this run already finished; re-evaluating its best model");
    }
    train_net(exp, dir, opts, obs, p, state)
}

fn to_tensors(
    b: &Batch,
    frames: usize,
    dim: usize,
    device: &Device,
) -> (Tensor<3>, Tensor<1, Int>) {
    let x = Tensor::<3>::from_data(TensorData::new(b.x.clone(), [b.len, frames, dim]), device);
    let y = Tensor::<1, Int>::from_data(
        TensorData::new(
            b.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [b.len],
        ),
        device,
    );
    (x, y)
}

/// Loss (0 without `loss_fn`), predictions and class probabilities of `net` (validation
/// mode) over `clips`.
pub(crate) fn evaluate(
    net: &Net,
    src: &Arc<BatchSource>,
    clips: &[usize],
    batch: usize,
    loss_fn: Option<&CrossEntropyLoss>,
    device: &Device,
) -> (f64, Vec<usize>, Vec<Vec<f64>>) {
    let (frames, dim) = (src.segment.frames, src.ds.dim);
    let (mut loss, mut preds) = (0.0, Vec::with_capacity(clips.len()));
    let mut scores = Vec::with_capacity(clips.len());
    for b in Loader::start(src.clone(), clips.to_vec(), batch, 2, None) {
        let (x, y) = to_tensors(&b, frames, dim, device);
        let logits = net.forward(x, &b.lengths);
        if let Some(f) = loss_fn {
            loss += f.forward(logits.clone(), y).into_scalar::<f32>() as f64 * b.len as f64;
        }
        let k = logits.dims()[1];
        let p = burn::tensor::activation::softmax(logits.clone(), 1)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 probabilities");
        scores.extend(p.chunks(k).map(|r| r.iter().map(|&v| v as f64).collect()));
        preds.extend(argmax(logits));
    }
    (loss / clips.len().max(1) as f64, preds, scores)
}

fn argmax(logits: Tensor<2>) -> Vec<usize> {
    logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("int predictions")
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

fn optimizer(exp: &Experiment) -> ModuleOptimizer {
    let t = &exp.train;
    let clip = (t.grad_clip > 0.0).then_some(GradientClippingConfig::Norm(t.grad_clip as f32));
    match t.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_weight_decay(
                (t.weight_decay > 0.0).then(|| WeightDecayConfig::new(t.weight_decay as f32)),
            )
            .with_grad_clipping(clip)
            .init(),
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_weight_decay(t.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

fn train_net(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    p: Prepared,
    state: Option<RunState>,
) -> Result<RunSummary, TrainError> {
    let t = &exp.train;
    let device = opts.device.clone().autodiff();
    let (frames, dim, n_classes) = (exp.segment.frames, p.ds.dim, p.ds.classes.len());
    let net_cfg = exp.model.net().expect("network kind");
    device.seed(t.seed);
    let fresh = Net::new(&net_cfg, dim, frames, n_classes, &device)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let mut optim = optimizer(exp);
    let mut state = state.unwrap_or(RunState {
        epochs_done: 0,
        best_ua: f64::NEG_INFINITY,
        best_epoch: 0,
        since_best: 0,
        finished: false,
    });
    let last = dir.join("model_last.bpk");
    let best = dir.join("model_best.bpk");
    let optim_path = dir.join("optimizer.bin");
    let mut net = if state.epochs_done > 0 {
        optim = optim
            .load(&optim_path)
            .map_err(|e| TrainError::Io(format!("{}: {e:?}", optim_path.display())))?;
        fresh
            .try_load_file(&last)
            .map_err(|e| TrainError::Io(format!("{}: {e:?}", last.display())))?
    } else {
        fresh
    };
    // Drop metric lines of epochs that did not reach the commit point.
    let metrics_path = dir.join("metrics.jsonl");
    let kept: String = fs::read_to_string(&metrics_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            serde_json::from_str::<EpochRecord>(l).is_ok_and(|r| r.epoch <= state.epochs_done)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(&metrics_path, kept.as_bytes())?;

    // Class weights and sampler weights from the training split.
    let mut counts = vec![0usize; n_classes];
    for &i in &p.split.train {
        counts[p.ds.labels[i]] += 1;
    }
    let n_train = p.split.train.len() as f64;
    let class_w: Vec<f64> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                n_train / (n_classes as f64 * c as f64)
            }
        })
        .collect();
    let loss_weights = (t.balance == Balance::LossWeights)
        .then(|| class_w.iter().map(|&w| w as f32).collect::<Vec<_>>());
    let sampler: Option<Vec<f64>> = (t.balance == Balance::Sampler).then(|| {
        p.split
            .train
            .iter()
            .map(|&i| class_w[p.ds.labels[i]])
            .collect()
    });
    let smoothing = (t.label_smoothing > 0.0).then_some(t.label_smoothing as f32);
    let loss_train = CrossEntropyLossConfig::new()
        .with_weights(loss_weights)
        .with_smoothing(smoothing)
        .init(&device);
    let loss_eval = CrossEntropyLossConfig::new().init(&opts.device);

    let mut tb = EventWriter::create(&dir.join("tb")).map_err(|e| TrainError::Io(e.to_string()))?;
    let mut stopped = None;
    let mut ran = 0usize;
    while !state.finished && state.epochs_done < t.epochs {
        if opts.stop_after.is_some_and(|n| ran >= n) {
            return Err(TrainError::Interrupted(state.epochs_done));
        }
        let epoch = state.epochs_done; // from 0
        let lr = learning_rate(exp, epoch);
        device.seed(mix(t.seed ^ mix(epoch as u64 + 1)));
        let mut order_rng = epoch_rng(t.seed, epoch, 1);
        let order = epoch_order(&p.split.train, sampler.as_deref(), &mut order_rng);
        let steps = order.len().div_ceil(t.batch_size);
        obs.epoch_start(epoch + 1, t.epochs, steps);
        let loader = Loader::start(
            p.src.clone(),
            order,
            t.batch_size,
            t.prefetch,
            Some(epoch_rng(t.seed, epoch, 2)),
        );
        let started = Instant::now();
        let mut wait = 0.0f64;
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut loader = loader;
        loop {
            let w0 = Instant::now();
            let Some(b) = loader.next() else { break };
            wait += w0.elapsed().as_secs_f64();
            let (x, y) = to_tensors(&b, frames, dim, &device);
            let logits = net.forward(x, &b.lengths);
            let loss = loss_train.forward(logits.clone(), y);
            let lv = loss.clone().into_scalar::<f32>() as f64;
            if !lv.is_finite() {
                let msg = format!(
                    "loss became {lv} at epoch {} step {} (lr {lr:.2e}); the last good checkpoint (epoch {}) is kept in {}. Lower train.lr, set train.grad_clip, or check the features for extreme values",
                    epoch + 1,
                    seen / t.batch_size + 1,
                    state.epochs_done,
                    dir.display()
                );
                return Err(TrainError::NonFinite(msg));
            }
            correct += argmax(logits)
                .iter()
                .zip(&b.labels)
                .filter(|(a, b)| a == b)
                .count();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(lr, net, grads);
            loss_sum += lv * b.len as f64;
            seen += b.len;
            obs.step(lv, seen as f64 / started.elapsed().as_secs_f64().max(1e-9));
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let valid = net.valid();
        let (val_loss, preds, _) = evaluate(
            &valid,
            &p.src,
            &p.split.val,
            t.batch_size,
            Some(&loss_eval),
            &opts.device,
        );
        let truth: Vec<usize> = p.split.val.iter().map(|&i| p.ds.labels[i]).collect();
        let m = Metrics::new(&truth, &preds, n_classes);
        let rec = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_wa: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_wa: m.wa,
            val_ua: m.ua,
            val_macro_f1: m.macro_f1,
            val_recall: m.recall.clone(),
            train_samples_per_s: seen as f64 / elapsed,
            loader_wait_share: wait / elapsed,
        };
        // Checkpoint, then metrics, then the state (the commit point).
        save_model(&valid, &last)?;
        optim
            .save(&optim_path)
            .map_err(|e| TrainError::Io(format!("{}: {e:?}", optim_path.display())))?;
        let improved = m.ua > state.best_ua;
        if improved {
            save_model(&valid, &best)?;
            state.best_ua = m.ua;
            state.best_epoch = epoch + 1;
            state.since_best = 0;
        } else {
            state.since_best += 1;
        }
        let mut line = serde_json::to_string(&rec).expect("json");
        line.push('\n');
        append(&metrics_path, &line)?;
        log_epoch(&mut tb, &rec, &m, &p.ds.classes)?;
        state.epochs_done = epoch + 1;
        if t.early_stopping > 0 && state.since_best >= t.early_stopping {
            stopped = Some(format!(
                "early stopping: validation UA did not improve for {} epochs (best {:.4} at epoch {})",
                t.early_stopping, state.best_ua, state.best_epoch
            ));
            state.finished = true;
        }
        if state.epochs_done >= t.epochs {
            state.finished = true;
        }
        write_json(&dir.join("state.json"), &state)?;
        obs.epoch_end(&rec);
        ran += 1;
    }
    if let Some(s) = &stopped {
        obs.note(s);
    }
    // Final evaluation of the best model on validation and test.
    let kept = Net::new(&net_cfg, dim, frames, n_classes, &opts.device)
        .map_err(|e| TrainError::Config(e.to_string()))?
        .try_load_file(&best)
        .map_err(|e| TrainError::Io(format!("{}: {e:?}", best.display())))?
        .valid();
    let eval = |clips: &[usize]| {
        let (_, pred, scores) = evaluate(&kept, &p.src, clips, t.batch_size, None, &opts.device);
        Scored {
            clips: clips.to_vec(),
            pred,
            scores,
        }
    };
    let (val, test) = (eval(&p.split.val), eval(&p.split.test));
    finish(
        dir,
        &mut tb,
        &p,
        &test,
        RunSummary {
            dir: dir.to_path_buf(),
            protocol: p.split.protocol.clone(),
            classes: p.ds.classes.clone(),
            best_epoch: state.best_epoch,
            val: val.metrics(&p.ds),
            test: test.metrics(&p.ds),
            device: opts.device_name.clone(),
            stopped,
            cv: None,
            test_auc: None,
            per_corpus: BTreeMap::new(),
            per_corpus_auc: BTreeMap::new(),
            cross_corpus: None,
            learned: true,
            learning: None,
            not_learned: Vec::new(),
        }
        .judged(Some(&read_epochs(dir))),
        state.epochs_done as i64,
    )
}

fn save_model(net: &Net, path: &Path) -> Result<(), TrainError> {
    let tmp = ser_lock::unique_sibling(path, "tmp.bpk");
    net.clone()
        .save_file(&tmp)
        .map_err(|e| TrainError::Io(format!("{}: {e:?}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(path))
}

fn append(path: &Path, line: &str) -> Result<(), TrainError> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(io(path))
}

fn log_epoch(
    tb: &mut EventWriter,
    r: &EpochRecord,
    m: &Metrics,
    classes: &[String],
) -> Result<(), TrainError> {
    let step = r.epoch as i64;
    let mut scalars: Vec<(String, f64)> = vec![
        ("loss/train".into(), r.train_loss),
        ("loss/val".into(), r.val_loss),
        ("accuracy/train".into(), r.train_wa),
        ("accuracy/val".into(), r.val_wa),
        ("unweighted_accuracy/val".into(), r.val_ua),
        ("macro_f1/val".into(), r.val_macro_f1),
        ("lr".into(), r.lr),
        ("speed/train_samples_per_s".into(), r.train_samples_per_s),
        ("speed/loader_wait_share".into(), r.loader_wait_share),
    ];
    for (c, rec) in classes.iter().zip(&r.val_recall) {
        if rec.is_finite() {
            scalars.push((format!("recall_val/{c}"), *rec));
        }
    }
    let refs: Vec<(&str, f64)> = scalars.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    tb.scalars(step, &refs)
        .map_err(|e| TrainError::Io(e.to_string()))?;
    let (png, w, h) = confusion_png(
        &m.confusion,
        classes,
        &format!("validation, epoch {}", r.epoch),
    )
    .map_err(TrainError::Io)?;
    tb.png(step, "confusion/val", png, w, h)
        .map_err(|e| TrainError::Io(e.to_string()))
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
