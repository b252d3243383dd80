//! `ser run` / `ser train`: training on the fly from audio, and the cross-corpus study with
//! its leakage audit.

use std::path::Path;
use std::process::Command;

use crate::python::python_with;
use crate::support::{extract_synth, features, repo, run, ser, synth_tiny, text};

#[test]
fn on_the_fly_training_recomputes_the_cached_features_and_refuses_changed_audio() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let cache = d.path().join("cache.h5");
    let o = run(&mut extract_synth(
        &synth,
        &cache,
        &[],
        &["--device", "cpu"],
    ));
    assert!(o.status.success(), "{}", text(&o));

    // Unaugmented, the audio path gives exactly the cached frames (same cleaning, same
    // extractor), so training on the fly and evaluating on the cache see one feature space.
    // With no memory allowed, frames come from the cache per clip (two arrays interleaved)
    // and the audio from a spill file: the same values.
    let frames = ["mfcc".to_string(), "logmel_delta".to_string()];
    let ds = ser_experiment::Dataset::load_caches(std::slice::from_ref(&cache), &frames, &[], 0)
        .unwrap();
    assert!(!ds.frames.is_in_ram());
    let some: Vec<usize> = (0..ds.meta.len()).step_by(7).collect();
    let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
    let w = ser_experiment::Waveforms::load(&cache, &ds, &some, &frames, &flex, 0).unwrap();
    assert!(!w.is_in_ram());
    let audio: Vec<Vec<f32>> = some.iter().map(|&i| w.audio(i).to_vec()).collect();
    for (f, &i) in w.features(&audio).iter().zip(&some) {
        assert_eq!(f[..], *ds.frames.get(i), "{}", ds.meta[i].path);
    }
    // On a GPU device the kernels compute them, within the kernels' tested tolerance.
    if let Some(gpu) = ser_check::wgpu_or_opt_out(ser_kernels::probe_wgpu()) {
        let w =
            ser_experiment::Waveforms::load(&cache, &ds, &some, &frames, &gpu, u64::MAX).unwrap();
        assert!(w.is_in_ram());
        assert!(w.describe.starts_with("wgpu"), "{}", w.describe);
        for (f, &i) in w.features(&audio).iter().zip(&some) {
            let what = format!("{}: wgpu vs cache", ds.meta[i].path);
            ser_check::assert_all_close(f, &ds.frames.get(i), 2e-3, what);
        }
    }

    // Waveform gain / noise / speed on MFCC frames: refused from the cache, fine on the fly.
    let exp = |name: &str, on_the_fly: bool| {
        let p = d.path().join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "name = \"{name}\"\n[data]\ncache = \"{}\"\nframes = [\"mfcc\"]\non_the_fly = {on_the_fly}\n\
                 [split]\ntest_speakers = 0.25\nval_speakers = 0.25\n[segment]\nframes = 120\n\
                 [model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 16\nlayers = 1\n[model.head]\nhidden = []\n\
                 [train]\nepochs = 2\nbatch_size = 16\n\
                 [augment]\ngain_db = [-6.0, 6.0]\nnoise_snr_db = [10.0, 30.0]\nnoise_prob = 0.5\nspeed = [0.9, 1.1]\n",
                cache.display()
            ),
        )
        .unwrap();
        let mut c = ser();
        c.arg("train")
            .arg(&p)
            .arg("--runs")
            .arg(d.path().join("runs"));
        run(&mut c)
    };
    let o = exp("cached", false);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("augment.gain_db"), "{}", text(&o));
    let o = exp("fly", true);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("on-the-fly features"), "{}", text(&o));
    let results = d.path().join("runs/fly/results.json");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(r.to_string().contains("speaker-independent"), "{r}");

    // A training clip's file replaced after extraction (the split is the same for every run
    // of this cache and seed): refused, naming the file and the fix.
    let split: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("runs/fly/split.json")).unwrap(),
    )
    .unwrap();
    let victim = split["train"][0].as_str().unwrap().to_string();
    let vhash = &ds
        .meta
        .iter()
        .find(|m| m.path == victim)
        .unwrap()
        .content_hash;
    let other = ds.meta.iter().find(|m| m.content_hash != *vhash).unwrap();
    std::fs::copy(&other.path, &victim).unwrap();
    let o = exp("changed", true);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains(&victim)
            && t.contains("changed since the cache was built")
            && t.contains("ser extract"),
        "{t}"
    );
}

/// Linear-interpolation resampling: a re-encoding by another method than ser's own.
fn reencode(src: &Path, dst: &Path, rate: u32) {
    let d = ser_audio::decode_file(src).unwrap();
    assert_eq!(d.channels, 1);
    let ratio = d.sample_rate as f64 / rate as f64;
    let n = (d.samples.len() as f64 / ratio) as usize;
    let y: Vec<f32> = (0..n)
        .map(|i| {
            let x = i as f64 * ratio;
            let (k, f) = (x as usize, (x - x.floor()) as f32);
            let a = d.samples[k];
            let b = *d.samples.get(k + 1).unwrap_or(&a);
            a + (b - a) * f
        })
        .collect();
    ser_audio::write_wav_i16(dst, &y, rate).unwrap();
}

