//! `ser train`: run an experiment file, or resume a run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use ser_experiment::{DataConfig, Experiment, SynthPreset, Target, TrainError};
use ser_kernels::DeviceChoice;
use ser_study::{Observer, RunOptions, RunSummary};
use ser_train::EpochRecord;

/// Arguments of `ser train`.
#[derive(clap::Args)]
#[command(
    after_help = "Writes RUNS/<name>/: experiment.toml (resolved), split.json, \
model_best.bpk and model_last.bpk, optimizer.bin, state.json, metrics.jsonl, tb/ (TensorBoard: \
`tensorboard --logdir RUNS`), audit.json (leakage audit), results.json, predictions.csv, plots (PNG + SVG: \
confusion_test, recall_test, roc_test, curves) and report.md.\n\
Kill it at any time; `ser train --resume RUNS/<name>` continues from the last finished epoch.\n\
When data.cache is missing, it is extracted first (and, with data.synthetic = true, the built-in \
synthetic corpora are written).\n\n\
Ready-made experiments: experiments/{cnn,lstm,cnn_lstm,cnn_lstm_on_the_fly,svm,random_forest}.toml, {svm,random_forest}_kfold.toml (speaker 6-fold cross-validation) cross_corpus_synth.toml (train x test corpus matrix), and cross_corpus_hard_{svm,cnn_lstm}.toml (the same study on the harder `ser synth --hard` corpora). `ser run` starts or continues a run in one command."
)]
pub struct Args {
    /// Experiment file (TOML; see experiments/).
    #[arg(value_name = "EXPERIMENT.toml", required_unless_present = "resume")]
    experiment: Option<PathBuf>,
    /// Continue the run in this folder from its last finished epoch.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "experiment")]
    resume: Option<PathBuf>,
    /// Folder that holds run folders.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    runs: PathBuf,
    /// Where networks train: flex (burn's pure-Rust CPU backend; reproducible, what CI uses),
    /// wgpu (Vulkan / Metal / DX12; wgpu:N for the N-th adapter, so array tasks on one node
    /// can each take one), cuda / cuda:N (a build with `--features cuda`; N counts the GPUs
    /// CUDA_VISIBLE_DEVICES leaves), or auto (CUDA, else a hardware wgpu adapter, else flex).
    /// A comma-separated list (wgpu:0,wgpu:1) trains data-parallel: train.batch_size clips
    /// per device and step, gradients summed on the first. tch / tch-cuda:N: burn's LibTorch
    /// backend, in a build with `--features tch`.
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
    /// Override train.epochs of the experiment (new runs only).
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
}

pub(crate) fn device(name: &str) -> anyhow::Result<(burn::tensor::Device, String)> {
    resolve(name).map(|(d, n, _)| (d, n))
}

/// The device `name` stands for, its name for the results, and whether it is a CPU or a GPU
/// (the `[train]` defaults sized by it: [`Target`]).
fn resolve(name: &str) -> anyhow::Result<(burn::tensor::Device, String, Target)> {
    let flex = || {
        (
            burn::backend::FlexDevice.into(),
            "flex (burn CPU)".to_string(),
            Target::Cpu,
        )
    };
    if name == "flex" || name == "cpu" {
        return Ok(flex());
    }
    if name == "tch" || name.starts_with("tch-") {
        let target = if name == "tch" {
            Target::Cpu
        } else {
            Target::Gpu
        };
        return libtorch(name).map(|(d, n)| (d, n, target));
    }
    let choice: DeviceChoice = name.parse().map_err(|e: String| {
        anyhow::anyhow!("--device {name}: {e}; use flex, wgpu, wgpu:N, cuda, cuda:N or auto")
    })?;
    match choice.resolve().context("--device")? {
        Some(d) => {
            let n = ser_kernels::device_name(&d);
            Ok((d, n, Target::Gpu))
        }
        None => Ok(flex()),
    }
}

/// burn's LibTorch device `tch` (CPU) or `tch-cuda[:N]`, in a build with the `tch` feature.
/// burn 0.22 marks burn-tch deprecated (CubeCL backends are its future); it is the one NVIDIA
/// training path that builds offline here, so ser keeps it optional until burn's CUDA does.
#[cfg_attr(feature = "tch", allow(deprecated))]
fn libtorch(name: &str) -> anyhow::Result<(burn::tensor::Device, String)> {
    #[cfg(feature = "tch")]
    {
        use burn::backend::LibTorchDevice;
        let (dev, what) = match name.strip_prefix("tch-cuda") {
            None if name == "tch" => (LibTorchDevice::Cpu, "CPU".to_string()),
            Some("") => (LibTorchDevice::Cuda(0), "CUDA 0".to_string()),
            Some(i) => {
                let i: usize =
                    (i.strip_prefix(':').and_then(|i| i.parse().ok())).ok_or_else(|| {
                        anyhow::anyhow!("--device {name}: use tch, tch-cuda or tch-cuda:N")
                    })?;
                (LibTorchDevice::Cuda(i), format!("CUDA {i}"))
            }
            None => bail!("--device {name}: use tch, tch-cuda or tch-cuda:N"),
        };
        Ok((dev.into(), format!("tch (libtorch {what})")))
    }
    #[cfg(not(feature = "tch"))]
    bail!(
        "--device {name}: this ser was built without the tch backend; build with `--features tch` against a pip-installed torch 2.9.0 (scripts/tch.sh, README's Training section)"
    )
}

