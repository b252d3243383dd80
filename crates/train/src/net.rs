//! The training loop of a network: setup (model, optimizer, class weights, resumed state),
//! one epoch at a time (batches, loss, checkpoint, metrics, then `state.json`: the commit
//! point a resumed run starts from), and the final evaluation of the kept model.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer};
use burn::tensor::Device;
use ser_eval::Metrics;
use ser_experiment::folder::{io, write_atomic, write_json};
use ser_experiment::{
    Balance, Experiment, Loader, OptimizerKind, Schedule, TrainError, epoch_order, epoch_rng, mix,
};
use ser_infer::evaluate;
use ser_models::Net;
use ser_plot::confusion_png;
use ser_tensorboard::EventWriter;
use serde::{Deserialize, Serialize};

use crate::prepare::Prepared;
use crate::record::{EpochRecord, read_epochs};
use crate::report::{Scored, finish};
use crate::step::{self, Ready, Step};
use crate::summary::{Observer, RunOptions, RunSummary};
use crate::tally::{Tally, Window};

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunState {
    epochs_done: usize,
    best_ua: f64,
    best_epoch: usize,
    since_best: usize,
    pub(crate) finished: bool,
    /// Devices the run trains on (each step's batch is `train.batch_size` per device), so a
    /// resume on another number is refused rather than silently changing the batch.
    #[serde(default = "one")]
    devices: usize,
}

fn one() -> usize {
    1
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

/// The state a resumed run starts from, if an epoch finished.
pub(crate) fn read_state(dir: &Path) -> Result<Option<RunState>, TrainError> {
    let p = dir.join("state.json");
    if !p.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&p).map_err(io(&p))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::file(&p, e))
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

/// Trains (or resumes) the network of `exp` in `dir`, then scores its kept model.
pub(crate) fn train_net(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    p: Prepared,
    state: Option<RunState>,
) -> Result<RunSummary, TrainError> {
    let t = &exp.train;
    let devices: Vec<Device> = std::iter::once(&opts.device)
        .chain(&opts.replicas)
        .map(|d| d.clone().autodiff())
        .collect();
    let device = devices[0].clone();
    let mut s = Session::open(exp, dir, &p, state, &device, devices.len())?;
    let obj = Objective::new(exp, &p, &devices, &opts.device);
    let mut tb = EventWriter::create(&dir.join("tb")).map_err(|e| TrainError::Io(e.to_string()))?;
    let mut stopped = None;
    let mut ran = 0usize;
    while !s.state.finished && s.state.epochs_done < t.epochs {
        if opts.stop_after.is_some_and(|n| ran >= n) {
            return Err(TrainError::Interrupted(s.state.epochs_done));
        }
        let (next, rec, m) = s.epoch(exp, &p, &obj, &devices, opts, obs)?;
        s = next;
        s.checkpoint(&rec, &m, &mut tb, &p.ds.classes)?;
        if t.early_stopping > 0 && s.state.since_best >= t.early_stopping {
            stopped = Some(format!(
                "early stopping: validation UA did not improve for {} epochs (best {:.4} at epoch {})",
                t.early_stopping, s.state.best_ua, s.state.best_epoch
            ));
            s.state.finished = true;
        }
        if s.state.epochs_done >= t.epochs {
            s.state.finished = true;
        }
        write_json(&dir.join("state.json"), &s.state)?;
        obs.epoch_end(&rec);
        ran += 1;
    }
    if let Some(msg) = &stopped {
        obs.note(msg);
    }
    score_kept(exp, dir, opts, &p, &s, &mut tb, stopped)
}

/// The files a network's run keeps between epochs.
struct Checkpoints {
    dir: PathBuf,
    last: PathBuf,
    best: PathBuf,
    optim: PathBuf,
    metrics: PathBuf,
}

/// A network in training: its weights, its optimizer and the state of its last epoch.
struct Session {
    net: Net,
    optim: ModuleOptimizer,
    state: RunState,
    files: Checkpoints,
}