/// The shipped SUPERB-head experiment runs with `ser run` (tiny corpora, the tiny random
/// WavLM of its feature config): the cache is extracted from the encoder, the head trains,
/// `ser export` writes it with frames in, and onnxruntime gives the probabilities the run
/// wrote for its test clips; scoring audio with it is refused by name.
#[test]
fn the_shipped_ssl_head_experiment_runs_and_exports_with_the_same_probabilities() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let features = d.path().join("ssl_features.toml");
    let shipped =
        std::fs::read_to_string(repo().join("experiments/features/ssl_tiny_synthetic.toml"))
            .unwrap()
            .replace(
                "\"tests/golden/ssl/wavlm_base\"",
                &format!(
                    "{:?}",
                    repo()
                        .join("tests/golden/ssl/wavlm_base")
                        .display()
                        .to_string()
                ),
            );
    std::fs::write(&features, shipped).unwrap();
    let cache = d.path().join("cache.h5");
    let exp = std::fs::read_to_string(repo().join("experiments/ssl_head.toml"))
        .unwrap()
        .replace("data/cache/synth_ssl_tiny.h5", &cache.display().to_string())
        .replace("data/synth", &synth.display().to_string())
        .replace(
            "experiments/features/ssl_tiny_synthetic.toml",
            &features.display().to_string(),
        );
    let file = d.path().join("ssl_head.toml");
    std::fs::write(&file, exp).unwrap();
    let runs = d.path().join("runs");
    let o = run(ser().arg("run").arg(&file).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let model = runs.join("synth_ssl_head");
    let onnx = d.path().join("head.onnx");
    let o = run(ser().arg("export").arg(&model).arg("--out").arg(&onnx));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(ser().arg("predict").arg(&model).arg(synth.join("ravdess")));
    assert!(
        !o.status.success() && text(&o).contains("[ssl]"),
        "{}",
        text(&o)
    );

    let Some(py) = python_with(&repo(), "h5py, numpy, onnxruntime") else {
        return;
    };
    // Each test clip's cached states, its centre 200 frames as ser evaluates it.
    let script = r#"
import csv, sys, h5py, numpy as np, onnxruntime as ort
sess = ort.InferenceSession(sys.argv[2])
name = sess.get_inputs()[0].name
rows = list(csv.DictReader(open(sys.argv[3])))
with h5py.File(sys.argv[1], "r") as f:
    c = f["clips"]
    where = {p: i for i, p in enumerate(c["path"].asstr()[:])}
    off, n = c["frame_offset"][:], c["n_frames"][:]
    worst = 0.0
    for r in rows:
        i = where[r["path"]]
        x = f["frames/ssl"][off[i]:off[i] + n[i]]
        if len(x) > 200:
            s = (len(x) - 200) // 2
            x = x[s:s + 200]
        p = sess.run(None, {name: x[None].astype(np.float32)})[0][0]
        want = np.array([float(v) for k, v in r.items() if k.startswith("p_")])
        worst = max(worst, float(np.abs(p - want).max()))
    assert np.isfinite(worst) and worst <= 1e-4, worst
    print("ok", len(rows), "clips, worst", worst)
"#;
    let o = Command::new(py)
        .args(["-c", script])
        .arg(&cache)
        .arg(&onnx)
        .arg(model.join("predictions.csv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "onnxruntime check failed: {}", text(&o));
}

/// The shipped cross-corpus study runs with `ser run` (on the tiny corpora here) and writes
/// the matrix, the heatmap, the audit and report.md; the audit then refuses a clip of a test
/// speaker copied into a training speaker's folder, re-encoded at another sample rate, and
/// byte for byte.
#[test]
fn ser_run_writes_the_cross_corpus_study_and_the_audit_refuses_injected_copies() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let study = std::fs::read_to_string(repo().join("experiments/cross_corpus_synth.toml"))
        .unwrap()
        .replace(
            "data/cache/synth_logmel16k.h5",
            &d.path().join("cache.h5").display().to_string(),
        )
        .replace("data/synth", &synth.display().to_string())
        .replace(
            "experiments/features/logmel_16k.toml",
            &features().display().to_string(),
        );
    let file = d.path().join("study.toml");
    std::fs::write(&file, study).unwrap();
    let runs = d.path().join("runs");
    let o = run(ser().arg("run").arg(&file).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("trained on (rows) x tested on (columns)"), "{t}");
    let dir = runs.join("cross_corpus_synth");
    for f in [
        "report.md",
        "ua_matrix.png",
        "ua_matrix.svg",
        "results.json",
        "train-synth_ravdess/audit.json",
        "train-synth_cremad/predictions.csv",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for part in [
        "## Leakage audit (every model)",
        "| synth_ravdess |",
        "## Test UA, trained on (rows) x tested on (columns)",
        "standardized per corpus",
    ] {
        assert!(report.contains(part), "{part} not in\n{report}");
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["cross_corpus"]["cells"].as_array().unwrap().len(), 4);
    // Running it again finds the finished study and only rewrites the report.
    let o = run(ser().arg("run").arg(&file).arg("--runs").arg(&runs));
    assert!(
        o.status.success() && !text(&o).contains("model 1 of 2"),
        "{}",
        text(&o)
    );

    // Leakage: actor 01 is the test speaker; one of their clips reaches training.
    let rav = synth.join("ravdess");
    let source = rav.join("Actor_01/03-01-05-01-01-01-01.wav");
    let holdout = |name: &str, cache: &Path| {
        let p = d.path().join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "name = \"{name}\"\n[data]\ncache = \"{}\"\nframes = []\ncorpora = [\"{}\"]\nfeatures = \"{}\"\n\
                 [split]\ntest_list = [\"synth_ravdess/01\"]\nval_list = [\"synth_ravdess/04\"]\n\
                 [model]\nkind = \"random_forest\"\n",
                cache.display(),
                rav.display(),
                features().display()
            ),
        )
        .unwrap();
        run(ser().arg("run").arg(&p).arg("--runs").arg(&runs))
    };
    let o = holdout("clean", &d.path().join("clean.h5"));
    assert!(o.status.success(), "{}", text(&o));
    let reencoded = rav.join("Actor_03/03-01-05-01-02-01-03.wav");
    reencode(&source, &reencoded, 22_050);
    let o = holdout("reencoded", &d.path().join("reencoded.h5"));
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("re-encoded copies") && t.contains("train / test"),
        "{t}"
    );
    for clip in [
        "Actor_01/03-01-05-01-01-01-01.wav",
        "Actor_03/03-01-05-01-02-01-03.wav",
    ] {
        assert!(t.contains(clip), "{clip} not named: {t}");
    }
    std::fs::copy(&source, rav.join("Actor_02/03-01-05-01-01-01-02.wav")).unwrap();
    let o = holdout("copied", &d.path().join("copied.h5"));
    let t = text(&o);
    assert!(!o.status.success() && t.contains("identical audio"), "{t}");
    assert!(t.contains("Actor_02/03-01-05-01-01-01-02.wav"), "{t}");
}

