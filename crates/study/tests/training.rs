//! Training runs end to end on the flex backend: the loss falls, a killed run resumes to the
//! same numbers, NaN stops a run and keeps the last good epoch, baselines fit, and
//! TensorBoard's own reader loads the event files.

mod common;

use std::path::{Path, PathBuf};

use common::flex as opts;
use ser_experiment::{Dataset, Experiment, NormScope, Protocol, Target, TrainError};
use ser_study::{Observer, Quiet, resume, train};

#[path = "../../../tests/support/paths.rs"]
mod paths;
use paths::manifest_dir;

fn experiment(name: &str, cache: &Path, model: &str, extra: &str) -> Experiment {
    Experiment::from_toml(&format!(
        r#"
name = "{name}"
[data]
cache = "{}"
frames = ["logmel"]
[split]
test_speakers = 0.25
val_speakers = 0.25
[segment]
frames = 32
policy = "crop"
[model]
kind = "{model}"
[model.cnn]
channels = [4, 8]
dropout = 0.1
[model.lstm]
hidden = 12
dropout = 0.1
[model.head]
hidden = [16]
dropout = 0.1
[train]
epochs = 4
batch_size = 16
lr = 0.005
warmup_epochs = 0
seed = 3
[augment]
time_masks = 1
time_mask_frames = 4
freq_masks = 1
freq_mask_bins = 2
gain_db = [-3.0, 3.0]
noise_snr_db = [10.0, 30.0]
noise_prob = 0.5
speed = [0.9, 1.1]
{extra}
"#,
        cache.display()
    ))
    .unwrap()
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            // Timings differ between runs; everything else must not.
            v.as_object_mut().unwrap().remove("train_samples_per_s");
            v.as_object_mut().unwrap().remove("loader_wait_share");
            v
        })
        .collect()
}

/// burn's device RNG (dropout masks, initial weights) is one per process: runs in parallel
/// test threads would draw from each other's stream. Each test holds this lock, from before
/// its first HDF5 file or child process.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cache() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("toy.h5");
    common::write_cache(&path, 8, 6);
    (tmp, path)
}

#[test]
fn loss_falls_and_a_killed_run_resumes_to_the_same_numbers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let full = train(
        &experiment("full", &cache, "cnn_lstm", ""),
        &opts(&runs, None),
        &mut Quiet,
    )
    .unwrap();
    let m = metrics(&runs.join("full"));
    assert_eq!(m.len(), 4);
    let loss = |i: usize| m[i]["train_loss"].as_f64().unwrap();
    assert!(
        loss(3) < 0.8 * loss(0),
        "train loss {} -> {}",
        loss(0),
        loss(3)
    );
    assert!(
        full.protocol.starts_with("speaker-independent"),
        "{}",
        full.protocol
    );
    assert!(
        full.test.ua > 0.5,
        "test UA {} on an easy toy task",
        full.test.ua
    );

    let exp = experiment("killed", &cache, "cnn_lstm", "");
    match train(&exp, &opts(&runs, Some(2)), &mut Quiet) {
        Err(TrainError::Interrupted(2)) => {}
        other => panic!("expected an interruption after 2 epochs, got {other:?}"),
    }
    assert_eq!(metrics(&runs.join("killed")).len(), 2);
    // A second start of the same name is refused, not overwritten.
    assert!(train(&exp, &opts(&runs, None), &mut Quiet).is_err());
    let resumed = resume(&runs.join("killed"), &opts(&runs, None), &mut Quiet).unwrap();
    assert_eq!(
        metrics(&runs.join("killed")),
        m,
        "resumed run differs from the uninterrupted one"
    );
    assert_eq!(resumed.test, full.test);
    assert_eq!(resumed.best_epoch, full.best_epoch);
    for f in [
        "model_best.bpk",
        "model_last.bpk",
        "optimizer.bin",
        "state.json",
        "results.json",
        "experiment.toml",
        "split.json",
        "confusion_test.png",
    ] {
        assert!(runs.join("killed").join(f).exists(), "{f} missing");
    }
}