impl Session {
    /// A new network (seeded by `train.seed`, drawn on the CPU), or the last checkpoint of a
    /// resumed run; metric
    /// lines of epochs that did not reach the commit point are dropped.
    fn open(
        exp: &Experiment,
        dir: &Path,
        p: &Prepared,
        state: Option<RunState>,
        device: &Device,
        devices: usize,
    ) -> Result<Self, TrainError> {
        // Weights are drawn on the CPU (flex) whatever the device, then forked to it: one seed
        // gives the same initial model on every backend (flex itself is unchanged).
        let cpu = Device::from(burn::backend::FlexDevice).autodiff();
        cpu.seed(exp.train.seed);
        let fresh = new_net(exp, p, &cpu)?.fork(device);
        let mut optim = optimizer(exp);
        let state = state.unwrap_or(RunState {
            epochs_done: 0,
            best_ua: f64::NEG_INFINITY,
            best_epoch: 0,
            since_best: 0,
            finished: false,
            devices,
        });
        if state.devices != devices {
            return Err(TrainError::Config(format!(
                "{}: the run trained on {} device(s) (batch {} per device); resume it on as many (--device A,B,...), not {devices}",
                dir.display(),
                state.devices,
                exp.train.batch_size
            )));
        }
        let files = Checkpoints {
            dir: dir.to_path_buf(),
            last: dir.join("model_last.bpk"),
            best: dir.join("model_best.bpk"),
            optim: dir.join("optimizer.bin"),
            metrics: dir.join("metrics.jsonl"),
        };
        let net = if state.epochs_done > 0 {
            optim = optim
                .load(&files.optim)
                .map_err(|e| TrainError::file(&files.optim, format!("{e:?}")))?;
            fresh
                .try_load_file(&files.last)
                .map_err(|e| TrainError::file(&files.last, format!("{e:?}")))?
        } else {
            fresh
        };
        let kept: String = fs::read_to_string(&files.metrics)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                serde_json::from_str::<EpochRecord>(l).is_ok_and(|r| r.epoch <= state.epochs_done)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        write_atomic(&files.metrics, kept.as_bytes())?;
        Ok(Self {
            net,
            optim,
            state,
            files,
        })
    }

