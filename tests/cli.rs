//! End-to-end tests of the `ser` binary, as a user runs it: synthetic corpus → cache → h5py,
//! bad input, kill and resume, config mixing, help texts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ser_cache::Cache;
use ser_check::assert_close;

#[path = "support/paths.rs"]
mod paths;
#[path = "support/python.rs"]
mod python;
use python::python_with;
#[path = "support/cli.rs"]
mod support;
use support::{extract_synth, features, read_csv, repo, run, ser, synth_tiny, text};

/// Python with h5py (see tests/support/python.rs).
fn python_with_h5py() -> Option<PathBuf> {
    python_with(&repo(), "h5py, numpy")
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["synth", "--help"],
        vec!["corpus", "inspect", "--help"],
        vec!["extract", "--help"],
        vec!["features", "show", "--help"],
        vec!["cache", "info", "--help"],
        vec!["train", "--help"],
        vec!["run", "--help"],
        vec!["sweep", "--help"],
        vec!["predict", "--help"],
        vec!["stream", "--help"],
    ] {
        let o = run(ser().args(&args));
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage: ser"),
            "{args:?}"
        );
    }
    let o = run(ser().args(["extract", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Exit status"));
    let o = run(ser().args(["sweep", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SLURM_ARRAY_TASK_ID"));
}

#[test]
fn synth_then_extract_gives_a_cache_h5py_reads_with_correct_labels_and_speakers() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let o = run(ser().args(["corpus", "inspect"]).arg(synth.join("ravdess")));
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("corpus synth_ravdess (ravdess layout)") && t.contains("240 clips, 4 speakers"),
        "{t}"
    );
    assert!(t.contains("duplicates: none"), "{t}");

    let cache = d.path().join("cache.h5");
    let o = run(&mut extract_synth(&synth, &cache, &[], &[]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("328 clips (328 extracted, 0 reused)"),
        "{}",
        text(&o)
    );

    // The synthetic corpus is learnable but not separable by loudness alone: a ridge
    // classifier on the functionals, leave-one-speaker-out.
    let c = Cache::open(&cache).unwrap();
    let names = &c.header.functional_names;
    let func = c.functionals().unwrap();
    let rav: Vec<usize> = (0..c.clips.len())
        .filter(|&i| c.clips[i].corpus == "synth_ravdess")
        .collect();
    let all: Vec<usize> = (0..names.len()).collect();
    let loud: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("rms_"))
        .map(|(i, _)| i)
        .collect();
    let ua_all = ridge_loso_ua(&c, &func, names.len(), &rav, &all);
    let ua_loud = ridge_loso_ua(&c, &func, names.len(), &rav, &loud);
    eprintln!(
        "synthetic RAVDESS-layout corpus, LOSO ridge classifier: UA {ua_all:.3} with all functionals, {ua_loud:.3} with loudness only (chance 0.125)"
    );
    assert!(ua_all > 0.3, "not learnable: UA {ua_all}");
    assert!(
        ua_loud < 0.3 && ua_loud + 0.1 < ua_all,
        "loudness alone separates too well: {ua_loud} vs {ua_all}"
    );

    let Some(py) = python_with_h5py() else { return };
    let script = r#"
import sys, h5py, json
with h5py.File(sys.argv[1], "r") as f:
    c = f["clips"]
    off, n = c["frame_offset"][:], c["n_frames"][:]
    rows = []
    for i, (p, corpus, spk, g, lab) in enumerate(zip(*(c[k].asstr()[:] for k in ["path", "corpus", "speaker", "gender", "label"]))):
        x = f["frames/logmel"][off[i]:off[i] + n[i]]
        rows.append([p, corpus, spk, g, lab, list(x.shape)])
    print(json.dumps({"rows": rows, "hash": f.attrs["feature_config_hash"], "func": list(f["functionals"].shape)}))
"#;
    let o = Command::new(py)
        .args(["-c", script])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "h5py failed: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 328);
    assert_eq!(v["func"][0], 328);
    let ravdess = [
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
    ];
    let cremad = [
        ("ANG", "angry"),
        ("DIS", "disgust"),
        ("FEA", "fearful"),
        ("HAP", "happy"),
        ("NEU", "neutral"),
        ("SAD", "sad"),
    ];
    for r in rows {
        let (path, corpus, speaker, gender, label) = (
            r[0].as_str().unwrap(),
            r[1].as_str().unwrap(),
            r[2].as_str().unwrap(),
            r[3].as_str().unwrap(),
            r[4].as_str().unwrap(),
        );
        let stem = Path::new(path).file_stem().unwrap().to_str().unwrap();
        assert_eq!(r[5][1], 64, "{path}");
        assert!(r[5][0].as_u64().unwrap() > 10, "{path}");
        match corpus {
            "synth_ravdess" => {
                let f: Vec<&str> = stem.split('-').collect();
                assert_eq!(label, ravdess[f[2].parse::<usize>().unwrap() - 1], "{path}");
                assert_eq!(speaker, f[6], "{path}");
                let male = f[6].parse::<u32>().unwrap() % 2 == 1;
                assert_eq!(gender, if male { "male" } else { "female" }, "{path}");
            }
            "synth_cremad" => {
                let f: Vec<&str> = stem.split('_').collect();
                assert_eq!(
                    label,
                    cremad.iter().find(|(c, _)| *c == f[2]).unwrap().1,
                    "{path}"
                );
                assert_eq!(speaker, f[0], "{path}");
            }
            other => panic!("unexpected corpus {other}"),
        }
    }
}

/// Unweighted accuracy of a ridge classifier (least squares onto one-hot labels, features
/// standardised on the training speakers, alpha 10) with leave-one-speaker-out over
/// `clips`, using `cols` of the functionals matrix.
fn ridge_loso_ua(c: &Cache, func: &[f32], k: usize, clips: &[usize], cols: &[usize]) -> f64 {
    let x = |i: usize, j: usize| func[i * k + cols[j]] as f64;
    let d = cols.len() + 1; // + bias
    let mut speakers: Vec<&str> = clips.iter().map(|&i| c.clips[i].speaker.as_str()).collect();
    speakers.sort();
    speakers.dedup();
    let mut labels: Vec<&str> = clips.iter().map(|&i| c.clips[i].label.as_str()).collect();
    labels.sort();
    labels.dedup();
    let label_of = |i: usize| labels.iter().position(|l| *l == c.clips[i].label).unwrap();
    let (mut hits, mut totals) = (vec![0usize; labels.len()], vec![0usize; labels.len()]);
    for test in &speakers {
        let train: Vec<usize> = clips
            .iter()
            .copied()
            .filter(|&i| c.clips[i].speaker != *test)
            .collect();
        let n = train.len() as f64;
        let mean: Vec<f64> = (0..cols.len())
            .map(|j| train.iter().map(|&i| x(i, j)).sum::<f64>() / n)
            .collect();
        let sd: Vec<f64> = (0..cols.len())
            .map(|j| {
                (train
                    .iter()
                    .map(|&i| (x(i, j) - mean[j]).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt()
                    .max(1e-9)
            })
            .collect();
        let z = |i: usize| {
            let mut v: Vec<f64> = (0..cols.len())
                .map(|j| (x(i, j) - mean[j]) / sd[j])
                .collect();
            v.push(1.0);
            v
        };
        // Normal equations [X^T X + alpha I | X^T Y], solved by Gauss-Jordan elimination.
        let m = labels.len();
        let mut a = vec![vec![0.0f64; d + m]; d];
        for &i in &train {
            let v = z(i);
            for r in 0..d {
                for s in 0..d {
                    a[r][s] += v[r] * v[s];
                }
                a[r][d + label_of(i)] += v[r];
            }
        }
        for (r, row) in a.iter_mut().enumerate().take(d - 1) {
            row[r] += 10.0;
        }
        for col in 0..d {
            let piv = (col..d)
                .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
                .unwrap();
            a.swap(col, piv);
            let div = a[col][col];
            a[col].iter_mut().for_each(|v| *v /= div);
            for r in 0..d {
                if r != col {
                    let f = a[r][col];
                    if f != 0.0 {
                        for s in col..d + m {
                            a[r][s] -= f * a[col][s];
                        }
                    }
                }
            }
        }
        for &i in clips.iter().filter(|&&i| c.clips[i].speaker == *test) {
            let v = z(i);
            let score = |l: usize| (0..d).map(|r| v[r] * a[r][d + l]).sum::<f64>();
            let pred = (0..m)
                .max_by(|&p, &q| score(p).total_cmp(&score(q)))
                .unwrap();
            let truth = label_of(i);
            totals[truth] += 1;
            hits[truth] += usize::from(pred == truth);
        }
    }
    hits.iter()
        .zip(&totals)
        .map(|(h, t)| *h as f64 / *t as f64)
        .sum::<f64>()
        / labels.len() as f64
}

#[test]
fn bad_files_are_listed_and_the_exit_status_says_so() {
    let d = tempfile::tempdir().unwrap();
    let actor = d.path().join("corpus/Actor_01");
    std::fs::create_dir_all(&actor).unwrap();
    let tone: Vec<f32> = (0..24_000)
        .map(|i| 0.3 * (i as f32 * 0.07).sin() * ((i / 4000) % 2) as f32)
        .collect();
    for good in [
        "03-01-05-01-01-01-01.wav",
        "03-01-04-02-02-01-01.wav",
        "03-01-03-01-01-02-01.wav",
    ] {
        ser_audio::write_wav_i16(&actor.join(good), &tone, 16_000).unwrap();
    }
    let full = std::fs::read(actor.join("03-01-05-01-01-01-01.wav")).unwrap();
    std::fs::write(
        actor.join("03-01-06-01-01-01-01.wav"),
        &full[..full.len() / 3],
    )
    .unwrap();
    std::fs::write(actor.join("03-01-07-01-01-01-01.wav"), b"").unwrap();
    ser_audio::write_wav_f32(
        &actor.join("03-01-08-01-01-01-01.wav"),
        &vec![f32::NAN; 1000],
        16_000,
    )
    .unwrap();
    std::fs::write(
        actor.join("03-01-02-01-01-01-01.wav"),
        "not audio at all\n".repeat(20),
    )
    .unwrap();
    ser_audio::write_wav_i16(&actor.join("take_2_final.wav"), &tone, 16_000).unwrap();

    let cache = d.path().join("c.h5");
    let o = run(ser()
        .arg("extract")
        .arg("--corpus")
        .arg(format!("ravdess={}", d.path().join("corpus").display()))
        .arg("--features")
        .arg(features())
        .arg("--out")
        .arg(&cache));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("5 files skipped"), "{t}");
    for (file, why) in [
        ("03-01-06-01-01-01-01.wav", "truncated"),
        ("03-01-07-01-01-01-01.wav", "empty"),
        ("03-01-08-01-01-01-01.wav", "NaN"),
        ("03-01-02-01-01-01-01.wav", "not a recognised audio format"),
        ("take_2_final.wav", "does not follow the RAVDESS convention"),
    ] {
        let line = t
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not listed:\n{t}"));
        assert!(line.contains(why), "{file}: {line}");
    }
    let c = Cache::open(&cache).unwrap();
    assert_eq!(c.clips.len(), 3);
    assert_eq!(c.skipped.len(), 5);
}

#[test]
fn killed_extraction_resumes_to_the_same_cache_as_an_uninterrupted_run() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let args = |out: &Path| extract_synth(&synth, out, &["--threads", "1"], &["--batch", "8"]);
    let whole = d.path().join("whole.h5");
    let o = run(&mut args(&whole));
    assert!(o.status.success(), "{}", text(&o));

    let out = d.path().join("killed.h5");
    let parts = d.path().join("killed.h5.parts");
    let mut child = args(&out)
        .env("SER_TEST_BATCH_DELAY_MS", "150")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let shards = || {
        std::fs::read_dir(&parts)
            .map(|r| {
                r.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".h5"))
                    .count()
            })
            .unwrap_or(0)
    };
    while shards() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "extraction never produced shards"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "extraction finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no clean-up runs
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run must not leave a cache file");

    let o = run(&mut args(&out));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("resuming an interrupted extraction"),
        "{}",
        text(&o)
    );
    assert!(!parts.exists());
    let diff = Cache::open(&whole)
        .unwrap()
        .diff(&Cache::open(&out).unwrap())
        .unwrap();
    assert_eq!(
        diff, None,
        "resumed cache differs from the uninterrupted one"
    );
}