/// Data-parallel training on two (flex) devices: the run learns, a kill and a resume on the
/// same devices give the uninterrupted numbers, and resuming on one device is refused.
#[test]
fn a_two_device_run_resumes_to_the_uninterrupted_numbers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let two = |stop| ser_study::RunOptions {
        replicas: vec![burn::backend::FlexDevice.into()],
        ..opts(&runs, stop)
    };
    let exp = |name: &str| {
        let mut e = experiment(name, &cache, "cnn_lstm", "");
        e.train.batch_size = 8; // per device: 16 a step
        e
    };
    let full = train(&exp("dp_full"), &two(None), &mut Quiet).unwrap();
    assert!(
        full.test.ua > 0.5,
        "test UA {} on an easy toy task",
        full.test.ua
    );
    match train(&exp("dp_killed"), &two(Some(2)), &mut Quiet) {
        Err(TrainError::Interrupted(2)) => {}
        other => panic!("expected an interruption after 2 epochs, got {other:?}"),
    }
    let err = resume(&runs.join("dp_killed"), &opts(&runs, None), &mut Quiet).unwrap_err();
    assert!(err.to_string().contains("trained on 2 device(s)"), "{err}");
    let resumed = resume(&runs.join("dp_killed"), &two(None), &mut Quiet).unwrap();
    assert_eq!(
        metrics(&runs.join("dp_killed")),
        metrics(&runs.join("dp_full"))
    );
    assert_eq!(resumed.test, full.test);
}

/// Collects the run's messages.
#[derive(Default)]
struct Notes(Vec<String>);
impl Observer for Notes {
    fn note(&mut self, message: &str) {
        self.0.push(message.to_string());
    }
}

/// Frames read from the cache per batch (a memory bound a thousandth of the cache) give the
/// numbers of the in-RAM run, through a kill and a resume too, with per-speaker
/// standardization and every augmentation on.
#[test]
fn a_memory_bound_far_below_the_cache_trains_to_the_unbounded_numbers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let bound_gb = std::fs::metadata(&cache).unwrap().len() as f64 / 1e9 / 1000.0;
    let exp = |name: &str, memory_gb: Option<f64>| {
        let mut e = experiment(name, &cache, "cnn_lstm", "");
        e.split.normalize = NormScope::Speaker;
        e.data.memory_gb = memory_gb;
        e
    };
    let ram = train(&exp("ram", None), &opts(&runs, None), &mut Quiet).unwrap();
    let mut notes = Notes::default();
    match train(
        &exp("disk", Some(bound_gb)),
        &opts(&runs, Some(2)),
        &mut notes,
    ) {
        Err(TrainError::Interrupted(2)) => {}
        other => panic!("expected an interruption after 2 epochs, got {other:?}"),
    }
    assert!(
        notes
            .0
            .iter()
            .any(|n| n.contains("read from the cache per batch")),
        "the bounded run held its frames in RAM: {:?}",
        notes.0
    );
    let disk = resume(&runs.join("disk"), &opts(&runs, None), &mut Quiet).unwrap();
    assert_eq!(metrics(&runs.join("disk")), metrics(&runs.join("ram")));
    assert_eq!((disk.test, disk.best_epoch), (ram.test, ram.best_epoch));
}

#[test]
fn every_network_kind_trains_on_flex() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    for kind in ["cnn", "lstm"] {
        let exp = experiment(kind, &cache, kind, "");
        let mut e = exp.clone();
        e.train.epochs = 2;
        e.segment.policy = ser_experiment::SegmentPolicy::Pad;
        e.segment.frames = 64;
        let s = train(&e, &opts(&runs, None), &mut Quiet).unwrap();
        assert!(
            s.test.n > 0 && s.test.wa.is_finite(),
            "{kind}: {:?}",
            s.test
        );
    }
}

#[test]
fn nan_loss_stops_the_run_and_keeps_the_last_good_epoch() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    // Epoch 1 at lr 5e-3, epoch 2 at 5e27: the weights overflow within two steps.
    let exp = experiment("nan", &cache, "lstm", "");
    let mut e = exp.clone();
    e.train.schedule = ser_experiment::Schedule::Step;
    e.train.step_every = 1;
    e.train.step_gamma = 1e30;
    e.train.grad_clip = 0.0;
    // Caught at the read after the step that overflowed, not at that step itself.
    e.train.sync_every = 4;
    let err = train(&e, &opts(&runs, None), &mut Quiet).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TrainError::NonFinite(_)), "{msg}");
    assert!(
        msg.contains("epoch 2 in steps 1-4") && msg.contains("last good checkpoint (epoch 1)"),
        "{msg}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.join("nan/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["epochs_done"], 1);
    assert_eq!(metrics(&runs.join("nan")).len(), 1);
    assert!(runs.join("nan/model_last.bpk").exists());
}

