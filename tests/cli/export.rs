//! `ser export`: the ONNX file (frames in, or `--with-frontend` samples in) reproduces the
//! run in onnxruntime, scores clips (`ser predict MODEL.onnx`, tract) and streams as the run
//! folder does; cards that do not describe their file are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use ser_check::assert_close;

use crate::python::python_with;
use crate::scored::{Scored, pcm, scored, span};
use crate::stream::stream_with;
use crate::support::{read_csv, repo, run, ser, text};

/// `ser export` of the shared run into `dir/model.onnx` (with the front end inside when
/// `frontend`); checks the card and returns the model's path.
fn export(s: &Scored, dir: &Path, frontend: bool) -> PathBuf {
    let onnx = dir.join("model.onnx");
    let mut c = ser();
    c.arg("export").arg(&s.run_dir).arg("--out").arg(&onnx);
    if frontend {
        c.arg("--with-frontend");
    }
    let o = run(&mut c);
    assert!(o.status.success(), "{}", text(&o));
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(onnx.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(
        card["labels"].as_array().unwrap().len(),
        s.predictions[0].len() - 5
    );
    assert_eq!(card["sample_rate"], 16_000);
    assert_eq!(
        card["onnx_blake3"].as_str().unwrap(),
        ser_data::content_hash(&std::fs::read(&onnx).unwrap())
    );
    onnx
}

/// The probabilities of a predictions / timeline row, from its first class column.
fn probs(row: &[String], from: usize) -> Vec<f64> {
    row[from..].iter().map(|v| v.parse().unwrap()).collect()
}

/// In onnxruntime, the frames export fed the cached features of the run's first test clips
/// (the centre segment ser scores) gives predictions.csv's probabilities; the front-end
/// export fed the raw 16-bit samples of the timeline's speech windows gives the timeline's.
#[test]
fn onnx_exports_reproduce_the_run_in_onnxruntime() {
    let s = scored();
    let d = s.dir("export-ort");
    let onnx = export(s, &d.join("frames"), false);
    let ds = ser_experiment::Dataset::load(&s.cache, &["logmel".to_string()], &[]).unwrap();
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for t in s.predictions.iter().take(6) {
        let i = ds.meta.iter().position(|m| m.path == t[0]).unwrap();
        let n = ds.n_frames(i);
        assert!(n >= 100, "{} has {n} frames", t[0]);
        let start = (n - 100) / 2;
        let rows: Vec<Vec<f32>> = ds.frames.get(i)[start * ds.dim..(start + 100) * ds.dim]
            .chunks(ds.dim)
            .map(|r| r.to_vec())
            .collect();
        input.push(rows);
        expected.push(probs(t, 5));
    }
    std::fs::write(
        onnx.with_file_name("case.json"),
        serde_json::json!({ "input": input, "expected": expected }).to_string(),
    )
    .unwrap();

    let full = export(s, &d.join("frontend"), true);
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(card["input"]["name"], "waveform");
    let min = card["input"]["min_samples"].as_u64().unwrap() as usize;
    assert!((1..=16_000).contains(&min), "{card}");
    let samples: Vec<f32> = ser_audio::decode_file(&s.rec)
        .unwrap()
        .samples
        .iter()
        .map(|v| v * 32768.0)
        .collect();
    let (mut windows, mut expected) = (Vec::new(), Vec::new());
    for r in s.timeline.iter().filter(|r| r[3] == "1") {
        let start = (span(r).0 * 16_000.0).round() as usize;
        windows.push(samples[start..start + 16_000].to_vec());
        expected.push(probs(r, 5));
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
            .arg(onnx.parent().unwrap())
            .arg(full.parent().unwrap()));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(text(&o).matches("\"ok\": true").count(), 2, "{}", text(&o));
    }
}

/// `ser predict MODEL.onnx` (tract) scores the test speaker's folder as the run did, from
/// either export; `ser stream MODEL.onnx` gives the run folder's stream lines.
#[test]
fn predict_and_stream_on_onnx_files_match_the_run_folder() {
    let s = scored();
    let d = s.dir("export-tract");
    let onnx = export(s, &d.join("frames"), false);
    let full = export(s, &d.join("frontend"), true);
    for model in [&onnx, &full] {
        let via = d.join("via_onnx.csv");
        let o = run(ser()
            .arg("predict")
            .arg(model)
            .arg(s.rav.join("Actor_02"))
            .arg("--out")
            .arg(&via));
        assert!(o.status.success(), "{}: {}", model.display(), text(&o));
        let rows = read_csv(&via);
        assert_eq!(rows.len(), 60);
        for r in &rows {
            let t = s.predictions.iter().find(|t| t[0] == r[0]).unwrap();
            assert_eq!(r[1], t[4], "{}: {}", model.display(), r[0]);
            for (a, b) in probs(r, 3).iter().zip(probs(t, 5)) {
                assert_close(*a, b, 1e-4, format!("{}: {}", model.display(), r[0]));
            }
        }
    }
    let pcm = pcm(&s.rec);
    let (piped, _) = stream_with(&s.run_dir, &pcm);
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
}

/// A card that does not describe its file, an edited card and a missing one are refused
/// with what to do.
#[test]
fn cards_that_do_not_describe_their_model_are_refused_with_what_to_do() {
    let s = scored();
    let d = s.dir("export-cards");
    let onnx = export(s, &d.join("frames"), false);
    let full = export(s, &d.join("frontend"), true);
    let clip = &s.clips[0];
    let frames_card = std::fs::read_to_string(onnx.with_extension("json")).unwrap();
    std::fs::write(full.with_extension("json"), &frames_card).unwrap();
    let o = run(ser().arg("predict").arg(&full).arg(clip));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not belong to") && text(&o).contains("export again"),
        "{}",
        text(&o)
    );
    let edited = frames_card.replace("\"sample_rate\": 16000", "\"sample_rate\": 8000");
    assert_ne!(edited, frames_card);
    std::fs::write(onnx.with_extension("json"), &edited).unwrap();
    let o = run(ser().arg("predict").arg(&onnx).arg(clip));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("sample_rate (8000) is not the graph's (16000)"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(onnx.with_extension("json")).unwrap();
    let o = run(ser().arg("predict").arg(&onnx).arg(clip));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("cannot read the model card"),
        "{}",
        text(&o)
    );
}