#[test]
fn configs_never_mix_and_bad_configs_name_the_key() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let cache = d.path().join("c.h5");
    let extract = |features: &Path| {
        run(ser()
            .args(["extract", "--corpus"])
            .arg(synth.join("cremad"))
            .arg("--features")
            .arg(features)
            .arg("--out")
            .arg(&cache))
    };
    assert!(extract(&features()).status.success());
    let o = extract(&repo().join("experiments/features/librosa_default.toml"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--overwrite") && text(&o).contains("does not mix"),
        "{}",
        text(&o)
    );

    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[mel]\nn_mel = 64\n").unwrap();
    let o = extract(&bad);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("n_mel") && text(&o).contains("bad.toml"),
        "{}",
        text(&o)
    );

    let o = run(ser()
        .args(["extract", "--corpus", "ravdess=/no/such/folder", "--out"])
        .arg(&cache));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no such file or folder"), "{}", text(&o));
}

/// Largest absolute difference between two caches' frame arrays `name` (NaN: infinite).
fn max_frame_diff(a: &Cache, b: &Cache, name: &str) -> f64 {
    let rows: usize = a.clips.iter().map(|c| c.n_frames as usize).sum();
    let (x, y) = (
        a.frame_rows(name, 0, rows).unwrap(),
        b.frame_rows(name, 0, rows).unwrap(),
    );
    assert_eq!(x.len(), y.len(), "{name}: sizes differ");
    ser_check::max_abs_diff(&x, &y).error
}