/// Steps per epoch and the steps (from 1) at which a loss was read, as the trainer reports
/// them.
#[derive(Default)]
struct Steps {
    per_epoch: Vec<usize>,
    done: usize,
    read_at: Vec<Vec<usize>>,
}

impl Observer for Steps {
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, steps: usize) {
        self.per_epoch.push(steps);
        self.read_at.push(Vec::new());
        self.done = 0;
    }
    fn step(&mut self, loss: Option<f64>, _samples_per_s: f64) {
        self.done += 1;
        if loss.is_some_and(f64::is_finite) {
            self.read_at.last_mut().unwrap().push(self.done);
        }
    }
}

#[test]
fn the_training_loop_reads_the_device_once_per_sync_window_and_keeps_the_weights() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let mut every_step = experiment("sync1", &cache, "lstm", "");
    every_step.train.sync_every = 1;
    train(&every_step, &opts(&runs, None), &mut Quiet).unwrap();
    let windowed = experiment("sync3", &cache, "lstm", "");
    let mut w = windowed.clone();
    w.train.sync_every = 3;
    let before = ser_train::device_reads();
    let mut steps = Steps::default();
    train(&w, &opts(&runs, None), &mut steps).unwrap();
    let reads = ser_train::device_reads() - before;
    // Per epoch: one read per 3 steps (the last window may be short) and one validation pass;
    // then the kept model scores validation and test, one read each.
    let expected: usize = steps
        .per_epoch
        .iter()
        .map(|s| s.div_ceil(3) + 1)
        .sum::<usize>()
        + 2;
    assert_eq!(reads, expected, "steps per epoch {:?}", steps.per_epoch);
    assert!(
        steps.per_epoch.iter().all(|&s| s > 3),
        "{:?}",
        steps.per_epoch
    );
    assert_eq!(steps.read_at[0][..2], [3, 6], "{:?}", steps.read_at);
    // Reading less often changes no weight: the same validation figures every epoch, and the
    // training loss up to the f32 sums on the device.
    let (a, b) = (metrics(&runs.join("sync1")), metrics(&runs.join("sync3")));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        for key in ["val_ua", "val_wa", "val_loss"] {
            // A NaN would be written as null in both files: require numbers.
            assert!(
                x[key].as_f64().is_some_and(f64::is_finite),
                "{key}: {}",
                x[key]
            );
            assert_eq!(x[key], y[key], "{key}");
        }
        let (lx, ly) = (
            x["train_loss"].as_f64().unwrap(),
            y["train_loss"].as_f64().unwrap(),
        );
        ser_check::assert_close(lx, ly, 1e-5 * lx.abs(), "train loss");
    }
    // And the runs learned (4 classes: chance UA 0.25).
    let last_ua = b.last().unwrap()["val_ua"].as_f64().unwrap();
    assert!(
        last_ua > 0.5,
        "validation UA {last_ua} after the last epoch"
    );
}

#[test]
fn svm_and_random_forest_baselines_fit_the_functionals() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    for kind in ["svm", "random_forest"] {
        let s = train(
            &experiment(kind, &cache, kind, ""),
            &opts(&runs, None),
            &mut Quiet,
        )
        .unwrap();
        assert!(
            s.test.ua > 0.6,
            "{kind}: test UA {} (chance 0.25)",
            s.test.ua
        );
        assert!(runs.join(kind).join("results.json").exists());
    }
}