/// The training devices of `--device A,B,...`: the main one, the data-parallel others, and
/// their names for the results ("2 x flex (burn CPU)").
pub(crate) struct TrainDevices {
    pub main: burn::tensor::Device,
    pub replicas: Vec<burn::tensor::Device>,
    pub name: String,
    /// The main device's kind, which sizes the `[train]` defaults.
    pub target: Target,
}

impl TrainDevices {
    /// The options of a run on these devices whose folders go under `runs_dir`.
    pub(crate) fn options(self, runs_dir: PathBuf) -> RunOptions {
        RunOptions {
            runs_dir,
            device: self.main,
            replicas: self.replicas,
            device_name: self.name,
            stop_after: None,
        }
    }
}

/// Parses `--device` for training: one device, or a comma-separated list that trains
/// data-parallel (`wgpu:0,wgpu:1`; `flex,flex` runs the same path on the CPU).
pub(crate) fn train_devices(list: &str) -> anyhow::Result<TrainDevices> {
    let mut all = Vec::new();
    for name in list.split(',').map(str::trim) {
        all.push(resolve(name)?);
    }
    let target = all[0].2;
    let mut names: Vec<String> = Vec::new();
    for (_, n, _) in &all {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let name = match (all.len(), names.as_slice()) {
        (1, _) => names[0].clone(),
        (k, [one]) => format!("{k} x {one}"),
        (_, many) => many.join(" + "),
    };
    let mut devices = all.into_iter().map(|(d, _, _)| d);
    Ok(TrainDevices {
        main: devices.next().expect("split yields one name at least"),
        replicas: devices.collect(),
        name,
        target,
    })
}

/// Builds the caches an experiment reads when they are missing: its one cache from every
/// corpus of `data.corpora`, or, with several caches, each from its own corpus (so adding a
/// corpus extracts only its cache). Processes started together (array tasks of a sweep) take
/// turns on `<cache>.prepare.lock`: one writes the corpora and extracts, the others wait and
/// then find the cache.
pub(crate) fn ensure_data(exp: &Experiment) -> anyhow::Result<()> {
    let d = &exp.data;
    match d.cache.paths() {
        [one] => ensure_cache(d, one, d.corpora.clone()),
        many => many.iter().enumerate().try_for_each(|(i, cache)| {
            ensure_cache(d, cache, d.corpora.get(i).cloned().into_iter().collect())
        }),
    }
}

/// Builds `cache` from `corpora` (writing the synthetic corpora first where `d` asks) when it
/// is missing.
fn ensure_cache(d: &DataConfig, cache: &Path, corpora: Vec<String>) -> anyhow::Result<()> {
    if cache.exists() {
        return Ok(());
    }
    if let Some(dir) = cache.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let lock = ser_cache::beside(cache, ".prepare.lock");
    let _turn = ser_lock::Lock::acquire(&lock, "preparing the data of an experiment", |h| {
        eprintln!("waiting for {h}, which is preparing {}", cache.display())
    })
    .with_context(|| format!("taking {}", lock.display()))?;
    if cache.exists() {
        return Ok(());
    }
    if corpora.is_empty() {
        bail!(
            "data.cache {} does not exist; create it with `ser extract ... --out {}` or list data.corpora (and data.features) in the experiment",
            cache.display(),
            cache.display()
        );
    }
    if d.synthetic {
        let missing: Vec<&String> = corpora.iter().filter(|c| !Path::new(c).exists()).collect();
        if let Some(first) = missing.first() {
            let parent = Path::new(first.as_str())
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            eprintln!("writing the synthetic corpora to {}", parent.display());
            let cfg = match d.synth {
                SynthPreset::Standard => ser_synth::SynthConfig::default(),
                SynthPreset::Hard => {
                    ser_synth::SynthConfig::hard(ser_synth::SynthConfig::default().seed)
                }
            };
            crate::commands::synth::write(&cfg, parent)?;
        }
    }
    eprintln!("extracting features into {}", cache.display());
    crate::commands::extract::run(crate::commands::extract::Args::for_cache(
        corpora,
        d.features.clone(),
        cache.to_path_buf(),
    ))?;
    Ok(())
}

/// Progress bars: one per epoch with loss and samples/s, a line per finished epoch.
pub(crate) struct Bars {
    bar: Option<ProgressBar>,
    started: Instant,
    /// The loss last read from the device (every `train.sync_every` steps).
    loss: Option<f64>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Bars {
            bar: None,
            started: Instant::now(),
            loss: None,
        }
    }
}