/// What a study's results say, without the folders they were written in.
fn figures(results: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    serde_json::json!({ "test": v["test"], "matrix": v["cross_corpus"]["cells"] })
}

#[test]
fn caches_compose_one_per_corpus_and_adding_a_corpus_extracts_only_its_cache() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let (rav, cre) = (synth.join("ravdess"), synth.join("cremad"));
    let exp = |name: &str, caches: &[&str], corpora: &[&Path], protocol: &str| {
        let quote = |v: Vec<String>| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>();
        let caches = quote(
            caches
                .iter()
                .map(|c| d.path().join(c).display().to_string())
                .collect(),
        );
        let corpora = quote(corpora.iter().map(|c| c.display().to_string()).collect());
        let path = d.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"{name}\"\n[data]\ncache = [{}]\nframes = []\ncorpora = [{}]\nfeatures = \"{}\"\n\
                 [split]\nprotocol = \"{protocol}\"\n[model]\nkind = \"svm\"\n",
                caches.join(", "),
                corpora.join(", "),
                features().display()
            ),
        )
        .unwrap();
        path
    };
    let runs = d.path().join("runs");
    let ser_run = |e: &Path| {
        let o = run(ser().arg("run").arg(e).arg("--runs").arg(&runs));
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    // One corpus, its own cache.
    ser_run(&exp("one", &["rav.h5"], &[&rav], "holdout"));
    let rav_cache = d.path().join("rav.h5");
    let before = (
        std::fs::read(&rav_cache).unwrap(),
        std::fs::metadata(&rav_cache).unwrap().modified().unwrap(),
    );
    // A second corpus in a second cache: only that one is extracted, the first is untouched.
    let out = ser_run(&exp(
        "two",
        &["cre.h5", "rav.h5"],
        &[&cre, &rav],
        "cross_corpus",
    ));
    let extracted: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("extracting features into"))
        .collect();
    assert_eq!(extracted.len(), 1, "{out}");
    assert!(extracted[0].ends_with("cre.h5"), "{out}");
    let after = (
        std::fs::read(&rav_cache).unwrap(),
        std::fs::metadata(&rav_cache).unwrap().modified().unwrap(),
    );
    assert!(before == after, "adding a corpus rewrote rav.h5");
    // The study on the two caches equals the one on a single cache holding both corpora.
    ser_run(&exp("both", &["both.h5"], &[&cre, &rav], "cross_corpus"));
    assert_eq!(
        figures(&runs.join("two/results.json")),
        figures(&runs.join("both/results.json")),
        "two caches and one cache of the same corpora give different studies"
    );
    // Caches that share a corpus are refused, naming both.
    let o = run(ser()
        .arg("run")
        .arg(exp("dup", &["rav.h5", "both.h5"], &[&rav, &cre], "holdout"))
        .arg("--runs")
        .arg(&runs));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is in both") && text(&o).contains("rav.h5"),
        "{}",
        text(&o)
    );
}