/// TensorBoard's own reader (`EventAccumulator`) must load what ser writes: scalars and
/// the confusion-matrix images, with their sizes.
#[test]
fn tensorboard_reads_the_event_files() {
    // Before any child process: a fork while another test has an HDF5 file open hands the
    // child that file's descriptor (HDF5 does not open with O_CLOEXEC) and its lock.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let python = std::env::var("SER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest_dir().join("../../.venv/bin/python"));
    let has_tb = std::process::Command::new(&python)
        .args(["-c", "import tensorboard"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_tb {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: {} cannot import tensorboard; run scripts/setup.sh",
            python.display()
        );
        eprintln!("notice: skipping: no tensorboard in {}", python.display());
        return;
    }
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let mut e = experiment("tb", &cache, "lstm", "");
    e.train.epochs = 2;
    train(&e, &opts(&runs, None), &mut Quiet).unwrap();
    let out = std::process::Command::new(&python)
        .arg(manifest_dir().join("tests/read_tensorboard.py"))
        .arg(runs.join("tb/tb"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let m = metrics(&runs.join("tb"));
    let ua = v["scalars"]["unweighted_accuracy/val"].as_array().unwrap();
    assert_eq!(ua.len(), 2);
    for (i, p) in ua.iter().enumerate() {
        assert_eq!(p[0].as_i64().unwrap(), i as i64 + 1);
        let want = m[i]["val_ua"].as_f64().unwrap();
        ser_check::assert_close(p[1].as_f64().unwrap(), want, 1e-6, "val UA in TensorBoard");
    }
    assert!(v["scalars"]["loss/train"].as_array().unwrap().len() == 2);
    assert!(
        v["scalars"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("recall_val/"))
    );
    let img = &v["images"]["confusion/val"];
    assert_eq!(img.as_array().unwrap().len(), 2);
    assert!(img[0]["width"].as_i64().unwrap() > 100 && img[0]["png_ok"].as_bool().unwrap());
    assert_eq!(v["images"]["confusion/test"].as_array().unwrap().len(), 1);
}

#[test]
fn every_shipped_experiment_file_parses_and_validates() {
    let dir = manifest_dir().join("../../experiments");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let e = Experiment::from_toml(&std::fs::read_to_string(&p).unwrap())
                .and_then(|e| e.validate().map(|_| e))
                .unwrap_or_else(|err| panic!("{}: {err}", p.display()));
            assert!(p.ends_with(format!("{}.toml", e.name.trim_start_matches("synth_"))));
            seen += 1;
        }
    }
    assert!(seen >= 6, "{seen} experiment files in {}", dir.display());
    let mut sweeps = 0;
    for entry in std::fs::read_dir(dir.join("sweeps")).unwrap() {
        let p = entry.unwrap().path();
        let (s, _) = ser_study::Sweep::load(&p, Target::Cpu)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(p.ends_with(format!("{}.toml", s.name)));
        assert!(!s.points().is_empty());
        sweeps += 1;
    }
    assert!(sweeps >= 1);
}

#[test]
fn speaker_kfold_tests_every_clip_once_and_a_killed_cross_validation_resumes_to_the_same_numbers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let cv = |name: &str| {
        let mut e = experiment(name, &cache, "lstm", "");
        e.split.protocol = Protocol::SpeakerKfold;
        e.split.folds = 3;
        e.train.epochs = 2;
        e
    };
    let full = train(&cv("cv"), &opts(&runs, None), &mut Quiet).unwrap();
    let c = full.cv.as_ref().expect("cross-validation results");
    assert_eq!(c.folds.len(), 3);
    let ds = Dataset::load(&cache, &["logmel".to_string()], &[]).unwrap();
    let tested: usize = c.folds.iter().map(|f| f.test.n).sum();
    assert_eq!((tested, full.test.n), (ds.meta.len(), ds.meta.len()));
    let mut speakers: Vec<&String> = c.folds.iter().flat_map(|f| &f.test_speakers).collect();
    speakers.sort();
    speakers.dedup();
    assert_eq!(speakers.len(), 8, "every speaker tested once: {speakers:?}");
    let mean = c.folds.iter().map(|f| f.test.ua).sum::<f64>() / 3.0;
    ser_check::assert_close(c.ua.mean, mean, 1e-12, "mean UA over folds");
    assert!(full.protocol.contains("3-fold"), "{}", full.protocol);
    for f in [
        "folds.json",
        "results.json",
        "confusion_test.png",
        "fold-03/results.json",
    ] {
        assert!(runs.join("cv").join(f).exists(), "{f} missing");
    }

    match train(&cv("cvk"), &opts(&runs, Some(1)), &mut Quiet) {
        Err(TrainError::Interrupted(1)) => {}
        other => panic!("expected an interruption in fold 1, got {other:?}"),
    }
    assert!(!runs.join("cvk/fold-02").exists());
    let resumed = resume(&runs.join("cvk"), &opts(&runs, None), &mut Quiet).unwrap();
    let r = resumed.cv.as_ref().unwrap();
    for (a, b) in r.folds.iter().zip(&c.folds) {
        assert_eq!(
            (a.best_epoch, &a.test),
            (b.best_epoch, &b.test),
            "fold {}",
            a.fold
        );
    }
    assert_eq!(resumed.test, full.test);
}

