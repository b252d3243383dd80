//! Training runs end to end on the flex backend: the loss falls, a killed run resumes to the
//! same numbers, NaN stops a run and keeps the last good epoch, baselines fit, and
//! TensorBoard's own reader loads the event files.

mod common;

use std::path::{Path, PathBuf};

use ser_train::{Dataset, Experiment, Protocol, Quiet, RunOptions, TrainError, resume, train};

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

fn opts(dir: &Path, stop_after: Option<usize>) -> RunOptions {
    RunOptions {
        runs_dir: dir.to_path_buf(),
        device: burn::backend::FlexDevice.into(),
        device_name: "flex".into(),
        stop_after,
    }
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

#[test]
fn every_network_kind_trains_on_flex() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, cache) = cache();
    let runs = tmp.path().join("runs");
    for kind in ["cnn", "lstm"] {
        let exp = experiment(kind, &cache, kind, "");
        let mut e = exp.clone();
        e.train.epochs = 2;
        e.segment.policy = ser_train::SegmentPolicy::Pad;
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
    e.train.schedule = ser_train::Schedule::Step;
    e.train.step_every = 1;
    e.train.step_gamma = 1e30;
    e.train.grad_clip = 0.0;
    let err = train(&e, &opts(&runs, None), &mut Quiet).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TrainError::NonFinite(_)), "{msg}");
    assert!(
        msg.contains("epoch 2") && msg.contains("last good checkpoint (epoch 1)"),
        "{msg}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.join("nan/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["epochs_done"], 1);
    assert_eq!(metrics(&runs.join("nan")).len(), 1);
    assert!(runs.join("nan/model_last.bpk").exists());
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
        assert!((p[1].as_f64().unwrap() - want).abs() < 1e-6);
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
    assert!((c.ua.mean - mean).abs() < 1e-12);
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