#[test]
fn extract_on_wgpu_gives_the_cpu_cache_and_devices_are_chosen_with_reasons() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let (cpu, gpu) = (d.path().join("cpu.h5"), d.path().join("gpu.h5"));
    let o = run(&mut extract_synth(&synth, &cpu, &[], &["--device", "cpu"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("features on: cpu"), "{}", text(&o));

    // Small device batches, so that one extraction batch spans several launches.
    let o = run(&mut extract_synth(
        &synth,
        &gpu,
        &[],
        &["--device", "wgpu", "--device-batch-seconds", "5"],
    ));
    if !o.status.success()
        && std::env::var_os("CI").is_none()
        && text(&o).contains("no wgpu device")
    {
        eprintln!(
            "notice: no wgpu adapter here, GPU half skipped: {}",
            text(&o)
        );
    } else {
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("features on: wgpu"), "{}", text(&o));
        let (a, b) = (Cache::open(&cpu).unwrap(), Cache::open(&gpu).unwrap());
        assert_eq!(
            a.clips, b.clips,
            "clip metadata must not depend on the device"
        );
        assert_eq!(a.functionals().unwrap(), b.functionals().unwrap());
        // Each cache says where it was computed (one device each here).
        let on = |c: &Cache| c.header.computed_on.clone();
        assert!(
            matches!(&on(&a)[..], [d] if d.starts_with("cpu")),
            "{:?}",
            on(&a)
        );
        assert!(
            matches!(&on(&b)[..], [d] if d.starts_with("wgpu")),
            "{:?}",
            on(&b)
        );
        // Each side is within 1e-3 dB of the f64 reference (kernels/tests/stages.rs).
        for (name, tol) in [("logmel", 2e-3), ("mfcc", 2e-3), ("logmel_delta", 1e-3)] {
            let err = max_frame_diff(&a, &b, name);
            assert!(err <= tol, "{name}: wgpu vs cpu differ by {err} > {tol}");
        }
    }

    // A config the kernels lack: refused on an explicit device, CPU fallback on auto.
    let odd = d.path().join("n_fft_400.toml");
    std::fs::write(&odd, "frames = [\"logmel\"]\n[stft]\nn_fft = 400\n").unwrap();
    let with = |device: &str, out: &str| {
        let mut c = ser();
        c.args(["extract", "--device", device, "--features"])
            .arg(&odd)
            .arg("--corpus")
            .arg(synth.join("ravdess"))
            .arg("--out")
            .arg(d.path().join(out));
        run(&mut c)
    };
    let o = with("auto", "auto.h5");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("features on: cpu"), "{}", text(&o));
    let o = with("wgpu", "wgpu.h5");
    if !text(&o).contains("no wgpu device") {
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("n_fft = 400") && text(&o).contains("--device cpu"),
            "{}",
            text(&o)
        );
    }
    let o = with("cuda", "cuda.h5");
    if !cfg!(feature = "cuda") {
        assert!(!o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("--features cuda"), "{}", text(&o));
    }
    let o = with("tpu", "tpu.h5");
    assert!(
        !o.status.success() && text(&o).contains("use cpu, wgpu, cuda or auto"),
        "{}",
        text(&o)
    );
}

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
    let frames = ["mfcc".to_string(), "logmel_delta".to_string()];
    let ds = ser_train::Dataset::load(&cache, &frames, &[]).unwrap();
    let some: Vec<usize> = (0..ds.meta.len()).step_by(7).collect();
    let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
    let w = ser_train::Waveforms::load(&cache, &ds, &some, &frames, &flex).unwrap();
    let audio: Vec<Vec<f32>> = some.iter().map(|&i| w.audio(i).to_vec()).collect();
    for (f, &i) in w.features(&audio).iter().zip(&some) {
        assert_eq!(f, &ds.frames[i], "{}", ds.meta[i].path);
    }
    // On a GPU device the kernels compute them, within the kernels' tested tolerance.
    match ser_kernels::probe_wgpu() {
        Ok(gpu) => {
            let w = ser_train::Waveforms::load(&cache, &ds, &some, &frames, &gpu).unwrap();
            assert!(w.describe.starts_with("wgpu"), "{}", w.describe);
            for (f, &i) in w.features(&audio).iter().zip(&some) {
                let what = format!("{}: wgpu vs cache", ds.meta[i].path);
                ser_check::assert_all_close(f, &ds.frames[i], 2e-3, what);
            }
        }
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs a wgpu adapter (lavapipe): {e}"
            );
            eprintln!("notice: no wgpu adapter, GPU half skipped: {e}");
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