/// Two toy corpora with a channel difference: the cross-corpus matrix has every cell, the
/// in-corpus cells test held-out speakers only, the other cells every clip of the other
/// corpus, and a killed study resumes to the same matrix.
#[test]
fn cross_corpus_fills_the_matrix_and_leave_one_corpus_out_tests_each_corpus() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("two.h5");
    common::write_corpora(&cache, &[("a", 5, 4, 0.0), ("b", 4, 4, 6.0)]);
    let runs = tmp.path().join("runs");
    let study = |name: &str, protocol: Protocol, model: &str| {
        let mut e = experiment(name, &cache, model, "");
        e.split.protocol = protocol;
        e.train.epochs = 2;
        e
    };
    let s = train(
        &study("xc", Protocol::CrossCorpus, "svm"),
        &opts(&runs, None),
        &mut Quiet,
    )
    .unwrap();
    let m = s.cross_corpus.as_ref().expect("matrix");
    assert_eq!(m.corpora, ["a", "b"]);
    assert_eq!(m.cells.len(), 4, "2 models x 2 corpora");
    let ab = m.cell("a", "b").unwrap();
    assert!(
        !ab.in_corpus && ab.metrics.n == 4 * 4 * 4,
        "every clip of b"
    );
    let aa = m.cell("a", "a").unwrap();
    assert!(
        aa.in_corpus && aa.metrics.n == 16,
        "one held-out speaker of a"
    );
    assert_eq!(s.test.n, 4 * 16 + 5 * 16, "pooled over the cross cells");
    assert!(s.protocol.contains("cross-corpus"), "{}", s.protocol);
    for f in [
        "plan.json",
        "results.json",
        "report.md",
        "ua_matrix.png",
        "ua_matrix.svg",
        "train-a/report.md",
        "train-a/audit.json",
        "train-b/predictions.csv",
    ] {
        assert!(runs.join("xc").join(f).exists(), "{f} missing");
    }
    let report = std::fs::read_to_string(runs.join("xc/report.md")).unwrap();
    assert!(
        report.contains("## Leakage audit") && report.contains("| a |"),
        "{report}"
    );
    let csv = std::fs::read_to_string(runs.join("xc/train-a/predictions.csv")).unwrap();
    let head = csv.lines().next().unwrap();
    assert_eq!(
        head,
        "path,corpus,speaker,true,predicted,p_angry,p_happy,p_neutral,p_sad"
    );
    assert_eq!(csv.lines().count(), 1 + 16 + 64);

    // Leave one corpus out, with a network and a kill after its first epoch.
    match train(
        &study("loco", Protocol::LeaveOneCorpusOut, "cnn"),
        &opts(&runs, Some(1)),
        &mut Quiet,
    ) {
        Err(TrainError::Interrupted(1)) => {}
        other => panic!("expected an interruption, got {other:?}"),
    }
    let l = resume(&runs.join("loco"), &opts(&runs, None), &mut Quiet).unwrap();
    let lm = l.cross_corpus.as_ref().unwrap();
    assert_eq!(lm.cells.len(), 2);
    assert_eq!(lm.cell("all but a", "a").unwrap().metrics.n, 5 * 16);
    assert_eq!(lm.cell("all but b", "b").unwrap().metrics.n, 4 * 16);
    assert!(runs.join("loco/without-b/curves.svg").exists());
}

#[test]
fn random_protocol_is_marked_speaker_dependent_and_reports_predictions() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    let mut e = experiment("rnd", &cache, "random_forest", "");
    e.split.protocol = Protocol::Random;
    let s = train(&e, &opts(&runs, None), &mut Quiet).unwrap();
    assert!(s.protocol.contains("SPEAKER-DEPENDENT"), "{}", s.protocol);
    let report = std::fs::read_to_string(runs.join("rnd/report.md")).unwrap();
    assert!(report.contains("SPEAKER-DEPENDENT") && report.contains("| speakers | train / test |"));
    assert!(s.test_auc.is_some());
    for f in [
        "roc_test.svg",
        "recall_test.png",
        "confusion_test.svg",
        "metrics.json",
    ] {
        assert!(runs.join("rnd").join(f).exists(), "{f}");
    }
    // `ser run` semantics: the same experiment continues (here: refits to the same numbers),
    // another one in the same folder is refused with the key that differs.
    let again = ser_study::run_or_resume(&e, &opts(&runs, None), &mut Quiet).unwrap();
    assert_eq!(again.test, s.test);
    e.model.random_forest.trees += 1;
    let err = ser_study::run_or_resume(&e, &opts(&runs, None), &mut Quiet).unwrap_err();
    assert!(
        err.to_string().contains("model.random_forest.trees is"),
        "{err}"
    );
}