impl Observer for Bars {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize) {
        let bar = ProgressBar::new(steps as u64)
            .with_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            )
            .with_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }
    fn step(&mut self, loss: Option<f64>, samples_per_s: f64) {
        self.loss = loss.or(self.loss);
        if let Some(b) = &self.bar {
            let loss = self.loss.map_or("-".into(), |l| format!("{l:.4}"));
            b.set_message(format!("loss {loss}  {samples_per_s:.0} samples/s"));
            b.inc(1);
        }
    }
    fn epoch_end(&mut self, r: &EpochRecord) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        eprintln!(
            "epoch {:>3}  lr {:.2e}  train loss {:.4} acc {:.3}  val loss {:.4} acc {:.3} UA {:.3}  {:.0} samples/s (loader wait {:.0}%)  {:.0}s",
            r.epoch,
            r.lr,
            r.train_loss,
            r.train_wa,
            r.val_loss,
            r.val_wa,
            r.val_ua,
            r.train_samples_per_s,
            r.loader_wait_share * 100.0,
            self.started.elapsed().as_secs_f64()
        );
    }
    fn note(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

pub(crate) fn report(s: &RunSummary) {
    for w in s.warnings() {
        println!("WARNING: {w}");
    }
    println!("run:      {}", s.dir.display());
    println!("protocol: {}", s.protocol);
    println!("device:   {}", s.device);
    if let Some(why) = &s.stopped {
        println!("stopped:  {why}");
    }
    if s.best_epoch > 0 {
        println!("kept:     epoch {} (best validation UA)", s.best_epoch);
    }
    if let Some(cv) = &s.cv {
        for f in &cv.folds {
            println!(
                "fold {:>2}  test UA {:.4}  WA {:.4}  macro-F1 {:.4}  ({} clips; {})",
                f.fold,
                f.test.ua,
                f.test.wa,
                f.test.macro_f1,
                f.test.n,
                f.test_speakers.join(", ")
            );
        }
        println!("{}", cv.describe());
        println!("pooled over every fold's test clips:");
    }
    if let Some(m) = &s.cross_corpus {
        println!(
            "test UA, trained on (rows) x tested on (columns); * = held-out speakers of a training corpus:"
        );
        let w = m
            .sets
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(8)
            .max(10);
        print!("{:w$}", "");
        for c in &m.corpora {
            print!("  {c:>14}");
        }
        println!();
        for set in &m.sets {
            print!("{:w$}", set.name);
            for c in &m.corpora {
                match m.cell(&set.name, c) {
                    Some(cell) => print!(
                        "  {:>13.4}{}",
                        cell.metrics.ua,
                        if cell.in_corpus { "*" } else { " " }
                    ),
                    None => print!("  {:>14}", "-"),
                }
            }
            println!();
        }
        println!("pooled over the cross-corpus cells:");
    }
    for (name, m) in [("val", &s.val), ("test", &s.test)] {
        println!(
            "{name:<5} UA {:.4}  WA {:.4}  macro-F1 {:.4}  weighted F1 {:.4}  kappa {:.4}  ({} clips)",
            m.ua, m.wa, m.macro_f1, m.weighted_f1, m.kappa, m.n
        );
    }
    if let Some(auc) = s.test_auc {
        println!("test macro AUC (one vs rest) {auc:.4}");
    }
    let recall: Vec<String> = s
        .classes
        .iter()
        .zip(&s.test.recall)
        .map(|(c, r)| format!("{c} {r:.2}"))
        .collect();
    println!("test recall: {}", recall.join(", "));
    let report = s.dir.join("report.md");
    if report.exists() {
        println!("report:   {}", report.display());
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let devices = train_devices(&a.device)?;
    let mut bars = Bars::new();
    let summary = if let Some(dir) = &a.resume {
        eprintln!("resuming {} on {}", dir.display(), devices.name);
        let opts = devices.options(dir.parent().map(Path::to_path_buf).unwrap_or_default());
        ser_study::resume(dir, &opts, &mut bars)
    } else {
        let path = a.experiment.as_ref().expect("clap requires it");
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading experiment {}", path.display()))?;
        let mut exp = Experiment::from_toml_for(&text, devices.target)
            .with_context(|| format!("in {}", path.display()))?;
        if let Some(n) = a.epochs {
            exp.train.epochs = n;
        }
        exp.validate()
            .with_context(|| format!("in {}", path.display()))?;
        ensure_data(&exp)?;
        eprintln!(
            "training {} ({:?}) on {}",
            exp.name, exp.model.kind, devices.name
        );
        let opts = devices.options(a.runs.clone());
        ser_study::train(&exp, &opts, &mut bars)
    };
    outcome(summary)
}

/// Prints the report of a finished run; a stopped (NaN) run is an error message, exit 1.
pub(crate) fn outcome(summary: Result<RunSummary, TrainError>) -> anyhow::Result<ExitCode> {
    match summary {
        Ok(s) => {
            report(&s);
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ TrainError::NonFinite(_)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
