//! `ser synth`, `ser corpus inspect` and `ser extract`: the cache h5py reads, bad files, a
//! killed extraction, configs that must not mix, and the device each run chooses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ser_cache::Cache;

use crate::python::python_with;
use crate::support::{extract_synth, features, repo, run, ser, synth_tiny, text};

/// Python with h5py (see tests/support/python.rs).
fn python_with_h5py() -> Option<PathBuf> {
    python_with(&repo(), "h5py, numpy")
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

/// SIGKILLs an extraction (no clean-up runs) once its journal holds `n` batch checkpoints.
fn kill_after_checkpoints(child: &mut std::process::Child, journal: &Path, n: usize) {
    let start = Instant::now();
    // A head line, then one checkpoint per batch.
    let checkpoints =
        || std::fs::read_to_string(journal).map_or(0, |t| t.lines().count().saturating_sub(1));
    while checkpoints() < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "extraction never checkpointed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "extraction finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_extraction_with_a_damaged_run_file_resumes_to_the_same_cache_as_an_uninterrupted_run() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let args = |out: &Path| extract_synth(&synth, out, &["--threads", "1"], &["--batch", "8"]);
    let whole = d.path().join("whole.h5");
    let o = run(&mut args(&whole));
    assert!(o.status.success(), "{}", text(&o));

    let out = d.path().join("killed.h5");
    let parts = d.path().join("killed.h5.parts");
    let run_file = parts.join("run-000000.h5");
    let journal = parts.join("run-000000.journal");
    let mut child = args(&out)
        .env("SER_TEST_BATCH_DELAY_MS", "150")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    kill_after_checkpoints(&mut child, &journal, 4);
    assert!(!out.exists(), "a killed run must not leave a cache file");
    // The run file damaged on disk as well (cut to half its length): the clips whose
    // chunks were lost are extracted again, the others are kept.
    let len = std::fs::metadata(&run_file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&run_file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let damaged = &run_file;

    let o = run(&mut args(&out));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("resuming an interrupted extraction"),
        "{}",
        text(&o)
    );
    let name = damaged.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        text(&o)
            .lines()
            .any(|l| l.contains(&name) && l.contains("is damaged")),
        "the damaged run file was not reported:\n{}",
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
    if !o.status.success() && ser_check::without_wgpu() && text(&o).contains("no wgpu device") {
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
        // Each side is within 1e-3 dB of the f64 reference on kernels/tests/stages.rs's
        // clips; on speech, whichever FFT variant autotune picks rounds the quietest bins
        // differently, by up to a few thousandths of a dB.
        for (name, tol) in [("logmel", 5e-3), ("mfcc", 5e-3), ("logmel_delta", 2e-3)] {
            let err = max_frame_diff(&a, &b, name);
            eprintln!("{name}: wgpu vs cpu differ by up to {err}");
            assert!(err <= tol, "{name}: wgpu vs cpu differ by {err} > {tol}");
        }
    }

    // A config the kernels lack: refused on an explicit device, CPU fallback on auto. Run as
    // on a headless server (no Wayland session), where the Vulkan probe must print no error.
    let odd = d.path().join("n_fft_400.toml");
    std::fs::write(&odd, "frames = [\"logmel\"]\n[stft]\nn_fft = 400\n").unwrap();
    let with = |device: &str, out: &str| {
        let mut c = ser();
        for var in ["XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "NODEVICE_SELECT"] {
            c.env_remove(var);
        }
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
    assert!(text(&o).contains("(--device auto: "), "{}", text(&o));
    assert!(
        !text(&o).lines().any(|l| l.starts_with("error")),
        "a run that succeeded printed an error line:\n{}",
        text(&o)
    );
    let o = with("wgpu", "wgpu.h5");
    if !(ser_check::without_wgpu() && text(&o).contains("no wgpu device")) {
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
        !o.status.success() && text(&o).contains("use cpu, wgpu, wgpu:N, cuda, cuda:N or auto"),
        "{}",
        text(&o)
    );
}

/// A feature config whose `[ssl]` section reads tiny golden WavLM checkpoint, in 1 s windows
/// (the synthetic clips are 2-4 s long, so windows are stitched).
fn ssl_features(dir: &Path, extra: &str) -> PathBuf {
    let model = repo().join("tests/golden/ssl/wavlm_base");
    let p = dir.join("ssl.toml");
    std::fs::write(
        &p,
        format!(
            "frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = {:?}\nwindow_s = 1.0\noverlap_s = 0.2\n{extra}",
            model.display().to_string()
        ),
    )
    .unwrap();
    p
}

fn extract_ssl(synth: &Path, features: &Path, out: &Path) -> Command {
    let mut c = ser();
    c.args([
        "--threads",
        "1",
        "extract",
        "--batch",
        "8",
        "--device",
        "cpu",
    ])
    .arg("--corpus")
    .arg(synth.join("ravdess"))
    .arg("--corpus")
    .arg(synth.join("cremad"))
    .arg("--features")
    .arg(features)
    .arg("--out")
    .arg(out);
    c
}

#[test]
fn ssl_extraction_killed_and_resumed_equals_an_uninterrupted_one_and_h5py_reads_it() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let features = ssl_features(d.path(), "");
    let whole = d.path().join("whole.h5");
    let o = run(&mut extract_ssl(&synth, &features, &whole));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("GB per hour of audio"),
        "size not stated: {}",
        text(&o)
    );

    let out = d.path().join("killed.h5");
    let journal = d.path().join("killed.h5.parts/run-000000.journal");
    let mut child = extract_ssl(&synth, &features, &out)
        .env("SER_TEST_BATCH_DELAY_MS", "150")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    kill_after_checkpoints(&mut child, &journal, 3);
    assert!(!out.exists(), "a killed run must not leave a cache file");
    let o = run(&mut extract_ssl(&synth, &features, &out));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("resuming an interrupted extraction"),
        "{}",
        text(&o)
    );
    let (a, b) = (Cache::open(&whole).unwrap(), Cache::open(&out).unwrap());
    assert_eq!(
        a.diff(&b).unwrap(),
        None,
        "resumed cache differs from the uninterrupted one"
    );
    // 3 hidden states (input of layer 1, outputs of layers 1 and 2) of width 32.
    assert_eq!(a.header.frame_layout, vec![("ssl".to_string(), 96)]);
    assert!(
        a.header.config_toml.contains("weights_blake3"),
        "{}",
        a.header.config_toml
    );

    // One mean row per clip: the mean of that clip's frames.
    let mean_out = d.path().join("mean.h5");
    let o = run(&mut extract_ssl(
        &synth,
        &ssl_features(d.path(), "store = \"mean\""),
        &mean_out,
    ));
    assert!(o.status.success(), "{}", text(&o));

    let Some(py) = python_with_h5py() else { return };
    let script = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as m:
    c, cm = f["clips"], m["clips"]
    off, n, dur = c["frame_offset"][:], c["n_frames"][:], c["duration_s"][:]
    x = f["frames/ssl"]
    assert x.shape == (int(n.sum()), 96), x.shape
    # 50 frames per second, windows stitched without losing more than a frame per window.
    assert np.all(np.abs(n - dur * 50) <= 1 + dur), list(zip(n, dur))[:5]
    assert np.all(cm["n_frames"][:] == 1)
    assert list(cm["path"].asstr()[:]) == list(c["path"].asstr()[:])
    means = m["frames/ssl"][:]
    for i in range(len(n)):
        frames = x[off[i]:off[i] + n[i]].reshape(n[i], 3, 32)  # states x hidden
        assert np.allclose(frames.reshape(n[i], 96).mean(0), means[i], atol=1e-5), i
    print("ok", x.shape)
"#;
    let o = Command::new(py)
        .args(["-c", script])
        .arg(&whole)
        .arg(&mean_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "h5py check failed: {}", text(&o));
}