/// A sweep skips finished points, lists a failing one and goes on; two shards and a collect
/// give the summary of the whole sweep; a sweep killed inside a point resumes that point
/// without re-running the finished ones.
#[test]
fn sweeps_resume_list_failures_and_shards_collect_to_the_unsharded_summary() {
    use ser_study::{PointStatus, Sweep, run_sweep};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let base = tmp.path().join("base.toml");
    std::fs::write(
        &base,
        experiment("base", &cache, "svm", "").to_toml().as_bytes(),
    )
    .unwrap();
    let sweep_file = tmp.path().join("sweep.toml");
    std::fs::write(
        &sweep_file,
        "name = \"sw\"\nbase = \"base.toml\"\n[grid]\n\"model.svm.c\" = [0.5, 2, -1.0]\n\"split.seed\" = [0, 1]\n",
    )
    .unwrap();
    let (sweep, base_exp) = Sweep::load(&sweep_file, Target::Cpu).unwrap();
    let (whole, sharded) = (tmp.path().join("a"), tmp.path().join("b"));
    let all = run_sweep(
        &sweep,
        &base_exp,
        &opts(&whole, None),
        None,
        false,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(all.points.len(), 6);
    let failed: Vec<&str> = all
        .points
        .iter()
        .filter(|p| matches!(&p.status, PointStatus::Failed(e) if e.contains("c > 0")))
        .map(|p| p.point.id.as_str())
        .collect();
    assert_eq!(
        failed,
        ["p005", "p006"],
        "the c = -1 points fail, the rest run"
    );
    assert!(all.points[..4].iter().all(|p| p.status == PointStatus::Ran));
    let summary = std::fs::read_to_string(whole.join("sw/summary.csv")).unwrap();
    let uas: Vec<f64> = summary
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3).and_then(|v| v.parse().ok()))
        .collect();
    assert_eq!(uas.len(), 4);
    assert!(
        uas.windows(2).all(|w| w[0] >= w[1]),
        "sorted by UA: {uas:?}"
    );

    let again = run_sweep(
        &sweep,
        &base_exp,
        &opts(&whole, None),
        None,
        false,
        &mut Quiet,
    )
    .unwrap();
    assert!(
        again.points[..4]
            .iter()
            .all(|p| p.status == PointStatus::Done)
    );

    for i in 1..=2 {
        let r = run_sweep(
            &sweep,
            &base_exp,
            &opts(&sharded, None),
            Some((i, 2)),
            false,
            &mut Quiet,
        )
        .unwrap();
        let ran = r
            .points
            .iter()
            .filter(|p| p.status == PointStatus::Ran)
            .count();
        assert_eq!(ran, 2, "shard {i}/2 runs its finished-able points only");
    }
    let collected = run_sweep(
        &sweep,
        &base_exp,
        &opts(&sharded, None),
        None,
        true,
        &mut Quiet,
    )
    .unwrap();
    assert!(
        collected
            .points
            .iter()
            .all(|p| p.status != PointStatus::Ran)
    );
    let merged = std::fs::read_to_string(sharded.join("sw/summary.csv")).unwrap();
    assert_eq!(
        merged, summary,
        "two shards + collect = one unsharded sweep"
    );

    // A network sweep killed in its second point.
    let net = tmp.path().join("net.toml");
    let mut e = experiment("net", &cache, "cnn", "");
    e.train.epochs = 2;
    std::fs::write(&net, e.to_toml().as_bytes()).unwrap();
    let nsweep = tmp.path().join("nsweep.toml");
    std::fs::write(
        &nsweep,
        "name = \"nsw\"\nbase = \"net.toml\"\n[grid]\n\"train.epochs\" = [2, 3]\n",
    )
    .unwrap();
    let (ns, nb) = Sweep::load(&nsweep, Target::Cpu).unwrap();
    match run_sweep(&ns, &nb, &opts(&whole, Some(2)), None, false, &mut Quiet) {
        Err(TrainError::Interrupted(2)) => {}
        Err(other) => panic!("expected a kill in p002, got {other}"),
        Ok(_) => panic!("expected a kill in p002, got a finished sweep"),
    }
    let first = whole.join("nsw/p001/results.json");
    let before = std::fs::metadata(&first).unwrap().modified().unwrap();
    let r = run_sweep(&ns, &nb, &opts(&whole, None), None, false, &mut Quiet).unwrap();
    assert_eq!(r.points[0].status, PointStatus::Done);
    assert_eq!(r.points[1].status, PointStatus::Ran);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        before
    );
    let lines = std::fs::read_to_string(whole.join("nsw/p002/metrics.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        3,
        "resumed at epoch 3, not restarted"
    );
}