    /// One epoch: the seeded order, every batch through forward, loss and step, the figures
    /// read every `train.sync_every` steps (a non-finite loss there stops the run with the
    /// last good checkpoint named), then validation.
    fn epoch(
        mut self,
        exp: &Experiment,
        p: &Prepared,
        obj: &Objective,
        devices: &[Device],
        opts: &RunOptions,
        obs: &mut dyn Observer,
    ) -> Result<(Self, EpochRecord, Metrics), TrainError> {
        let t = &exp.train;
        let (frames, dim) = (exp.segment.frames, p.ds.dim);
        let epoch = self.state.epochs_done; // from 0
        let lr = learning_rate(exp, epoch);
        for d in devices {
            d.seed(mix(t.seed ^ mix(epoch as u64 + 1)));
        }
        let mut order_rng = epoch_rng(t.seed, epoch, 1);
        let order = epoch_order(&p.split.train, obj.sampler.as_deref(), &mut order_rng);
        let batch = t.batch_size * devices.len();
        obs.epoch_start(epoch + 1, t.epochs, order.len().div_ceil(batch));
        let ready_on = devices.to_vec();
        let mut loader = Loader::start_with(
            p.src.clone(),
            order,
            batch,
            t.prefetch,
            Some(epoch_rng(t.seed, epoch, 2)),
            move |b| Ready::of(b, &ready_on, frames, dim),
        );
        let started = Instant::now();
        let mut wait = 0.0f64;
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut tally = Tally::default();
        let on = Step {
            devices,
            losses: &obj.train,
            frames,
            dim,
        };
        // Adds a read window to the epoch's figures, or stops at a non-finite loss.
        let mut take = |w: Window| -> Result<f64, TrainError> {
            if !w.loss_sum.is_finite() {
                return Err(TrainError::NonFinite(format!(
                    "loss became {} at epoch {} in steps {}-{} (read every train.sync_every = {} steps; lr {lr:.2e}); the last good checkpoint (epoch {}) is kept in {}. Lower train.lr, set train.grad_clip, or check the features for extreme values",
                    w.loss_sum,
                    epoch + 1,
                    w.first_step,
                    w.last_step,
                    t.sync_every,
                    self.state.epochs_done,
                    self.files.dir.display()
                )));
            }
            loss_sum += w.loss_sum;
            correct += w.correct;
            Ok(w.loss_sum / w.samples.max(1) as f64)
        };
        loop {
            let w0 = Instant::now();
            let Some(b) = loader.next() else { break };
            wait += w0.elapsed().as_secs_f64();
            seen += b.len();
            let grads = step::grads(&self.net, b, &on, &mut tally);
            self.net = self.optim.step(lr, self.net, grads);
            let shown = match tally.due(t.sync_every).then(|| tally.read()).flatten() {
                Some(w) => Some(take(w)?),
                None => None,
            };
            obs.step(
                shown,
                seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            );
        }
        if let Some(w) = tally.read() {
            take(w)?;
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let (val_loss, preds, _) = evaluate(
            &self.net.valid(),
            &p.src,
            &p.split.val,
            t.batch_size,
            Some(&obj.eval),
            &opts.device,
        );
        let truth: Vec<usize> = p.split.val.iter().map(|&i| p.ds.labels[i]).collect();
        let m = Metrics::new(&truth, &preds, p.ds.classes.len());
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
        Ok((self, rec, m))
    }

    /// Checkpoint, then metrics (the caller writes `state.json`, the commit point, after).
    fn checkpoint(
        &mut self,
        rec: &EpochRecord,
        m: &Metrics,
        tb: &mut EventWriter,
        classes: &[String],
    ) -> Result<(), TrainError> {
        let valid = self.net.valid();
        save_model(&valid, &self.files.last)?;
        self.optim
            .save(&self.files.optim)
            .map_err(|e| TrainError::file(&self.files.optim, format!("{e:?}")))?;
        if m.ua > self.state.best_ua {
            save_model(&valid, &self.files.best)?;
            self.state.best_ua = m.ua;
            self.state.best_epoch = rec.epoch;
            self.state.since_best = 0;
        } else {
            self.state.since_best += 1;
        }
        let mut line = serde_json::to_string(rec).expect("json");
        line.push('\n');
        append(&self.files.metrics, &line)?;
        log_epoch(tb, rec, m, classes)?;
        self.state.epochs_done = rec.epoch;
        Ok(())
    }
}

/// The training objective from `train.balance` and `train.label_smoothing`: class-weighted
/// loss or a weighted sampler, and the plain loss validation reports.
struct Objective {
    /// One per training device.
    train: Vec<CrossEntropyLoss>,
    eval: CrossEntropyLoss,
    sampler: Option<Vec<f64>>,
}

impl Objective {
    fn new(exp: &Experiment, p: &Prepared, devices: &[Device], eval_device: &Device) -> Self {
        let t = &exp.train;
        let n_classes = p.ds.classes.len();
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
        let sampler = (t.balance == Balance::Sampler).then(|| {
            p.split
                .train
                .iter()
                .map(|&i| class_w[p.ds.labels[i]])
                .collect()
        });
        let smoothing = (t.label_smoothing > 0.0).then_some(t.label_smoothing as f32);
        Self {
            train: (devices.iter())
                .map(|d| {
                    CrossEntropyLossConfig::new()
                        .with_weights(loss_weights.clone())
                        .with_smoothing(smoothing)
                        .init(d)
                })
                .collect(),
            eval: CrossEntropyLossConfig::new().init(eval_device),
            sampler,
        }
    }
}

fn new_net(exp: &Experiment, p: &Prepared, device: &Device) -> Result<Net, TrainError> {
    let net_cfg = exp.model.net().expect("network kind");
    Net::new(
        &net_cfg,
        p.ds.dim,
        exp.segment.frames,
        p.ds.classes.len(),
        device,
    )
    .map_err(|e| TrainError::Config(e.to_string()))
}

/// Scores the best model on validation and test and writes the run's outputs.
fn score_kept(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    p: &Prepared,
    s: &Session,
    tb: &mut EventWriter,
    stopped: Option<String>,
) -> Result<RunSummary, TrainError> {
    let best = &s.files.best;
    let kept = new_net(exp, p, &opts.device)?
        .try_load_file(best)
        .map_err(|e| TrainError::file(best, format!("{e:?}")))?
        .valid();
    let batch = exp.train.batch_size;
    let eval = |clips: &[usize]| {
        let (_, pred, scores) = evaluate(&kept, &p.src, clips, batch, None, &opts.device);
        Scored {
            clips: clips.to_vec(),
            pred,
            scores,
        }
    };
    let (val, test) = (eval(&p.split.val), eval(&p.split.test));
    finish(
        dir,
        tb,
        p,
        &test,
        RunSummary {
            best_epoch: s.state.best_epoch,
            stopped,
            ..RunSummary::one_model(
                dir,
                &p.split.protocol,
                &p.ds.classes,
                (val.metrics(&p.ds), test.metrics(&p.ds)),
                opts.device_name.clone(),
            )
        }
        .judged(Some(&read_epochs(dir))),
        s.state.epochs_done as i64,
    )
}

fn save_model(net: &Net, path: &Path) -> Result<(), TrainError> {
    let tmp = ser_lock::unique_sibling(path, "tmp.bpk");
    net.clone()
        .save_file(&tmp)
        .map_err(|e| TrainError::file(&tmp, format!("{e:?}")))?;
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