/// `ser predict` scores files as the run scored its test clips: the probabilities of the test
/// files equal the run's predictions.csv; folders and manifests expand; an undecodable file
/// is listed with exit status 3 while the rest are scored.
#[test]
fn predict_gives_the_runs_own_test_probabilities_and_lists_bad_files() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let cache = d.path().join("cache.h5");
    let rav = synth.join("ravdess");
    let exp = d.path().join("net.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"net\"\n[data]\ncache = \"{}\"\nframes = [\"logmel\"]\ncorpora = [\"{}\"]\nfeatures = \"{}\"\n\
             [split]\ntest_list = [\"synth_ravdess/02\"]\nval_list = [\"synth_ravdess/03\"]\n[segment]\nframes = 100\n\
             [model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 16\nlayers = 1\n[model.head]\nhidden = []\n\
             [train]\nepochs = 2\nbatch_size = 16\n",
            cache.display(),
            rav.display(),
            features().display()
        ),
    )
    .unwrap();
    let runs = d.path().join("runs");
    let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = runs.join("net");
    assert!(run_dir.join("features.toml").exists());

    // The test speaker's folder, a manifest naming two of its files, and a broken file.
    let broken = d.path().join("broken.wav");
    std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEfmt nothing").unwrap();
    let manifest = d.path().join("m.csv");
    std::fs::write(
        &manifest,
        "path,label\nsynth/ravdess/Actor_02/03-01-05-01-01-01-02.wav,angry\nsynth/ravdess/Actor_02/03-01-04-01-01-01-02.wav,sad\n",
    )
    .unwrap();
    let out = d.path().join("p.csv");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(rav.join("Actor_02"))
        .arg(&manifest)
        .arg(&broken)
        .arg("--out")
        .arg(&out)
        .args(["--batch", "7"]));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("broken.wav"), "{}", text(&o));
    let read = read_csv;
    let ours = read(&out);
    assert_eq!(
        ours.len(),
        60 + 2,
        "the folder's 60 files and the manifest's 2"
    );
    let theirs = read(&run_dir.join("predictions.csv"));
    assert_eq!(theirs.len(), 60);
    for t in &theirs {
        let o = ours
            .iter()
            .find(|o| Path::new(&o[0]) == Path::new(&t[0]))
            .unwrap_or_else(|| panic!("{} not predicted", t[0]));
        assert_eq!(o[1], t[4], "{}: predicted class", t[0]);
        assert_eq!(o.len() - 3, t.len() - 5, "{}: class columns", t[0]);
        for (a, b) in o[3..].iter().zip(&t[5..]) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            assert_close(a, b, 1e-4, &t[0]);
        }
    }
    // JSON lines carry the same numbers.
    let jl = d.path().join("p.jsonl");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(rav.join("Actor_02/03-01-05-01-01-01-02.wav"))
        .arg("--out")
        .arg(&jl));
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&jl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let sum: f64 = line["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_close(sum, 1.0, 1e-5, &line);

    // Timeline of a recording: 8 clips of the test speaker with 1.5 s of silence after each.
    let clips: Vec<PathBuf> = (1..=8)
        .map(|e| rav.join(format!("Actor_02/03-01-0{e}-01-01-01-02.wav")))
        .collect();
    let (mut y, mut spans) = (Vec::new(), Vec::new());
    for c in &clips {
        let d = ser_audio::decode_file(c).unwrap();
        assert_eq!(d.sample_rate, 16_000);
        let t0 = y.len() as f64 / 16_000.0;
        y.extend_from_slice(&d.samples);
        spans.push((t0, y.len() as f64 / 16_000.0));
        y.extend(std::iter::repeat_n(0.0f32, 24_000));
    }
    let rec = d.path().join("rec.wav");
    ser_audio::write_wav_i16(&rec, &y, 16_000).unwrap();
    let silent = d.path().join("silent.wav");
    ser_audio::write_wav_i16(&silent, &vec![0.0; 80_000], 16_000).unwrap();
    let tl = d.path().join("tl");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(&rec)
        .arg(&silent)
        .args(["--timeline", "--window", "1.0", "--hop", "0.25", "--out"])
        .arg(&tl));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("silent.wav: 5.0 s, speech in 0% of windows; no speech"),
        "{}",
        text(&o)
    );
    for f in [
        "rec.timeline.csv",
        "rec.timeline.png",
        "rec.timeline.svg",
        "rec.summary.json",
    ] {
        assert!(tl.join(f).exists(), "{f}");
    }
    let rows = read(&tl.join("rec.timeline.csv"));
    let span = |r: &Vec<String>| -> (f64, f64) { (r[0].parse().unwrap(), r[1].parse().unwrap()) };
    // Windows wholly inside a pause are silence; windows wholly inside a clip are speech.
    for r in &rows {
        let (a, b) = span(r);
        let inside_clip = spans.iter().any(|&(s, e)| a >= s && b <= e);
        let inside_pause = !spans.iter().any(|&(s, e)| a < e && b > s);
        if inside_pause {
            assert_eq!(r[3], "0", "window {a}-{b} is in a pause");
        }
        if inside_clip {
            assert_eq!(r[3], "1", "window {a}-{b} is in a clip");
        }
    }
    // Each clip's dominant timeline class against the clip scored alone.
    let alone = read(&out);
    let mut agree = 0;
    for (c, &(s, e)) in clips.iter().zip(&spans) {
        let mut mean = vec![0.0f64; rows[0].len() - 5];
        for r in rows.iter().filter(|r| {
            let (a, b) = span(r);
            r[3] == "1" && (a + b) / 2.0 >= s && (a + b) / 2.0 <= e
        }) {
            for (m, v) in mean.iter_mut().zip(&r[5..]) {
                *m += v.parse::<f64>().unwrap();
            }
        }
        let best = (0..mean.len())
            .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
            .unwrap();
        let own = alone
            .iter()
            .find(|o| Path::new(&o[0]) == c.as_path())
            .unwrap();
        let own_best = (3..own.len())
            .max_by(|&a, &b| {
                own[a]
                    .parse::<f64>()
                    .unwrap()
                    .total_cmp(&own[b].parse().unwrap())
            })
            .unwrap()
            - 3;
        agree += usize::from(best == own_best);
    }
    eprintln!("timeline vs clip-level class: {agree} of 8 clips");
    assert!(agree >= 5, "{agree} of 8 clips");

    // The same recording piped into `ser stream` as raw 16-bit PCM: the same windows, the
    // same probabilities.
    let pcm: Vec<u8> = ser_audio::decode_file(&rec)
        .unwrap()
        .samples
        .iter()
        .flat_map(|v| ((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
        .collect();
    let stream_with = |model: &Path, input: &[u8]| -> (Vec<serde_json::Value>, String) {
        use std::io::Write;
        let mut child = ser()
            .arg("stream")
            .arg(model)
            .args(["--window", "1.0", "--hop", "0.25"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let lines = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, text(&o))
    };
    let stream = |input: &[u8]| stream_with(&run_dir, input);
    let (lines, msg) = stream(&pcm);
    let piped = lines.clone();
    assert!(msg.contains("real-time factor"), "{msg}");
    assert_eq!(lines.len(), rows.len(), "one line per timeline window");
    let mut both = 0;
    for (l, r) in lines.iter().zip(&rows) {
        let (a, b) = span(r);
        let what = format!("{l} vs {r:?}");
        assert_close(l["start_s"].as_f64().unwrap(), a, 1e-3, &what);
        assert_close(l["end_s"].as_f64().unwrap(), b, 1e-3, &what);
        if l["speech"].as_bool().unwrap() && r[3] == "1" {
            both += 1;
            assert_eq!(l["predicted"].as_str().unwrap(), r[4], "{l} vs {r:?}");
            let probs = l["probabilities"].as_object().unwrap();
            for (v, class_p) in probs.values().zip(&r[5..]) {
                let (x, y): (f64, f64) = (v.as_f64().unwrap(), class_p.parse().unwrap());
                assert_close(x, y, 1e-5, format!("{a}-{b}"));
            }
        }
    }
    let speech = rows.iter().filter(|r| r[3] == "1").count();
    assert!(
        both + 2 >= speech,
        "{both} of {speech} speech windows scored by both"
    );
    // An empty stream and endless silence: no crash, nothing or only silence.
    let (lines, msg) = stream(&[]);
    assert!(lines.is_empty() && msg.contains("no audio"), "{msg}");
    let (lines, _) = stream(&vec![0u8; 2 * 16_000 * 4]);
    assert_eq!(lines.len(), 13);
    assert!(lines.iter().all(|l| !l["speech"].as_bool().unwrap()));

    // `ser export`: the ONNX file, fed the cached features of the run's first test clips (the
    // centre segment ser scores), gives the probabilities of the run's predictions.csv.
    let onnx = d.path().join("export/model.onnx");
    let o = run(ser().arg("export").arg(&run_dir).arg("--out").arg(&onnx));
    assert!(o.status.success(), "{}", text(&o));
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(onnx.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(
        card["labels"].as_array().unwrap().len(),
        theirs[0].len() - 5
    );
    assert_eq!(card["sample_rate"], 16_000);
    assert_eq!(
        card["onnx_blake3"].as_str().unwrap(),
        ser_data::content_hash(&std::fs::read(&onnx).unwrap())
    );
    let ds = ser_train::Dataset::load(&cache, &["logmel".to_string()], &[]).unwrap();
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for t in theirs.iter().take(6) {
        let i = ds.meta.iter().position(|m| m.path == t[0]).unwrap();
        let n = ds.n_frames(i);
        assert!(n >= 100, "{} has {n} frames", t[0]);
        let start = (n - 100) / 2;
        let rows: Vec<Vec<f32>> = ds.frames[i][start * ds.dim..(start + 100) * ds.dim]
            .chunks(ds.dim)
            .map(|r| r.to_vec())
            .collect();
        input.push(rows);
        expected.push(
            t[5..]
                .iter()
                .map(|v| v.parse::<f64>().unwrap())
                .collect::<Vec<_>>(),
        );
    }
    let case_dir = d.path().join("export");
    std::fs::write(
        case_dir.join("case.json"),
        serde_json::json!({ "input": input, "expected": expected }).to_string(),
    )
    .unwrap();

    // `ser export --with-frontend`: the file alone, fed the raw 16-bit samples of the
    // timeline's speech windows, gives the timeline's probabilities.
    let full = d.path().join("frontend/model.onnx");
    let o = run(ser()
        .arg("export")
        .arg(&run_dir)
        .arg("--with-frontend")
        .arg("--out")
        .arg(&full));
    assert!(o.status.success(), "{}", text(&o));
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(card["input"]["name"], "waveform");
    let min = card["input"]["min_samples"].as_u64().unwrap() as usize;
    assert!((1..=16_000).contains(&min), "{card}");
    let samples: Vec<f32> = ser_audio::decode_file(&rec)
        .unwrap()
        .samples
        .iter()
        .map(|v| v * 32768.0)
        .collect();
    let (mut windows, mut expected) = (Vec::new(), Vec::new());
    for r in rows.iter().filter(|r| r[3] == "1") {
        let start = (span(r).0 * 16_000.0).round() as usize;
        windows.push(samples[start..start + 16_000].to_vec());
        expected.push(
            r[5..]
                .iter()
                .map(|v| v.parse::<f64>().unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert!(windows.len() >= 8, "{} speech windows", windows.len());
    std::fs::write(
        full.with_file_name("case.json"),
        serde_json::json!({ "input": windows, "expected": expected, "input_name": "waveform" })
            .to_string(),
    )
    .unwrap();
    if let Some(py) = python_with(&repo(), "onnx, onnxruntime, numpy") {
        let o = run(Command::new(py)
            .arg(repo().join("tests/onnx/check_onnx.py"))
            .arg(&case_dir)
            .arg(full.parent().unwrap()));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(text(&o).matches("\"ok\": true").count(), 2, "{}", text(&o));
    }

    // `ser predict MODEL.onnx` (tract): both exports score the test speaker's folder as the
    // run does.
    for model in [&onnx, &full] {
        let via = d.path().join("via_onnx.csv");
        let o = run(ser()
            .arg("predict")
            .arg(model)
            .arg(rav.join("Actor_02"))
            .arg("--out")
            .arg(&via));
        assert!(o.status.success(), "{}: {}", model.display(), text(&o));
        let rows = read(&via);
        assert_eq!(rows.len(), 60);
        for r in &rows {
            let o = ours.iter().find(|o| o[0] == r[0]).unwrap();
            assert_eq!(r[1], o[1], "{}: {}", model.display(), r[0]);
            for (a, b) in r[3..].iter().zip(&o[3..]) {
                let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                assert_close(a, b, 1e-4, format!("{}: {}", model.display(), r[0]));
            }
        }
    }
    // `ser stream MODEL.onnx` on the piped recording: the run folder's lines.
    let (via, _) = stream_with(&full, &pcm);
    assert_eq!(via.len(), piped.len());
    for (a, b) in via.iter().zip(&piped) {
        assert_eq!(a["speech"], b["speech"], "{a} vs {b}");
        if b["speech"].as_bool().unwrap() {
            assert_eq!(a["predicted"], b["predicted"], "{a} vs {b}");
            for (x, y) in a["probabilities"]
                .as_object()
                .unwrap()
                .values()
                .zip(b["probabilities"].as_object().unwrap().values())
            {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert_close(x, y, 1e-4, format!("{a} vs {b}"));
            }
        }
    }
    // A card that does not describe its file, an edited card and a missing one are refused
    // with what to do.
    let frames_card = std::fs::read_to_string(onnx.with_extension("json")).unwrap();
    let full_card = full.with_extension("json");
    std::fs::write(&full_card, &frames_card).unwrap();
    let o = run(ser().arg("predict").arg(&full).arg(&clips[0]));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not belong to") && text(&o).contains("export again"),
        "{}",
        text(&o)
    );
    let edited = frames_card.replace("\"sample_rate\": 16000", "\"sample_rate\": 8000");
    assert_ne!(edited, frames_card);
    std::fs::write(onnx.with_extension("json"), &edited).unwrap();
    let o = run(ser().arg("predict").arg(&onnx).arg(&clips[0]));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("sample_rate (8000) is not the graph's (16000)"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(onnx.with_extension("json")).unwrap();
    let o = run(ser().arg("predict").arg(&onnx).arg(&clips[0]));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("cannot read the model card"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_timeline_of_a_minute_of_known_emotions_names_most_of_them() {
    // A 4-class network (IEMOCAP's angry / happy / neutral / sad) trained on a synthetic
    // RAVDESS-layout corpus of 12 speakers, one held out for test and one for validation.
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    let o = run(ser()
        .args([
            "synth",
            "--seed",
            "3",
            "--ravdess-actors",
            "12",
            "--ravdess-rate",
            "16000",
        ])
        .args(["--cremad-actors", "1", "--cremad-sentences", "1", "--out"])
        .arg(&synth));
    assert!(o.status.success(), "{}", text(&o));
    let exp = d.path().join("tl.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"tl\"\n[data]\ncache = \"{}\"\nframes = [\"logmel\"]\n\
             labels = [\"angry\", \"happy\", \"neutral\", \"sad\"]\ncorpora = [\"{}\"]\nfeatures = \"{}\"\n\
             [split]\ntest_list = [\"synth_ravdess/02\"]\nval_list = [\"synth_ravdess/03\"]\n\
             [segment]\nframes = 150\n[model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 32\nlayers = 1\n\
             [model.head]\nhidden = []\n[train]\nepochs = 20\nbatch_size = 8\nlr = 3e-3\n\
             [augment]\ngain_db = [-10.0, 10.0]\n",
            d.path().join("cache.h5").display(),
            synth.join("ravdess").display(),
            features().display()
        ),
    )
    .unwrap();
    let runs = d.path().join("runs");
    let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = runs.join("tl");

    // A minute of the test speaker's clips in a shuffled order, 1 s of silence after each.
    let mut clips: Vec<(String, String)> = csv::Reader::from_path(run_dir.join("predictions.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[3].to_string())
        })
        .collect();
    let clip_right = {
        let rows: Vec<csv::StringRecord> = csv::Reader::from_path(run_dir.join("predictions.csv"))
            .unwrap()
            .records()
            .map(|r| r.unwrap())
            .collect();
        rows.iter().filter(|r| r[3] == r[4]).count() as f64 / rows.len() as f64
    };
    let mut state = 12345u64;
    for i in (1..clips.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        clips.swap(i, (state >> 33) as usize % (i + 1));
    }
    let (mut y, mut truth) = (Vec::new(), Vec::new());
    for (path, label) in &clips {
        let a = ser_audio::decode_file(Path::new(path)).unwrap();
        assert_eq!((a.sample_rate, a.channels), (16_000, 1));
        let t0 = y.len() as f64 / 16_000.0;
        y.extend_from_slice(&a.samples);
        truth.push((t0, y.len() as f64 / 16_000.0, label.clone()));
        y.extend(std::iter::repeat_n(0.0f32, 16_000));
        if y.len() >= 60 * 16_000 {
            break;
        }
    }
    let rec = d.path().join("minute.wav");
    ser_audio::write_wav_i16(&rec, &y, 16_000).unwrap();
    let tl = d.path().join("tl");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(&rec)
        .args(["--timeline", "--window", "1.5", "--hop", "0.5", "--out"])
        .arg(&tl));
    assert!(o.status.success(), "{}", text(&o));
    let mut r = csv::Reader::from_path(tl.join("minute.timeline.csv")).unwrap();
    let classes: Vec<String> = r
        .headers()
        .unwrap()
        .iter()
        .skip(5)
        .map(|h| h.trim_start_matches("p_").to_string())
        .collect();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    // The dominant emotion of a segment: the highest mean probability over the speech
    // windows centred inside it.
    let mut right = 0;
    for (t0, t1, label) in &truth {
        let mut mean = vec![0.0f64; classes.len()];
        for w in rows.iter().filter(|w| {
            let c = (w[0].parse::<f64>().unwrap() + w[1].parse::<f64>().unwrap()) / 2.0;
            &w[3] == "1" && c >= *t0 && c <= *t1
        }) {
            for (m, v) in mean.iter_mut().zip(w.iter().skip(5)) {
                *m += v.parse::<f64>().unwrap();
            }
        }
        let best = (0..mean.len())
            .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
            .unwrap();
        right += usize::from(mean[best] > 0.0 && &classes[best] == label);
    }
    eprintln!(
        "timeline: dominant emotion right in {right} of {} segments of {:.0} s (clip-level accuracy of the test speaker {clip_right:.3}, chance 0.25)",
        truth.len(),
        y.len() as f64 / 16_000.0
    );
    assert!(truth.len() >= 10, "{} segments", truth.len());
    assert!(
        2 * right > truth.len(),
        "{right} of {} segments",
        truth.len()
    );
}
